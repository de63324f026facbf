// Wide directories and long values as the KVS stores them (kvs-wide.ts), with small thresholds so that a few
// keys reach both forms: where each form starts and ends, one stored form per tree whatever the history, what a
// commit rewrites, and that clients are shown plain RFC 11 objects, the very ones a plain tree would have.
import { describe, it, expect } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { blobref, digestOf } from '../../src/core/content/blobref.js';
import { FluxError, EPROTO } from '../../src/core/errors.js';
import { type TreeObj, encodeTreeObj } from '../../src/core/kvs/treeobj.js';
import {
  applyOps, lookup, isStoredDirectory, TreeCache, EMPTY_DIR_BLOB, LOOKUP_READDIR, LOOKUP_TREEOBJ, OP_APPEND,
  type Op, type WriteAccess,
} from '../../src/core/kvs/tree.js';
import { type Shape, decodeStored, nameHash, slotOf } from '../../src/core/kvs/wide.js';

const SMALL: Shape = { dirMax: 4, chunk: 3 };
/** thresholds no test reaches: every directory one dir object and every value a plain valref, as flux-core */
const PLAIN: Shape = { dirMax: 1e9, chunk: 1e9 };

function memory(shape: Shape, cache?: TreeCache) {
  const cs = ContentStore.open(':memory:', 'sha256');
  const stored: Buffer[] = [];
  const access: WriteAccess & { store(blob: Buffer): string } = {
    shape,
    cache,
    load: (ref) => cs.load(digestOf('sha256', ref)),
    store: (blob) => {
      stored.push(blob);
      return blobref('sha256', cs.store(blob));
    },
  };
  return { cs, stored, access, empty: access.store(EMPTY_DIR_BLOB) };
}

const val = (s: string): TreeObj => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const put = (key: string, s: string): Op => ({ key, flags: 0, dirent: val(s) });
const unlink = (key: string): Op => ({ key, flags: 0, dirent: null });
const append = (key: string, s: string): Op => ({ key, flags: OP_APPEND, dirent: val(s) });
const kindOf = (m: ReturnType<typeof memory>, ref: string) => decodeStored(m.access.load(ref), ref).kind;

async function dirrefOf(m: ReturnType<typeof memory>, root: string, key: string): Promise<string> {
  const t = await lookup(root, key, LOOKUP_TREEOBJ, { load: m.access.load, cache: m.access.cache });
  expect(t.type).toBe('dirref');
  return (t.data as string[])[0]!;
}

