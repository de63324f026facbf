// Issue 4's KVS figures, each the median of several runs on one instance: 16 clients x 250 sequential commits at
// size 4 (clients spread over the ranks); one client's 1,000 sequential commits; `flux kvs put` of 10,000 keys
// and `flux kvs dir -R` of 10,000 keys as whole processes (beside `node -e 0` timed in the same run); 10,000
// sequential lookups from one client; a historical lookup (--at-version) against a current one. Beside each
// wall time, the CPU the client and the brokers spent (cpu_*): on a loaded machine that is the steadier figure.
import { Flux } from '../dist/api/handle.js';
import { FLUX, emit, median, startInstance } from './lib.mjs';
import { brokerPids, timeProcessCpu, totalCpu } from './proc-cpu.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const val = (s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

/** `fn` run RUNS times, with the CPU seconds the brokers and this process spent on each run */
async function withCpu(pids, fn) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const b0 = totalCpu(pids);
    const c0 = process.cpuUsage();
    const value = await fn(i);
    const c = process.cpuUsage(c0);
    runs.push({ value, broker: totalCpu(pids) - b0, client: (c.user + c.system) / 1e6 });
  }
  return runs;
}

/** a command run RUNS times, alternating with `node -e 0`: wall and CPU ms of both, and the brokers' CPU ms */
async function processFigure(pids, env, argsOf) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const node = await timeProcessCpu(process.execPath, ['-e', '0']);
    const b0 = totalCpu(pids);
    const r = await timeProcessCpu(process.execPath, [FLUX, ...argsOf(i)], env);
    runs.push({ wall: r.wall, cpu: r.cpu, broker: (totalCpu(pids) - b0) * 1000, nodeWall: node.wall, nodeCpu: node.cpu });
  }
  const m = (f) => Math.round(median(runs.map(f)));
  return {
    wall: median(runs.map((r) => r.wall)),
    extra: {
      runs_ms: runs.map((r) => Math.round(r.wall)), cpu_command_ms: m((r) => r.cpu), cpu_brokers_ms: m((r) => r.broker),
      node_e_0_ms: m((r) => r.nodeWall), cpu_node_e_0_ms: m((r) => r.nodeCpu),
    },
  };
}

const us = (runs, n) => Math.round((median(runs.map((r) => r.broker + r.client)) / n) * 1e6);

/** 16 clients, 4 on each rank, each making 250 commits one after another; commits/s of the whole */
async function concurrentCommits(inst, run) {
  const handles = await Promise.all(Array.from({ length: 16 }, (_, i) => Flux.open(`local://${inst.rundir}/local-${i % 4}`)));
  const t0 = process.hrtime.bigint();
  await Promise.all(handles.map(async (h, c) => {
    for (let i = 0; i < 250; i++) {
      await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: `cc${run}.c${c}.k${i}`, flags: 0, dirent: val(`${i}`) }] });
    }
  }));
  const secs = seconds(t0);
  for (const h of handles) h.close();
  return 4000 / secs;
}

/** 1,000 commits one after another, each of a new key in one directory (which grows) or all of one key */
async function sequentialCommits(h, run, oneKey = false) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) {
    const key = oneKey ? `one${run}` : `seq${run}.k${i}`;
    await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key, flags: 0, dirent: val(`${i}`) }] });
  }
  return 1000 / seconds(t0);
}

async function sequentialLookups(h, keys, rootdir) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < keys.length; i++) {
    const r = await h.call('kvs.lookup', rootdir ? { key: keys[i], flags: 0, rootdir } : { key: keys[i], namespace: 'primary', flags: 0 });
    if (r.val === undefined) throw new Error(`no value for ${keys[i]}`);
  }
  return seconds(t0);
}

