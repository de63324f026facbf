// A KVS journal built on a real sqlite content store, the way rank 0's KVS master writes one (tree objects and
// the setroot entry in one transaction), with what every version held recorded at write time; and the store-level
// steps of a compaction, as the journal service runs them.
import { join } from 'node:path';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore, checkpointMessage, type Checkpoint, type Head } from '../../src/core/journal/store.js';
import { collectGarbage, type GcReport } from '../../src/core/journal/gc.js';
import { canonical } from '../../src/core/journal/entry.js';
import { blobrefOf, digestOf } from '../../src/core/content/blobref.js';
import { applyOps, lookup, EMPTY_DIR_BLOB, OP_APPEND, type Op } from '../../src/core/kvs/tree.js';
import { type Shape, decodeStored, refsOf } from '../../src/core/kvs/wide.js';
import { FluxError, ENOENT } from '../../src/core/errors.js';
import { val } from '../../src/core/kvs/treeobj.js';
import { ENTRY_KVS, KVS, PRIMARY, kvsProjection, namespaceTopic, type KvsState } from '../../src/projections/kvs.js';
import { loadOrCreateSigner, type Signer } from '../../src/core/journal/signing.js';

/** a put (null: an unlink), or with 'append' an append to the value */
export type Write = [key: string, value: string | null] | [key: string, value: string, append: 'append'];

export interface Version {
  rootseq: number;
  /** the journal seq of its setroot entry */
  seq: number;
  rootref: string;
  /** every key and its value in this version */
  values: Map<string, string>;
}

export interface KvsJournal {
  cs: ContentStore;
  js: JournalStore;
  signer: Signer;
  head: Head;
  versions: Version[];
  /** the KVS state after each seq (index = seq) */
  states: KvsState[];
  emptyRef: string;
  /** one more batch of writes, as the master commits it */
  commit(writes: Write[]): Version;
}

const FLAG_PRIVATE = 0x1;

/** `shape`: where the tree changes form (the KVS's own unless a test wants wide and long forms with little data) */
export async function kvsJournal(dir: string, batches: Write[][], shape?: Shape): Promise<KvsJournal> {
  const cs = ContentStore.open(join(dir, 'content.sqlite'), 'sha256');
  const js = new JournalStore(cs);
  const signer = await loadOrCreateSigner(join(dir, 'journal.key'));
  const emptyRef = blobrefOf('sha256', EMPTY_DIR_BLOB);
  cs.store(EMPTY_DIR_BLOB);
  const versions: Version[] = [{ rootseq: 0, seq: 0, rootref: emptyRef, values: new Map() }];
  const states: KvsState[] = [kvsProjection.initial()];
  let time = 1_700_000_000;
  const j: KvsJournal = {
    cs, js, signer, head: js.head(), versions, states, emptyRef,
    commit(writes) {
      const last = versions[versions.length - 1]!;
      const ops: Op[] = writes.map(([key, v, append]) => ({ key, flags: append ? OP_APPEND : 0, dirent: v === null ? null : val(Buffer.from(v)) }));
      const pending = new Map<string, Buffer>();
      const r = applyOps(last.rootref, ops, {
        shape,
        load: (ref) => pending.get(ref) ?? cs.load(digestOf('sha256', ref)),
        store: (blob) => {
          const ref = blobrefOf('sha256', blob);
          pending.set(ref, blob);
          return ref;
        },
      }, PRIMARY);
      const values = new Map(last.values);
      for (const [k, v, append] of writes) {
        if (append) {
          values.set(k, (values.get(k) ?? '') + v);
          continue;
        }
        // a write replaces the key and everything under it (and above: a value where a directory was)
        for (const have of [...values.keys()]) if (have === k || have.startsWith(`${k}.`) || k.startsWith(`${have}.`)) values.delete(have);
        if (v !== null) values.set(k, v);
      }
      time += 0.5;
      const out = cs.transaction(() => {
        for (const b of pending.values()) cs.store(b);
        return js.appendBatch(j.head, [{
          time, topic: namespaceTopic(PRIMARY, 'setroot'), userid: 0, rolemask: 1, flags: FLAG_PRIVATE | ENTRY_KVS,
          payload: { namespace: PRIMARY, rootseq: last.rootseq + 1, rootref: r.rootref, names: ['t'], keys: r.keys, ops: r.ops, owner: 0 },
        }]);
      });
      const a = out[0]!;
      j.head = { seq: a.entry.seq, ref: a.ref };
      states.push(kvsProjection.apply(states[states.length - 1]!, a.entry, a.ref));
      const v: Version = { rootseq: last.rootseq + 1, seq: a.entry.seq, rootref: r.rootref, values };
      versions.push(v);
      return v;
    },
  };
  for (const b of batches) j.commit(b);
  return j;
}

/** a signed checkpoint at `seq` with the KVS state there as its snapshot, as the journal service writes one */
export async function snapshotAt(j: KvsJournal, seq: number): Promise<{ checkpoint: Checkpoint; saved: Record<string, unknown> }> {
  const saved = { [KVS]: kvsProjection.save(j.states[seq]!) };
  const ref = seq === 0 ? null : j.js.row(seq)!.ref;
  const blob = Buffer.from(canonical({ seq, ref, states: saved }));
  j.cs.store(blob);
  const snapshot = blobrefOf('sha256', blob);
  const c = { seq, ref, time: 1_700_000_000 + seq, snapshot };
  const sig = await j.signer.sign(checkpointMessage(c));
  const id = j.js.putCheckpoint({ ...c, pubkey: j.signer.publicKey, sig });
  return { checkpoint: { id, ...c, pubkey: j.signer.publicKey, sig }, saved };
}

/** the store-level steps of `flux journal compact --before seq` */
export async function compactAt(j: KvsJournal, seq: number, pause?: () => Promise<void>): Promise<GcReport> {
  const { checkpoint, saved } = await snapshotAt(j, seq);
  j.js.retire(seq, checkpoint, saved);
  while (j.js.dropBelow(100) > 0);
  return collectGarbage(j.js, { roots: [j.emptyRef], chunk: 7, sliceMs: 0, pause });
}

/** every object a root reaches, in every stored form, read back (throws ENOENT at the first missing one) */
export function walkTree(cs: ContentStore, ref: string, seen = new Set<string>()): Set<string> {
  if (seen.has(ref)) return seen;
  seen.add(ref);
  for (const r of refsOf(decodeStored(cs.load(digestOf('sha256', ref)), ref))) {
    if (r.kind !== 'blob') walkTree(cs, r.ref, seen);
    else if (!seen.has(r.ref)) {
      cs.load(digestOf('sha256', r.ref));
      seen.add(r.ref);
    }
  }
  return seen;
}

/** a key's value in the tree under `rootref`, read as the KVS reads it (undefined when absent) */
export async function readKey(cs: ContentStore, rootref: string, key: string): Promise<string | undefined> {
  try {
    const t = await lookup(rootref, key, 0, { load: (ref) => cs.load(digestOf('sha256', ref)) }, PRIMARY);
    return t.type === 'val' ? Buffer.from(t.data, 'base64').toString() : undefined;
  } catch (err) {
    if (err instanceof FluxError && err.errno === ENOENT) return undefined;
    throw err;
  }
}
