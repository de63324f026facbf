// The KVS tree: applying a commit's operations to a root and resolving a key under a root, over RFC 11 tree
// objects in the content store. Blob access is injected: synchronous on rank 0 (sqlite), asynchronous elsewhere
// (through the content cache), in memory in tests, read-only in an offline replay. No clocks and no I/O of its
// own, so the same ops applied to the same root give the same rootref anywhere. Wide directories and long
// values are stored in the forms kvs-wide.ts describes; whatever is answered to a client is plain RFC 11.
import { FluxError, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTSUP, EPROTO } from '../errors.js';
import { ByteCache } from '../byte-cache.js';
import { type JsonPieces, arrayPieces, canonical } from '../journal/entry.js';
import {
  type Dirent, type TreeObj, type ValTree, VAL_INLINE_MAX, checkTreeObj, encodeTreeObj, keyPath, val,
} from './treeobj.js';
import {
  type ChunkAccess, type RefList, type Shape, type Slot, type Stored, DEFAULT_SHAPE, FANOUT, MAX_DEPTH, appendRefs,
  DirObject, decodeStored, frozen, hashNodeBlob, nameHash, slotOf,
} from './wide.js';

/** lookup flags (the others are kvs-watch's or the client's own) */
export const LOOKUP_READDIR = 1;
export const LOOKUP_READLINK = 2;
export const LOOKUP_TREEOBJ = 16;
/** op flag: append the value to the key's value */
export const OP_APPEND = 32;
/** commit flags */
export const TXN_NO_MERGE = 1;
/** client-side only (the client compacts its own ops); accepted and otherwise ignored */
export const TXN_COMPACT = 2;
export const TXN_SYNC = 4;
export const TXN_FLAGS = TXN_NO_MERGE | TXN_COMPACT | TXN_SYNC;
/** links one key may pass through: beyond this it is taken for a cycle, as flux-core does */
export const SYMLINK_MAX = 10;
/** Linux ELOOP (errors.ts has no name or strerror text for it yet, hence the explicit messages) */
export const ELOOP = 40;
/** valref blobs loaded at once for one lookup: a long appended value must not flood the content service */
const LOAD_WINDOW = 256;

export interface Op {
  key: string;
  flags: number;
  /** null unlinks; an empty dir is a mkdir; a symlink is a link */
  dirent: TreeObj | null;
}

type Dir = Extract<TreeObj, { type: 'dir' }>;

/** the empty directory every namespace starts from, as stored */
export const EMPTY_DIR_BLOB = encodeTreeObj({ data: {}, type: 'dir', ver: 1 });

/**
 * What an object decoded from a stored blob of `blobBytes` takes in memory, as the cache counts it. Decoded, a
 * small directory is several times its blob: its entries as objects and strings, and once it is written or read as
 * bytes, those bytes and the offsets of its entries too. Measured (bench/tree-cache.bench.mjs): 3.4–6.7 bytes of
 * heap and array buffers per blob byte for directories of 260–310 bytes, 2.7–3.9 for one of 2,700. Counted as
 * the blob alone, a cache of 16 MiB held ~80 MiB of a broker's heap under the verify workload.
 */
export function storedFootprint(blobBytes: number): number {
  return OBJECT_OVERHEAD + BYTES_PER_BLOB_BYTE * blobBytes;
}
const OBJECT_OVERHEAD = 512;
const BYTES_PER_BLOB_BYTE = 4;

/**
 * Stored objects (directories, hashed directory nodes, value chunk nodes) decoded, by blobref, within a limit on
 * the memory they take (storedFootprint). A blobref names its bytes, so an entry is never stale.
 */
export class TreeCache {
  private readonly objects: ByteCache<Stored>;

  constructor(limit = 16 << 20) {
    this.objects = new ByteCache(limit);
  }

  get(ref: string): Stored | undefined {
    return this.objects.get(ref);
  }

  /** `s`, decoded from or encoded as a blob of `blobBytes` */
  keep(ref: string, s: Stored, blobBytes: number): void {
    this.objects.set(ref, s, storedFootprint(blobBytes));
  }

  get count(): number {
    return this.objects.count;
  }

  /** the memory held, as storedFootprint counts it */
  get bytes(): number {
    return this.objects.bytes;
  }
}

/** whether a blob is a stored directory, plain or hashed (what a namespace may start from) */
export function isStoredDirectory(blob: Buffer, ref: string): boolean {
  try {
    return decodeStored(blob, ref).kind !== 'node';
  } catch (err) {
    if (err instanceof FluxError) return false;
    throw err;
  }
}

