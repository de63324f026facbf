// Large commits on warm brokers, two builds alternated: `node bench/commit-big.mjs` starts a size-1 instance per
// round (with BIG_AB=<another build's checkout, with node_modules>, one of that build too, the two in turn),
// makes BIG_WARMUPS commits of 10,000 keys into new directories so that V8 has optimized their path, and then
// BIG_COMMITS more, measured. One JSON line per build: the median over rounds of each round's median wall time per
// commit, and rank 0's page faults and CPU per commit (/proc). On a virtual machine a page fault costs ~10 µs, so
// memory a commit touches for the first time is a cost of its own, which the fault count shows apart.
import { Flux } from '../dist/api/handle.js';
import { bigCommit, bigOps, commitOps } from './commits.mjs';
import { abBuilds, alternatedRounds, emit, median, startInstance } from './lib.mjs';
import { brokerPids, cpuSeconds, minorFaults } from './proc-cpu.mjs';

const ROUNDS = Number(process.env.BIG_ROUNDS ?? 3);
const WARMUPS = Number(process.env.BIG_WARMUPS ?? 6);
const COMMITS = Number(process.env.BIG_COMMITS ?? 10);
const builds = abBuilds('BIG_AB');

async function round(flux) {
  const inst = await startInstance(1, [], flux);
  const h = await Flux.open(inst.uri);
  try {
    const pid = brokerPids(inst.rundir)[0];
    for (let c = 0; c < WARMUPS; c++) await bigCommit(h, `w${c}`, 10000);
    const f0 = minorFaults(pid);
    const c0 = cpuSeconds(pid);
    const walls = [];
    for (let c = 0; c < COMMITS; c++) {
      const ops = bigOps(`m${c}`, 10000);
      const t0 = process.hrtime.bigint();
      await commitOps(h, ops);
      walls.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { wall: median(walls), faults: (minorFaults(pid) - f0) / COMMITS, cpuMs: ((cpuSeconds(pid) - c0) * 1000) / COMMITS };
  } finally {
    h.close();
    await inst.stop();
  }
}

const got = await alternatedRounds(builds.length, ROUNDS, (i) => round(builds[i][1]));
builds.forEach(([name], i) => {
  const rounds = got[i];
  emit('commit-big.commit-10000-keys-warm', median(rounds.map((x) => x.wall)), 'ms', {
    build: name, rank0_faults: Math.round(median(rounds.map((x) => x.faults))), rank0_cpu_ms: Math.round(median(rounds.map((x) => x.cpuMs))),
    rounds: rounds.map((x) => ({ wall_ms: Math.round(x.wall), faults: Math.round(x.faults), cpu_ms: Math.round(x.cpuMs) })),
  });
});
