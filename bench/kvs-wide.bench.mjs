// Issue 4 part 6 figures: a commit of one key into an empty directory against one into a directory of WIDE_N
// keys, and the first append to a key against an append to a key already made of APPEND_N blobs, each as the
// median of interleaved samples in one run, through a real instance (size 1) and through the tree code alone
// (applyOps over an in-memory content store, no journal). The ratios are the figures that matter; reading one
// key of the wide directory and listing all of it are reported beside them. The wide
// directory and the long value each sit in a directory of their own, so that the root every commit rewrites
// stays small in both forms of each comparison.
import { Flux } from '../dist/api/handle.js';
import { ContentStore } from '../dist/core/content/store.js';
import { blobref, digestOf } from '../dist/core/content/blobref.js';
import { applyOps, lookup, TreeCache, EMPTY_DIR_BLOB, LOOKUP_READDIR, LOOKUP_TREEOBJ, OP_APPEND } from '../dist/core/kvs/tree.js';
import { emit, median, startInstance } from './lib.mjs';

const WIDE_N = Number(process.env.KVS_WIDE_N ?? 100_000);
const APPEND_N = Number(process.env.KVS_APPEND_N ?? 100_000);
const SAMPLES = Number(process.env.KVS_WIDE_SAMPLES ?? 300);
/** keys per setup commit: the master applies at most 10,000 ops per batch */
const BATCH = 10_000;
/** refs per append op while the long value is built */
const REFS_PER_OP = 1_000;

const val = (s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const put = (key, s) => ({ key, flags: 0, dirent: val(s) });
const append = (key, s) => ({ key, flags: OP_APPEND, dirent: val(s) });
const unlink = (key) => ({ key, flags: 0, dirent: null });
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

/**
 * The two workloads over one commit function `commit(ops)` and the blobref of a stored blob (`blob`), which the
 * long value's refs all name (a value may repeat a blob): returns the medians in ms.
 */
async function measure(commit, blob) {
  const t0 = process.hrtime.bigint();
  await commit([{ key: 'empty', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } }]);
  for (let i = 0; i < WIDE_N; i += BATCH) {
    await commit(Array.from({ length: Math.min(BATCH, WIDE_N - i) }, (_, j) => put(`wide.k${i + j}`, `value ${i + j}`)));
  }
  const buildWide = ms(t0);
  const t1 = process.hrtime.bigint();
  const refs = Array(REFS_PER_OP).fill(blob);
  for (let n = 0; n < APPEND_N - 1; n += BATCH * REFS_PER_OP) {
    const ops = [];
    for (let m = n; m < Math.min(APPEND_N - 1, n + BATCH * REFS_PER_OP); m += REFS_PER_OP) {
      const k = Math.min(REFS_PER_OP, APPEND_N - 1 - m);
      ops.push({ key: 'long.v', flags: OP_APPEND, dirent: { ver: 1, type: 'valref', data: refs.slice(0, k) } });
    }
    await commit(ops);
  }
  const buildLong = ms(t1);
  const empty = [];
  const wide = [];
  const first = [];
  const late = [];
  const time = async (ops) => {
    const t = process.hrtime.bigint();
    await commit(ops);
    return ms(t);
  };
  for (let i = 0; i < SAMPLES; i++) {
    // interleaved, so that the machine's drift falls on both sides of each ratio alike
    empty.push(await time([put('empty.k', 'v')]));
    await commit([unlink('empty.k')]);
    wide.push(await time([put(`wide.new${i}`, 'v')]));
    first.push(await time([append('first.v', 'line\n')]));
    await commit([unlink('first.v')]);
    late.push(await time([append('long.v', 'line\n')]));
  }
  return {
    buildWide, buildLong, empty: median(empty), wide: median(wide), first: median(first), late: median(late),
  };
}

function report(where, m) {
  emit(`kvs-wide.${where}.build-${WIDE_N}-keys`, m.buildWide, 'ms');
  emit(`kvs-wide.${where}.build-${APPEND_N}-blob-value`, m.buildLong, 'ms');
  emit(`kvs-wide.${where}.put-into-empty-dir`, m.empty, 'ms');
  emit(`kvs-wide.${where}.put-into-${WIDE_N}-key-dir`, m.wide, 'ms');
  emit(`kvs-wide.${where}.wide-ratio`, m.wide / m.empty, 'x', { target: '<= 2' });
  emit(`kvs-wide.${where}.append-1st`, m.first, 'ms');
  emit(`kvs-wide.${where}.append-${APPEND_N}th`, m.late, 'ms');
  emit(`kvs-wide.${where}.append-ratio`, m.late / m.first, 'x', { target: '<= 2' });
}

async function throughInstance() {
  const inst = await startInstance(1);
  const h = await Flux.open(inst.uri);
  try {
    const commit = (ops) => h.call('kvs.commit', { namespace: 'primary', flags: 0, ops });
    await commit([put('blob', 'x'.repeat(100))]);
    const t = (await h.call('kvs.lookup', { key: 'blob', namespace: 'primary', flags: LOOKUP_TREEOBJ })).val;
    const m = await measure(commit, t.data[0]);
    report('instance', m);
    // what reading the wide directory costs: one key, and the whole listing (what dir -R asks for)
    const get = [];
    for (let i = 0; i < 200; i++) {
      const t0 = process.hrtime.bigint();
      await h.call('kvs.lookup', { key: `wide.k${(i * 7919) % WIDE_N}`, namespace: 'primary', flags: 0 });
      get.push(ms(t0));
    }
    const list = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      const r = await h.call('kvs.lookup', { key: 'wide', namespace: 'primary', flags: LOOKUP_READDIR });
      list.push(ms(t0));
      if (Object.keys(r.val.data).length !== WIDE_N + SAMPLES) throw new Error('the listing misses keys');
    }
    emit(`kvs-wide.instance.lookup-in-${WIDE_N}-key-dir`, median(get), 'ms');
    emit(`kvs-wide.instance.readdir-${WIDE_N}-key-dir`, median(list), 'ms');
  } finally {
    h.close();
    await inst.stop();
  }
}

async function treeOnly() {
  const cs = ContentStore.open(':memory:', 'sha256');
  const access = {
    cache: new TreeCache(),
    load: (ref) => cs.load(digestOf('sha256', ref)),
    store: (blob) => blobref('sha256', cs.store(blob)),
  };
  let root = access.store(EMPTY_DIR_BLOB);
  const commit = async (ops) => {
    root = applyOps(root, ops, access, 'primary').rootref;
  };
  const blob = access.store(Buffer.from('x'.repeat(100)));
  report('tree', await measure(commit, blob));
  // the long value reads back whole: its length is APPEND_N - 1 + SAMPLES blobs' worth
  const v = await lookup(root, 'long.v', 0, access, 'primary');
  const want = (APPEND_N - 1) * 100 + SAMPLES * 5;
  if (Buffer.from(v.data, 'base64').length !== want) throw new Error(`long value has the wrong length (want ${want})`);
  cs.close();
}

await throughInstance();
await treeOnly();