function dirrefObj(ref: string): TreeObj {
  return frozen({ data: [ref], type: 'dirref', ver: 1 });
}

function notDirectory(ref: string, s: Stored): never {
  throw new FluxError(EPROTO, `${ref} names a ${s.kind === 'node' ? 'value node' : 'directory'} where it should not`);
}

// ---- commits ---------------------------------------------------------------------------------------------------

export interface WriteAccess {
  /** the bytes of a stored blob (ENOENT when there is none) */
  load(ref: string): Buffer;
  /** store a blob; returns its blobref */
  store(blob: Buffer): string;
  cache?: TreeCache;
  /** where wide directories and long values change form: DEFAULT_SHAPE unless a test wants them small */
  shape?: Shape;
}

export interface AppliedOps {
  rootref: string;
  /** the normalized keys the ops changed, each once, in op order */
  keys: string[];
  /**
   * the ops as applied: keys normalized, large values already turned into valrefs (their bytes stored), every
   * object in canonical RFC 11 form. Applying these to the same root gives the same rootref, with small payloads.
   */
  ops: Op[];
  /** canonical(ops), which the journal entry holds: known here to be written the fast way */
  opsText: JsonPieces;
}

/**
 * A directory being changed by a commit: its stored form (read entry by entry, never copied whole) and what the
 * commit changed in it (null: removed). Stored again at the end, rewriting only the parts the changes fall in.
 */
class WorkDir {
  dirty: boolean;
  readonly changes = new Map<string, Dirent | WorkDir | null>();
  constructor(readonly origin: string | undefined, readonly base: Stored | undefined) {
    this.dirty = origin === undefined;
  }
}

interface WriteCtx {
  access: WriteAccess;
  namespace: string | undefined;
  shape: Shape;
  chunks: ChunkAccess;
}

function loadStored(ctx: WriteCtx, ref: string): Stored {
  const { access } = ctx;
  let s = access.cache?.get(ref);
  if (s === undefined) {
    const blob = access.load(ref);
    s = decodeStored(blob, ref);
    access.cache?.keep(ref, s, blob.length);
  }
  return s;
}

function storeObj(ctx: WriteCtx, blob: Buffer, obj: Stored): string {
  const ref = ctx.access.store(blob);
  ctx.access.cache?.keep(ref, obj, blob.length);
  return ref;
}

function loadWork(ctx: WriteCtx, ref: string): WorkDir {
  const s = loadStored(ctx, ref);
  if (s.kind === 'node') notDirectory(ref, s);
  return new WorkDir(ref, s);
}

/** an entry of a stored directory: in a hashed one, down the slots its name's hash picks */
function storedEntry(ctx: WriteCtx, base: Stored, name: string): Dirent | undefined {
  let s = base;
  let depth = 0;
  const hash = s.kind === 'hash' ? nameHash(name) : 0;
  while (s.kind === 'hash') {
    const slot = s.slots[slotOf(hash, depth++)];
    if (!slot) return undefined;
    s = loadStored(ctx, slot.ref);
  }
  if (s.kind !== 'dir') notDirectory(name, s);
  return s.entries.get(name);
}

function entryOf(ctx: WriteCtx, w: WorkDir, name: string): Dirent | WorkDir | undefined {
  if (w.changes.has(name)) return w.changes.get(name) ?? undefined;
  return w.base === undefined ? undefined : storedEntry(ctx, w.base, name);
}

/**
 * The form an object is journaled in: a value whose base64 text is longer than VAL_INLINE_MAX replaced by a
 * valref to its raw bytes (in nested directories too), members in canonical order so that an entry a commit made
 * prints in a lookup's answer like one read back from the store, nothing but the members RFC 11 defines.
 */
function canonicalDirent(t: TreeObj, ctx: WriteCtx): TreeObj {
  switch (t.type) {
    case 'val':
      return frozen(t.data.length > VAL_INLINE_MAX
        ? { data: [ctx.access.store(Buffer.from(t.data, 'base64'))], type: 'valref', ver: 1 }
        : { data: t.data, type: 'val', ver: 1 });
    case 'valref':
      return frozen({ data: [...t.data], type: 'valref', ver: 1 });
    case 'dirref':
      return frozen({ data: [t.data[0]!], type: 'dirref', ver: 1 });
    case 'symlink':
      return frozen({
        data: t.data.namespace === undefined ? { target: t.data.target } : { namespace: t.data.namespace, target: t.data.target },
        type: 'symlink', ver: 1,
      });
    case 'dir':
      return frozen({
        data: Object.fromEntries(Object.entries(t.data).map(([k, v]) => [k, canonicalDirent(v, ctx)])),
        type: 'dir', ver: 1,
      });
  }
}

