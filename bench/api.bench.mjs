// The client library from one program, as a user's program runs it (imported as `flux-ts`): 10,000 sequential
// kvs.get (flux-core's C client took 1.07 s for a t/kvs/torture-style loop of 10,000 lookups here; target
// ≤ 0.5 s), beside 10,000 bare kvs.ping round trips in the same run (what the library adds to the wire), and 16
// concurrent put+commit loops (target ≥ 10,000 commits/s at size 1).
import { connect } from 'flux-ts';
import { emit, startInstance } from './lib.mjs';

const GETS = 10_000;
const LOOPS = 16;
const COMMITS_PER_LOOP = 1_000;

const inst = await startInstance(1);
const h = await connect(inst.uri);
try {
  await h.kvs.put('bench.key', { a: 1 });
  // both sides warm (the broker's lookup path and this program's compiled), as a long-running program is
  for (let i = 0; i < 3000; i++) await h.kvs.get('bench.key');
  for (let i = 0; i < 3000; i++) await h.rpc('kvs.ping', {});
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < GETS; i++) await h.kvs.get('bench.key');
  const getSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  emit('api-kvs-get-10k-sequential', getSeconds, 's', { n: GETS, target: 0.5, flux_core_c: 1.07 });
  t0 = process.hrtime.bigint();
  for (let i = 0; i < GETS; i++) await h.rpc('kvs.ping', {});
  const pingSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  emit('api-kvs-ping-10k-sequential', pingSeconds, 's', { n: GETS });
  emit('api-kvs-get-vs-ping', getSeconds / pingSeconds, 'ratio');

  const loop = async (id) => {
    for (let i = 0; i < COMMITS_PER_LOOP; i++) await h.kvs.put(`bench.loop${id}.k${i % 16}`, i);
  };
  await Promise.all(Array.from({ length: LOOPS }, (_, id) => h.kvs.put(`bench.loop${id}.warm`, 0)));
  t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: LOOPS }, (_, id) => loop(id)));
  const commitSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  emit('api-kvs-commit-16-loops', (LOOPS * COMMITS_PER_LOOP) / commitSeconds, 'commits/s', {
    loops: LOOPS, commits: LOOPS * COMMITS_PER_LOOP, seconds: Number(commitSeconds.toFixed(3)), target: 10_000,
  });
} finally {
  h.close();
  await inst.stop();
}
