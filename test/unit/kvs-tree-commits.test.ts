// Commits along the less trodden paths: through a dir object inside its parent, through a link mid-key, a copy
// of a directory or value not in the stored form, an append to a value kept as a tree, a link journaled without
// a namespace, a malformed op; and what a TREEOBJ lookup answers for each form of directory.
import { describe, it, expect } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { blobref, digestOf } from '../../src/core/content/blobref.js';
import { EPROTO } from '../../src/core/errors.js';
import type { TreeObj } from '../../src/core/kvs/treeobj.js';
import { encodeTreeObj } from '../../src/core/kvs/treeobj.js';
import { applyOps, lookup, EMPTY_DIR_BLOB, LOOKUP_READDIR, LOOKUP_TREEOBJ, OP_APPEND, type Op, type WriteAccess } from '../../src/core/kvs/tree.js';

function memory(): WriteAccess {
  const cs = ContentStore.open(':memory:', 'sha256');
  return { load: (ref) => cs.load(digestOf('sha256', ref)), store: (blob) => blobref('sha256', cs.store(blob)) };
}
const parse = (m: WriteAccess, ref: string) => JSON.parse(m.load(ref).toString()) as { type: string; data: Record<string, TreeObj> };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const val = (s: string): TreeObj => ({ ver: 1, type: 'val', data: b64(s) });
const dirref = (ref: string): TreeObj => ({ ver: 1, type: 'dirref', data: [ref] });
const put = (key: string, dirent: TreeObj, flags = 0): Op => ({ key, flags, dirent });

describe('commits', () => {
  const m = memory();
  const small = { ...m, shape: { dirMax: 2, chunk: 2 } };
  const empty = m.store(EMPTY_DIR_BLOB);
  const parts = ['p0', 'p1', 'p2'].map((p) => m.store(Buffer.from(p)));
  // three entries, and a valref of three parts: both wider than the small shape keeps as they are
  const wideDir = m.store(encodeTreeObj({ ver: 1, type: 'dir', data: { a: val('1'), b: val('2'), c: val('3') } }));
  const longVal = m.store(encodeTreeObj({ ver: 1, type: 'dir', data: { v: { ver: 1, type: 'valref', data: parts } } }));
  const crafted = m.store(encodeTreeObj({ ver: 1, type: 'dir', data: { d: { ver: 1, type: 'dir', data: { x: val('inner') } } } }));
  const entryOf = (root: string, name: string) => parse(m, root).data[name]!;

  it('go through a dir object inside its parent, keeping what it held', async () => {
    const r = applyOps(crafted, [put('d.y', val('new'))], m).rootref;
    expect(await lookup(r, 'd.x', 0, m)).toEqual(val('inner'));
    expect(await lookup(r, 'd.y', 0, m)).toEqual(val('new'));
  });

  it('follow a link mid-key with the rest of the key', async () => {
    const r = applyOps(empty, [put('a.b.c', val('1')), put('l', { ver: 1, type: 'symlink', data: { target: 'a' } }), put('l.b.z', val('2'))], m).rootref;
    expect(await lookup(r, 'a.b.z', 0, m)).toEqual(val('2'));
  });

  it('store a copied directory or value in their own form when they are wider than the shape', () => {
    // (two entries a root at most, so that the root stays one dir object)
    const r = applyOps(empty, [put('w', dirref(wideDir)), put('n', dirref(crafted))], small).rootref;
    expect(parse(m, (entryOf(r, 'w').data as string[])[0]!).type).toBe('dirhash');
    const r2 = applyOps(empty, [put('l', dirref(longVal))], small).rootref;
    expect(parse(m, (entryOf(r2, 'l').data as string[])[0]!).data.v!.type).toBe('valtree');
    // one within the shape is taken as given
    expect(entryOf(r, 'n')).toEqual(dirref(crafted));
  });

  it('append to a value kept as a tree', async () => {
    const r = applyOps(empty, [put('v', { ver: 1, type: 'valref', data: parts })], small).rootref;
    expect(entryOf(r, 'v').type).toBe('valtree');
    const r2 = applyOps(r, [put('v', val('p3'), OP_APPEND)], small).rootref;
    expect(await lookup(r2, 'v', 0, m)).toEqual(val('p0p1p2p3'));
  });

  it('journal a link without a namespace as one without the member', () => {
    const { ops } = applyOps(empty, [put('l', { ver: 1, type: 'symlink', data: { target: 'a' } })], m);
    expect(ops[0]!.dirent).toStrictEqual({ data: { target: 'a' }, type: 'symlink', ver: 1 });
  });

  it('refuse an op that is not an object', () => {
    expect(() => applyOps(empty, [undefined as unknown as Op], m)).toThrow(expect.objectContaining({ errno: EPROTO, message: 'malformed op' }));
  });
});

