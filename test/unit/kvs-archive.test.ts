// The archive layout, the tree builder, the ordered walk and fsck, over an in-memory content store.
import { describe, it, expect } from 'vitest';
import { ContentStore } from '../../src/core/content-store.js';
import { blobref, blobrefOf, digestOf } from '../../src/core/blobref.js';
import { ENOENT, FluxError } from '../../src/core/errors.js';
import { type TreeObj, val } from '../../src/core/treeobj.js';
import { applyOps, EMPTY_DIR_BLOB, type Op } from '../../src/core/kvs-tree.js';
import { keyOfPath, linkOfTarget, linkTargetOf, pathOfKey } from '../../src/core/kvs-archive.js';
import { walkTree } from '../../src/core/kvs-walk.js';
import { fsck } from '../../src/core/fsck.js';

function memory() {
  const cs = ContentStore.open(':memory:', 'sha256');
  return {
    cs,
    load: (ref: string) => cs.load(digestOf('sha256', ref)),
    store: (blob: Buffer) => blobref('sha256', cs.store(blob)),
  };
}

async function leaves(rootref: string, load: (ref: string) => Buffer) {
  const out: Array<[string, TreeObj]> = [];
  for await (const l of walkTree(rootref, async (r) => load(r), { window: 3 })) out.push([l.key, l.obj]);
  return out;
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
    let inFlight = 0;
    let most = 0;
    const load = async (r: string) => {
      most = Math.max(most, ++inFlight);
      await new Promise((res) => setImmediate(res));
      inFlight--;
      return m.load(r);
    };
    const keys: string[] = [];
    for await (const l of walkTree(root, load, { window: 2 })) keys.push(l.key);
    expect(keys).toEqual(ops.map((o) => o.key));
    expect(most).toBe(2);
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

describe('fsck', () => {
  it('finds nothing in a sound store, and names the keys that reach a missing or corrupt object', () => {
    const m = memory();
    const empty = m.store(EMPTY_DIR_BLOB);
    const v1 = applyOps(empty, [
      { key: 'a.b', flags: 0, dirent: val(Buffer.alloc(300, 1)) },
      { key: 'c.d', flags: 0, dirent: val(Buffer.from('small')) },
    ], m).rootref;
    // v2 shares a and c with v1, and holds the same big value again under f
    const v2 = applyOps(v1, [{ key: 'f', flags: 0, dirent: val(Buffer.alloc(300, 1)) }], m).rootref;
    const roots = [{ label: 'v1', rootref: v1 }, { label: 'v2', rootref: v2 }];
    const sound = fsck(roots, m.load);
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
    const r = fsck(roots, read);
    const byRef = new Map(r.damage.map((d) => [d.ref, d]));
    // a sound directory is walked once (v2 reaches a.b only through v1's a), a damaged object named by each
    // directory that names it
    expect(byRef.get(valueRef)).toMatchObject({ problem: 'missing', paths: ['v1: a.b', 'v2: f'] });
    expect(byRef.get(cDir)).toMatchObject({ problem: 'corrupt', paths: ['v1: c', 'v2: c'] });
    expect(r.damage).toHaveLength(2);
  });
});