/**
 * A journaled object as a directory holds it: a directory from a commit (mkdir, or a whole tree put with -t)
 * becomes one to store depth-first at the end like any other, a valref longer than a chunk a valtree, and a
 * dirref to a dir object too wide or holding such valrefs (what a TREEOBJ lookup of a directory kept hashed
 * answers, which a copy puts back) the directory stored again in its own form: one tree, one stored form.
 */
function stored(t: TreeObj, ctx: WriteCtx): Dirent | WorkDir {
  switch (t.type) {
    case 'dir': {
      const w = new WorkDir(undefined, undefined);
      for (const [k, v] of Object.entries(t.data)) w.changes.set(k, stored(v, ctx));
      return w;
    }
    case 'valref':
      return t.data.length > ctx.shape.chunk ? appendRefs(ctx.chunks, { kind: 'list', refs: t.data }, []) : t;
    case 'dirref': {
      const target = plainTarget(ctx, t.data[0]!);
      if (target === undefined) return t;
      const w = new WorkDir(undefined, undefined);
      // one level, as a TREEOBJ lookup answers one level: its subdirectories are named in their stored form
      for (const [k, v] of target.entries) w.changes.set(k, v.type === 'valref' ? stored(v, ctx) : v);
      return w;
    }
    default:
      return t;
  }
}

/**
 * The dir object a dirref names when it is not in the stored form (wider than dirMax, or holding a valref
 * longer than a chunk); undefined when it is, or is not here to look at (a dirref is taken as given, as ever).
 */
function plainTarget(ctx: WriteCtx, ref: string): Extract<Stored, { kind: 'dir' }> | undefined {
  let s: Stored;
  try {
    s = loadStored(ctx, ref);
  } catch (err) {
    if (err instanceof FluxError) return undefined;
    throw err;
  }
  if (s.kind !== 'dir') return undefined;
  const { dirMax, chunk } = ctx.shape;
  if (s.entries.size > dirMax) return s;
  for (const e of s.entries.values()) if (e.type === 'valref' && e.data.length > chunk) return s;
  return undefined;
}

interface Place {
  dir: WorkDir;
  name: string;
  /** the directories walked through from the root: all of them change when the entry does */
  trail: WorkDir[];
}

/**
 * The directory that holds the last component of `comps`, loading (and, when `create`, making) the ones on the
 * way. A value in the way is replaced by a directory, as flux-core does; a link is followed from the root.
 * Undefined when the path does not exist and `create` is false (an unlink of a missing key changes nothing).
 */
function walk(root: WorkDir, comps: string[], create: boolean, ctx: WriteCtx, hops: number): Place | undefined {
  let dir = root;
  const trail = [root];
  for (let i = 0; i < comps.length - 1; i++) {
    const name = comps[i]!;
    const e = entryOf(ctx, dir, name);
    let next: WorkDir;
    if (e instanceof WorkDir) {
      next = e;
    } else if (e?.type === 'dirref') {
      next = loadWork(ctx, e.data[0]!);
    } else if (e?.type === 'dir') {
      next = stored(e, ctx) as WorkDir;
    } else if (e?.type === 'symlink') {
      const ns = e.data.namespace;
      if (ns !== undefined && ns !== ctx.namespace) {
        throw new FluxError(EINVAL, `${comps.slice(0, i + 1).join('.')}: a commit cannot follow a link into namespace ${ns}`);
      }
      if (hops >= SYMLINK_MAX) throw new FluxError(ELOOP, `${comps.join('.')}: too many levels of symbolic links`);
      return walk(root, [...keyPath(e.data.target), ...comps.slice(i + 1)], create, ctx, hops + 1);
    } else {
      if (!create) return undefined;
      next = new WorkDir(undefined, undefined);
    }
    if (next !== e) dir.changes.set(name, next);
    dir = next;
    trail.push(next);
  }
  return { dir, name: comps[comps.length - 1]!, trail };
}

