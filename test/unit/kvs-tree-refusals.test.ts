// Every refusal of a KVS commit and lookup with its errno and its words, naming the key it stopped at; the
// symbolic link limit exactly at its bound, both ways.
import { describe, it, expect } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { blobref, digestOf } from '../../src/core/content/blobref.js';
import { FluxError, EINVAL, EISDIR, ENOTSUP, EPROTO } from '../../src/core/errors.js';
import type { TreeObj } from '../../src/core/kvs/treeobj.js';
import { applyOps, lookup, EMPTY_DIR_BLOB, ELOOP, OP_APPEND, SYMLINK_MAX, type Op, type WriteAccess } from '../../src/core/kvs/tree.js';

function memory(): WriteAccess & { cs: ContentStore } {
  const cs = ContentStore.open(':memory:', 'sha256');
  return {
    cs,
    load: (ref) => cs.load(digestOf('sha256', ref)),
    store: (blob) => blobref('sha256', cs.store(blob)),
  };
}

const val = (s: string): TreeObj => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const put = (key: string, s: string): Op => ({ key, flags: 0, dirent: val(s) });
const link = (key: string, target: string, namespace?: string): Op => ({
  key, flags: 0, dirent: { ver: 1, type: 'symlink', data: namespace === undefined ? { target } : { namespace, target } },
});

function refusal(fn: () => unknown): { errno: number; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof FluxError) return { errno: err.errno, message: err.message };
    throw err;
  }
  throw new Error('accepted');
}

describe('a commit is refused', () => {
  const m = memory();
  const empty = m.store(EMPTY_DIR_BLOB);
  const root = applyOps(empty, [put('a.b', '1'), link('a.l', 'x', 'other'), link('s', 'a.b'), put('v', 'x')], m).rootref;
  const commit = (ops: unknown[]) => refusal(() => applyOps(root, ops as Op[], m));

  it('for a malformed op or unknown flags', () => {
    expect(commit([null])).toEqual({ errno: EPROTO, message: 'malformed op' });
    expect(commit([{ key: 5, flags: 0, dirent: null }])).toEqual({ errno: EPROTO, message: 'malformed op' });
    expect(commit([{ key: 'k', flags: 3, dirent: null }])).toEqual({ errno: EINVAL, message: 'k: unknown op flags 0x3' });
  });

  it('for anything at the root but a dirref', () => {
    expect(commit([put('.', 'x')])).toEqual({ errno: EINVAL, message: 'the root directory can only be replaced by a dirref' });
  });

  it('for an append of what is not a value, or to a directory or a link', () => {
    expect(commit([{ ...link('v', 'x'), flags: OP_APPEND }])).toEqual({ errno: EINVAL, message: 'v: only a value can be appended' });
    expect(commit([{ ...put('a', 'x'), flags: OP_APPEND }])).toEqual({ errno: EISDIR, message: 'a: cannot append to a directory' });
    expect(commit([put('n.m', '1'), { ...put('n', 'x'), flags: OP_APPEND }])).toEqual({ errno: EISDIR, message: 'n: cannot append to a directory' });
    expect(commit([{ ...put('s', 'x'), flags: OP_APPEND }])).toEqual({ errno: ENOTSUP, message: 's: cannot append to a symlink' });
  });

  it('through a link into another namespace, naming the link', () => {
    expect(commit([put('a.l.y', '1')])).toEqual({ errno: EINVAL, message: 'a.l: a commit cannot follow a link into namespace other' });
  });
});

describe('links', () => {
  /** a root with a chain of n links l0 -> l1 -> ... -> d, a directory holding x */
  function chain(n: number) {
    const m = memory();
    const ops = [put('d.x', 'end'), ...Array.from({ length: n }, (_, i) => link(`l${i}`, i === n - 1 ? 'd' : `l${i + 1}`))];
    return { m, root: applyOps(m.store(EMPTY_DIR_BLOB), ops, m).rootref };
  }

  it(`are followed ${SYMLINK_MAX} deep by a commit and a lookup, and no deeper`, async () => {
    const ok = chain(SYMLINK_MAX);
    const r = applyOps(ok.root, [put('l0.y', 'new')], ok.m).rootref;
    expect(await lookup(r, 'd.y', 0, ok.m)).toEqual(val('new'));
    expect(await lookup(r, 'l0.x', 0, ok.m)).toEqual(val('end'));
    const deep = chain(SYMLINK_MAX + 1);
    expect(refusal(() => applyOps(deep.root, [put('l0.y', 'new')], deep.m))).toEqual({ errno: ELOOP, message: 'l10.y: too many levels of symbolic links' });
    await expect(lookup(deep.root, 'l0.x', 0, deep.m)).rejects.toMatchObject({ errno: ELOOP, message: 'Too many levels of symbolic links' });
  });
});
