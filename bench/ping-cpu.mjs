// What each broker spends per ping, in CPU: `node bench/ping-cpu.mjs` starts a size-4 instance (PING_SIZE,
// PING_FANOUT), sends PING_N broker.ping requests from a raw client on rank 0's socket to each rank of PING_RANKS
// in turn, PING_ROUNDS times, and prints each broker's user + system CPU per ping (from /proc) and the median
// round trip. CPU time, unlike wall time, holds still on a machine shared with other work. PING_AB=dir (a copy
// of another build's bin/ and dist/, with node_modules) runs that build's instance too, alternating round by
// round, so that both see the same machine.
import { abBuilds, emit, median, startInstance } from './lib.mjs';
import { brokerPids, brokerRank, cpuSeconds } from './proc-cpu.mjs';
import { rawClient } from './raw-client.mjs';

const SIZE = Number(process.env.PING_SIZE ?? 4);
const FANOUT = process.env.PING_FANOUT;
const N = Number(process.env.PING_N ?? 5000);
const ROUNDS = Number(process.env.PING_ROUNDS ?? 3);
const RANKS = (process.env.PING_RANKS ?? `0,${SIZE - 1}`).split(',').map(Number);
const builds = abBuilds('PING_AB');

const runs = [];
for (const [name, flux] of builds) {
  const inst = await startInstance(SIZE, FANOUT ? ['-S', `tbon.fanout=${FANOUT}`] : [], flux);
  const pids = brokerPids(inst.rundir).map((pid) => ({ pid, rank: brokerRank(pid) })).sort((a, b) => a.rank - b.rank);
  const raw = rawClient(`${inst.rundir}/local-0`);
  await raw.ready;
  for (const r of RANKS) for (let i = 0; i < 500; i++) await raw.ping(r, i);
  const cpu = Object.fromEntries(RANKS.map((r) => [r, pids.map(() => 0)]));
  const times = Object.fromEntries(RANKS.map((r) => [r, []]));
  runs.push({ name, inst, pids, raw, cpu, times });
}
for (let round = 0; round < ROUNDS; round++) {
  for (const { pids, raw, cpu, times } of runs) {
    for (const r of RANKS) {
      const before = pids.map((p) => cpuSeconds(p.pid));
      for (let i = 0; i < N; i++) {
        const t0 = process.hrtime.bigint();
        await raw.ping(r, i);
        times[r].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      pids.forEach((p, i) => (cpu[r][i] += cpuSeconds(p.pid) - before[i]));
    }
  }
}
for (const { name, inst, pids, raw, cpu, times } of runs) {
  raw.close();
  await inst.stop();
  for (const r of RANKS) {
    const perPing = Object.fromEntries(pids.map((p, i) => [`rank${p.rank}_us`, Math.round((cpu[r][i] / (N * ROUNDS)) * 1e6)]));
    emit(`ping-rank${r}-size${SIZE}${FANOUT ? `-fanout${FANOUT}` : ''}`, median(times[r]), 'ms', { build: name, n: N * ROUNDS, ...perPing });
  }
}