/** the value after appending `more`'s bytes to `existing`: a val becomes a valref, a valref grows by refs */
function appended(existing: Dirent | WorkDir | undefined, more: TreeObj, ctx: WriteCtx, key: string): Dirent {
  if (existing === undefined) return stored(more, ctx) as Dirent;
  if (existing instanceof WorkDir) throw new FluxError(EISDIR, `${key}: cannot append to a directory`);
  const refs = (t: Extract<TreeObj, { type: 'val' | 'valref' }>): readonly string[] =>
    t.type === 'val' ? [ctx.access.store(Buffer.from(t.data, 'base64'))] : t.data;
  let base: RefList;
  switch (existing.type) {
    case 'val':
    case 'valref':
      base = { kind: 'list', refs: refs(existing) };
      break;
    case 'valtree':
      base = { kind: 'tree', tree: existing };
      break;
    case 'symlink':
      throw new FluxError(ENOTSUP, `${key}: cannot append to a symlink`);
    default:
      throw new FluxError(EISDIR, `${key}: cannot append to a directory`);
  }
  return appendRefs(ctx.chunks, base, refs(more as Extract<TreeObj, { type: 'val' | 'valref' }>));
}

/**
 * An op on the root key "." whose dirent is a dirref replaces the whole tree with the one it names (what
 * `flux restore --checkpoint` commits): the root that results is that very blobref. Nothing else may name the
 * root: it cannot be removed, appended to or made a value.
 */
function rootOp(op: Op, ctx: WriteCtx): { root: WorkDir; op: Op } {
  const d = op.dirent === null ? null : checkTreeObj(op.dirent);
  if (d?.type !== 'dirref' || op.flags !== 0) throw new FluxError(EINVAL, 'the root directory can only be replaced by a dirref');
  const ref = d.data[0]!;
  // a plain dir object wider than the stored form (an archive restored) is taken into that form, one level deep
  // as a dirref put anywhere else is; a wide directory further down is stored in its form when next changed
  const w = stored(dirrefObj(ref), ctx);
  const root = w instanceof WorkDir ? w : loadWork(ctx, ref);
  return { root, op: { dirent: dirrefObj(ref), flags: 0, key: '.' } };
}

function applyOp(root: WorkDir, op: Op, comps: string[], ctx: WriteCtx): Op {
  const key = comps.join('.');
  const dirent = op.dirent === null ? null : canonicalDirent(checkTreeObj(op.dirent), ctx);
  const append = (op.flags & OP_APPEND) !== 0;
  if (append && dirent?.type !== 'val' && dirent?.type !== 'valref') {
    throw new FluxError(EINVAL, `${key}: only a value can be appended`);
  }
  const at = walk(root, comps, dirent !== null, ctx, 0);
  if (at !== undefined) {
    const { dir, name, trail } = at;
    let changed = true;
    if (dirent === null) {
      changed = entryOf(ctx, dir, name) !== undefined;
      if (changed) dir.changes.set(name, null);
    } else if (append) {
      dir.changes.set(name, appended(entryOf(ctx, dir, name), dirent, ctx, key));
    } else {
      dir.changes.set(name, stored(dirent, ctx));
    }
    if (changed) for (const w of trail) w.dirty = true;
  }
  // members in canonical order: the journal entry then writes the ops as they are, with no sorted copy
  return { dirent, flags: op.flags, key };
}

function storeDir(ctx: WriteCtx, d: DirObject): string {
  return storeObj(ctx, d.blob(), d);
}

const NO_ENTRIES = new DirObject([], []);

function storeHash(ctx: WriteCtx, slots: Array<Slot | null>, count: number): string {
  return storeObj(ctx, hashNodeBlob(slots), { kind: 'hash', slots: Object.freeze(slots), count });
}

/** a directory's entries, `depth` levels down a hashed directory, in their canonical stored form */
function storeEntries(ctx: WriteCtx, entries: ReadonlyMap<string, Dirent>, depth: number): Slot | null {
  if (entries.size === 0) return null;
  if (entries.size <= ctx.shape.dirMax || depth >= MAX_DEPTH) return { ref: storeDir(ctx, DirObject.of(entries)), count: entries.size };
  const groups = Array.from({ length: FANOUT }, () => new Map<string, Dirent>());
  for (const [name, e] of entries) groups[slotOf(nameHash(name), depth)]!.set(name, e);
  return { ref: storeHash(ctx, groups.map((g) => storeEntries(ctx, g, depth + 1)), entries.size), count: entries.size };
}