/** a deterministic shuffle (a fixed LCG), so that a failure can be run again */
function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('wide directories', () => {
  it('stay one dir object up to dirMax entries, are hashed past it, and are one dir object again below it', async () => {
    const m = memory(SMALL);
    let root = applyOps(m.empty, [1, 2, 3, 4].map((i) => put(`d.k${i}`, `${i}`)), m.access).rootref;
    const four = await dirrefOf(m, root, 'd');
    expect(kindOf(m, four)).toBe('dir');
    root = applyOps(root, [put('d.k5', '5')], m.access).rootref;
    const five = await dirrefOf(m, root, 'd');
    expect(kindOf(m, five)).toBe('hash');
    root = applyOps(root, [unlink('d.k5')], m.access).rootref;
    // back to the very object the four keys were stored as
    expect(await dirrefOf(m, root, 'd')).toBe(four);
  });

  it('spread their entries by the hash of their names, and read back every one', async () => {
    const m = memory(SMALL);
    const names = Array.from({ length: 200 }, (_, i) => `key${i}`);
    const root = applyOps(m.empty, names.map((n) => put(`d.${n}`, n)), m.access).rootref;
    const top = decodeStored(m.access.load(await dirrefOf(m, root, 'd')), 'd');
    if (top.kind !== 'hash') throw new Error('expected a hashed directory');
    expect(top.count).toBe(200);
    for (const n of names.slice(0, 20)) expect(top.slots[slotOf(nameHash(n), 0)]).not.toBeNull();
    for (const n of names) expect(await lookup(root, `d.${n}`, 0, m.access)).toEqual(val(n));
    const listed = await lookup(root, 'd', LOOKUP_READDIR, m.access);
    expect(Object.keys(listed.data as object)).toEqual([...names].sort());
  });

  it('are stored one way for one set of entries, whatever the order and history', () => {
    const m = memory(SMALL);
    const names = Array.from({ length: 120 }, (_, i) => `n${i}`);
    const oneCommit = applyOps(m.empty, names.map((n) => put(`d.${n}`, n)), m.access).rootref;
    // one key per commit in another order, with keys that come and go on the way
    let root = m.empty;
    for (const [i, n] of shuffled(names, 7).entries()) {
      root = applyOps(root, [put(`d.${n}`, n), put(`d.extra${i}`, 'x')], m.access).rootref;
      if (i % 3 === 0) root = applyOps(root, [unlink(`d.extra${i}`)], m.access).rootref;
    }
    root = applyOps(root, names.map((_, i) => unlink(`d.extra${i}`)), m.access).rootref;
    expect(root).toBe(oneCommit);
    // and emptied, the directory is the empty dir object
    const gone = applyOps(root, names.map((n) => unlink(`d.${n}`)), m.access).rootref;
    expect(gone).toBe(applyOps(m.empty, [{ key: 'd', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } }], m.access).rootref);
  });

  it('rewrite only the slots a commit touches: what one put stores does not grow with the directory', () => {
    const shape = { dirMax: 16, chunk: 3 };
    const m = memory(shape);
    let root = m.empty;
    const storedBy = (ops: Op[]) => {
      const before = m.stored.length;
      root = applyOps(root, ops, m.access).rootref;
      return m.stored.slice(before).reduce((n, b) => n + b.length, 0);
    };
    const fill = (from: number, to: number) => {
      for (let i = from; i < to; i += 5_000) storedBy(Array.from({ length: Math.min(5_000, to - i) }, (_, j) => put(`d.k${i + j}`, 'v')));
    };
    fill(0, 2_000);
    const at2k = storedBy([put('d.one-more', 'v')]);
    fill(2_000, 20_000);
    const at20k = storedBy([put('d.two-more', 'v')]);
    // ten times the entries: at most one more level of slots (the plain form would rewrite over 300 KB)
    expect(at20k).toBeLessThan(at2k * 2);
    expect(at20k).toBeLessThan(10_000);
  });

  it('are shown to clients as the plain dir object flux-core would have stored', async () => {
    const wide = memory(SMALL);
    const plain = memory(PLAIN);
    const ops = [
      ...Array.from({ length: 60 }, (_, i) => put(`d.k${i}`, `value ${i}`)),
      put('d.big', 'b'.repeat(200)),
      { key: 'd.sub', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } } as Op,
      ...Array.from({ length: 5 }, (_, i) => append('d.log', `line ${i}\n`)),
    ];
    const w = applyOps(wide.empty, ops, wide.access).rootref;
    const p = applyOps(plain.empty, ops, plain.access).rootref;
    expect(w).not.toBe(p);
    // READDIR answers are the same bytes
    expect(JSON.stringify(await lookup(w, 'd', LOOKUP_READDIR, wide.access))).toBe(JSON.stringify(await lookup(p, 'd', LOOKUP_READDIR, plain.access)));
    // TREEOBJ: a dirref to the blob a plain tree holds, stored for the occasion
    const t = await lookup(w, 'd', LOOKUP_TREEOBJ, wide.access);
    const plainRef = await dirrefOf(plain, p, 'd');
    expect(t).toEqual({ data: [plainRef], type: 'dirref', ver: 1 });
    expect(wide.access.load(plainRef).equals(plain.access.load(plainRef))).toBe(true);
    // the long value is shown as its whole valref, its value joined
    expect(await lookup(w, 'd.log', LOOKUP_TREEOBJ, wide.access)).toEqual(await lookup(p, 'd.log', LOOKUP_TREEOBJ, plain.access));
    expect(await lookup(w, 'd.log', 0, wide.access)).toEqual(val('line 0\nline 1\nline 2\nline 3\nline 4\n'));
    // lookups under the materialized object (get --at with what get -t printed) read the same tree
    expect(await lookup(plainRef, 'k7', 0, wide.access)).toEqual(val('value 7'));
    expect(await lookup(plainRef, 'log', 0, wide.access)).toEqual(val('line 0\nline 1\nline 2\nline 3\nline 4\n'));
    // a root that is itself hashed: get -t . the same way
    const r = applyOps(wide.empty, ops.map((o) => ({ ...o, key: o.key.slice(2) })), wide.access).rootref;
    const rp = applyOps(plain.empty, ops.map((o) => ({ ...o, key: o.key.slice(2) })), plain.access).rootref;
    expect(await lookup(r, '.', LOOKUP_TREEOBJ, wide.access)).toEqual({ data: [rp], type: 'dirref', ver: 1 });
    // without a way to store, the stored form is named (reads under it work all the same)
    const ro = { load: wide.access.load };
    const internal = await lookup(w, 'd', LOOKUP_TREEOBJ, ro);
    expect(internal).not.toEqual(t);
    expect(await lookup((internal.data as string[])[0]!, 'k7', 0, ro)).toEqual(val('value 7'));
  });

  it('names whose 32-bit hashes are equal share one dir object at the deepest level, whatever its size', async () => {
    // FNV-1a gives these two the same 32 bits: no depth of slots tells them apart
    expect(nameHash('k32728')).toBe(nameHash('k261234'));
    const m = memory({ dirMax: 1, chunk: 3 });
    const both = applyOps(m.empty, [put('k32728', 'a'), put('k261234', 'b')], m.access).rootref;
    let s = decodeStored(m.access.load(both), both);
    let depth = 0;
    for (; s.kind === 'hash'; depth++) {
      const slot = s.slots[slotOf(nameHash('k32728'), depth)]!;
      expect(slot.count).toBe(2);
      s = decodeStored(m.access.load(slot.ref), slot.ref);
    }
    // a level of slots for each 4 bits of the hash, and not one more: stored roots depend on it
    expect(depth).toBe(8);
    expect(s.kind === 'dir' && [...s.entries.keys()].sort()).toEqual(['k261234', 'k32728']);
    expect(await lookup(both, 'k261234', 0, m.access)).toEqual(val('b'));
    const one = applyOps(both, [unlink('k32728')], m.access).rootref;
    expect(one).toBe(applyOps(m.empty, [put('k261234', 'b')], m.access).rootref);
    expect(kindOf(m, one)).toBe('dir');
  });

  it('a copy (TREEOBJ looked up, put elsewhere) is stored as if its keys had been put there one by one', async () => {
    const m = memory(SMALL);
    const ops = [...Array.from({ length: 40 }, (_, i) => put(`d.k${i}`, `${i}`)), ...Array.from({ length: 6 }, (_, i) => append('d.log', `${i}`))];
    const root = applyOps(m.empty, ops, m.access).rootref;
    const t = await lookup(root, 'd', LOOKUP_TREEOBJ, m.access);
    // a dirref to the plain object: the copy is canonical again, not a second form of the same tree
    expect(kindOf(m, (t.data as string[])[0]!)).toBe('dir');
    const copied = applyOps(root, [{ key: 'e', flags: 0, dirent: t }], m.access).rootref;
    const direct = applyOps(m.empty, [...ops, ...ops.map((o) => ({ ...o, key: `e${o.key.slice(1)}` }))], m.access).rootref;
    expect(copied).toBe(direct);
    // a dirref to nothing stored is taken as given
    const nowhere = blobref('sha256', Buffer.alloc(32));
    const r = applyOps(m.empty, [{ key: 'x', flags: 0, dirent: { ver: 1, type: 'dirref', data: [nowhere] } }], m.access).rootref;
    expect(await lookup(r, 'x', LOOKUP_TREEOBJ, { load: m.access.load })).toEqual({ data: [nowhere], type: 'dirref', ver: 1 });
  });

  it('a commit into a plain dir object wider than dirMax (put -t of a dirref) stores it in canonical form', async () => {
    const plain = memory(PLAIN);
    const ops = Array.from({ length: 30 }, (_, i) => put(`d.k${i}`, `${i}`));
    const p = applyOps(plain.empty, ops, plain.access).rootref;
    const m = memory(SMALL);
    const ref = m.access.store(plain.access.load(await dirrefOf(plain, p, 'd')));
    let root = applyOps(m.empty, [{ key: 'd', flags: 0, dirent: { ver: 1, type: 'dirref', data: [ref] } }], m.access).rootref;
    expect(await lookup(root, 'd.k3', 0, m.access)).toEqual(val('3'));
    root = applyOps(root, [put('d.k30', '30')], m.access).rootref;
    const canonical = applyOps(m.empty, [...ops, put('d.k30', '30')], m.access).rootref;
    expect(root).toBe(canonical);
  });
});

