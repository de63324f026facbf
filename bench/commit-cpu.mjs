// What a commit costs the broker, beside what it takes: `node bench/commit-cpu.mjs` starts a size-1 instance per
// round and runs issue 16's commit workloads on it (COMMIT_ROUNDS rounds, 4 by default), printing for each the
// median over rounds of its own figure and of the brokers' CPU:
//  - one commit of 10,000 keys into new directories, the instance's first (before V8 has optimized anything) and
//    the three after it, with rank 0's main-thread CPU for each;
//  - 16 committers of 250 one-key commits each, and one committer of 1,000, with all the brokers' CPU per commit;
//  - `flux kvs put` of 10,000 keys into one directory, as a whole command, three times.
// COMMIT_AB=dir (a copy of another build's bin/ and dist/, with node_modules) runs that build too, alternating
// round by round, so that both see the same machine. COMMIT_AB_START="-S NAME=VALUE ..." starts that build's
// instances with those arguments of `flux start` too; with COMMIT_AB=$PWD, this build against itself so started.
import { Flux } from '../dist/api/handle.js';
import { bigCommit, concurrentCommits } from './commits.mjs';
import { abBuilds, alternatedRounds, emit, median, startInstance, timeProcess } from './lib.mjs';
import { brokerPids, mainThreadSeconds, totalCpu } from './proc-cpu.mjs';

const ROUNDS = Number(process.env.COMMIT_ROUNDS ?? 4);
const builds = abBuilds('COMMIT_AB');
const abStart = (process.env.COMMIT_AB_START ?? '').split(/\s+/).filter((a) => a.length > 0);
const pairs = Array.from({ length: 10_000 }, (_, i) => `bulk.k${i}=value-${i}`);
const figures = builds.map(() => new Map());
const add = (b, name, v) => figures[b].set(name, [...(figures[b].get(name) ?? []), v]);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

async function round(b, flux, r) {
  const inst = await startInstance(1, b === 1 ? abStart : [], flux);
  const pids = brokerPids(inst.rundir);
  const h = await Flux.open(inst.uri);
  try {
    for (let i = 0; i < 4; i++) {
      const m0 = mainThreadSeconds(pids[0]);
      const t0 = process.hrtime.bigint();
      await bigCommit(h, `wide${i}`, 10000);
      const kind = i === 0 ? 'first' : 'later';
      add(b, `commit-10000-keys-${kind}`, ms(t0));
      add(b, `commit-10000-keys-${kind}-rank0-main-ms`, (mainThreadSeconds(pids[0]) - m0) * 1000);
    }
    for (const [name, clients, each] of [['commits-16-clients', 16, 250], ['commits-1-client', 1, 1000]]) {
      const c0 = totalCpu(pids);
      add(b, name, await concurrentCommits([inst.uri], clients, each, `${name}-${r}`));
      add(b, `${name}-broker-cpu-us`, ((totalCpu(pids) - c0) * 1e6) / (clients * each));
    }
    for (let i = 0; i < 3; i++) add(b, 'kvs-put-10000-keys', await timeProcess(process.execPath, [flux, 'kvs', 'put', ...pairs], { FLUX_URI: inst.uri }));
  } finally {
    h.close();
    await inst.stop();
  }
}

await alternatedRounds(builds.length, ROUNDS, (b, r) => round(b, builds[b][1], r));
const UNITS = { 'commits-16-clients': 'commits/s', 'commits-1-client': 'commits/s' };
builds.forEach(([name], b) => {
  for (const [fig, values] of figures[b]) {
    const unit = UNITS[fig] ?? (fig.endsWith('-us') ? 'µs' : 'ms');
    emit(`commit-cpu.${fig}`, median(values), unit, { build: name, n: values.length });
  }
});
