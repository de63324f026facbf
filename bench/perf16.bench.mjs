// Issue 16 figures (parts 2-5), each with the target beside it; comparisons are measured in the same run.
//  memory:     what node and each package costs at load; broker RSS (and its private part) idle at size 4, rank 0
//              after 10,000 keys, and after 1,000,000 journal entries and 100,000 keys
//  latency:    broker.ping medians to rank 0 and rank 3 of size 4, and rank 7 of size 8 fanout 2, from a raw client
//              (frames built by hand on a UNIX socket, as flux-core's C client does) and from the TypeScript handle
//  throughput: one commit of 10,000 keys (a few into the broker's life, and again after all the rest); 16
//              committers at size 1 and 4; one sequential committer; 10,000 sequential lookups
//  scale:      `flux start --size N true` for N = 1, 8, 32, 64 at fanout 32 and 2 (time, and the instance's RSS
//              once up); size 64 started and every rank pinged
//  (memory under a long load: soak.bench.mjs)
// PERF16=memory,latency,... picks groups (all by default); BENCH_RUNS sets the repeats, PERF16_WARMUPS the
// runs of each commit and lookup workload before those (reported as warmup_runs), PERF16_WARM_PINGS the pings
// of each client before the timed ones (3000; the raw client's are reported as cold_median), PERF16_IDLE the seconds an
// instance idles before its memory is read, and PERF16_STEADY the seconds before it is read again (120; 0 skips),
// once every broker has run V8's optimizing compiler (node_text says whether a broker has).
import { readFileSync, rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { Flux } from '../dist/api/handle.js';
import { echoFloor, fsyncFloor, zmqEchoFloor } from './floors.mjs';
import { FLUX, delay, emit, fillStatedir, median, percentile, startInstance, timeProcess } from './lib.mjs';
import { brokerMem, rssAfter } from './proc-mem.mjs';
import { brokerPids, totalCpu } from './proc-cpu.mjs';
import { bigCommit, bigOps, commitOps, concurrentCommits } from './commits.mjs';
import { brokerLaunchEnv } from '../dist/core/launch-env.js';
import { rawClient } from './raw-client.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** runs of each commit and lookup workload before those measured (see measured()) */
const WARMUPS = Number(process.env.PERF16_WARMUPS ?? 2);
const GROUPS = (process.env.PERF16 ?? 'memory,latency,throughput,scale').split(',');
const IDLE_SECONDS = Number(process.env.PERF16_IDLE ?? 35);
const STEADY_SECONDS = Number(process.env.PERF16_STEADY ?? 120);
const SETTLE_SECONDS = 15;
/** pings from each client before the latency group times any (PERF16_WARM_PINGS) */
const WARM_PINGS = Number(process.env.PERF16_WARM_PINGS ?? 3000);
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const r1 = (x) => Number(x.toFixed(1));

// ---- memory -----------------------------------------------------------------------------------------------

const MODULES = [
  ['zeromq', "createRequire(import.meta.url)('zeromq')"],
  ['better-sqlite3', "createRequire(import.meta.url)('better-sqlite3')"],
  ['lz4', "createRequire(import.meta.url)('lz4')"],
  ['koffi', "createRequire(import.meta.url)('koffi')"],
  ['ajv+1-schema', "const { compile } = await import('./dist/core/validate.js'); compile({ type: 'object' })({})"],
  ['immer', "await import('immer')"],
  // the file brokers run (scripts/bundle-cli.mjs), ajv inside it but not yet evaluated; stored wrapped as Node wraps
  // a module, it is compiled and called as bin/flux does
  ['broker-code', "const { Script } = await import('node:vm'); const { readFileSync } = await import('node:fs');"
    + " const dir = process.env.PERF16_ROOT + 'dist/cli'; const f = dir + '/broker-main.cjs'; const m = { exports: {} };"
    + " new Script(readFileSync(f, 'utf8'), { filename: f }).runInThisContext()(m.exports, createRequire(f), m, f, dir)"],
];

/**
 * A leaf's floor, a script as the brokers are: node with what every broker loads before any code of its own runs,
 * the Node built-ins the broker's bundle and bin/flux require (read from the files, so the list follows the code)
 * and zeromq, and a UNIX socket listening, as each broker's local one does (net loads `cluster` to listen), in
 * Linux's abstract namespace so that no file is left behind. A broker's RSS cannot go below it whatever its own
 * code does; what a leaf holds above it is the broker's code and heap.
 */
function leafFloorCode(root) {
  const names = new Set();
  for (const f of ['dist/cli/broker-main.cjs', 'bin/flux']) {
    for (const [, name] of readFileSync(root + f, 'utf8').matchAll(/require\(["']((?:node:)?[a-z_/0-9]+)["']\)/g)) {
      if (isBuiltin(name)) names.add(name.replace(/^node:/, ''));
    }
  }
  return [...names].sort().map((n) => `require('node:${n}');`).join(' ')
    + ` require(${JSON.stringify(root + 'node_modules/zeromq')});`
    + " require('node:net').createServer().listen('\\0flux-leaf-floor-' + process.pid).unref();";
}

async function memory() {
  const prelude = "import { createRequire } from 'node:module'; process.chdir(process.env.PERF16_ROOT);";
  const env = process.env;
  env.PERF16_ROOT = new URL('..', import.meta.url).pathname;
  const bare = [];
  for (let i = 0; i < 3; i++) bare.push(await rssAfter(prelude));
  const base = median(bare);
  emit('rss-node-bare', base, 'MiB', { target: 40 });
  for (const [name, code] of MODULES) {
    const xs = [];
    for (let i = 0; i < 3; i++) xs.push(await rssAfter(`${prelude} ${code}`));
    emit(`rss-cost-${name}`, median(xs) - base, 'MiB', { rss: r1(median(xs)) });
  }
  // the floor's processes idle beside the instance, as long, in the environment its brokers are given
  const floorProbe = { settleMs: IDLE_SECONDS * 1000, inputType: 'commonjs', env: brokerLaunchEnv(process.env) };
  const floorCode = leafFloorCode(env.PERF16_ROOT);
  const floorRuns = Promise.all([0, 1, 2].flatMap(() => [rssAfter('', floorProbe), rssAfter(floorCode, floorProbe)]));

  const inst = await startInstance(4);
  // past the first periodic journal checkpoint (30 s), which rank 0 makes idle or not
  await delay(IDLE_SECONDS * 1000);
  const floorRss = await floorRuns;
  const leafFloor = median(floorRss.filter((_, i) => i % 2 === 1));
  emit('rss-leaf-floor', leafFloor, 'MiB', { bare_script: r1(median(floorRss.filter((_, i) => i % 2 === 0))), target: 45 });
  const idleFigures = (suffix, brokers) => {
    const rest = brokers.filter((b) => b.rank > 0);
    emit(`rss-idle-rank0-size4${suffix}`, brokers[0].rss, 'MiB', {
      private: r1(brokers[0].private), node_text: r1(brokers[0].nodeText), target: 55, flux_core: 14,
    });
    emit(`rss-idle-leaf-size4${suffix}`, median(rest.map((b) => b.rss)), 'MiB', {
      private: r1(median(rest.map((b) => b.private))), ranks: rest.map((b) => r1(b.rss)),
      node_text: rest.map((b) => r1(b.nodeText)), target: 45, floor: r1(leafFloor),
    });
  };
  idleFigures('', brokerMem(inst.rundir));
  // and once every broker has met V8's optimizing compiler, which the heartbeats alone wake in a leaf at ~90 s
  if (STEADY_SECONDS > IDLE_SECONDS) {
    await delay((STEADY_SECONDS - IDLE_SECONDS) * 1000);
    idleFigures(`-${STEADY_SECONDS}s`, brokerMem(inst.rundir));
  }
  const h = await Flux.open(inst.uri);
  await bigCommit(h, 'mem', 10000);
  h.close();
  // soon after, and once V8 has given back what the commit's garbage took (it does so ~10 s after a burst)
  await delay(3000);
  const soon = brokerMem(inst.rundir);
  await delay(SETTLE_SECONDS * 1000);
  const after = brokerMem(inst.rundir);
  emit('rss-rank0-after-10000-keys', after[0].rss, 'MiB', {
    private: r1(after[0].private), at_3s: r1(soon[0].rss), leaf: r1(median(after.slice(1).map((b) => b.rss))), target: 75, flux_core: 31,
  });
  await inst.stop();

  // a long history: 1,000,000 entries on disk, then 100,000 keys committed by a client
  const entries = Number(process.env.PERF16_ENTRIES ?? 1_000_000);
  const { dir } = await fillStatedir(entries, { checkpointEvery: 100_000 });
  const big = await startInstance(2, ['-S', `statedir=${dir}`]);
  const hb = await Flux.open(big.uri);
  for (let c = 0; c < 10; c++) await bigCommit(hb, `big${c}`, 10000);
  hb.close();
  await delay(3000);
  const soonBig = brokerMem(big.rundir);
  await delay(SETTLE_SECONDS * 1000);
  const m = brokerMem(big.rundir);
  emit('rss-rank0-1M-entries-100000-keys', m[0].rss, 'MiB', {
    private: r1(m[0].private), at_3s: r1(soonBig[0].rss), leaf: r1(m[1].rss), leaf_private: r1(m[1].private), entries,
  });
  await big.stop();
  rmSync(dir, { recursive: true, force: true });
}

// ---- latency ----------------------------------------------------------------------------------------------

async function pingTimes(send, rank, n) {
  for (let i = 0; i < 200; i++) await send(rank, i);
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await send(rank, i);
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return t;
}

async function latency() {
  const N = Number(process.env.PERF16_PINGS ?? 3000);
  const cases = [
    [4, [], 0, 'ping-rank0-size4', 0.076],
    [4, [], 3, 'ping-rank3-size4', 0.275],
    [8, ['-S', 'tbon.fanout=2'], 7, 'ping-rank7-size8-fanout2', 0.45],
  ];
  for (const [size, extra, rank, name, target] of cases) {
    const inst = await startInstance(size, extra);
    const raw = rawClient(`${inst.rundir}/local-0`);
    await raw.ready;
    const h = await Flux.open(inst.uri);
    // a broker's forwarding path runs interpreted until V8 has optimized it: the first pings through a size-8
    // tree took 2-3x the steady median (measured), which is what a running instance shows and flux-core's C
    // broker has from its first message. Those first pings are reported apart, as cold_median.
    const cold = await pingTimes((r, s) => raw.ping(r, s), rank, WARM_PINGS);
    await pingTimes((r, s) => h.rpc('broker.ping', { seq: s, pad: '' }, { nodeid: r }), rank, WARM_PINGS);
    const rawT = [];
    const tsT = [];
    // alternated in rounds, so that the machine's noise falls on both clients alike
    for (let round = 0; round < 5; round++) {
      rawT.push(...await pingTimes((r, s) => raw.ping(r, s), rank, N / 5));
      tsT.push(...await pingTimes((r, s) => h.rpc('broker.ping', { seq: s, pad: '' }, { nodeid: r }), rank, N / 5));
    }
    raw.close();
    h.close();
    await inst.stop();
    emit(`${name}-raw`, median(rawT), 'ms', {
      p90: Number(percentile(rawT, 0.9).toFixed(4)), n: rawT.length, target, cold_median: Number(median(cold).toFixed(4)), cold_n: cold.length,
    });
    emit(`${name}-handle`, median(tsT), 'ms', { p90: Number(percentile(tsT, 0.9).toFixed(4)), n: tsT.length });
  }
  // the same round trip between two bare Node processes, for the floor under the figures above
  emit('node-echo-round-trip', (echoFloor(N) / N) * 1000, 'ms', { n: N, mean: true });
  // and through zeromq.js, what each link of the tree adds at least
  emit('zmq-echo-round-trip', (zmqEchoFloor(N) / N) * 1000, 'ms', { n: N, mean: true });
}

// ---- throughput -------------------------------------------------------------------------------------------

/**
 * `fn` run RUNS times on `inst`, after `warmups` runs that are reported apart (`warmup_runs`): its values, and the
 * CPU the brokers and this process spent per op (`ops` per run) in microseconds, on a shared machine the steadier
 * figure. A broker's code reaches its steady speed only after V8 has optimized it, thousands of commits into its
 * life, and a broker in service is long past that (flux-core's C broker has no such start). The runs' median is
 * the figure.
 */
async function measured(inst, ops, fn, warmups = 0) {
  const pids = brokerPids(inst.rundir);
  const cold = [];
  for (let w = 0; w < warmups; w++) cold.push(await fn(`w${w}`));
  const values = [];
  const broker = [];
  const client = [];
  for (let run = 0; run < RUNS; run++) {
    const b0 = totalCpu(pids);
    const c0 = process.cpuUsage();
    values.push(await fn(run));
    const c = process.cpuUsage(c0);
    broker.push(((totalCpu(pids) - b0) * 1e6) / ops);
    client.push((c.user + c.system) / ops);
  }
  return {
    value: median(values), runs: values.map((x) => Number(x.toFixed(3))), cpu_brokers_us: Math.round(median(broker)),
    cpu_client_us: Math.round(median(client)), ...(warmups > 0 ? { warmup_runs: cold.map((x) => Number(x.toFixed(3))) } : {}),
  };
}

async function throughput() {
  const one = await startInstance(1);
  const h = await Flux.open(one.uri);
  const bigCommitRun = (prefix) => async (run) => {
    const ops = bigOps(`${prefix}${run}`, 10000);
    const t0 = process.hrtime.bigint();
    await commitOps(h, ops);
    return seconds(t0);
  };
  const big = await measured(one, 1, bigCommitRun('one'), WARMUPS);
  emit('commit-10000-keys', big.value, 's', { ...big, target: 0.07, flux_core: 0.072 });

  const c1 = await measured(one, 4000, (run) => concurrentCommits([one.uri], 16, 250, `cc${run}`), WARMUPS);
  emit('commits-16-clients-size1', c1.value, 'commits/s', { ...c1, target: 10000, flux_core: 3144 });

  const seq = await measured(one, 1000, (run) => concurrentCommits([one.uri], 1, 1000, `sq${run}`), WARMUPS);
  // each commit is answered after the fsync of its group commit, so one committer waits for one fsync per commit
  const fsyncUs = fsyncFloor();
  emit('fsync-4k-latency', fsyncUs, 'µs');
  emit('commits-1-client-sequential', seq.value, 'commits/s', { ...seq, target: 3000, flux_core: 373, fsync_bound: Math.round(1e6 / fsyncUs) });

  const keys = Array.from({ length: 10000 }, (_, i) => `look.d${Math.floor(i / 100)}.k${i % 100}`);
  await bigCommit(h, 'look', 10000);
  const lk = await measured(one, keys.length, async () => {
    const t0 = process.hrtime.bigint();
    for (const key of keys) await h.call('kvs.lookup', { key, namespace: 'primary', flags: 0 });
    return seconds(t0);
  }, WARMUPS);
  emit('lookups-10000-sequential', lk.value, 's', { ...lk, target: 0.5, flux_core: 1.07 });
  emit('node-echo-10k-sequential', echoFloor(keys.length), 's', { n: keys.length });
  // the first figure is taken a few large commits into the broker's life, while V8 is still optimizing the code
  // they run; this one on the same broker after every workload above, as a broker in service would meet it
  const inService = await measured(one, 1, bigCommitRun('late'), WARMUPS);
  emit('commit-10000-keys-in-service', inService.value, 's', { ...inService, target: 0.07, flux_core: 0.072 });
  h.close();
  await one.stop();

  const four = await startInstance(4);
  const ranks = [0, 1, 2, 3].map((r) => `local://${four.rundir}/local-${r}`);
  const c4 = await measured(four, 4000, (run) => concurrentCommits([four.uri], 16, 250, `c4r${run}`), WARMUPS);
  emit('commits-16-clients-size4', c4.value, 'commits/s', { ...c4, target: 8000, flux_core: 2937 });
  const c4spread = await measured(four, 4000, (run) => concurrentCommits(ranks, 16, 250, `c4s${run}`), WARMUPS);
  emit('commits-16-clients-size4-spread', c4spread.value, 'commits/s', c4spread);
  await four.stop();
}

// ---- scale ------------------------------------------------------------------------------------------------

async function scale() {
  for (const fanout of [32, 2]) {
    for (const size of [1, 8, 32, 64]) {
      if (fanout === 2 && size === 1) continue;
      const runs = size >= 32 ? 3 : RUNS;
      const t = [];
      for (let i = 0; i < runs; i++) t.push(await timeProcess(FLUX, ['start', '--size', String(size), '-S', `tbon.fanout=${fanout}`, 'true']));
      const inst = await startInstance(size, ['-S', `tbon.fanout=${fanout}`]);
      await delay(2000);
      const mem = brokerMem(inst.rundir);
      await inst.stop();
      const total = mem.reduce((a, b) => a + b.rss, 0);
      const priv = mem.reduce((a, b) => a + b.private, 0);
      emit(`start-size${size}-fanout${fanout}-true`, median(t) / 1000, 's', {
        runs: t.map((x) => Number((x / 1000).toFixed(2))), rss_total_mib: Math.round(total), private_total_mib: Math.round(priv),
        ...(size === 8 && fanout === 32 ? { target: 0.5, flux_core: 1.79 } : {}),
      });
    }
  }
  for (const fanout of [32, 2]) {
    const t0 = process.hrtime.bigint();
    const inst = await startInstance(64, ['-S', `tbon.fanout=${fanout}`]);
    const up = seconds(t0);
    const h = await Flux.open(inst.uri);
    const times = [];
    for (let r = 0; r < 64; r++) {
      const t1 = process.hrtime.bigint();
      await h.rpc('broker.ping', { seq: r }, { nodeid: r });
      times.push(seconds(t1) * 1000);
    }
    h.close();
    await inst.stop();
    emit(`size64-fanout${fanout}-ping-all`, 64, 'ranks', { up_s: Number(up.toFixed(2)), ping_median_ms: Number(median(times).toFixed(3)), ping_max_ms: Number(Math.max(...times).toFixed(3)) });
  }
}

if (GROUPS.includes('memory')) await memory();
if (GROUPS.includes('latency')) await latency();
if (GROUPS.includes('throughput')) await throughput();
if (GROUPS.includes('scale')) await scale();