describe('long values', () => {
  it('stay a plain valref up to chunk blobs, and become a valtree past it that reads the same', async () => {
    const m = memory(SMALL);
    let root = m.empty;
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      lines.push(`line ${i}\n`);
      root = applyOps(root, [append('d.log', lines[i]!)], m.access).rootref;
      const dir = decodeStored(m.access.load(await dirrefOf(m, root, 'd')), 'd');
      if (dir.kind !== 'dir') throw new Error('expected a dir object');
      const stored = dir.entries.get('log')!;
      expect(stored.type).toBe(i === 0 ? 'val' : i < SMALL.chunk ? 'valref' : 'valtree');
      const t = await lookup(root, 'd.log', LOOKUP_TREEOBJ, m.access);
      if (i > 0) expect((t.data as string[]).length).toBe(i + 1);
      expect(await lookup(root, 'd.log', 0, m.access)).toEqual(val(lines.join('')));
    }
  });

  it('are stored one way for one list of blobs: appended one by one, in bursts, or put whole', async () => {
    const m = memory(SMALL);
    let oneByOne = m.empty;
    for (let i = 0; i < 50; i++) oneByOne = applyOps(oneByOne, [append('log', `${i},`)], m.access).rootref;
    let bursts = m.empty;
    for (let i = 0; i < 50;) {
      const n = Math.min(50 - i, 1 + (i % 7));
      bursts = applyOps(bursts, Array.from({ length: n }, (_, j) => append('log', `${i + j},`)), m.access).rootref;
      i += n;
    }
    expect(bursts).toBe(oneByOne);
    const whole = await lookup(oneByOne, 'log', LOOKUP_TREEOBJ, m.access);
    expect(whole.type).toBe('valref');
    expect(applyOps(m.empty, [{ key: 'log', flags: 0, dirent: whole }], m.access).rootref).toBe(oneByOne);
  });

  it('an append rewrites the last node of each level only: what it stores does not grow with the value', () => {
    const m = memory({ dirMax: 256, chunk: 8 });
    let root = m.empty;
    const storedBy = (ops: Op[]) => {
      const before = m.stored.length;
      root = applyOps(root, ops, m.access).rootref;
      return m.stored.length - before;
    };
    const first = storedBy([append('log', 'line\n')]);
    const ref = blobref('sha256', m.cs.store(Buffer.from('line\n')));
    storedBy([{ key: 'log', flags: OP_APPEND, dirent: { ver: 1, type: 'valref', data: Array(5_000).fill(ref) } }]);
    // 5,001 blobs in nodes of 8: five levels; the append stores its blob, one node per level, the root dir
    expect(storedBy([append('log', 'line\n')])).toBeLessThanOrEqual(first + 5 + 1);
  });
});

