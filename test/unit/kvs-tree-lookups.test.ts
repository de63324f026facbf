// Lookups along the less trodden paths: a dir object inside its parent, a link in the middle of a key, a link
// into this or another namespace, a trailing dot on a value, READDIR and READLINK where they do not fit, and
// values of more parts than are loaded at once.
import { describe, it, expect } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { blobref, digestOf } from '../../src/core/content/blobref.js';
import { EINVAL, ENOENT, ENOTDIR, EPROTO } from '../../src/core/errors.js';
import type { TreeObj } from '../../src/core/kvs/treeobj.js';
import { nameHash, slotOf, FANOUT } from '../../src/core/kvs/wide.js';
import {
  applyOps, lookup, lookupNow, EMPTY_DIR_BLOB, LOOKUP_READDIR, LOOKUP_READLINK, TreeCache, type Op, type ReadAccess, type WriteAccess,
} from '../../src/core/kvs/tree.js';

function memory(): WriteAccess {
  const cs = ContentStore.open(':memory:', 'sha256');
  return { load: (ref) => cs.load(digestOf('sha256', ref)), store: (blob) => blobref('sha256', cs.store(blob)) };
}
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const b64 = (s: string) => Buffer.from(s).toString('base64');
const val = (s: string): TreeObj => ({ ver: 1, type: 'val', data: b64(s) });
const link = (key: string, target: string, namespace?: string): Op => ({
  key, flags: 0, dirent: { ver: 1, type: 'symlink', data: namespace === undefined ? { target } : { namespace, target } },
});

describe('lookups', () => {
  const m = memory();
  const empty = m.store(EMPTY_DIR_BLOB);
  const parts = Array.from({ length: 300 }, (_, i) => m.store(Buffer.from(`${i},`)));
  const whole = Buffer.from(Array.from({ length: 300 }, (_, i) => `${i},`).join(''));
  const node = m.store(json({ ver: 1, type: 'valnode', level: 0, data: parts }));
  // a root as flux-core may write one: a dir object inside it, and a long value as a valtree
  const crafted = m.store(json({
    ver: 1, type: 'dir',
    data: { d: { ver: 1, type: 'dir', data: { x: val('inner') } }, t: { ver: 1, type: 'valtree', data: { count: 300, ref: node } } },
  }));
  const root = applyOps(empty, [
    { key: 'a.b.c', flags: 0, dirent: val('abc') }, link('l', 'a'), link('same', 'a', 'primary'), link('far', 'a', 'other'),
  ], m, 'primary').rootref;
  const wide = applyOps(empty, [{ key: 'r', flags: 0, dirent: { ver: 1, type: 'valref', data: parts } }], { ...m, shape: { dirMax: 256, chunk: 1000 } }).rootref;

  it('read inside a dir object its parent holds', async () => {
    expect(await lookup(crafted, 'd.x', 0, m)).toEqual(val('inner'));
    expect(await lookup(crafted, 'd', LOOKUP_READDIR, m)).toEqual({ ver: 1, type: 'dir', data: { x: val('inner') } });
    await expect(lookup(crafted, 'd', 0, m)).rejects.toMatchObject({ errno: 21 });
  });

  it('follow a link in the middle of a key with the rest of the key', async () => {
    expect(await lookup(root, 'l.b.c', 0, m, 'primary')).toEqual(val('abc'));
  });

  it('follow a link naming their own namespace without asking for its root, and no other without a way to', async () => {
    expect(await lookup(root, 'same.b.c', 0, m, 'primary')).toEqual(val('abc'));
    await expect(lookup(root, 'far.b.c', 0, m, 'primary'))
      .rejects.toMatchObject({ errno: EINVAL, message: 'a link into namespace other cannot be followed here' });
  });

  it('refuse a trailing dot on a value, READDIR of a value, READLINK of the root', async () => {
    await expect(lookup(wide, 'r.', 0, m)).rejects.toMatchObject({ errno: ENOTDIR });
    await expect(lookup(crafted, 't.', 0, m)).rejects.toMatchObject({ errno: ENOTDIR });
    await expect(lookup(wide, 'r', LOOKUP_READDIR, m)).rejects.toMatchObject({ errno: ENOTDIR });
    await expect(lookup(crafted, 't', LOOKUP_READDIR, m)).rejects.toMatchObject({ errno: ENOTDIR });
    await expect(lookup(root, '.', LOOKUP_READLINK, m)).rejects.toMatchObject({ errno: EINVAL });
  });

  it('join values of more parts than are loaded at once, each part once and in order', async () => {
    expect(await lookup(wide, 'r', 0, m)).toEqual({ ver: 1, type: 'val', data: whole.toString('base64') });
    expect(await lookup(crafted, 't', 0, m)).toEqual({ ver: 1, type: 'val', data: whole.toString('base64') });
  });

  it('join a long value whose tree has more nodes on a level than are loaded at once', async () => {
    const leaves = parts.map((p) => m.store(json({ ver: 1, type: 'valnode', level: 0, data: [p] })));
    const top = m.store(json({ ver: 1, type: 'valnode', level: 1, data: leaves }));
    const r = m.store(json({ ver: 1, type: 'dir', data: { t: { ver: 1, type: 'valtree', data: { count: 300, ref: top } } } }));
    expect(await lookup(r, 't', 0, m)).toEqual({ ver: 1, type: 'val', data: whole.toString('base64') });
  });

  it('list a hashed directory in name order, and refuse one whose slot names a value node', async () => {
    const names = ['q', 'b', 'zz', 'a', 'm', 'k', 'c'];
    const h = applyOps(empty, names.map((n) => ({ key: `h.${n}`, flags: 0, dirent: val(n) })), { ...m, shape: { dirMax: 2, chunk: 64 } }).rootref;
    const dir = await lookup(h, 'h', LOOKUP_READDIR, m) as { data: Record<string, unknown> };
    expect(Object.keys(dir.data)).toEqual([...names].sort());
    const slots: unknown[] = Array.from({ length: FANOUT }, () => null);
    slots[slotOf(nameHash('x'), 0)] = { ref: node, count: 1 };
    const bad = m.store(json({ ver: 1, type: 'dirhash', data: slots }));
    await expect(lookup(bad, '.', LOOKUP_READDIR, m)).rejects.toMatchObject({ errno: EPROTO, message: `${bad} names a value node where it should not` });
  });
});

