// The KVS tree functions against flux-core 0.88's own results (kvs-*.jsonl, captured with content.hash=sha1, so
// every blobref of a tree built the same way must come out byte for byte the same) and flux-core's semantics.
import { describe, it, expect } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { type HashName, blobref, digestOf } from '../../src/core/content/blobref.js';
import { FluxError, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTSUP, EPROTO } from '../../src/core/errors.js';
import { type TreeObj, encodeTreeObj } from '../../src/core/kvs/treeobj.js';
import {
  applyOps, lookup, TreeCache, EMPTY_DIR_BLOB, ELOOP, LOOKUP_READDIR, LOOKUP_READLINK, LOOKUP_TREEOBJ, OP_APPEND,
  type Op, type WriteAccess,
} from '../../src/core/kvs/tree.js';
import { loadVectors } from '../helpers/vectors.js';
import { rejectionErrno } from '../helpers/rejection.js';

function memory(hash: HashName = 'sha256', cache?: TreeCache): WriteAccess & { cs: ContentStore; stored: string[] } {
  const cs = ContentStore.open(':memory:', hash);
  const stored: string[] = [];
  return {
    cs,
    stored,
    cache,
    load: (ref) => cs.load(digestOf(hash, ref)),
    store: (blob) => {
      const ref = blobref(hash, cs.store(blob));
      stored.push(ref);
      return ref;
    },
  };
}

/** the JSON payload of message i of a vector file (requests and responses in capture order) */
function payload(name: string, i: number): Record<string, unknown> {
  return JSON.parse(loadVectors(name).messages[i]!.payload_text!) as Record<string, unknown>;
}

const text = (name: string, i: number) => loadVectors(name).messages[i]!.payload_text!;
const val = (s: string): TreeObj => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const put = (key: string, s: string): Op => ({ key, flags: 0, dirent: val(s) });

function syncErrno(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof FluxError) return err.errno;
    throw err;
  }
  throw new Error('expected a FluxError');
}

describe('kvs tree against flux-core 0.88 (sha1)', () => {
  // the root kvs-dir.jsonl listed (after `flux kvs put a=1 b.c=hello`), and the same root before that put
  const after = (payload('kvs-dir', 1).val as { data: Record<string, TreeObj> });
  const beforeData = Object.fromEntries(Object.entries(after.data).filter(([k]) => k !== 'a' && k !== 'b'));

  it('stores the empty root directory under the blobref flux-core computes for it', () => {
    const m = memory('sha1');
    expect(m.store(EMPTY_DIR_BLOB)).toBe('sha1-c0a9faf907dda6216fd73bf81d0b3b21a1a8cb91');
    expect(payload('kvs-namespace', 2).rootref).toBe('sha1-c0a9faf907dda6216fd73bf81d0b3b21a1a8cb91');
  });

  it('put a=1 b.c=hello gives the rootref and the directories flux-core made', async () => {
    const m = memory('sha1');
    const before = m.store(encodeTreeObj({ data: beforeData, type: 'dir', ver: 1 } as TreeObj));
    const req = payload('kvs-put', 0) as { ops: Op[] };
    const r = applyOps(before, req.ops, m, 'primary');
    expect(r.rootref).toBe((payload('kvs-put', 1) as { rootref: string }).rootref);
    expect(r.rootref).toBe('sha1-baa0daaa5f41e1d12049b2d5489e33acb776e67a');
    expect(r.keys).toEqual(['a', 'b.c']);
    // every lookup kvs-dir made that stays inside what we have, answered with the very same bytes
    expect(JSON.stringify({ val: await lookup(r.rootref, '.', LOOKUP_READDIR, m) })).toBe(text('kvs-dir', 1));
    expect(JSON.stringify({ val: await lookup(r.rootref, 'a', 0, m) })).toBe(text('kvs-dir', 3));
    expect(JSON.stringify({ val: await lookup(r.rootref, 'b', LOOKUP_READDIR, m) })).toBe(text('kvs-dir', 9));
    expect(JSON.stringify({ val: await lookup(r.rootref, 'b.c', 0, m) })).toBe(text('kvs-dir', 11));
    expect(JSON.stringify({ val: await lookup(r.rootref, 'a', 0, m) })).toBe(text('kvs-get', 1));
    expect(await rejectionErrno(lookup(r.rootref, 'nosuchkey', 0, m))).toBe(ENOENT);

    // then put big=<300 bytes>: its raw bytes become a blob, the root the one get --at was given
    const big = payload('kvs-put-big', 0) as { ops: Op[] };
    const r2 = applyOps(r.rootref, big.ops, m, 'primary');
    expect(r2.rootref).toBe((payload('kvs-put-big', 1) as { rootref: string }).rootref);
    expect(JSON.stringify(payload('kvs-get-at', 0).rootdir)).toBe(JSON.stringify({ data: [r2.rootref], type: 'dirref', ver: 1 }));
    expect(JSON.stringify({ val: await lookup(r2.rootref, 'big', 0, m) })).toBe(text('kvs-put-big', 3));
    expect(JSON.stringify({ val: await lookup(r2.rootref, 'a', 0, m) })).toBe(text('kvs-get-at', 1));
    // the op as journaled carries the valref, not the 400 bytes of base64
    expect(r2.ops[0]!.dirent).toEqual({ data: [expect.stringMatching(/^sha1-/)], type: 'valref', ver: 1 });
    expect(applyOps(r.rootref, r2.ops, m, 'primary').rootref).toBe(r2.rootref);
  });
});

