// Compaction at the store level: moving the journal's start, dropping the rows below, and collecting objects.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyJournal } from '../../src/core/journal/verify.js';
import { collectGarbage, refsIn } from '../../src/core/journal/gc.js';
import { blobrefOf, digestOf } from '../../src/core/content/blobref.js';
import { ENOENT } from '../../src/core/errors.js';
import { JournalStore } from '../../src/core/journal/store.js';
import { ContentStore } from '../../src/core/content/store.js';
import { valref } from '../../src/core/kvs/treeobj.js';
import { decodeStored } from '../../src/core/kvs/wide.js';
import { ENTRY_KVS, PRIMARY, namespaceTopic } from '../../src/projections/kvs.js';
import { type KvsJournal, type Write, kvsJournal, snapshotAt, compactAt, walkTree, readKey } from '../helpers/kvs-journal.js';

const big = (tag: string) => `${tag}:${'x'.repeat(200)}`;

/** 12 versions: small and large values, overwritten and deleted, a directory replaced by a value */
const WORKLOAD: Write[][] = [
  [['a', '1'], ['d.x', big('dx1')]],
  [['a', big('a2')], ['d.y', '2']],
  [['d.x', big('dx3')]],
  [['e', big('e4')]],
  [['a', '5'], ['e', null]],
  [['d', 'plain']],
  [['d.z', big('dz7')]],
  [['a', big('a8')]],
  [['f.g.h', '9']],
  [['a', '10']],
  [['f.g.h', big('fgh11')]],
  [['b', '12']],
];

let dir: string;
let j: KvsJournal;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-compact-'));
  j = await kvsJournal(dir, WORKLOAD);
});
afterEach(() => {
  j.cs.close();
  rmSync(dir, { recursive: true, force: true });
});

const objectCount = (cs: ContentStore) => cs.db.prepare('SELECT count(*) FROM objects').pluck().get() as number;

/** every object the kept journal reaches: kept entries, checkpoint snapshots, trees of the versions kept */
function reachable(jj: KvsJournal, first: number): Set<string> {
  const seen = new Set<string>([jj.emptyRef]);
  walkTree(jj.cs, jj.emptyRef, seen);
  for (const c of jj.js.checkpoints()) seen.add(c.snapshot!);
  for (let s = first; s <= jj.head.seq; s++) seen.add(jj.js.row(s)!.ref);
  for (const v of jj.versions) if (v.seq >= first || v === current(jj, first)) walkTree(jj.cs, v.rootref, seen);
  return seen;
}

/** the version a namespace had at seq (kept by the snapshot there) */
const current = (jj: KvsJournal, seq: number) => [...jj.versions].reverse().find((v) => v.seq <= seq)!;

