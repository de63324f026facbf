// Issue 4's KVS figures, each the median of several runs on one instance: 16 clients x 250 sequential commits at
// size 4 (clients spread over the ranks); one client's 1,000 sequential commits; `flux kvs put` of 10,000 keys
// and `flux kvs dir -R` of 10,000 keys as whole processes (beside `node -e 0` timed in the same run); 10,000
// sequential lookups from one client; a historical lookup (--at-version) against a current one.
import { Flux } from '../dist/api/handle.js';
import { FLUX, emit, median, startInstance, timeProcess } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const val = (s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;

async function repeat(fn) {
  const xs = [];
  for (let i = 0; i < RUNS; i++) xs.push(await fn(i));
  return xs;
}

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

  const cc = await repeat((run) => concurrentCommits(inst, run));
  emit('kvs-commits-16x250-size4', median(cc), 'commits/s', { runs: cc.map((x) => Math.round(x)), target: 10000, flux_core: 1280 });

  const sc = await repeat((run) => sequentialCommits(h, run));
  emit('kvs-commits-1-client-1000-sequential', median(sc), 'commits/s', { runs: sc.map((x) => Math.round(x)), target: 3000, flux_core: 390 });
  // the same without a directory that grows by a key per commit (whose rewrite part 6 of the issue removes)
  const sk = await repeat((run) => sequentialCommits(h, run, true));
  emit('kvs-commits-1-client-1000-sequential-one-key', median(sk), 'commits/s', { runs: sk.map((x) => Math.round(x)), target: 3000 });

  // `flux kvs put k0=v0 ... k9999=v9999`: one command, one commit of 10,000 keys
  const node = await repeat(() => timeProcess(process.execPath, ['-e', '0']));
  const puts = await repeat((run) => {
    const pairs = Array.from({ length: 10000 }, (_, i) => `put${run}.k${i}=value-${i}`);
    return timeProcess(process.execPath, [FLUX, 'kvs', 'put', ...pairs], env);
  });
  emit('kvs-put-10000-keys-process', median(puts) / 1000, 's', {
    runs: puts.map((x) => Math.round(x)), node_e_0_ms: Math.round(median(node)), target: 0.14, flux_core: 0.14,
  });

  // the tree the lookups and dir -R read: 10,000 keys, 100 directories of 100
  const keys = Array.from({ length: 10000 }, (_, i) => `look.d${Math.floor(i / 100)}.k${i % 100}`);
  await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: keys.map((key, i) => ({ key, flags: 0, dirent: val(`value ${i}`) })) });
  const version = (await h.call('kvs.getroot', { namespace: 'primary' })).rootseq;
  const lk = await repeat(() => sequentialLookups(h, keys));
  emit('kvs-lookups-10000-sequential', median(lk), 's', { runs: lk.map((x) => Number(x.toFixed(3))), target: 0.4, flux_core: 1.2 });

  const dirs = await repeat(() => timeProcess(process.execPath, [FLUX, 'kvs', 'dir', '-R', 'look'], env));
  emit('kvs-dir-R-10000-keys-process', median(dirs) / 1000, 's', {
    runs: dirs.map((x) => Math.round(x)), node_e_0_ms: Math.round(median(node)), target: 0.2, flux_core: 1.31,
  });

  // a historical lookup against a current one: the command (which resolves the version's root first), and
  // the lookups themselves once the root is known; alternated so that the machine's noise falls on both
  await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'look.d0.k0', flags: 0, dirent: val('newer') }] });
  const cur = [];
  const hist = [];
  for (let i = 0; i < RUNS; i++) {
    cur.push(await timeProcess(process.execPath, [FLUX, 'kvs', 'get', 'look.d1.k1'], env));
    hist.push(await timeProcess(process.execPath, [FLUX, 'kvs', 'get', '--at-version', String(version), 'look.d1.k1'], env));
  }
  emit('kvs-get-at-version-vs-current-process', median(hist) / median(cur), 'ratio', {
    at_version_ms: Math.round(median(hist)), current_ms: Math.round(median(cur)), target: 1.5,
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
