// Model-based test of the KVS tree: random puts, mkdirs, unlinks, appends and multi-op commits against a plain
// map of key -> value, over a real (in-memory) content store. Every read must agree with the model, every past
// version must still read as the model did then, and the ops as journaled must rebuild each root exactly. Run
// again with tiny wide-directory and long-value thresholds, so that hashed directories and chunked values
// split and merge back with small data: there each root must also equal the root of the same tree built
// afresh in one commit, in another order (the stored form depends on the contents only).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ContentStore } from '../../src/core/content/store.js';
import { blobref, digestOf } from '../../src/core/content/blobref.js';
import { FluxError, EISDIR, ENOENT, ENOTDIR } from '../../src/core/errors.js';
import type { TreeObj } from '../../src/core/kvs/treeobj.js';
import {
  applyOps, lookup, TreeCache, EMPTY_DIR_BLOB, LOOKUP_READDIR, LOOKUP_TREEOBJ, OP_APPEND, type Op, type WriteAccess,
} from '../../src/core/kvs/tree.js';
import type { Shape } from '../../src/core/kvs/wide.js';
import { canonical } from '../../src/core/journal/entry.js';
import { valTreeobj } from '../../src/api/kvs.js';

type Node = { kind: 'val'; data: Buffer } | { kind: 'dir' };
type Model = Map<string, Node>;

interface Real {
  access: WriteAccess;
  /** check each new root against the same tree built afresh */
  fresh: boolean;
  rootref: string;
  /** every version so far: its root and what the model held then */
  versions: Array<{ rootref: string; model: Model }>;
}

const ancestors = (key: string) => key.split('.').slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join('.'));
const isUnder = (key: string, dir: string) => key.startsWith(`${dir}.`);

/** what an op does to the model, or the errno it fails with (the model is then unchanged) */
function modelOp(m: Model, op: Op): number | undefined {
  const { key } = op;
  const path = ancestors(key);
  if (op.dirent === null) {
    if (path.some((p) => m.get(p)?.kind !== 'dir')) return undefined;
    for (const k of [...m.keys()]) if (k === key || isUnder(k, key)) m.delete(k);
    return undefined;
  }
  const reachable = path.every((p) => m.get(p)?.kind === 'dir');
  const existing = reachable ? m.get(key) : undefined;
  let node: Node;
  if (op.dirent.type === 'dir') {
    node = { kind: 'dir' };
  } else {
    const bytes = Buffer.from(op.dirent.data as string, 'base64');
    if (op.flags & OP_APPEND) {
      if (existing?.kind === 'dir') return EISDIR;
      node = { kind: 'val', data: existing ? Buffer.concat([existing.data, bytes]) : bytes };
    } else {
      node = { kind: 'val', data: bytes };
    }
  }
  for (const p of path) if (m.get(p)?.kind !== 'dir') m.set(p, { kind: 'dir' });
  for (const k of [...m.keys()]) if (isUnder(k, key)) m.delete(k);
  m.set(key, node);
  return undefined;
}

/** what a lookup of `key` must give: a value's bytes, a directory's names, or an errno */
function modelGet(m: Model, key: string): Buffer | string[] | number {
  for (const p of ancestors(key)) {
    const e = m.get(p);
    if (e === undefined) return ENOENT;
    if (e.kind === 'val') return ENOTDIR;
  }
  const e = m.get(key);
  if (e === undefined) return ENOENT;
  if (e.kind === 'val') return e.data;
  return [...m.keys()].filter((k) => isUnder(k, key) && !k.slice(key.length + 1).includes('.')).map((k) => k.slice(key.length + 1)).sort();
}

async function realGet(r: Real, rootref: string, key: string, readdir: boolean): Promise<Buffer | string[] | number> {
  try {
    const t: TreeObj = await lookup(rootref, key, readdir ? LOOKUP_READDIR : 0, r.access);
    return t.type === 'dir' ? Object.keys(t.data).sort() : Buffer.from(t.data as string, 'base64');
  } catch (err) {
    if (err instanceof FluxError) return err.errno;
    throw err;
  }
}

/**
 * The model's tree built in one commit on an empty root: directories first (parents before children), then the
 * values as stored (their tree objects, so appended values keep their blobs), each group in reverse order.
 */