describe('journal compaction (store)', () => {
  it('keeps every version from the snapshot on, readable and right; drops what only older ones reached', async () => {
    const before = objectCount(j.cs);
    const r = await compactAt(j, 7);
    expect(r.deleted).toBeGreaterThan(0);
    // the compaction adds one object, its snapshot at 7
    expect(objectCount(j.cs)).toBe(before + 1 - r.deleted);
    // exactly what is reachable is left
    const keep = reachable(j, 7);
    const stored = new Set((j.cs.db.prepare('SELECT hash FROM objects').pluck().all() as Buffer[]).map((h) => `sha256-${h.toString('hex')}`));
    expect(stored).toEqual(keep);
    for (const v of j.versions.filter((x) => x.seq >= 7)) {
      for (const [k, value] of v.values) expect(await readKey(j.cs, v.rootref, k)).toBe(value);
    }
    // a value only version 2 had is gone
    expect(j.cs.has(digestOf('sha256', blobrefOf('sha256', Buffer.from(big('a2')))))).toBe(false);
    const report = await verifyJournal(j.js, { trustedKey: j.signer.publicKey });
    expect(report).toMatchObject({ ok: true, checked: j.head.seq - 7 + 1 });
  });

  it('answers below the start with the stable error, and moves first, rows and scans to it', async () => {
    await compactAt(j, 5);
    expect(j.js.expectedFirst()).toBe(5);
    expect(j.js.first()).toBe(5);
    expect(() => j.js.entry(4)).toThrow(expect.objectContaining({ errno: ENOENT, message: 'version 4 has been compacted' }));
    expect(j.js.row(3)).toBeUndefined();
    expect(j.js.rows(1, 100, 100)[0]!.seq).toBe(5);
    expect([...j.js.scan(1)][0]!.seq).toBe(5);
    expect(j.js.entry(5).entry.seq).toBe(5);
    expect(j.js.checkpoints().map((c) => c.seq)).toEqual([5]);
    expect(j.js.meta('gc-pending')).toBe('1');
  });

  it('rows below the start that are not deleted yet are invisible (a restart finishes deleting them)', async () => {
    const { checkpoint, saved } = await snapshotAt(j, 6);
    j.js.retire(6, checkpoint, saved);
    expect(j.js.first()).toBe(6);
    expect(await verifyJournal(j.js, { trustedKey: j.signer.publicKey })).toMatchObject({ ok: true, checked: j.head.seq - 5 });
    expect(j.js.dropBelow(2)).toBe(2);
    expect(j.js.dropBelow(100)).toBe(3);
    expect(j.js.dropBelow(100)).toBe(0);
  });

  it('refuses to move the start without a snapshot there', async () => {
    const { checkpoint, saved } = await snapshotAt(j, 6);
    expect(() => j.js.retire(7, checkpoint, saved)).toThrow(/snapshot at 7/);
  });

  it('keeps the base snapshot however many checkpoints follow; lists checkpoints newest seq first', async () => {
    await compactAt(j, 4);
    for (let i = 0; i < 7; i++) {
      j.commit([['n', String(i)]]);
      await snapshotAt(j, j.head.seq);
    }
    const seqs = j.js.checkpoints().map((c) => c.seq);
    expect(seqs.length).toBe(6);
    expect(seqs[seqs.length - 1]).toBe(4);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(await verifyJournal(j.js, { trustedKey: j.signer.publicKey })).toMatchObject({ ok: true });
  });

  it('a second compaction goes on from the first', async () => {
    await compactAt(j, 4);
    await compactAt(j, 9);
    expect(j.js.first()).toBe(9);
    for (const v of j.versions.filter((x) => x.seq >= 9)) {
      for (const [k, value] of v.values) expect(await readKey(j.cs, v.rootref, k)).toBe(value);
    }
    expect(await verifyJournal(j.js, { trustedKey: j.signer.publicKey })).toMatchObject({ ok: true, checked: j.head.seq - 8 });
  });

  it('never collects what is stored, or named by a new entry, while it runs', async () => {
    const { checkpoint, saved } = await snapshotAt(j, 10);
    j.js.retire(10, checkpoint, saved);
    // an object only dropped versions reached: a commit made during the collection names it
    const old = blobrefOf('sha256', Buffer.from(big('dx3')));
    expect(j.cs.has(digestOf('sha256', old))).toBe(true);
    const fresh = Buffer.from(big('stored while the collection runs'));
    let turns = 0;
    const r = await collectGarbage(j.js, {
      roots: [j.emptyRef], chunk: 3, sliceMs: 0,
      pause: async () => {
        turns++;
        if (turns === 2) j.cs.store(fresh);
        if (turns === 3) {
          // the master's new entry, naming the old blob by hand (a valref op)
          j.js.appendBatch(j.head, [{
            time: 1_800_000_000, topic: namespaceTopic(PRIMARY, 'setroot'), userid: 0, rolemask: 1, flags: ENTRY_KVS,
            payload: { namespace: PRIMARY, rootseq: 99, rootref: j.emptyRef, ops: [{ key: 'k', flags: 0, dirent: valref([old]) }] },
          }]);
        }
        await new Promise((res) => setImmediate(res));
      },
    });
    expect(turns).toBeGreaterThan(3);
    expect(r.deleted).toBeGreaterThan(0);
    expect(j.cs.has(digestOf('sha256', blobrefOf('sha256', fresh)))).toBe(true);
    expect(j.cs.has(digestOf('sha256', old))).toBe(true);
  });

  it('an object stored again during the collection is kept even though nothing reaches it', async () => {
    const { checkpoint, saved } = await snapshotAt(j, 10);
    j.js.retire(10, checkpoint, saved);
    const again = Buffer.from(big('e4'));
    let once = false;
    await collectGarbage(new JournalStore(j.cs), {
      pause: async () => {
        if (!once) j.cs.store(again);
        once = true;
      },
    });
    expect(j.cs.has(digestOf('sha256', blobrefOf('sha256', again)))).toBe(true);
  });

  /** the stored form of the entry `name` in the root directory of `rootref` (a plain dir object there) */
  const rootEntry = (rootref: string, name: string) => {
    const root = decodeStored(j.cs.load(digestOf('sha256', rootref)), rootref);
    if (root.kind !== 'dir') throw new Error('the root is not one dir object');
    return root.entries.get(name);
  };

  /** compact at the head: exactly what the head version reaches is left, and every value reads back right */
  async function compactKeepsHead(): Promise<void> {
    const r = await compactAt(j, j.head.seq);
    expect(r.deleted).toBeGreaterThan(0);
    const stored = new Set((j.cs.db.prepare('SELECT hash FROM objects').pluck().all() as Buffer[]).map((h) => `sha256-${h.toString('hex')}`));
    expect(stored).toEqual(reachable(j, j.head.seq));
    const head = j.versions[j.versions.length - 1]!;
    for (const [k, value] of head.values) expect(await readKey(j.cs, head.rootref, k)).toBe(value);
  }

  it('keeps every object of a long appended value (its chunk tree and its blobs)', async () => {
    // 70 appends: more blobs than a plain valref holds, so the value is a valtree over two levels of valnodes
    for (let b = 0; b < 7; b++) j.commit(Array.from({ length: 10 }, (_, i): Write => ['log', `line ${b * 10 + i}\n`, 'append']));
    j.commit([['a', 'after']]);
    const log = rootEntry(j.versions[j.versions.length - 1]!.rootref, 'log');
    expect(log).toMatchObject({ type: 'valtree', data: { count: 70 } });
    const top = (log as { data: { ref: string } }).data.ref;
    expect(decodeStored(j.cs.load(digestOf('sha256', top)), top)).toMatchObject({ kind: 'node', level: 1 });
    await compactKeepsHead();
  });

  it('keeps every object of a wide directory (its dirhash nodes, its leaves and their values)', async () => {
    j.commit(Array.from({ length: 300 }, (_, i): Write => [`wide.k${i}`, i % 2 === 0 ? big(`w${i}`) : `v${i}`]));
    j.commit([['wide.k7', 'changed'], ['a', 'after']]);
    const wide = rootEntry(j.versions[j.versions.length - 1]!.rootref, 'wide');
    expect(wide?.type).toBe('dirref');
    const ref = (wide as { data: string[] }).data[0]!;
    expect(decodeStored(j.cs.load(digestOf('sha256', ref)), ref).kind).toBe('hash');
    await compactKeepsHead();
  });

  it('finds blobrefs anywhere in a payload', () => {
    const a = `sha256-${'a'.repeat(64)}`;
    const b = `sha1-${'b'.repeat(40)}`;
    expect(refsIn({ x: [1, a, { y: b }], z: 'sha256-nothex', w: null })).toEqual([a, b]);
  });
});