describe('kvs tree: commits', () => {
  const empty = (m: WriteAccess) => m.store(EMPTY_DIR_BLOB);

  it('is deterministic and leaves an unchanged root unchanged', () => {
    const m = memory();
    const root = empty(m);
    expect(applyOps(root, [], m).rootref).toBe(root);
    expect(applyOps(root, [{ key: 'x', flags: 0, dirent: null }], m).rootref).toBe(root);
    expect(applyOps(root, [{ key: 'x.y.z', flags: 0, dirent: null }], m).rootref).toBe(root);
    const a = applyOps(root, [put('a.b', '1'), put('c', '2')], m).rootref;
    const b = applyOps(root, [put('c', '2'), put('a.b', '1')], m).rootref;
    expect(a).toBe(b);
    const n = m.stored.length;
    // an unlink of a missing key under existing directories stores nothing
    expect(applyOps(a, [{ key: 'a.q', flags: 0, dirent: null }], m).rootref).toBe(a);
    expect(m.stored.length).toBe(n);
  });

  it('normalizes keys and stores nested directories depth-first as dirrefs', async () => {
    const m = memory();
    const r = applyOps(empty(m), [put('..x..y.z.', 'v')], m);
    expect(r.keys).toEqual(['x.y.z']);
    const top = await lookup(r.rootref, '.', LOOKUP_READDIR, m);
    expect(top).toMatchObject({ type: 'dir', data: { x: { type: 'dirref' } } });
    expect(await lookup(r.rootref, 'x.y', LOOKUP_TREEOBJ, m)).toMatchObject({ type: 'dirref' });
    expect(await lookup(r.rootref, 'x.y.z', 0, m)).toEqual(val('v'));
  });

  it('turns values longer than 72 base64 characters into valrefs to their raw bytes', async () => {
    const m = memory();
    const small = 'x'.repeat(54); // 72 base64 characters: inline
    const large = 'x'.repeat(55); // 76: a blob
    const r = applyOps(empty(m), [put('s', small), put('l', large)], m);
    expect(await lookup(r.rootref, 's', LOOKUP_TREEOBJ, m)).toMatchObject({ type: 'val' });
    const t = await lookup(r.rootref, 'l', LOOKUP_TREEOBJ, m);
    expect(t.type).toBe('valref');
    expect(m.cs.load(digestOf('sha256', (t.data as string[])[0]!)).toString()).toBe(large);
    expect(await lookup(r.rootref, 'l', 0, m)).toEqual(val(large));
  });

  it('replaces a value in the way by a directory, and a directory by a value', async () => {
    const m = memory();
    let root = applyOps(empty(m), [put('a', '1')], m).rootref;
    root = applyOps(root, [put('a.b', '2')], m).rootref;
    expect(await lookup(root, 'a.b', 0, m)).toEqual(val('2'));
    root = applyOps(root, [put('a', '3')], m).rootref;
    expect(await lookup(root, 'a', 0, m)).toEqual(val('3'));
    expect(await rejectionErrno(lookup(root, 'a.b', 0, m))).toBe(ENOTDIR);
    // unlink under a value: nothing there, nothing changes
    expect(applyOps(root, [{ key: 'a.b', flags: 0, dirent: null }], m).rootref).toBe(root);
  });

  it('mkdir, unlink of a whole directory, and a tree put in one op', async () => {
    const m = memory();
    let root = applyOps(empty(m), [{ key: 'd', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } }], m).rootref;
    expect(await lookup(root, 'd', LOOKUP_READDIR, m)).toEqual({ data: {}, type: 'dir', ver: 1 });
    const tree: TreeObj = { ver: 1, type: 'dir', data: { x: val('1'), sub: { ver: 1, type: 'dir', data: { y: val('z'.repeat(100)) } } } };
    root = applyOps(root, [{ key: 't', flags: 0, dirent: tree }, put('t.sub.w', '2')], m).rootref;
    expect(await lookup(root, 't.sub', LOOKUP_TREEOBJ, m)).toMatchObject({ type: 'dirref' });
    expect(await lookup(root, 't.sub.y', LOOKUP_TREEOBJ, m)).toMatchObject({ type: 'valref' });
    expect(await lookup(root, 't.sub.w', 0, m)).toEqual(val('2'));
    root = applyOps(root, [{ key: 't', flags: 0, dirent: null }], m).rootref;
    expect(await rejectionErrno(lookup(root, 't.x', 0, m))).toBe(ENOENT);
    expect(await lookup(root, '.', LOOKUP_READDIR, m)).toEqual({ data: { d: { data: [expect.any(String)], type: 'dirref', ver: 1 } }, type: 'dir', ver: 1 });
  });

  it('appends: creates, converts a val to a valref, extends a valref, refuses directories and links', async () => {
    const m = memory();
    const app = (key: string, s: string): Op => ({ key, flags: OP_APPEND, dirent: val(s) });
    let root = applyOps(empty(m), [app('log', 'one,')], m).rootref;
    expect(await lookup(root, 'log', LOOKUP_TREEOBJ, m)).toEqual({ data: val('one,').data, type: 'val', ver: 1 });
    root = applyOps(root, [app('log', 'two,'), app('log', 'three')], m).rootref;
    const t = await lookup(root, 'log', LOOKUP_TREEOBJ, m);
    expect(t).toMatchObject({ type: 'valref' });
    expect((t.data as string[]).length).toBe(3);
    expect(await lookup(root, 'log', 0, m)).toEqual(val('one,two,three'));
    root = applyOps(root, [put('d.x', '1'), { key: 'l', flags: 0, dirent: { ver: 1, type: 'symlink', data: { target: 'log' } } }], m).rootref;
    expect(syncErrno(() => applyOps(root, [app('d', 'x')], m))).toBe(EISDIR);
    expect(syncErrno(() => applyOps(root, [app('l', 'x')], m))).toBe(ENOTSUP);
    expect(syncErrno(() => applyOps(root, [{ key: 'log', flags: OP_APPEND, dirent: null }], m))).toBe(EINVAL);
  });

  it('refuses bad ops: the root, unknown op flags, malformed tree objects', () => {
    const m = memory();
    const root = empty(m);
    expect(syncErrno(() => applyOps(root, [put('.', 'x')], m))).toBe(EINVAL);
    expect(syncErrno(() => applyOps(root, [put('', 'x')], m))).toBe(EINVAL);
    expect(syncErrno(() => applyOps(root, [{ key: 'a', flags: 2, dirent: val('x') }], m))).toBe(EINVAL);
    expect(syncErrno(() => applyOps(root, [{ key: 'a', flags: 0, dirent: { ver: 2 } as unknown as TreeObj }], m))).toBe(EPROTO);
    expect(syncErrno(() => applyOps(root, [{ key: 'a', flags: 0, dirent: { ver: 1, type: 'dir', data: { 'x.y': val('1') } } }], m))).toBe(EPROTO);
  });

  it('replaces the root with a dirref on the key ".", and applies later ops on top of it', async () => {
    const m = memory();
    const base = empty(m);
    const other = applyOps(base, [put('x.y', 'old tree'), put('k', 'kept')], m).rootref;
    const cur = applyOps(base, [put('a', 'current')], m).rootref;
    const dref = (ref: string): TreeObj => ({ ver: 1, type: 'dirref', data: [ref] });
    const swapped = applyOps(cur, [{ key: '.', flags: 0, dirent: dref(other) }], m);
    expect(swapped.rootref).toBe(other);
    expect(swapped.keys).toEqual(['.']);
    expect(swapped.ops).toEqual([{ key: '.', flags: 0, dirent: dref(other) }]);
    const after = applyOps(cur, [{ key: '.', flags: 0, dirent: dref(other) }, put('k', 'changed')], m).rootref;
    expect((await lookup(after, 'x.y', 0, m)).data).toBe(Buffer.from('old tree').toString('base64'));
    expect(await rejectionErrno(lookup(after, 'a', 0, m))).toBe(ENOENT);
    // only a dirref to a stored directory will do
    expect(syncErrno(() => applyOps(cur, [{ key: '.', flags: 0, dirent: null }], m))).toBe(EINVAL);
    expect(syncErrno(() => applyOps(cur, [{ key: '.', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } }], m))).toBe(EINVAL);
    expect(syncErrno(() => applyOps(cur, [{ key: '.', flags: OP_APPEND, dirent: dref(other) }], m))).toBe(EINVAL);
    expect(syncErrno(() => applyOps(cur, [{ key: '.', flags: 0, dirent: dref(`sha256-${'0'.repeat(64)}`) }], m))).toBe(ENOENT);
    const valueRef = m.store(Buffer.from('not a directory'));
    expect(syncErrno(() => applyOps(cur, [{ key: '.', flags: 0, dirent: dref(valueRef) }], m))).toBe(EPROTO);
  });

  it('follows links in the middle of a key, within the namespace, and finds cycles', async () => {
    const m = memory();
    const link = (key: string, target: string, namespace?: string): Op => ({
      key, flags: 0, dirent: { ver: 1, type: 'symlink', data: namespace === undefined ? { target } : { namespace, target } },
    });
    let root = applyOps(empty(m), [put('real.x', '1'), link('l', 'real')], m, 'primary').rootref;
    root = applyOps(root, [put('l.y', '2')], m, 'primary').rootref;
    expect(await lookup(root, 'real.y', 0, m)).toEqual(val('2'));
    // a link named with its own namespace is followed too; another namespace's is not
    root = applyOps(root, [link('me', 'real', 'primary'), link('other', 'real', 'ns1')], m, 'primary').rootref;
    root = applyOps(root, [put('me.z', '3')], m, 'primary').rootref;
    expect(await lookup(root, 'real.z', 0, m)).toEqual(val('3'));
    expect(syncErrno(() => applyOps(root, [put('other.z', '3')], m, 'primary'))).toBe(EINVAL);
    root = applyOps(root, [link('loop', 'loop.a')], m, 'primary').rootref;
    expect(syncErrno(() => applyOps(root, [put('loop.b', '1')], m, 'primary'))).toBe(ELOOP);
    // the link itself is replaced by a put to its own key
    root = applyOps(root, [put('l', 'plain')], m, 'primary').rootref;
    expect(await lookup(root, 'l', 0, m)).toEqual(val('plain'));
  });

  it('shares cached objects without changing them', async () => {
    const cache = new TreeCache();
    const m = memory('sha256', cache);
    let root = applyOps(empty(m), [put('a.b', '1'), put('c', '2')], m).rootref;
    const before = JSON.stringify(await lookup(root, '.', LOOKUP_READDIR, m));
    root = applyOps(root, [put('a.b', '9'), { key: 'c', flags: OP_APPEND, dirent: val('3') }, put('e', '4')], m).rootref;
    expect(cache.count).toBeGreaterThan(0);
    // the old root's objects are still what they were (they are frozen: a change would have thrown)
    const m2 = memory();
    const old = applyOps(m2.store(EMPTY_DIR_BLOB), [put('a.b', '1'), put('c', '2')], m2).rootref;
    expect(JSON.stringify(await lookup(old, '.', LOOKUP_READDIR, m2))).toBe(before);
    expect(await lookup(root, 'c', 0, m)).toEqual(val('23'));
  });
});