async function main() {
  const inst = await startInstance(4, ['-S', 'tbon.fanout=2']);
  const env = { FLUX_URI: inst.uri };
  const h = await Flux.open(inst.uri);

  const pids = brokerPids(inst.rundir);
  if (pids.length !== 4) throw new Error(`found ${pids.length} brokers, not 4`);
  const cc = await withCpu(pids, (run) => concurrentCommits(inst, run));
  emit('kvs-commits-16x250-size4', median(cc.map((r) => r.value)), 'commits/s', {
    runs: cc.map((r) => Math.round(r.value)), cpu_per_commit_us: us(cc, 4000), target: 10000, flux_core: 1280,
  });

  const sc = await withCpu(pids, (run) => sequentialCommits(h, run));
  emit('kvs-commits-1-client-1000-sequential', median(sc.map((r) => r.value)), 'commits/s', {
    runs: sc.map((r) => Math.round(r.value)), cpu_per_commit_us: us(sc, 1000), target: 3000, flux_core: 390,
  });
  // the same without a directory that grows by a key per commit (whose rewrite part 6 of the issue removes)
  const sk = await withCpu(pids, (run) => sequentialCommits(h, run, true));
  emit('kvs-commits-1-client-1000-sequential-one-key', median(sk.map((r) => r.value)), 'commits/s', {
    runs: sk.map((r) => Math.round(r.value)), cpu_per_commit_us: us(sk, 1000), target: 3000,
  });

  // `flux kvs put k0=v0 ... k9999=v9999`: one command, one commit of 10,000 keys
  const put = await processFigure(pids, env, (run) => ['kvs', 'put', ...Array.from({ length: 10000 }, (_, i) => `put${run}.k${i}=value-${i}`)]);
  emit('kvs-put-10000-keys-process', put.wall / 1000, 's', { ...put.extra, target: 0.14, flux_core: 0.14 });

  // the tree the lookups and dir -R read: 10,000 keys, 100 directories of 100
  const keys = Array.from({ length: 10000 }, (_, i) => `look.d${Math.floor(i / 100)}.k${i % 100}`);
  await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: keys.map((key, i) => ({ key, flags: 0, dirent: val(`value ${i}`) })) });
  const version = (await h.call('kvs.getroot', { namespace: 'primary' })).rootseq;
  const lk = await withCpu(pids, () => sequentialLookups(h, keys));
  emit('kvs-lookups-10000-sequential', median(lk.map((r) => r.value)), 's', {
    runs: lk.map((r) => Number(r.value.toFixed(3))), cpu_per_lookup_us: us(lk, keys.length), target: 0.4, flux_core: 1.2,
  });

  const dir = await processFigure(pids, env, () => ['kvs', 'dir', '-R', 'look']);
  emit('kvs-dir-R-10000-keys-process', dir.wall / 1000, 's', { ...dir.extra, target: 0.2, flux_core: 1.31 });

  // a historical lookup against a current one: the command (which resolves the version's root first), and
  // the lookups themselves once the root is known; alternated so that the machine's noise falls on both
  await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'look.d0.k0', flags: 0, dirent: val('newer') }] });
  const cur = [];
  const hist = [];
  for (let i = 0; i < RUNS; i++) {
    cur.push(await timeProcessCpu(process.execPath, [FLUX, 'kvs', 'get', 'look.d1.k1'], env));
    hist.push(await timeProcessCpu(process.execPath, [FLUX, 'kvs', 'get', '--at-version', String(version), 'look.d1.k1'], env));
  }
  const wall = (xs) => median(xs.map((x) => x.wall));
  const cpu = (xs) => median(xs.map((x) => x.cpu));
  emit('kvs-get-at-version-vs-current-process', wall(hist) / wall(cur), 'ratio', {
    at_version_ms: Math.round(wall(hist)), current_ms: Math.round(wall(cur)),
    cpu_ratio: Number((cpu(hist) / cpu(cur)).toFixed(3)), target: 1.5,
  });
  const rootref = (await h.call('kvs.version-root', { namespace: 'primary', rootseq: version })).rootref;
  const rootdir = { ver: 1, type: 'dirref', data: [rootref] };
  const some = keys.slice(0, 2000);
  const lc = [];
  const lh = [];
  for (let i = 0; i < RUNS; i++) {
    lc.push(await sequentialLookups(h, some));
    lh.push(await sequentialLookups(h, some, rootdir));
  }
  emit('kvs-lookup-at-version-vs-current', median(lh) / median(lc), 'ratio', {
    at_version_s: Number(median(lh).toFixed(3)), current_s: Number(median(lc).toFixed(3)), lookups: some.length, target: 1.5,
  });

  h.close();
  await inst.stop();
}

await main();