/** every entry under some slots of a hashed directory (one that has shrunk back to a single dir object) */
function gather(ctx: WriteCtx, slots: ReadonlyArray<Slot | null>, into = new Map<string, Dirent>()): Map<string, Dirent> {
  for (const slot of slots) {
    if (slot === null) continue;
    const s = loadStored(ctx, slot.ref);
    if (s.kind === 'hash') gather(ctx, s.slots, into);
    else if (s.kind === 'dir') for (const [name, e] of s.entries) into.set(name, e);
    else notDirectory(slot.ref, s);
  }
  return into;
}

/**
 * A stored directory (part) with changes made, stored again: only the slots the changed names hash to are
 * rebuilt, and a part becomes one dir object again, or a hashed one, as its new size says.
 */
function build(ctx: WriteCtx, base: Stored | undefined, changes: Map<string, Dirent | null>, depth: number): Slot | null {
  if (base?.kind === 'node') notDirectory('a directory slot', base);
  if (base === undefined || base.kind === 'dir') {
    const next = (base ?? NO_ENTRIES).with(changes);
    if (next.size === 0) return null;
    if (next.size <= ctx.shape.dirMax || depth >= MAX_DEPTH) return { ref: storeDir(ctx, next), count: next.size };
    return storeEntries(ctx, next.entries, depth);
  }
  const groups = new Map<number, Map<string, Dirent | null>>();
  for (const [name, e] of changes) {
    const i = slotOf(nameHash(name), depth);
    let g = groups.get(i);
    if (g === undefined) groups.set(i, (g = new Map()));
    g.set(name, e);
  }
  const slots = [...base.slots];
  for (const [i, g] of groups) {
    const old = slots[i];
    slots[i] = build(ctx, old ? loadStored(ctx, old.ref) : undefined, g, depth + 1);
  }
  let count = 0;
  for (const s of slots) count += s?.count ?? 0;
  if (count === 0) return null;
  if (count <= ctx.shape.dirMax) return storeEntries(ctx, gather(ctx, slots), depth);
  return { ref: storeHash(ctx, slots, count), count };
}

/** store a changed directory (its changed subdirectories first) and return its blobref */
function unroll(w: WorkDir, ctx: WriteCtx): string {
  if (!w.dirty) return w.origin!;
  const changes = new Map<string, Dirent | null>();
  for (const [name, e] of w.changes) changes.set(name, e instanceof WorkDir ? dirrefObj(unroll(e, ctx)) : e);
  return build(ctx, w.base, changes, 0)?.ref ?? storeDir(ctx, NO_ENTRIES);
}

/**
 * Apply ops, in order, to the tree under `rootref`; the new tree's objects are stored through `access` and its
 * root's blobref returned. All or nothing: an op that fails (FluxError) fails the whole call, and nothing it
 * stored is named by any root. `namespace` is the namespace the root belongs to (links naming another one
 * cannot be followed by a commit).
 */
export function applyOps(rootref: string, ops: readonly Op[], access: WriteAccess, namespace?: string): AppliedOps {
  const shape = access.shape ?? DEFAULT_SHAPE;
  const ctx: WriteCtx = {
    access, namespace, shape,
    chunks: {
      shape,
      node: (ref) => {
        const s = loadStored(ctx, ref);
        if (s.kind !== 'node') notDirectory(ref, s);
        return s;
      },
      store: (blob, obj) => storeObj(ctx, blob, obj),
    },
  };
  let root = loadWork(ctx, rootref);
  let dirs = false;
  const applied = ops.map((op) => {
    if (typeof op !== 'object' || op === null || typeof op.key !== 'string') throw new FluxError(EPROTO, 'malformed op');
    if (!Number.isInteger(op.flags) || (op.flags & ~OP_APPEND) !== 0) {
      throw new FluxError(EINVAL, `${op.key}: unknown op flags 0x${Number(op.flags).toString(16)}`);
    }
    const comps = keyPath(op.key);
    let done: Op;
    if (comps.length > 0) {
      done = applyOp(root, op, comps, ctx);
    } else {
      const r = rootOp(op, ctx);
      root = r.root;
      done = r.op;
    }
    if (done.dirent?.type === 'dir') dirs = true;
    return done;
  });
  const keys = [...new Set(applied.map((o) => o.key))];
  // an op as applied has its members, and its dirent's, in canonical order, so JSON.stringify writes canonical text
  // (native, and far faster than canonical() walking it to find so), but for a dir object: its entries are in the
  // order they were given
  const opsText = dirs ? canonical(applied) : arrayPieces(applied);
  return { rootref: unroll(root, ctx), keys, ops: applied, opsText };
}