describe('TREEOBJ lookups of directories', () => {
  const m = memory();
  const empty = m.store(EMPTY_DIR_BLOB);
  const parts = ['p0', 'p1', 'p2'].map((p) => m.store(Buffer.from(p)));
  const small = { ...m, shape: { dirMax: 2, chunk: 2 } };
  // each root of two entries at most, so that it stays one dir object
  const r = applyOps(empty, [put('plain.a', val('1')), put('hashed.a', val('1')), put('hashed.b', val('2')), put('hashed.c', val('3'))], small).rootref;
  const r2 = applyOps(empty, [put('long.v', { ver: 1, type: 'valref', data: parts }), put('long.a', val('1'))], small).rootref;
  const rootOf = (name: string) => (name === 'long' ? r2 : r);
  const stored = (name: string) => (JSON.parse(m.load(rootOf(name)).toString()) as { data: Record<string, TreeObj> }).data[name]!;

  it('name a plain directory as stored', async () => {
    expect(await lookup(r, 'plain', LOOKUP_TREEOBJ, m)).toEqual(stored('plain'));
  });

  it('name a hashed directory, or one holding a value tree, by a plain RFC 11 dir object stored for the occasion', async () => {
    for (const [name, want] of [
      ['hashed', { a: val('1'), b: val('2'), c: val('3') }],
      ['long', { a: val('1'), v: { ver: 1, type: 'valref', data: parts } }],
    ] as const) {
      const t = await lookup(rootOf(name), name, LOOKUP_TREEOBJ, m) as { type: string; data: string[] };
      expect(t.type).toBe('dirref');
      expect(t).not.toEqual(stored(name));
      expect(JSON.parse(m.load(t.data[0]!).toString())).toEqual({ ver: 1, type: 'dir', data: want });
    }
    // without a way to store, the dirref as it is
    expect(await lookup(r, 'hashed', LOOKUP_TREEOBJ, { load: m.load })).toEqual(stored('hashed'));
  });
});

describe('objects not in canonical form', () => {
  // written by another client: members in another order, still a valid RFC 11 dir of two entries, one of them a
  // valref of exactly a chunk's length
  const m = memory();
  const small = { ...m, shape: { dirMax: 2, chunk: 2 } };
  const empty = m.store(EMPTY_DIR_BLOB);
  const parts = ['p0', 'p1'].map((p) => m.store(Buffer.from(p)));
  const given = m.store(Buffer.from(JSON.stringify({
    ver: 1, type: 'dir', data: { v: { type: 'valref', ver: 1, data: parts }, a: { type: 'val', ver: 1, data: b64('1') } },
  })));
  // made inside each test, so that a per-test coverage run sees which tests reach the copy
  const copied = () => applyOps(empty, [put('g', dirref(given))], small).rootref;

  it('a copy within the shape is taken as given', () => {
    expect((JSON.parse(m.load(copied()).toString()) as { data: Record<string, TreeObj> }).data.g).toEqual(dirref(given));
  });

  it('a TREEOBJ lookup names a plain directory as it is', async () => {
    expect(await lookup(copied(), 'g', LOOKUP_TREEOBJ, m)).toEqual(dirref(given));
  });

  it('a READDIR lists a plain directory in the order its object holds them', async () => {
    const d = await lookup(copied(), 'g', LOOKUP_READDIR, m) as { data: Record<string, unknown> };
    expect(Object.keys(d.data)).toEqual(['v', 'a']);
  });

  it('an unlink of a missing key leaves the root as it is', () => {
    expect(applyOps(given, [{ key: 'missing', flags: 0, dirent: null } as unknown as Op], small).rootref).toBe(given);
  });

  it('a copy restored to the stored form keeps the directories below it as given', async () => {
    const wide = m.store(encodeTreeObj({ ver: 1, type: 'dir', data: { a: val('1'), b: val('2'), c: val('3') } }));
    const outer = m.store(encodeTreeObj({ ver: 1, type: 'dir', data: { a: val('1'), b: val('2'), sub: dirref(wide) } }));
    const r = applyOps(empty, [put('w', dirref(outer))], small).rootref;
    expect(await lookup(r, 'w.sub', LOOKUP_TREEOBJ, { load: m.load })).toEqual(dirref(wide));
  });
});

