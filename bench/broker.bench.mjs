// Issue 2 figures: ping round trip to rank 0 and to the deepest rank; flux start --size 8 true; flux getattr rank.
import { Flux } from '../dist/api/handle.js';
import { emit, median, percentile, startInstance, timeProcess, FLUX } from './lib.mjs';

async function pingBench(size, extra, rank, n = 3000) {
  const inst = await startInstance(size, extra);
  const h = await Flux.open(inst.uri);
  const times = [];
  for (let i = 0; i < n + 200; i++) {
    const t0 = process.hrtime.bigint();
    await h.rpc('broker.ping', { seq: i, pad: '' }, { nodeid: rank });
    if (i >= 200) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  h.close();
  await inst.stop();
  return times;
}

const cases = [
  ['ping-rank0-size4', 4, [], 0],
  ['ping-rank3-size4', 4, [], 3],
  ['ping-rank7-size8-fanout2', 8, ['-S', 'tbon.fanout=2'], 7],
];
for (const [name, size, extra, rank] of cases) {
  const t = await pingBench(size, extra, rank);
  emit(name, median(t), 'ms', { p90: Number(percentile(t, 0.9).toFixed(4)), n: t.length, target: 0.3 });
}

const starts = [];
for (let i = 0; i < 5; i++) starts.push(await timeProcess(FLUX, ['start', '--size', '8', 'true']));
emit('start-size8-true', median(starts) / 1000, 's', { min: Math.min(...starts) / 1000, runs: starts.length, target: 1.0 });

const inst = await startInstance(1);
const gets = [];
for (let i = 0; i < 15; i++) gets.push(await timeProcess(process.execPath, [FLUX, 'getattr', 'rank'], { FLUX_URI: inst.uri }));
await inst.stop();
emit('getattr-rank-process', median(gets), 'ms', { min: Math.min(...gets), runs: gets.length, target: 80 });