// ---- lookups ---------------------------------------------------------------------------------------------------

export interface ReadAccess {
  load(ref: string): Promise<Buffer> | Buffer;
  /**
   * store a blob, returning its blobref: with it, a TREEOBJ lookup of a directory kept hashed (or holding long
   * values) answers a dirref to the plain RFC 11 dir object it stands for, stored for the occasion
   */
  store?(blob: Buffer): Promise<string> | string;
  cache?: TreeCache;
  /** the current rootref of another namespace, for a link into it (whoever provides it checks access) */
  rootOf?(namespace: string): Promise<string> | string;
}

interface ReadCtx {
  access: ReadAccess;
  rootref: string;
  namespace: string | undefined;
  flags: number;
  /** the key ended in '.': the caller expects a directory */
  wantDir: boolean;
  /** what this lookup has waited for: objects it loaded, other namespaces' roots its links named */
  had: Had;
}

interface Had {
  objects: Map<string, Stored>;
  roots: Map<string, string>;
}

/**
 * Thrown where a lookup needs what is not at hand: the lookup waits for `ready`, which keeps what it waited for in
 * the lookup's own `had` (a cache too small to hold it cannot make it start over forever), and starts again. So a
 * lookup whose objects are cached, most of them, is answered without a turn of the event loop: the awaits of a
 * walk down three directories cost a broker as much as the walk (measured).
 */
class NotYet {
  constructor(readonly ready: Promise<void>) {}
}

/** a stored object at hand (cached, or kept by this lookup); NotYet when it has to be loaded */
function storedNow(ctx: ReadCtx, ref: string): Stored {
  const { access, had } = ctx;
  const hit = access.cache?.get(ref) ?? had.objects.get(ref);
  if (hit !== undefined) return hit;
  const loaded = access.load(ref);
  if (!(loaded instanceof Promise)) return decodeCached(ctx, ref, loaded);
  throw new NotYet(loaded.then((blob) => {
    had.objects.set(ref, decodeCached(ctx, ref, blob));
  }));
}

function decodeCached(ctx: ReadCtx, ref: string, blob: Buffer): Stored {
  const s = decodeStored(blob, ref);
  ctx.access.cache?.keep(ref, s, blob.length);
  return s;
}

async function loadStoredR(ctx: ReadCtx, ref: string): Promise<Stored> {
  for (;;) {
    try {
      return storedNow(ctx, ref);
    } catch (err) {
      if (!(err instanceof NotYet)) throw err;
      await err.ready;
    }
  }
}

/** stored objects by ref, LOAD_WINDOW at a time: a wide directory or long value must not flood the content service */
async function loadMany(ctx: ReadCtx, refs: readonly string[]): Promise<Stored[]> {
  const out: Stored[] = [];
  for (let i = 0; i < refs.length; i += LOAD_WINDOW) {
    out.push(...(await Promise.all(refs.slice(i, i + LOAD_WINDOW).map((r) => loadStoredR(ctx, r)))));
  }
  return out;
}

/** a directory a lookup walks through: stored, or a dir object inside its parent */
type DirAt = { ref: string } | { inline: Record<string, Dirent> };

function entryAt(ctx: ReadCtx, d: DirAt, name: string): Dirent | undefined {
  if ('inline' in d) return Object.hasOwn(d.inline, name) ? d.inline[name] : undefined;
  let s = storedNow(ctx, d.ref);
  let depth = 0;
  const hash = s.kind === 'hash' ? nameHash(name) : 0;
  while (s.kind === 'hash') {
    const slot = s.slots[slotOf(hash, depth++)];
    if (!slot) return undefined;
    s = storedNow(ctx, slot.ref);
  }
  if (s.kind !== 'dir') notDirectory(d.ref, s);
  return s.entries.get(name);
}

