// A plug-in comms module against a built-in one: the example counter module (examples/counter.mjs) loaded at run
// time, its ping and a built-in's (kvs) ping timed in the same instance, alternately, from one client.
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { ROOT, emit, median, percentile, startInstance } from './lib.mjs';

const N = 3000;
const WARMUP = 200;

const inst = await startInstance(1);
const h = await Flux.open(inst.uri);
await h.rpc('module.load', { path: join(ROOT, 'examples', 'counter.mjs'), args: [] });
const times = { counter: [], kvs: [] };
for (let i = 0; i < N + WARMUP; i++) {
  // alternating, so that whatever else the machine does weighs on both alike
  for (const service of i % 2 === 0 ? ['counter', 'kvs'] : ['kvs', 'counter']) {
    const t0 = process.hrtime.bigint();
    await h.rpc(`${service}.ping`, { seq: i, pad: '' });
    if (i >= WARMUP) times[service].push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
h.close();
await inst.stop();

const plugin = median(times.counter);
const builtin = median(times.kvs);
emit('module-ping-plugin', plugin, 'ms', { p90: Number(percentile(times.counter, 0.9).toFixed(4)), n: N });
emit('module-ping-builtin', builtin, 'ms', { p90: Number(percentile(times.kvs, 0.9).toFixed(4)), n: N });
emit('module-ping-plugin-vs-builtin', plugin / builtin, 'ratio', { target: 1.1 });
