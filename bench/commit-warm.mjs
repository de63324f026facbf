// Commits on warm brokers, two builds side by side: `node bench/commit-warm.mjs` starts a size-1 instance (and, with
// WARM_AB=<another build's checkout, with node_modules>, one of that build too), warms each with WARM_WARMUPS runs
// of every workload, and then runs each workload on each instance in turn, WARM_ROUNDS times: so that both builds
// see the same minutes of a noisy machine, and neither is measured while V8 still optimizes its commit path (a
// broker takes thousands of commits to get there). WARM_CLIENTS lists the workloads: committers on connections of
// their own, ~1,000 one-key commits among them. One JSON line per build and workload: the median commits/s, rank
// 0's main-thread CPU per commit, and where its group commits were synced (journal.stats-get, when it says).
import { Flux } from '../dist/api/handle.js';
import { concurrentCommits } from './commits.mjs';
import { abBuilds, emit, median, startInstance, turnOrder } from './lib.mjs';
import { brokerPids, mainThreadSeconds } from './proc-cpu.mjs';

const ROUNDS = Number(process.env.WARM_ROUNDS ?? 5);
const WARMUPS = Number(process.env.WARM_WARMUPS ?? 4);
const CLIENTS = (process.env.WARM_CLIENTS ?? '1,16').split(',').map(Number);
const COMMITS = 1000;
const builds = abBuilds('WARM_AB');

const insts = [];
try {
  for (const [name, flux] of builds) {
    const inst = await startInstance(1, [], flux);
    insts.push({ name, inst, pid: brokerPids(inst.rundir)[0], h: await Flux.open(inst.uri) });
  }
  const syncs = async (h) => ((await h.call('journal.stats-get')).syncs ?? { on_loop: 0, on_thread: 0 });
  const run = async (i, clients, prefix) => {
    const { inst, pid, h } = insts[i];
    const s0 = await syncs(h);
    const m0 = mainThreadSeconds(pid);
    const each = Math.ceil(COMMITS / clients);
    const rate = await concurrentCommits([inst.uri], clients, each, prefix);
    const s1 = await syncs(h);
    return { rate, mainUs: ((mainThreadSeconds(pid) - m0) * 1e6) / (clients * each), onLoop: s1.on_loop - s0.on_loop, onThread: s1.on_thread - s0.on_thread };
  };
  for (let w = 0; w < WARMUPS; w++) for (const c of CLIENTS) for (let i = 0; i < insts.length; i++) await run(i, c, `w${w}c${c}`);
  const got = insts.map(() => new Map(CLIENTS.map((c) => [c, []])));
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of CLIENTS) {
      for (const i of turnOrder(insts.length, r)) got[i].get(c).push(await run(i, c, `r${r}c${c}`));
    }
  }
  insts.forEach(({ name }, i) => {
    for (const c of CLIENTS) {
      const runs = got[i].get(c);
      emit(`commit-warm.clients-${c}`, median(runs.map((x) => x.rate)), 'commits/s', {
        build: name, rank0_main_us: Math.round(median(runs.map((x) => x.mainUs))),
        runs: runs.map((x) => Math.round(x.rate)),
        syncs_on_loop: runs.reduce((s, x) => s + x.onLoop, 0), syncs_on_thread: runs.reduce((s, x) => s + x.onThread, 0),
      });
    }
  });
} finally {
  for (const { inst, h } of insts) {
    h.close();
    await inst.stop();
  }
}