/** every entry of a stored directory, read level by level; `hashed` tells whether it is kept hashed */
async function allEntries(ctx: ReadCtx, ref: string): Promise<{ entries: Map<string, Dirent>; hashed: boolean }> {
  const top = await loadStoredR(ctx, ref);
  if (top.kind === 'dir') return { entries: new Map(top.entries), hashed: false };
  const entries = new Map<string, Dirent>();
  let level: Stored[] = [top];
  while (level.length > 0) {
    const below: string[] = [];
    for (const s of level) {
      if (s.kind === 'hash') {
        for (const slot of s.slots) if (slot !== null) below.push(slot.ref);
      } else if (s.kind === 'dir') {
        for (const [name, e] of s.entries) entries.set(name, e);
      } else {
        notDirectory(ref, s);
      }
    }
    level = await loadMany(ctx, below);
  }
  return { entries, hashed: true };
}

/** the blobrefs a valtree stands for, in order */
async function valtreeRefs(ctx: ReadCtx, t: ValTree): Promise<string[]> {
  let nodes = await loadMany(ctx, [t.data.ref]);
  for (;;) {
    const refs: string[] = [];
    let leaves = false;
    for (const n of nodes) {
      if (n.kind !== 'node') notDirectory(t.data.ref, n);
      leaves = n.level === 0;
      refs.push(...n.refs);
    }
    if (leaves) return refs;
    nodes = await loadMany(ctx, refs);
  }
}

/** an entry as a client is shown it: a valtree as the valref it stands for */
async function clientEntry(ctx: ReadCtx, e: Dirent): Promise<TreeObj> {
  return e.type === 'valtree' ? { data: await valtreeRefs(ctx, e), type: 'valref', ver: 1 } : e;
}

/** a stored directory as the RFC 11 dir object a READDIR answers with, entries in canonical order */
async function dirObject(ctx: ReadCtx, ref: string): Promise<Dir> {
  const { entries, hashed } = await allEntries(ctx, ref);
  const names = hashed ? [...entries.keys()].sort() : [...entries.keys()];
  const pairs: Array<[string, TreeObj]> = [];
  for (const name of names) {
    const e = entries.get(name)!;
    pairs.push([name, e.type === 'valtree' ? await clientEntry(ctx, e) : e]);
  }
  return { data: Object.fromEntries(pairs), type: 'dir', ver: 1 };
}

/**
 * A dirref as a TREEOBJ lookup answers it: when the directory is kept in a form of this KVS's own (hashed, or
 * holding valtrees) and blobs can be stored, a dirref to the RFC 11 dir object it stands for, so that a client
 * that loads the blob reads a directory as flux-core writes one. Its subdirectories are named as stored.
 */
async function clientDirref(ctx: ReadCtx, ref: string): Promise<TreeObj> {
  const store = ctx.access.store;
  if (store === undefined) return dirrefObj(ref);
  const s = await loadStoredR(ctx, ref);
  if (s.kind === 'dir' && ![...s.entries.values()].some((e) => e.type === 'valtree')) return dirrefObj(ref);
  return dirrefObj(await store.call(ctx.access, encodeTreeObj(await dirObject(ctx, ref))));
}

async function loadValue(ctx: ReadCtx, refs: string[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < refs.length; i += LOAD_WINDOW) {
    parts.push(...(await Promise.all(refs.slice(i, i + LOAD_WINDOW).map((r) => ctx.access.load(r)))));
  }
  return Buffer.concat(parts);
}

function follow(link: Extract<TreeObj, { type: 'symlink' }>, rest: string[], ctx: ReadCtx, hops: number): TreeObj | Promise<TreeObj> {
  if (hops >= SYMLINK_MAX) throw new FluxError(ELOOP, 'Too many levels of symbolic links');
  const ns = link.data.namespace;
  let next = ctx;
  if (ns !== undefined && ns !== ctx.namespace) next = { ...ctx, namespace: ns, rootref: rootNow(ctx, ns) };
  return resolve([...keyPath(link.data.target), ...rest], next, hops + 1);
}

/** another namespace's root, for a link into it; NotYet when it has to be asked for */
function rootNow(ctx: ReadCtx, ns: string): string {
  const { access, had } = ctx;
  const known = had.roots.get(ns);
  if (known !== undefined) return known;
  if (!access.rootOf) throw new FluxError(EINVAL, `a link into namespace ${ns} cannot be followed here`);
  const root = access.rootOf(ns);
  if (!(root instanceof Promise)) return root;
  throw new NotYet(root.then((r) => {
    had.roots.set(ns, r);
  }));
}

/**
 * The answer for `comps` under ctx's root: at once where the directories on the way are at hand (NotYet where
 * they are not), a promise where the answer itself needs loading (a long value, a listing, a converted directory)
 */
