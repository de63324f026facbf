// Journal compaction: how fast `journal.compact` drops half of a large KVS journal on a running instance
// (entries dropped per second, objects deleted per second), and what the instance's other clients see meanwhile
// (lookup latency while it runs against latency before it: the compaction works in chunks and must not hold the
// event loop for long). The journal is written straight through the stores, as rank 0's KVS master writes one:
// one key per commit among 4096 keys in 64 directories, every fourth value large enough to be its own blob.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { ContentStore } from '../dist/core/content/store.js';
import { JournalStore, checkpointMessage } from '../dist/core/journal/store.js';
import { canonical } from '../dist/core/journal/entry.js';
import { blobrefOf, digestOf } from '../dist/core/content/blobref.js';
import { applyOps, EMPTY_DIR_BLOB, TreeCache } from '../dist/core/kvs/tree.js';
import { val } from '../dist/core/kvs/treeobj.js';
import { ENTRY_KVS, kvsProjection, namespaceTopic } from '../dist/projections/kvs.js';
import { loadOrCreateSigner } from '../dist/core/journal/signing.js';
import { emit, median, percentile, startInstance } from './lib.mjs';

const N = Number(process.env.BENCH_COMPACT_ENTRIES ?? 50_000);

async function fill(n) {
  const dir = mkdtempSync(join(tmpdir(), 'flux-bench-compact-'));
  const cs = ContentStore.open(join(dir, 'content.sqlite'), 'sha256');
  const js = new JournalStore(cs);
  cs.store(EMPTY_DIR_BLOB);
  let rootref = blobrefOf('sha256', EMPTY_DIR_BLOB);
  let head = js.head();
  let state = kvsProjection.initial();
  const cache = new TreeCache(64 << 20);
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < n; ) {
    const k = Math.min(1000, n - done);
    cs.transaction(() => {
      for (let i = 0; i < k; i++) {
        const s = done + i;
        const value = s % 4 === 0 ? `${'v'.repeat(120)}${s}` : String(s);
        const pending = new Map();
        const r = applyOps(rootref, [{ key: `d${s % 64}.k${(s >> 6) % 64}`, flags: 0, dirent: val(Buffer.from(value)) }], {
          cache,
          load: (ref) => pending.get(ref) ?? cs.load(digestOf('sha256', ref)),
          store: (blob) => {
            const ref = blobrefOf('sha256', blob);
            pending.set(ref, blob);
            return ref;
          },
        }, 'primary');
        for (const b of pending.values()) cs.store(b);
        const [a] = js.appendBatch(head, [{
          time: 1.7e9 + s / 1000, topic: namespaceTopic('primary', 'setroot'), userid: 0, rolemask: 1, flags: 1 | ENTRY_KVS,
          payload: { namespace: 'primary', rootseq: s + 1, rootref: r.rootref, names: ['b'], keys: r.keys, ops: r.ops, owner: 0 },
        }]);
        head = { seq: a.entry.seq, ref: a.ref };
        state = kvsProjection.apply(state, a.entry, a.ref);
        rootref = r.rootref;
      }
    });
    done += k;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  // a clean shutdown's checkpoint, with its snapshot: a restart starts from it
  const blob = Buffer.from(canonical({ seq: head.seq, ref: head.ref, states: { kvs: kvsProjection.save(state) } }));
  cs.store(blob);
  const c = { seq: head.seq, ref: head.ref, time: Date.now() / 1000, snapshot: blobrefOf('sha256', blob) };
  const signer = await loadOrCreateSigner(join(dir, 'journal.key'));
  js.putCheckpoint({ ...c, pubkey: signer.publicKey, sig: await signer.sign(checkpointMessage(c)) });
  const objects = cs.stats().count;
  cs.close();
  return { dir, head: head.seq, objects, fillSecs: secs };
}

/** CPU seconds a process has used (user + system), from /proc: on a shared machine wall time says little */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** lookup latencies (ms) of one client in a loop until stop() */
function prober(h) {
  const lat = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = process.hrtime.bigint();
      await h.call('kvs.lookup', { key: 'd1.k1', flags: 0, namespace: 'primary' });
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  })();
  return { stop: async () => { running = false; await done; return lat; } };
}

const { dir, head, objects, fillSecs } = await fill(N);
emit('compact-fill-store-direct', N / fillSecs, 'entries/s', { entries: N, objects });
const inst = await startInstance(1, ['-S', `statedir=${dir}`]);
const h = await Flux.open(inst.uri);
const probe = await Flux.open(inst.uri);
// the first lookup loads the tree into the broker's cache: not part of either figure
await probe.call('kvs.lookup', { key: 'd1.k1', flags: 0, namespace: 'primary' });
const idle = prober(probe);
await new Promise((r) => setTimeout(r, 2000));
const before = await idle.stop();
const during = prober(probe);
const before2 = Math.floor(head / 2);
const pid = Number((await h.call('attr.get', { name: 'broker.pid' })).value);
const cpu0 = cpuSeconds(pid);
const t0 = process.hrtime.bigint();
const r = await h.call('journal.compact', { before: before2 }, { nodeid: 0 });
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = cpuSeconds(pid) - cpu0;
const lat = await during.stop();
const v = await h.call('journal.verify', undefined, { nodeid: 0 });
h.close();
probe.close();
await inst.stop();
rmSync(dir, { recursive: true, force: true });
emit('compact-half', r.dropped / secs, 'entries/s', {
  entries: head, dropped: r.dropped, seconds: Number(secs.toFixed(2)), objectsBefore: objects, objectsDeleted: r.deleted,
  objectsMarked: r.marked, verified: v.ok,
});
emit('compact-half-per-cpu-second', r.dropped / cpu, 'entries/cpu-s', { brokerCpuSeconds: Number(cpu.toFixed(2)) });
emit('compact-objects-deleted', r.deleted / secs, 'objects/s', { deleted: r.deleted });
emit('lookup-latency-idle', median(before), 'ms', { p99: Number(percentile(before, 0.99).toFixed(3)), max: Number(Math.max(...before).toFixed(3)), n: before.length });
emit('lookup-latency-during-compaction', median(lat), 'ms', { p99: Number(percentile(lat, 0.99).toFixed(3)), max: Number(Math.max(...lat).toFixed(3)), n: lat.length });
