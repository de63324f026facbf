// What the brokers spend per request, beside what it takes: `node bench/request-cpu.mjs` (after `npm run build`)
// starts a fresh instance per round (REQUEST_ROUNDS, 3) and prints, for each workload, the median over rounds of
// its figure and of the brokers' CPU per request (all their threads, from /proc):
//  - lookups: size 1, 10,000 keys in 100 directories, then passes of 10,000 sequential kvs.lookup and of 10,000
//    kvs.ping from the TypeScript handle (the first pass of each not counted: V8 has not optimized the broker yet);
//  - publish: size 4, 16 connections to rank 0 each publishing 250 events one after another, four times (the
//    first not counted): events/s.
// REQUEST_AB=dir (another build's checkout, built) runs that build's instances too, alternating round by round, so
// that both see the same machine. REQUEST_WORKLOADS=lookups,publish picks workloads.
import { Flux } from '../dist/api/handle.js';
import { bigCommit } from './commits.mjs';
import { abBuilds, emit, median, startInstance } from './lib.mjs';
import { brokerPids, totalCpu } from './proc-cpu.mjs';

const ROUNDS = Number(process.env.REQUEST_ROUNDS ?? 3);
const WORKLOADS = (process.env.REQUEST_WORKLOADS ?? 'lookups,publish').split(',');
const builds = abBuilds('REQUEST_AB');
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

/** `fn` `count` times, the first not counted: [median value, median brokers' µs per request over `n` requests] */
async function passes(pids, n, count, fn) {
  const values = [];
  const cpu = [];
  for (let p = 0; p < count; p++) {
    const c0 = totalCpu(pids);
    const v = await fn();
    if (p === 0) continue;
    values.push(v);
    cpu.push(((totalCpu(pids) - c0) * 1e6) / n);
  }
  return [median(values), median(cpu)];
}

const RUNS = {
  async lookups(flux) {
    const inst = await startInstance(1, [], flux);
    const h = await Flux.open(inst.uri);
    await bigCommit(h, 'look', 10000);
    const keys = Array.from({ length: 10000 }, (_, i) => `look.d${Math.floor(i / 100)}.k${i % 100}`);
    const pids = brokerPids(inst.rundir);
    const timed = (topic, body) => async () => {
      const t0 = process.hrtime.bigint();
      for (const key of keys) await h.call(topic, body(key));
      return seconds(t0);
    };
    const [lookup, lookupUs] = await passes(pids, keys.length, 4, timed('kvs.lookup', (key) => ({ key, namespace: 'primary', flags: 0 })));
    const [ping, pingUs] = await passes(pids, keys.length, 4, timed('kvs.ping', (key) => ({ key })));
    h.close();
    await inst.stop();
    return { 'lookups-10000-sequential': [lookup, lookupUs, 's'], 'kvs-ping-10000-sequential': [ping, pingUs, 's'] };
  },
  async publish(flux) {
    const inst = await startInstance(4, [], flux);
    const handles = await Promise.all(Array.from({ length: 16 }, () => Flux.open(inst.uri)));
    const pids = brokerPids(inst.rundir);
    const [rate, us] = await passes(pids, 4000, 4, async () => {
      const t0 = process.hrtime.bigint();
      await Promise.all(handles.map(async (h, c) => {
        for (let i = 0; i < 250; i++) await h.call('event.publish', { topic: `bench.c${c}`, flags: 0 }, { nodeid: 0 });
      }));
      return 4000 / seconds(t0);
    });
    for (const h of handles) h.close();
    await inst.stop();
    return { 'publish-16-clients-size4': [rate, us, 'events/s'] };
  },
};

const figures = builds.map(() => new Map());
for (let round = 0; round < ROUNDS; round++) {
  for (let b = 0; b < builds.length; b++) {
    for (const w of WORKLOADS) {
      for (const [name, [value, us, unit]] of Object.entries(await RUNS[w](builds[b][1]))) {
        const f = figures[b].get(name) ?? { unit, values: [], us: [] };
        f.values.push(value);
        f.us.push(us);
        figures[b].set(name, f);
      }
    }
  }
}
builds.forEach(([build], b) => {
  for (const [name, f] of figures[b]) {
    emit(`request-cpu.${name}`, median(f.values), f.unit, {
      build, runs: f.values.map((x) => Number(x.toFixed(3))), cpu_brokers_us: Math.round(median(f.us)),
    });
  }
});