function resolve(comps: string[], ctx: ReadCtx, hops: number): TreeObj | Promise<TreeObj> {
  const { flags } = ctx;
  if (comps.length === 0) {
    if (flags & LOOKUP_READLINK) throw new FluxError(EINVAL);
    if (flags & LOOKUP_TREEOBJ) return clientDirref(ctx, ctx.rootref);
    if (flags & LOOKUP_READDIR) return dirObject(ctx, ctx.rootref);
    throw new FluxError(EISDIR);
  }
  let d: DirAt = { ref: ctx.rootref };
  for (let i = 0; i < comps.length - 1; i++) {
    const e = entryAt(ctx, d, comps[i]!);
    if (e === undefined) throw new FluxError(ENOENT);
    switch (e.type) {
      case 'dirref':
        d = { ref: e.data[0]! };
        break;
      case 'dir':
        d = { inline: e.data };
        break;
      case 'symlink':
        return follow(e, comps.slice(i + 1), ctx, hops);
      default:
        throw new FluxError(ENOTDIR);
    }
  }
  const last = entryAt(ctx, d, comps[comps.length - 1]!);
  if (last === undefined) throw new FluxError(ENOENT);
  if (last.type === 'symlink' && !(flags & (LOOKUP_READLINK | LOOKUP_TREEOBJ))) return follow(last, [], ctx, hops);
  if (flags & LOOKUP_READLINK) {
    if (last.type !== 'symlink') throw new FluxError(EINVAL);
    return last;
  }
  if (ctx.wantDir && (last.type === 'val' || last.type === 'valref' || last.type === 'valtree')) throw new FluxError(ENOTDIR);
  if (flags & LOOKUP_TREEOBJ) return last.type === 'dirref' ? clientDirref(ctx, last.data[0]!) : clientEntry(ctx, last);
  switch (last.type) {
    case 'dirref':
      if (flags & LOOKUP_READDIR) return dirObject(ctx, last.data[0]!);
      throw new FluxError(EISDIR);
    case 'dir':
      if (flags & LOOKUP_READDIR) return last;
      throw new FluxError(EISDIR);
    case 'val':
      if (flags & LOOKUP_READDIR) throw new FluxError(ENOTDIR);
      return last;
    case 'valref':
      if (flags & LOOKUP_READDIR) throw new FluxError(ENOTDIR);
      return loadValue(ctx, last.data).then(val);
    case 'valtree':
      if (flags & LOOKUP_READDIR) throw new FluxError(ENOTDIR);
      return valtreeRefs(ctx, last).then((refs) => loadValue(ctx, refs)).then(val);
    case 'symlink':
      // followed or returned above, whatever the flags
      return last;
  }
}

/**
 * The tree object at `key` under the root `rootref`, as kvs.lookup answers it: a value (a valref's blobs joined
 * into one val), a directory with READDIR, a link with READLINK, the entry with TREEOBJ (always plain RFC 11:
 * see clientDirref). Links are followed from the root of their namespace. Errors: ENOENT, EISDIR, ENOTDIR,
 * EINVAL (READLINK on a non-link, a bad key), ELOOP, and whatever loading a blob throws.
 */
export async function lookup(rootref: string, key: string, flags: number, access: ReadAccess, namespace?: string): Promise<TreeObj> {
  return lookupNow(rootref, key, flags, access, namespace);
}

/** lookup's answer, at once (not a promise) when everything it needs is at hand; errors are thrown at once then */
export function lookupNow(rootref: string, key: string, flags: number, access: ReadAccess, namespace?: string): TreeObj | Promise<TreeObj> {
  const comps = keyPath(key);
  const wantDir = comps.length > 0 && key.endsWith('.');
  const ctx: ReadCtx = { access, rootref, namespace, flags, wantDir, had: { objects: new Map(), roots: new Map() } };
  try {
    return resolve(comps, ctx, 0);
  } catch (err) {
    if (!(err instanceof NotYet)) throw err;
    return resolveLater(comps, ctx, err);
  }
}

/** a lookup that has to wait: each time for what it found missing, then from the start again */
async function resolveLater(comps: string[], ctx: ReadCtx, first: NotYet): Promise<TreeObj> {
  let wait = first;
  for (;;) {
    await wait.ready;
    try {
      return await resolve(comps, ctx, 0);
    } catch (err) {
      if (!(err instanceof NotYet)) throw err;
      wait = err;
    }
  }
}