describe('kvs tree: lookups', () => {
  async function sample() {
    const m = memory();
    const ops: Op[] = [
      put('v', 'value'),
      put('d.x', '1'),
      { key: 'big', flags: 0, dirent: val('b'.repeat(300)) },
      { key: 'l', flags: 0, dirent: { ver: 1, type: 'symlink', data: { target: 'd' } } },
      { key: 'lv', flags: 0, dirent: { ver: 1, type: 'symlink', data: { target: 'v' } } },
      { key: 'far', flags: 0, dirent: { ver: 1, type: 'symlink', data: { namespace: 'other', target: 'k' } } },
      { key: 'self', flags: 0, dirent: { ver: 1, type: 'symlink', data: { target: 'self' } } },
    ];
    return { m, root: applyOps(m.store(EMPTY_DIR_BLOB), ops, m).rootref };
  }

  it('answers values, directories, links and stored objects by flags', async () => {
    const { m, root } = await sample();
    expect(await lookup(root, 'v', 0, m)).toEqual(val('value'));
    expect(await lookup(root, 'big', 0, m)).toEqual(val('b'.repeat(300)));
    expect(await lookup(root, 'd', LOOKUP_READDIR, m)).toEqual({ data: { x: { data: 'MQ==', type: 'val', ver: 1 } }, type: 'dir', ver: 1 });
    expect(await lookup(root, 'l.x', 0, m)).toEqual(val('1'));
    expect(await lookup(root, 'l', LOOKUP_READDIR, m)).toMatchObject({ type: 'dir' });
    expect(await lookup(root, 'lv', 0, m)).toEqual(val('value'));
    expect(await lookup(root, 'lv', LOOKUP_READLINK, m)).toEqual({ data: { target: 'v' }, type: 'symlink', ver: 1 });
    expect(await lookup(root, 'lv', LOOKUP_TREEOBJ, m)).toMatchObject({ type: 'symlink' });
    expect(await lookup(root, '.', LOOKUP_TREEOBJ, m)).toEqual({ data: [root], type: 'dirref', ver: 1 });
    expect(await lookup(root, 'd.', LOOKUP_READDIR, m)).toMatchObject({ type: 'dir' });
  });

  it('fails as flux-core does', async () => {
    const { m, root } = await sample();
    expect(await rejectionErrno(lookup(root, 'nope', 0, m))).toBe(ENOENT);
    expect(await rejectionErrno(lookup(root, 'nope.x', 0, m))).toBe(ENOENT);
    expect(await rejectionErrno(lookup(root, 'd', 0, m))).toBe(EISDIR);
    expect(await rejectionErrno(lookup(root, '.', 0, m))).toBe(EISDIR);
    expect(await rejectionErrno(lookup(root, 'v', LOOKUP_READDIR, m))).toBe(ENOTDIR);
    expect(await rejectionErrno(lookup(root, 'big', LOOKUP_READDIR, m))).toBe(ENOTDIR);
    expect(await rejectionErrno(lookup(root, 'v.x', 0, m))).toBe(ENOTDIR);
    expect(await rejectionErrno(lookup(root, 'v.', 0, m))).toBe(ENOTDIR);
    expect(await rejectionErrno(lookup(root, 'v', LOOKUP_READLINK, m))).toBe(EINVAL);
    expect(await rejectionErrno(lookup(root, '', 0, m))).toBe(EINVAL);
    expect(await rejectionErrno(lookup(root, 'self', 0, m))).toBe(ELOOP);
    expect(await rejectionErrno(lookup(root, 'far', 0, m))).toBe(EINVAL);
    expect(await rejectionErrno(lookup(root, 'constructor', 0, m))).toBe(ENOENT);
    expect(await rejectionErrno(lookup(root, '__proto__', 0, m))).toBe(ENOENT);
  });

  it('follows a link into another namespace through rootOf', async () => {
    const { m, root } = await sample();
    const otherRoot = applyOps(m.store(EMPTY_DIR_BLOB), [put('k', 'elsewhere')], m).rootref;
    const access = { ...m, rootOf: (ns: string) => (ns === 'other' ? otherRoot : Promise.reject(new FluxError(ENOTSUP))) };
    expect(await lookup(root, 'far', 0, access, 'primary')).toEqual(val('elsewhere'));
  });
});
