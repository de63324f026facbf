// 10,000 sequential kvs.get and 10,000 bare kvs.ping from one program through the library, against a size-1
// instance it starts; prints {get, ping} in seconds as one JSON line. bench/api.bench.mjs runs it as it is and
// under `taskset -c 0` (the program and its instance's broker on one CPU).
import { connect } from 'flux-ts';
import { startInstance } from './lib.mjs';

const N = 10_000;
const inst = await startInstance(1);
const h = await connect(inst.uri);
try {
  await h.kvs.put('bench.key', { a: 1 });
  // both sides warm (the broker's lookup path and this program's compiled), as a long-running program is
  for (let i = 0; i < 3000; i++) await h.kvs.get('bench.key');
  for (let i = 0; i < 3000; i++) await h.rpc('kvs.ping', {});
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await h.kvs.get('bench.key');
  const get = Number(process.hrtime.bigint() - t0) / 1e9;
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await h.rpc('kvs.ping', {});
  const ping = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(`${JSON.stringify({ get, ping })}\n`);
} finally {
  h.close();
  await inst.stop();
}
