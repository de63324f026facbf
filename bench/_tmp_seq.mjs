import { connect } from 'flux-ts';
const h = await connect(process.env.FLUX_URI);
for (let i = 0; i < 300; i++) await h.kvs.put(`sq.k${i}`, i);
const t0 = process.hrtime.bigint();
for (let i = 0; i < 3000; i++) await h.kvs.put(`sq.k${i}`, i);
console.log('seq commits/s', Math.round(3000 / (Number(process.hrtime.bigint() - t0) / 1e9)));
h.close();