async function afresh(m: Model, r: Real): Promise<string> {
  const depth = (k: string) => k.split('.').length;
  const keys = [...m.keys()].sort().reverse();
  const ops: Op[] = keys.filter((k) => m.get(k)!.kind === 'dir').sort((a, b) => depth(a) - depth(b))
    .map((key) => ({ key, flags: 0, dirent: { ver: 1, type: 'dir', data: {} } }));
  for (const key of keys) {
    if (m.get(key)!.kind === 'val') ops.push({ key, flags: 0, dirent: await lookup(r.rootref, key, LOOKUP_TREEOBJ, r.access) });
  }
  return applyOps(r.access.store(EMPTY_DIR_BLOB), ops, r.access, 'primary').rootref;
}

async function commitOps(m: Model, r: Real, ops: Op[]): Promise<void> {
  const next = new Map(m);
  const failed = ops.map((op) => modelOp(next, op)).find((e) => e !== undefined);
  let result;
  try {
    result = applyOps(r.rootref, ops, r.access, 'primary');
  } catch (err) {
    expect(err).toBeInstanceOf(FluxError);
    expect((err as FluxError).errno).toBe(failed);
    return;
  }
  expect(failed).toBeUndefined();
  // the journal entry writes the ops' text as applyOps wrote it
  expect([result.opsText].flat().join('')).toBe(canonical(result.ops));
  // the ops as journaled rebuild this very root from the one before (what a replay does)
  expect(applyOps(r.rootref, result.ops, r.access, 'primary').rootref).toBe(result.rootref);
  r.rootref = result.rootref;
  m.clear();
  for (const [k, v] of next) m.set(k, v);
  r.versions.push({ rootref: r.rootref, model: new Map(m) });
  if (r.fresh) expect(await afresh(m, r)).toBe(r.rootref);
}

const keyOf = (names: string[]) => fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }).map((cs) => cs.join('.'));
// up to 80 bytes: both sides of the 72-base64-character line between inline values and blobs
const bytesArb = fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a));
const valOf = (b: Buffer): TreeObj => ({ ver: 1, type: 'val', data: b.toString('base64') });

const opOf = (keyArb: fc.Arbitrary<string>): fc.Arbitrary<Op> => fc.oneof(
  fc.record({ key: keyArb, flags: fc.constant(0), dirent: bytesArb.map(valOf) }),
  fc.record({ key: keyArb, flags: fc.constant(OP_APPEND), dirent: bytesArb.map(valOf) }),
  fc.record({ key: keyArb, flags: fc.constant(0), dirent: fc.constant<TreeObj>({ ver: 1, type: 'dir', data: {} }) }),
  fc.record({ key: keyArb, flags: fc.constant(0), dirent: fc.constant(null) }),
);

class Commit implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ops: Op[]) {}
  check = () => true;
  run(m: Model, r: Real): Promise<void> {
    return commitOps(m, r, this.ops);
  }
  toString = () => `commit(${this.ops.map((o) => `${o.flags ? '+' : ''}${o.key}${o.dirent === null ? ' unlink' : ''}`).join(', ')})`;
}

class Get implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: string, readonly dir: boolean) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    let want = modelGet(m, this.key);
    // a value read as a directory, or a directory read as a value
    if (!this.dir && Array.isArray(want)) want = EISDIR;
    if (this.dir && Buffer.isBuffer(want)) want = ENOTDIR;
    const got = await realGet(r, r.rootref, this.key, this.dir);
    expect(Buffer.isBuffer(got) ? got.toString('hex') : got).toEqual(Buffer.isBuffer(want) ? want.toString('hex') : want);
  }
  toString = () => `get(${this.key}${this.dir ? ', readdir' : ''})`;
}

function commandsOf(names: string[]) {
  const keyArb = keyOf(names);
  const opArb = opOf(keyArb);
  return [
    fc.array(opArb, { minLength: 1, maxLength: 4 }).map((ops) => new Commit(ops)),
    opArb.map((op) => new Commit([op])),
    // a burst of appends to one key: values of many blobs
    fc.tuple(keyArb, fc.array(bytesArb, { minLength: 1, maxLength: 12 }))
      .map(([key, parts]) => new Commit(parts.map((b) => ({ key, flags: OP_APPEND, dirent: valOf(b) })))),
    fc.tuple(keyArb, fc.boolean()).map(([k, d]) => new Get(k, d)),
  ];
}

