// The archive layout, the tree builder, the ordered walk and fsck, over an in-memory content store.
import { describe, it, expect } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { blobref, blobrefOf, digestOf } from '../../src/core/content/blobref.js';
import { ENOENT, FluxError } from '../../src/core/errors.js';
import { type TreeObj, val, valref } from '../../src/core/kvs/treeobj.js';
import { applyOps, EMPTY_DIR_BLOB, type Op } from '../../src/core/kvs/tree.js';
import { type Shape, type Stored, decodeStored } from '../../src/core/kvs/wide.js';
import { TreeBuilder, keyOfPath, linkOfTarget, linkTargetOf, pathOfKey } from '../../src/core/kvs/archive.js';
import { type Leaf, walkTree } from '../../src/core/kvs/walk.js';
import { fsck } from '../../src/core/kvs/fsck.js';

function memory() {
  const cs = ContentStore.open(':memory:', 'sha256');
  return {
    cs,
    load: (ref: string) => cs.load(digestOf('sha256', ref)),
    store: (blob: Buffer) => blobref('sha256', cs.store(blob)),
  };
}

/** small thresholds: a directory of more than 4 entries is hashed, a value of more than 3 blobs a chunk tree */
const SMALL: Shape = { dirMax: 4, chunk: 3 };

const decoded = (m: ReturnType<typeof memory>, ref: string): Stored => decodeStored(m.load(ref), ref);

/** a stored object that must be of `kind` */
function storedAs<K extends Stored['kind']>(m: ReturnType<typeof memory>, ref: string, kind: K): Extract<Stored, { kind: K }> {
  const s = decoded(m, ref);
  if (s.kind !== kind) throw new Error(`${ref} is a ${s.kind}, not a ${kind}`);
  return s as Extract<Stored, { kind: K }>;
}

/**
 * One commit into an empty store with the small shape: w a hashed directory of 20 values (every third one a
 * blob), log a value of 10 blobs (a chunk tree three levels high), and a plain value beside them.
 */
function wideAndLong(m: ReturnType<typeof memory>) {
  const empty = m.store(EMPTY_DIR_BLOB);
  const parts = Array.from({ length: 10 }, (_, i) => Buffer.from(`part ${i} `.repeat(20)));
  const ops: Op[] = [
    ...Array.from({ length: 20 }, (_, i) => ({ key: `w.k${i}`, flags: 0, dirent: val(i % 3 === 0 ? Buffer.alloc(200, i) : Buffer.from(`${i}`)) })),
    { key: 'log', flags: 0, dirent: valref(parts.map((p) => m.store(p))) },
    { key: 'plain', flags: 0, dirent: val(Buffer.from('p')) },
  ];
  const root = applyOps(empty, ops, { ...m, shape: SMALL }).rootref;
  return { empty, root, parts, ops };
}

async function leaves(rootref: string, load: (ref: string) => Buffer) {
  const out: Array<[string, TreeObj]> = [];
  for await (const l of walkTree(rootref, async (r) => load(r), { window: 3 })) out.push([l.key, l.obj]);
  return out;
}


/** loads from `m` that each take a turn of the event loop, and the most that were ever in flight at once */
function counted(m: { load(ref: string): Buffer }): { load: (ref: string) => Promise<Buffer>; most: () => number } {
  let inFlight = 0;
  let most = 0;
  return {
    load: async (r) => {
      most = Math.max(most, ++inFlight);
      await new Promise((res) => setImmediate(res));
      inFlight--;
      return m.load(r);
    },
    most: () => most,
  };
}

