// The client library from one program, as a user's program runs it (imported as `flux-ts`): 10,000 sequential
// kvs.get (flux-core's C client took 1.07 s for a t/kvs/torture-style loop of 10,000 lookups here; target
// ≤ 0.5 s), beside 10,000 bare kvs.ping round trips in the same run (what the library adds to the wire) and the
// floor of 10,000 round trips between two bare Node processes; the same again with the program and its broker on
// one CPU; and 16 concurrent put+commit loops (target ≥ 10,000 commits/s at size 1).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { connect } from 'flux-ts';
import { echoFloor } from './floors.mjs';
import { ROOT, emit, median, startInstance } from './lib.mjs';

const GETS = 10_000;
const LOOPS = 16;
const COMMITS_PER_LOOP = 1_000;

const getLoop = (pin) => {
  const prog = [process.execPath, join(ROOT, 'bench', 'api-get-loop.mjs')];
  const out = pin ? execFileSync('taskset', ['-c', '0', ...prog]) : execFileSync(prog[0], prog.slice(1));
  return JSON.parse(out.toString());
};
for (const [suffix, oneCpu] of [['', false], ['-one-cpu', true]]) {
  const { get, ping } = getLoop(oneCpu);
  const floor = echoFloor(GETS, { oneCpu });
  emit(`api-kvs-get-10k-sequential${suffix}`, get, 's', { n: GETS, target: 0.5, flux_core_c: 1.07 });
  emit(`api-kvs-ping-10k-sequential${suffix}`, ping, 's', { n: GETS });
  emit(`node-echo-10k-sequential${suffix}`, floor, 's', { n: GETS });
  emit(`api-kvs-get-vs-ping${suffix}`, get / ping, 'ratio');
  emit(`api-kvs-get-vs-node-echo${suffix}`, get / floor, 'ratio');
}

const inst = await startInstance(1);
const h = await connect(inst.uri);
try {
  const loop = async (id, n) => {
    for (let i = 0; i < n; i++) await h.kvs.put(`bench.loop${id}.k${i % 16}`, i);
  };
  // both sides warm first, as for the lookups: the timed rounds are those of a program that has been running
  await Promise.all(Array.from({ length: LOOPS }, (_, id) => loop(id, COMMITS_PER_LOOP / 4)));
  const rates = [];
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: LOOPS }, (_, id) => loop(id, COMMITS_PER_LOOP)));
    rates.push((LOOPS * COMMITS_PER_LOOP) / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  emit('api-kvs-commit-16-loops', median(rates), 'commits/s', {
    loops: LOOPS, commits: LOOPS * COMMITS_PER_LOOP, rounds: rates.map(Math.round), target: 10_000,
  });
} finally {
  h.close();
  await inst.stop();
}