describe('lookups that wait, and those that need not', () => {
  const m = memory();
  const empty = m.store(EMPTY_DIR_BLOB);
  const small = { ...m, shape: { dirMax: 2, chunk: 64 } };
  // a hashed directory two levels deep on the way, and a link into another namespace whose root is hashed too
  const other = applyOps(empty, ['p', 'q', 'r', 's', 't'].map((n) => ({ key: `o.${n}`, flags: 0, dirent: val(`o${n}`) })), small).rootref;
  const root = applyOps(empty, [
    ...['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n) => ({ key: `h.${n}.x`, flags: 0, dirent: val(n) })), link('far', 'o', 'other'),
  ], small, 'primary').rootref;

  /** an access whose loads and roots come later, as through the content service, counting what it was asked */
  function later(cache?: TreeCache): ReadAccess & { loads: Map<string, number>; roots: number } {
    const loads = new Map<string, number>();
    const a = {
      loads, roots: 0, cache,
      load: async (ref: string) => {
        loads.set(ref, (loads.get(ref) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
        return m.load(ref) as Buffer;
      },
      rootOf: async (ns: string) => {
        a.roots++;
        if (ns !== 'other') throw new Error(`asked for ${ns}`);
        return other;
      },
    };
    return a;
  }

  it('answer at once, not with a promise, once what the lookup needs is cached', async () => {
    const a = later(new TreeCache());
    expect(lookupNow(root, 'h.e.x', 0, a, 'primary')).toBeInstanceOf(Promise);
    expect(await lookupNow(root, 'h.e.x', 0, a, 'primary')).toEqual(val('e'));
    expect(lookupNow(root, 'h.e.x', 0, a, 'primary')).toEqual(val('e'));
    expect(() => lookupNow(root, 'h.zz.x', 0, a, 'primary')).toThrow(expect.objectContaining({ errno: ENOENT }));
    await expect(lookup(root, 'h.zz.x', 0, a, 'primary')).rejects.toMatchObject({ errno: ENOENT });
  });

  it('load each object once, and ask for a root once, where the cache holds nothing', async () => {
    const a = later(new TreeCache(0));
    // each lookup starts over after every load, and loads nothing twice: the root, then a hashed directory's
    // node and the part holding the name on each level of the way
    expect(await lookupNow(root, 'far.s', 0, a, 'primary')).toEqual(val('os'));
    expect(a.roots).toBe(1);
    expect(a.loads.size).toBeGreaterThanOrEqual(3);
    expect([...a.loads.values()]).toEqual(Array.from({ length: a.loads.size }, () => 1));
    a.loads.clear();
    expect(await lookupNow(root, 'h.g.x', 0, a, 'primary')).toEqual(val('g'));
    expect(a.loads.size).toBeGreaterThanOrEqual(3);
    expect([...a.loads.values()]).toEqual(Array.from({ length: a.loads.size }, () => 1));
    // a synchronous store (rank 0's sqlite) answers at once with no cache at all
    expect(lookupNow(root, 'far.s', 0, { ...m, rootOf: () => other }, 'primary')).toEqual(val('os'));
  });
});