async function modelRuns(names: string[], shape: Shape | undefined, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.commands(commandsOf(names), { maxCommands: 50 }), async (cmds) => {
      const hash = 'sha256';
      const cs = ContentStore.open(':memory:', hash);
      const access: WriteAccess = {
        cache: new TreeCache(1 << 16),
        load: (ref) => cs.load(digestOf(hash, ref)),
        store: (blob) => blobref(hash, cs.store(blob)),
        shape,
      };
      const rootref = access.store(EMPTY_DIR_BLOB);
      const real: Real = { access, fresh: shape !== undefined, rootref, versions: [{ rootref, model: new Map() }] };
      try {
        await fc.asyncModelRun(() => ({ model: new Map<string, Node>(), real }), cmds);
        // history: each version still reads as the model did when it was made
        for (const v of real.versions) {
          for (const [k, node] of v.model) {
            const want = node.kind === 'val' ? node.data : modelGet(v.model, k);
            const got = await realGet(real, v.rootref, k, node.kind === 'dir');
            expect(Buffer.isBuffer(got) ? got.toString('hex') : got).toEqual(Buffer.isBuffer(want) ? want.toString('hex') : want);
          }
        }
      } finally {
        cs.close();
      }
    }),
    { numRuns },
  );
}

describe('kvs tree model', () => {
  it('agrees with a map of keys at every step and at every past version', async () => {
    await modelRuns(['a', 'b', 'c'], undefined, 150);
  });

  it('keeps agreeing, and stores each tree one way only, when directories are hashed and values chunked', async () => {
    await modelRuns(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], { dirMax: 2, chunk: 2 }, 150);
  });
});

describe('the ops a commit journals', () => {
  // any text a key or a link may hold: quotes, backslashes, control characters, lone surrogates
  const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 6 });
  const dirent: fc.Arbitrary<TreeObj | null> = fc.letrec<{ d: TreeObj }>((tie) => ({
    d: fc.oneof({ depthSize: 'small' },
      fc.uint8Array({ maxLength: 8 }).map((b) => valOf(Buffer.from(b))),
      fc.tuple(text, fc.option(text, { nil: undefined })).map(([target, namespace]): TreeObj => (
        namespace === undefined ? { ver: 1, type: 'symlink', data: { target } } : { ver: 1, type: 'symlink', data: { target, namespace } })),
      fc.dictionary(text, tie('d'), { maxKeys: 3 }).map((data): TreeObj => ({ ver: 1, type: 'dir', data })),
    ),
  })).d.chain((d) => fc.oneof(fc.constant(d), fc.constant(null)));

  it('are written as canonical text, whatever their keys and values hold', () => {
    fc.assert(fc.property(fc.array(fc.record({ key: text, flags: fc.constant(0), dirent }), { minLength: 1, maxLength: 6 }), (ops) => {
      const hash = 'sha256';
      const cs = ContentStore.open(':memory:', hash);
      try {
        const access: WriteAccess = { load: (ref) => cs.load(digestOf(hash, ref)), store: (blob) => blobref(hash, cs.store(blob)) };
        let result;
        try {
          result = applyOps(access.store(EMPTY_DIR_BLOB), ops, access, 'primary');
        } catch (err) {
          expect(err).toBeInstanceOf(FluxError);
          return;
        }
        expect([result.opsText].flat().join('')).toBe(canonical(result.ops));
      } finally {
        cs.close();
      }
    }), { numRuns: 300 });
  });
});

describe('a val tree object made from text', () => {
  it('holds the text as its UTF-8 bytes, whatever code units it holds', () => {
    // weighted to ASCII, to what lies just past it (one byte in Latin-1, two in UTF-8) and to lone surrogates
    const near = fc.oneof(fc.integer({ min: 0, max: 0x17f }), fc.integer({ min: 0xd800, max: 0xdfff })).map((c) => String.fromCharCode(c));
    const anyText = fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 40 }), fc.string({ unit: near, maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }));
    fc.assert(fc.property(anyText, (s) => {
      expect(valTreeobj(s)).toEqual(valTreeobj(Buffer.from(s, 'utf8')));
    }), { numRuns: 1000 });
    // text too long for btoa's path
    for (const s of ['a'.repeat(4097), `${'b'.repeat(5000)}\0`, `${'é'.repeat(3000)}`]) {
      expect(valTreeobj(s)).toEqual(valTreeobj(Buffer.from(s, 'utf8')));
    }
  });
});