describe('archive layout', () => {
  it('maps keys to paths and back, links to targets and back', () => {
    expect(pathOfKey('a.b.c')).toBe('a/b/c');
    expect(keyOfPath('a/b/c')).toBe('a.b.c');
    expect(keyOfPath('./a//b/')).toBe('a.b');
    expect(keyOfPath('./')).toBeUndefined();
    expect(linkTargetOf(linkOfTarget('ns::a.b') as Extract<TreeObj, { type: 'symlink' }>)).toBe('ns::a.b');
    expect(linkOfTarget('a.b')).toEqual({ ver: 1, type: 'symlink', data: { target: 'a.b' } });
    expect(linkOfTarget('ns::a.b')).toEqual({ ver: 1, type: 'symlink', data: { namespace: 'ns', target: 'a.b' } });
  });

  it('walks a directory wider than it loads ahead, in order, with a bounded number of loads in flight', async () => {
    const m = memory();
    const ops = Array.from({ length: 100 }, (_, i) => ({ key: `w.d${String(i).padStart(3, '0')}.v`, flags: 0, dirent: val(Buffer.from(String(i))) }));
    const root = applyOps(m.store(EMPTY_DIR_BLOB), ops, m).rootref;
    const { load, most } = counted(m);
    const keys: string[] = [];
    for await (const l of walkTree(root, load, { window: 2 })) keys.push(l.key);
    expect(keys).toEqual(ops.map((o) => o.key));
    expect(most()).toBe(2);
  });

  it('walks links and values but not directories; a missing directory fails the walk or is skipped', async () => {
    const m = memory();
    const empty = m.store(EMPTY_DIR_BLOB);
    const big = Buffer.alloc(500, 7);
    const root = applyOps(empty, [
      { key: 'd.e.f', flags: 0, dirent: val(Buffer.from('1')) },
      { key: 'big', flags: 0, dirent: val(big) },
      { key: 'l', flags: 0, dirent: linkOfTarget('ns::x') },
      { key: 'empty', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } },
    ], m).rootref;
    const got = await leaves(root, m.load);
    expect(got.map(([k, o]) => [k, o.type])).toEqual([['big', 'valref'], ['d.e.f', 'val'], ['l', 'symlink']]);
    const lost = new Set<string>();
    const load = (r: string) => {
      const blob = m.load(r);
      if (blob.includes('"f"')) lost.add(r);
      if (lost.has(r)) throw new FluxError(ENOENT, `${r} is gone`);
      return blob;
    };
    await expect(leaves(root, load)).rejects.toThrow(/is gone/);
    const skipped: string[] = [];
    const rest: string[] = [];
    for await (const l of walkTree(root, async (r) => load(r), { onDirError: (k) => skipped.push(k) })) rest.push(l.key);
    expect(skipped).toEqual(['d.e']);
    expect(rest).toEqual(['big', 'l']);
  });
});

describe('the tree an archive makes', () => {
  it('is the tree the KVS makes of the same keys, an entry named __proto__ included', () => {
    const m = memory();
    const b = new TreeBuilder();
    const ops: Op[] = [['__proto__.x', 'a'], ['y.__proto__', 'b'], ['z', 'c']].map(([key, v]) => ({ key: key!, flags: 0, dirent: val(Buffer.from(v!)) }));
    for (const op of ops) b.add(op.key, op.dirent as TreeObj);
    expect(b.finish(m.store)).toBe(applyOps(m.store(EMPTY_DIR_BLOB), ops, m).rootref);
  });
});