describe('stored forms and client input', () => {
  it('clients cannot commit the stored forms', () => {
    const m = memory(SMALL);
    const forged = { ver: 1, type: 'valtree', data: { count: 5, ref: m.empty } } as unknown as TreeObj;
    let errno = 0;
    try {
      applyOps(m.empty, [{ key: 'x', flags: 0, dirent: forged }], m.access);
    } catch (err) {
      errno = (err as FluxError).errno;
    }
    expect(errno).toBe(EPROTO);
  });

  it('damaged stored forms are EPROTO, in a commit and in a lookup', async () => {
    const m = memory(SMALL);
    const ref = m.access.store(EMPTY_DIR_BLOB);
    const bad = [
      '{"data":[null],"type":"dirhash","ver":1}',
      `{"data":[${Array(16).fill(`{"count":0,"ref":"${ref}"}`).join(',')}],"type":"dirhash","ver":1}`,
      `{"data":["${ref}"],"type":"valnode","ver":1}`,
      '{"data":{"x":{"data":{"count":2,"ref":"nope"},"type":"valtree","ver":1}},"type":"dir","ver":1}',
      '{"data":"x","type":"hdir","ver":1}',
      '[1,2]',
    ];
    for (const text of bad) {
      const r = m.access.store(Buffer.from(text));
      expect(() => decodeStored(Buffer.from(text), r), text).toThrow(FluxError);
      const root = applyOps(m.empty, [{ key: 'd', flags: 0, dirent: { ver: 1, type: 'dirref', data: [r] } }], m.access).rootref;
      let errno = 0;
      try {
        applyOps(root, [put('d.x', '1')], m.access);
      } catch (err) {
        errno = (err as FluxError).errno;
      }
      expect(errno, text).toBe(EPROTO);
      await expect(lookup(root, 'd.x', 0, m.access)).rejects.toMatchObject({ errno: EPROTO });
    }
  });

  it('tells directories, plain or hashed, from anything else', async () => {
    const m = memory(SMALL);
    const root = applyOps(m.empty, Array.from({ length: 10 }, (_, i) => put(`k${i}`, `${i}`)), m.access).rootref;
    expect(kindOf(m, root)).toBe('hash');
    expect(isStoredDirectory(m.access.load(root), root)).toBe(true);
    expect(isStoredDirectory(EMPTY_DIR_BLOB, m.empty)).toBe(true);
    expect(isStoredDirectory(encodeTreeObj(val('x')), 'x')).toBe(false);
    expect(isStoredDirectory(Buffer.from('not json'), 'x')).toBe(false);
    // a cached tree reads the same as one loaded afresh
    const cached = { load: m.access.load, cache: new TreeCache() };
    for (let pass = 0; pass < 2; pass++) expect(await lookup(root, 'k4', 0, cached)).toEqual(val('4'));
    expect(cached.cache.count).toBeGreaterThan(1);
  });
});
