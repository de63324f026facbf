// Dump and restore as pure code: a random KVS tree walked, written as a tar, read back and rebuilt gives the
// very same root (every key, link and value, inline and valref-sized, byte for byte), whatever the chunking of
// the archive; and tar headers round-trip random paths and contents.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ContentStore } from '../../src/core/content/store.js';
import { blobref, digestOf } from '../../src/core/content/blobref.js';
import { type TreeObj, symlink, val } from '../../src/core/kvs/treeobj.js';
import { applyOps, EMPTY_DIR_BLOB, type Op } from '../../src/core/kvs/tree.js';
import { TreeBuilder, addEntry, linkTargetOf, pathOfKey } from '../../src/core/kvs/archive.js';
import { walkTree } from '../../src/core/kvs/walk.js';
import { TYPE_FILE, TYPE_SYMLINK, encodeHeader, padding, readTar, trailer, type TarEntry } from '../../src/core/kvs/tar.js';

function memory() {
  const cs = ContentStore.open(':memory:', 'sha256');
  return {
    load: (ref: string) => cs.load(digestOf('sha256', ref)),
    store: (blob: Buffer) => blobref('sha256', cs.store(blob)),
  };
}

async function* chunked(bytes: Buffer, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function dumpTree(rootref: string, load: (ref: string) => Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const { key, obj } of walkTree(rootref, async (r) => load(r), { window: 4 })) {
    const link = obj.type === 'symlink';
    const data = obj.type === 'val' ? Buffer.from(obj.data, 'base64') : obj.type === 'valref' ? Buffer.concat(obj.data.map(load)) : Buffer.alloc(0);
    parts.push(encodeHeader({
      path: pathOfKey(key), type: link ? TYPE_SYMLINK : TYPE_FILE, size: data.length, mode: 0o644, uid: 0, gid: 0, mtime: 1,
      linkpath: link ? linkTargetOf(obj as Extract<TreeObj, { type: 'symlink' }>) : '',
    }), data, padding(data.length));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, trailer(body.length)]);
}

const comp = fc.stringMatching(/^[a-z0-9_-]{1,12}$/);

describe('dump and restore (pure)', () => {
  it('a tree dumped and restored has the same rootref', async () => {
    const leaf = fc.oneof(
      fc.uint8Array({ maxLength: 400 }).map((b): TreeObj => val(Buffer.from(b))),
      fc.tuple(fc.array(comp, { minLength: 1, maxLength: 3 }), fc.option(comp, { nil: undefined }))
        .map(([t, ns]): TreeObj => symlink(t.join('.'), ns)),
    );
    // distinct first components: no key is another's directory
    const tree = fc.uniqueArray(fc.record({ comps: fc.array(comp, { minLength: 1, maxLength: 20 }), obj: leaf }),
      { selector: (x) => x.comps[0], maxLength: 10 });
    await fc.assert(fc.asyncProperty(tree, fc.integer({ min: 1, max: 3000 }), async (list, chunk) => {
      const m = memory();
      const ops: Op[] = list.map((x) => ({ key: x.comps.join('.'), flags: 0, dirent: x.obj }));
      const root = applyOps(m.store(EMPTY_DIR_BLOB), ops, m).rootref;
      const archive = await dumpTree(root, m.load);
      const restored = memory();
      const b = new TreeBuilder();
      const entries: TarEntry[] = [];
      for await (const e of readTar(chunked(archive, chunk))) {
        entries.push(e);
        addEntry(b, e, restored.store);
      }
      expect(entries).toHaveLength(list.length);
      expect(b.finish(restored.store)).toBe(root);
    }), { numRuns: 80 });
  });

  it('tar headers round-trip random paths and contents', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ comps: fc.array(comp, { minLength: 1, maxLength: 30 }), data: fc.uint8Array({ maxLength: 1500 }) }), { maxLength: 8 }),
      fc.integer({ min: 1, max: 2000 }),
      async (list, chunk) => {
        const parts = list.flatMap((x) => [
          encodeHeader({ path: x.comps.join('/'), type: TYPE_FILE, size: x.data.length, mode: 0o644, uid: 1, gid: 2, mtime: 3, linkpath: '' }),
          Buffer.from(x.data), padding(x.data.length),
        ]);
        const body = Buffer.concat(parts);
        const got: Array<[string, string]> = [];
        for await (const e of readTar(chunked(Buffer.concat([body, trailer(body.length)]), chunk))) got.push([e.path, e.data.toString('hex')]);
        expect(got).toEqual(list.map((x) => [x.comps.join('/'), Buffer.from(x.data).toString('hex')]));
      },
    ), { numRuns: 60 });
  });
});