describe('the ordered walk over stored forms', () => {
  it('lists a hashed directory in key order and gives a long value as the valref of all its blobs', async () => {
    const m = memory();
    const { root, parts, ops } = wideAndLong(m);
    const { load, most } = counted(m);
    const got: Leaf[] = [];
    for await (const l of walkTree(root, load, { window: 3 })) got.push(l);
    expect(got.map((l) => l.key)).toEqual(ops.map((o) => o.key).sort());
    expect(most()).toBe(3);
    const byKey = new Map(got.map((l) => [l.key, l.obj]));
    expect(byKey.get('log')).toEqual(valref(parts.map((p) => blobrefOf('sha256', p))));
    // the wide directory's values as they were put: inline, or a valref to their blob
    for (const op of ops.filter((o) => o.key.startsWith('w.'))) {
      const bytes = Buffer.from((op.dirent as { data: string }).data, 'base64');
      const obj = byKey.get(op.key)!;
      if (bytes.length > 100) expect(obj).toEqual(valref([blobrefOf('sha256', bytes)]));
      else expect(obj).toEqual(op.dirent);
    }
  });

  it('skips, or stops at, a leaf of a hashed directory or a chunk tree node that cannot be loaded', async () => {
    const m = memory();
    const { root } = wideAndLong(m);
    const top = storedAs(m, root, 'dir');
    const hash = storedAs(m, (top.entries.get('w') as Extract<TreeObj, { type: 'dirref' }>).data[0]!, 'hash');
    const leaf = hash.slots.find((x) => x !== null)!.ref;
    const node = storedAs(m, (top.entries.get('log') as { data: { ref: string } }).data.ref, 'node').refs[1]!;
    for (const lost of [leaf, node]) {
      const load = (r: string) => {
        if (r === lost) throw new FluxError(ENOENT, `${r} is gone`);
        return m.load(r);
      };
      await expect(leaves(root, load)).rejects.toThrow(/is gone/);
      const skipped: string[] = [];
      const keys: string[] = [];
      for await (const l of walkTree(root, async (r) => load(r), { window: 2, onDirError: (k) => skipped.push(k) })) keys.push(l.key);
      expect(skipped).toEqual([lost === leaf ? 'w' : 'log']);
      // the rest of the walk goes on: the plain value after both, and (a chunk tree lost) the whole directory
      expect(keys).toContain('plain');
      expect(keys.filter((k) => k.startsWith('w.'))).toHaveLength(lost === leaf ? 0 : 20);
    }
  });

  it('refuses a chunk tree that does not hold the count of blobs its valtree says', async () => {
    const m = memory();
    const { root } = wideAndLong(m);
    const top = storedAs(m, root, 'dir');
    const lying = m.store(Buffer.from(JSON.stringify({ data: { v: { ...top.entries.get('log'), data: { ...(top.entries.get('log')!.data as object), count: 11 } } }, type: 'dir', ver: 1 })));
    await expect(leaves(lying, m.load)).rejects.toThrow(/a chunk tree of 10 blobs for a value of 11/);
  });
});

