// The KVS tree's object cache at its bounds, and what a commit or lookup says of a store whose objects name the
// wrong kind of object: a dirref to a value node, a long value whose tree names a directory.
import { describe, it, expect } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { blobref, digestOf } from '../../src/core/content/blobref.js';
import { EPROTO } from '../../src/core/errors.js';
import type { TreeObj } from '../../src/core/kvs/treeobj.js';
import { nameHash, slotOf, FANOUT, type Stored } from '../../src/core/kvs/wide.js';
import { ByteCache } from '../../src/core/byte-cache.js';
import { applyOps, isStoredDirectory, lookup, EMPTY_DIR_BLOB, OP_APPEND, type Op, type WriteAccess } from '../../src/core/kvs/tree.js';

type Obj = Stored;
const obj = (n: number): Obj => ({ kind: 'node', level: 0, refs: [String(n)] });

describe('the byte-bounded cache under the tree cache', () => {
  it('gives back what it holds, counts each object once, and skips one larger than it all', () => {
    const c = new ByteCache<Obj>(10);
    const a = obj(1);
    c.set('a', a, 4);
    c.set('a', obj(2), 4);
    expect(c.get('a')).toBe(a);
    expect([c.count, c.bytes]).toEqual([1, 4]);
    c.set('big', obj(3), 11);
    expect(c.get('big')).toBeUndefined();
    expect(c.get('none')).toBeUndefined();
    c.set('b', obj(4), 6);
    // exactly full: nothing goes
    expect([c.count, c.bytes]).toEqual([2, 10]);
    c.set('whole', obj(5), 10);
    expect([c.count, c.bytes]).toEqual([1, 10]);
    c.clear();
    expect([c.count, c.bytes, c.get('whole')]).toEqual([0, 0, undefined]);
  });

  it('drops the least recently used first, a read counting as a use', () => {
    const c = new ByteCache<Obj>(10);
    c.set('a', obj(1), 4);
    c.set('b', obj(2), 4);
    c.get('a');
    c.set('c', obj(3), 4);
    expect([c.get('a') !== undefined, c.get('b'), c.get('c') !== undefined, c.bytes]).toEqual([true, undefined, true, 8]);
  });
});

function memory(): WriteAccess {
  const cs = ContentStore.open(':memory:', 'sha256');
  return { load: (ref) => cs.load(digestOf('sha256', ref)), store: (blob) => blobref('sha256', cs.store(blob)) };
}
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const val = (s: string): TreeObj => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });

describe('a store whose objects name the wrong kind', () => {
  const m = memory();
  const empty = m.store(EMPTY_DIR_BLOB);
  const part = m.store(Buffer.from('bytes'));
  const node = m.store(json({ ver: 1, type: 'valnode', level: 0, data: [part] }));
  const dirref = (ref: string): TreeObj => ({ ver: 1, type: 'dirref', data: [ref] });
  const root = applyOps(empty, [{ key: 'd', flags: 0, dirent: dirref(node) } as Op], m).rootref;
  // a long value whose tree names a directory
  const bent = m.store(json({ ver: 1, type: 'dir', data: { v: { ver: 1, type: 'valtree', data: { count: 1, ref: empty } } } }));

  it('says which stored blobs are directories', () => {
    expect(isStoredDirectory(EMPTY_DIR_BLOB, empty)).toBe(true);
    expect(isStoredDirectory(m.load(node), node)).toBe(false);
    expect(isStoredDirectory(Buffer.from('bytes'), part)).toBe(false);
  });

  it('a commit below a dirref to a value node', () => {
    expect(() => applyOps(root, [{ key: 'd.x', flags: 0, dirent: val('1') }], m))
      .toThrow(expect.objectContaining({ errno: EPROTO, message: `${node} names a value node where it should not` }));
  });

  it('a lookup through a dirref to a value node', async () => {
    await expect(lookup(root, 'd.x', 0, m)).rejects.toMatchObject({ errno: EPROTO, message: `${node} names a value node where it should not` });
  });

  it('a lookup or an append of a long value whose tree names a directory', async () => {
    await expect(lookup(bent, 'v', 0, m)).rejects.toMatchObject({ errno: EPROTO, message: `${empty} names a directory where it should not` });
    expect(() => applyOps(bent, [{ key: 'v', flags: OP_APPEND, dirent: val('more') }], m))
      .toThrow(expect.objectContaining({ errno: EPROTO, message: `${empty} names a directory where it should not` }));
  });

  it('a commit below a hashed directory whose slot names a value node', () => {
    const slots: unknown[] = Array.from({ length: FANOUT }, () => null);
    slots[slotOf(nameHash('x'), 0)] = { ref: node, count: 1 };
    const hash = m.store(json({ ver: 1, type: 'dirhash', data: slots }));
    const r = applyOps(empty, [{ key: 'h', flags: 0, dirent: dirref(hash) } as Op], m).rootref;
    expect(() => applyOps(r, [{ key: 'h.x.y', flags: 0, dirent: val('1') }], m))
      .toThrow(expect.objectContaining({ errno: EPROTO, message: 'x names a value node where it should not' }));
  });

  it('a commit into a hashed directory slot that names a value node, or one that shrinks it back to one object', () => {
    const slots: unknown[] = Array.from({ length: FANOUT }, () => null);
    const i = slotOf(nameHash('x'), 0);
    slots[i] = { ref: node, count: 1 };
    const hash = m.store(json({ ver: 1, type: 'dirhash', data: slots }));
    expect(() => applyOps(hash, [{ key: 'x', flags: 0, dirent: val('1') }], m))
      .toThrow(expect.objectContaining({ errno: EPROTO, message: 'a directory slot names a value node where it should not' }));
    // x in a dir of its own slot, a value node in another: removing x gathers what is left
    const other = (i + 1) % FANOUT;
    const mixed: unknown[] = Array.from({ length: FANOUT }, () => null);
    mixed[i] = { ref: m.store(json({ ver: 1, type: 'dir', data: { x: val('1') } })), count: 1 };
    mixed[other] = { ref: node, count: 1 };
    const both = m.store(json({ ver: 1, type: 'dirhash', data: mixed }));
    expect(() => applyOps(both, [{ key: 'x', flags: 0, dirent: null } as unknown as Op], m))
      .toThrow(expect.objectContaining({ errno: EPROTO, message: `${node} names a value node where it should not` }));
  });

  it('a hashed directory of hashed parts shrinks back to one dir object with every entry left', async () => {
    const small = { ...m, shape: { dirMax: 2, chunk: 64 } };
    const names = Array.from({ length: 60 }, (_, k) => `n${k}`);
    const full = applyOps(empty, names.map((n) => ({ key: `h.${n}`, flags: 0, dirent: val(n) })), small).rootref;
    const left = applyOps(full, names.slice(2).map((n) => ({ key: `h.${n}`, flags: 0, dirent: null }) as unknown as Op), small).rootref;
    expect(await lookup(left, 'h.n0', 0, m)).toEqual(val('n0'));
    expect(await lookup(left, 'h.n1', 0, m)).toEqual(val('n1'));
  });
});