describe('fsck', () => {
  it('finds nothing in a sound store, and names the keys that reach a missing or corrupt object', async () => {
    const m = memory();
    const empty = m.store(EMPTY_DIR_BLOB);
    const v1 = applyOps(empty, [
      { key: 'a.b', flags: 0, dirent: val(Buffer.alloc(300, 1)) },
      { key: 'c.d', flags: 0, dirent: val(Buffer.from('small')) },
    ], m).rootref;
    // v2 shares a and c with v1, and holds the same big value again under f
    const v2 = applyOps(v1, [{ key: 'f', flags: 0, dirent: val(Buffer.alloc(300, 1)) }], m).rootref;
    const roots = [{ label: 'v1', rootref: v1 }, { label: 'v2', rootref: v2 }];
    const sound = await fsck(roots, m.load);
    expect(sound.damage).toEqual([]);
    // v1: root, a, a.b's blob, c; v2 adds its root
    expect(sound.objects).toBe(5);

    const valueRef = blobrefOf('sha256', Buffer.alloc(300, 1));
    const cDir = JSON.parse(m.load(v1).toString()).data.c.data[0] as string;
    const read = (ref: string) => {
      if (ref === valueRef) throw new FluxError(ENOENT);
      const blob = m.load(ref);
      if (ref === cDir) {
        const flipped = Buffer.from(blob);
        flipped[5] ^= 1;
        return flipped;
      }
      return blob;
    };
    const r = await fsck(roots, read);
    const byRef = new Map(r.damage.map((d) => [d.ref, d]));
    // a sound directory is walked once (v2 reaches a.b only through v1's a), a damaged object named by each
    // directory that names it
    expect(byRef.get(valueRef)).toMatchObject({ problem: 'missing', paths: ['v1: a.b', 'v2: f'] });
    expect(byRef.get(cDir)).toMatchObject({ problem: 'corrupt', paths: ['v1: c', 'v2: c'] });
    expect(r.damage).toHaveLength(2);
  });

  it('checks every object under a hashed directory and a long value, and names the keys that reach damage there', async () => {
    const m = memory();
    const { empty, root, parts } = wideAndLong(m);
    const top = storedAs(m, root, 'dir');
    const w = top.entries.get('w') as Extract<TreeObj, { type: 'dirref' }>;
    const hash = storedAs(m, w.data[0]!, 'hash');
    const log = top.entries.get('log')!;
    expect(log).toMatchObject({ type: 'valtree', data: { count: 10 } });
    const logTop = (log as { data: { ref: string } }).data.ref;
    const node2 = storedAs(m, logTop, 'node');
    expect(node2.level).toBe(2);

    // sound: every object the commit stored is checked (the store holds nothing else but the empty root)
    const sound = await fsck([{ label: 'v', rootref: root }], m.load);
    expect(sound.damage).toEqual([]);
    const all = m.cs.db.prepare('SELECT count(*) FROM objects').pluck().get() as number;
    expect(sound.objects).toBe(all - 1);
    expect((await fsck([{ label: 'v', rootref: root }, { label: 'e', rootref: empty }], m.load)).objects).toBe(all);

    // a leaf dir object of the hashed directory, the blob of a value in another leaf, a level 1 valnode, a blob
    // under a level 0 valnode
    const slots = hash.slots.flatMap((x) => (x === null ? [] : [x.ref]));
    const leafDirs = slots.filter((ref) => decoded(m, ref).kind === 'dir');
    expect(leafDirs.length).toBeGreaterThan(1);
    const lostDir = leafDirs[0]!;
    const k0Blob = blobrefOf('sha256', Buffer.alloc(200, 0));
    const holder = leafDirs.find((ref) => storedAs(m, ref, 'dir').entries.has('k0'))!;
    expect(holder).not.toBe(lostDir);
    const node1 = node2.refs[1]!;
    const lostPart = blobrefOf('sha256', parts[0]!);
    const read = (ref: string) => {
      if (ref === lostDir || ref === k0Blob || ref === lostPart) throw new FluxError(ENOENT);
      const blob = m.load(ref);
      return ref === node1 ? Buffer.concat([blob, Buffer.from(' ')]) : blob;
    };
    const r = await fsck([{ label: 'v', rootref: root }], read);
    const byRef = new Map(r.damage.map((d) => [d.ref, d]));
    expect(byRef.get(lostDir)).toMatchObject({ problem: 'missing', paths: ['v: w'] });
    expect(byRef.get(k0Blob)).toMatchObject({ problem: 'missing', paths: ['v: w.k0'] });
    expect(byRef.get(node1)).toMatchObject({ problem: 'corrupt', paths: ['v: log'], why: 'its bytes do not hash to its blobref' });
    // part 0 is under the first level 1 node, which is sound
    expect(node2.refs).toHaveLength(2);
    expect(byRef.get(lostPart)).toMatchObject({ problem: 'missing', paths: ['v: log'] });
    expect(r.damage).toHaveLength(4);
  });

  it('reports an object that is not what names it: a value node as a directory, a directory as a value node', async () => {
    const m = memory();
    const { root } = wideAndLong(m);
    const top = storedAs(m, root, 'dir');
    const wRef = (top.entries.get('w') as Extract<TreeObj, { type: 'dirref' }>).data[0]!;
    const logTop = (top.entries.get('log') as { data: { ref: string } }).data.ref;
    const level1 = storedAs(m, logTop, 'node').refs[0]!;
    const wrong = m.store(Buffer.from(JSON.stringify({
      data: {
        d: { data: [logTop], type: 'dirref', ver: 1 },
        v: { data: { count: 10, ref: wRef }, type: 'valtree', ver: 1 },
      },
      type: 'dir', ver: 1,
    })));
    // a valnode that names a node of its own level
    const skip = m.store(Buffer.from(JSON.stringify({ data: [level1], level: 1, type: 'valnode', ver: 1 })));
    const top2 = m.store(Buffer.from(JSON.stringify({ data: { s: { data: { count: 9, ref: skip }, type: 'valtree', ver: 1 } }, type: 'dir', ver: 1 })));
    const r = await fsck([{ label: 'x', rootref: wrong }, { label: 'y', rootref: top2 }], m.load);
    expect(r.damage.map((d) => [d.paths, d.why])).toEqual([
      [['x: d'], 'a level 2 value node where a directory should be'],
      [['x: v'], 'a directory where a value node should be'],
      [['y: s'], 'a level 1 value node where a level 0 value node should be'],
    ]);
  });
});
