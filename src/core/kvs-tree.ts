// The KVS tree: applying a commit's operations to a root and resolving a key under a root, over RFC 11 tree
// objects in the content store. Blob access is injected: synchronous on rank 0 (sqlite), asynchronous elsewhere
// (through the content cache), in memory in tests, read-only in an offline replay. No clocks and no I/O of its
// own, so the same ops applied to the same root give the same rootref anywhere.
import { FluxError, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTSUP, EPROTO } from './errors.js';
import {
  type TreeObj, VAL_INLINE_MAX, checkTreeObj, decodeTreeObj, encodeTreeObj, keyPath, treeObjText, val,
} from './treeobj.js';

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

/**
 * A stored directory as the KVS keeps it in memory: its entries by name. Never changed once made (a commit copies
 * the map it changes), so versions share them; a Map, because copying and reading a wide directory is what every
 * commit does, and a Map does both far faster than an object with thousands of keys.
 */
export type DirEntries = ReadonlyMap<string, TreeObj>;

/** the empty directory every namespace starts from, as stored */
export const EMPTY_DIR_BLOB = encodeTreeObj({ data: {}, type: 'dir', ver: 1 });

/** a tree object's entries are shared between versions and cached: never to be changed once made */
function frozen<T extends TreeObj>(t: T): T {
  if (typeof t.data === 'object') Object.freeze(t.data);
  return Object.freeze(t);
}

/**
 * Stored directories by blobref, least recently used dropped first. A blobref names its bytes, so an entry is
 * never stale.
 */
export class TreeCache {
  private readonly map = new Map<string, { dir: DirEntries; size: number }>();
  private total = 0;

  constructor(public limit = 16 << 20) {}

  get bytes(): number {
    return this.total;
  }

  get count(): number {
    return this.map.size;
  }

  get(ref: string): DirEntries | undefined {
    const e = this.map.get(ref);
    if (e === undefined) return undefined;
    this.map.delete(ref);
    this.map.set(ref, e);
    return e.dir;
  }

  /** `size`: the stored blob's length, a stand-in for the memory the entries take */
  set(ref: string, dir: DirEntries, size: number): void {
    if (this.map.has(ref) || size > this.limit) return;
    this.map.set(ref, { dir, size });
    this.total += size;
    for (const [k, e] of this.map) {
      if (this.total <= this.limit) break;
      this.map.delete(k);
      this.total -= e.size;
    }
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }
}

/** a stored directory's entries, from its blob */
function decodeDir(blob: Buffer, ref: string): DirEntries {
  const t = decodeTreeObj(blob);
  if (t.type !== 'dir') throw new FluxError(EPROTO, `${ref} names a ${t.type}, not a directory`);
  const entries = new Map<string, TreeObj>();
  for (const [name, child] of Object.entries(t.data)) entries.set(name, frozen(child));
  return entries;
}

/** entries as the RFC 11 directory object a lookup answers with */
function dirObject(entries: DirEntries): TreeObj {
  return { data: Object.fromEntries(entries), type: 'dir', ver: 1 };
}

/**
 * The canonical text of each directory entry, kept while its object lives: a commit re-encodes every entry of
 * the directories it changes, and nearly all of them are the very objects the version before encoded.
 */
const texts = new WeakMap<TreeObj, { name: string; text: string }>();

function entryText(name: string, t: TreeObj): string {
  const c = texts.get(t);
  if (c !== undefined && c.name === name) return c.text;
  const text = `${JSON.stringify(name)}:${treeObjText(t)}`;
  texts.set(t, { name, text });
  return text;
}

// ---- commits ---------------------------------------------------------------------------------------------------

export interface WriteAccess {
  /** the bytes of a stored blob (ENOENT when there is none) */
  load(ref: string): Buffer;
  /** store a blob; returns its blobref */
  store(blob: Buffer): string;
  cache?: TreeCache;
}

export interface AppliedOps {
  rootref: string;
  /** the normalized keys the ops changed, each once, in op order */
  keys: string[];
  /**
   * the ops as applied: keys normalized, large values already turned into valrefs (their bytes stored), every
   * object in canonical form. Applying these to the same root gives the same rootref, with small payloads.
   */
  ops: Op[];
}

/** a directory being changed by a commit: copied from its stored object on first use, stored again at the end */
class WorkDir {
  dirty: boolean;
  constructor(readonly origin: string | undefined, readonly entries: Map<string, TreeObj | WorkDir>) {
    this.dirty = origin === undefined;
  }
}

interface WriteCtx {
  access: WriteAccess;
  namespace: string | undefined;
}

function loadWork(ctx: WriteCtx, ref: string): WorkDir {
  const { access } = ctx;
  let dir = access.cache?.get(ref);
  if (dir === undefined) {
    const blob = access.load(ref);
    dir = decodeDir(blob, ref);
    access.cache?.set(ref, dir, blob.length);
  }
  return new WorkDir(ref, new Map(dir));
}

/**
 * The form an object is stored in: a value whose base64 text is longer than VAL_INLINE_MAX replaced by a valref
 * to its raw bytes (in nested directories too), members in canonical order so that an entry a commit made prints
 * in a lookup's answer like one read back from the store, nothing but the members RFC 11 defines.
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

/** a directory from a commit (mkdir, or a whole tree put with -t): stored depth-first at the end like any other */
function toWork(d: Dir): WorkDir {
  return new WorkDir(undefined, new Map(Object.entries(d.data).map(([k, v]) => [k, v.type === 'dir' ? toWork(v) : v])));
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
    const e = dir.entries.get(name);
    let next: WorkDir;
    if (e instanceof WorkDir) {
      next = e;
    } else if (e?.type === 'dirref') {
      next = loadWork(ctx, e.data[0]!);
    } else if (e?.type === 'dir') {
      next = toWork(e);
    } else if (e?.type === 'symlink') {
      const ns = e.data.namespace;
      if (ns !== undefined && ns !== ctx.namespace) {
        throw new FluxError(EINVAL, `${comps.slice(0, i + 1).join('.')}: a commit cannot follow a link into namespace ${ns}`);
      }
      if (hops >= SYMLINK_MAX) throw new FluxError(ELOOP, `${comps.join('.')}: too many levels of symbolic links`);
      return walk(root, [...keyPath(e.data.target), ...comps.slice(i + 1)], create, ctx, hops + 1);
    } else {
      if (!create) return undefined;
      next = new WorkDir(undefined, new Map());
    }
    if (next !== e) dir.entries.set(name, next);
    dir = next;
    trail.push(next);
  }
  return { dir, name: comps[comps.length - 1]!, trail };
}

/** the value after appending `more`'s bytes to `existing`: a val becomes a valref, a valref grows by refs */
function appended(existing: TreeObj | WorkDir | undefined, more: TreeObj, ctx: WriteCtx, key: string): TreeObj {
  if (existing === undefined) return more;
  if (existing instanceof WorkDir) throw new FluxError(EISDIR, `${key}: cannot append to a directory`);
  const refs = (t: Extract<TreeObj, { type: 'val' | 'valref' }>): string[] =>
    t.type === 'val' ? [ctx.access.store(Buffer.from(t.data, 'base64'))] : t.data;
  switch (existing.type) {
    case 'val':
    case 'valref':
      return frozen({ data: [...refs(existing), ...refs(more as Extract<TreeObj, { type: 'val' | 'valref' }>)], type: 'valref', ver: 1 });
    case 'symlink':
      throw new FluxError(ENOTSUP, `${key}: cannot append to a symlink`);
    default:
      throw new FluxError(EISDIR, `${key}: cannot append to a directory`);
  }
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
  return { root: loadWork(ctx, ref), op: { key: '.', flags: 0, dirent: dirrefObj(ref) } };
}

function applyOp(root: WorkDir, op: Op, ctx: WriteCtx): Op {
  const comps = keyPath(op.key);
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
    if (dirent === null) changed = dir.entries.delete(name);
    else if (append) dir.entries.set(name, appended(dir.entries.get(name), dirent, ctx, key));
    else dir.entries.set(name, dirent.type === 'dir' ? toWork(dirent) : dirent);
    if (changed) for (const w of trail) w.dirty = true;
  }
  return { key, flags: op.flags, dirent };
}

/** store a changed directory (its changed subdirectories first) and return its blobref */
function unroll(w: WorkDir, ctx: WriteCtx): string {
  if (!w.dirty) return w.origin!;
  // canonical order (code units, as canonical() sorts), written out here: this is a commit's main cost
  const names = [...w.entries.keys()].sort();
  const entries = new Map<string, TreeObj>();
  const parts = new Array<string>(names.length);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const e = w.entries.get(name)!;
    const t = e instanceof WorkDir ? dirrefObj(unroll(e, ctx)) : e;
    entries.set(name, t);
    parts[i] = entryText(name, t);
  }
  const blob = Buffer.from(`{"data":{${parts.join(',')}},"type":"dir","ver":1}`, 'utf8');
  const ref = ctx.access.store(blob);
  ctx.access.cache?.set(ref, entries, blob.length);
  return ref;
}

function dirrefObj(ref: string): TreeObj {
  return frozen({ data: [ref], type: 'dirref', ver: 1 });
}

/**
 * Apply ops, in order, to the tree under `rootref`; the new tree's objects are stored through `access` and its
 * root's blobref returned. All or nothing: an op that fails (FluxError) fails the whole call, and nothing it
 * stored is named by any root. `namespace` is the namespace the root belongs to (links naming another one
 * cannot be followed by a commit).
 */
export function applyOps(rootref: string, ops: readonly Op[], access: WriteAccess, namespace?: string): AppliedOps {
  const ctx: WriteCtx = { access, namespace };
  let root = loadWork(ctx, rootref);
  const applied = ops.map((op) => {
    if (typeof op !== 'object' || op === null || typeof op.key !== 'string') throw new FluxError(EPROTO, 'malformed op');
    if (!Number.isInteger(op.flags) || (op.flags & ~OP_APPEND) !== 0) {
      throw new FluxError(EINVAL, `${op.key}: unknown op flags 0x${Number(op.flags).toString(16)}`);
    }
    if (keyPath(op.key).length > 0) return applyOp(root, op, ctx);
    const r = rootOp(op, ctx);
    root = r.root;
    return r.op;
  });
  const keys = [...new Set(applied.map((o) => o.key))];
  return { rootref: unroll(root, ctx), keys, ops: applied };
}

// ---- lookups ---------------------------------------------------------------------------------------------------

export interface ReadAccess {
  load(ref: string): Promise<Buffer> | Buffer;
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
}

async function loadDir(ctx: ReadCtx, ref: string): Promise<DirEntries> {
  const { access } = ctx;
  const hit = access.cache?.get(ref);
  if (hit !== undefined) return hit;
  const blob = await access.load(ref);
  const dir = decodeDir(blob, ref);
  access.cache?.set(ref, dir, blob.length);
  return dir;
}

async function loadValue(ctx: ReadCtx, refs: string[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < refs.length; i += LOAD_WINDOW) {
    parts.push(...(await Promise.all(refs.slice(i, i + LOAD_WINDOW).map((r) => ctx.access.load(r)))));
  }
  return Buffer.concat(parts);
}

async function follow(link: Extract<TreeObj, { type: 'symlink' }>, rest: string[], ctx: ReadCtx, hops: number): Promise<TreeObj> {
  if (hops >= SYMLINK_MAX) throw new FluxError(ELOOP, 'Too many levels of symbolic links');
  const ns = link.data.namespace;
  let next = ctx;
  if (ns !== undefined && ns !== ctx.namespace) {
    if (!ctx.access.rootOf) throw new FluxError(EINVAL, `a link into namespace ${ns} cannot be followed here`);
    next = { ...ctx, namespace: ns, rootref: await ctx.access.rootOf(ns) };
  }
  return resolve([...keyPath(link.data.target), ...rest], next, hops + 1);
}

async function resolve(comps: string[], ctx: ReadCtx, hops: number): Promise<TreeObj> {
  const { flags } = ctx;
  if (comps.length === 0) {
    if (flags & LOOKUP_READLINK) throw new FluxError(EINVAL);
    if (flags & LOOKUP_TREEOBJ) return dirrefObj(ctx.rootref);
    if (flags & LOOKUP_READDIR) return dirObject(await loadDir(ctx, ctx.rootref));
    throw new FluxError(EISDIR);
  }
  let d = await loadDir(ctx, ctx.rootref);
  for (let i = 0; i < comps.length - 1; i++) {
    const e = d.get(comps[i]!);
    if (e === undefined) throw new FluxError(ENOENT);
    switch (e.type) {
      case 'dirref':
        d = await loadDir(ctx, e.data[0]!);
        break;
      case 'dir':
        d = new Map(Object.entries(e.data));
        break;
      case 'symlink':
        return follow(e, comps.slice(i + 1), ctx, hops);
      default:
        throw new FluxError(ENOTDIR);
    }
  }
  const last = d.get(comps[comps.length - 1]!);
  if (last === undefined) throw new FluxError(ENOENT);
  if (last.type === 'symlink' && !(flags & (LOOKUP_READLINK | LOOKUP_TREEOBJ))) return follow(last, [], ctx, hops);
  if (flags & LOOKUP_READLINK) {
    if (last.type !== 'symlink') throw new FluxError(EINVAL);
    return last;
  }
  if (ctx.wantDir && (last.type === 'val' || last.type === 'valref')) throw new FluxError(ENOTDIR);
  if (flags & LOOKUP_TREEOBJ) return last;
  switch (last.type) {
    case 'dirref':
      if (flags & LOOKUP_READDIR) return dirObject(await loadDir(ctx, last.data[0]!));
      throw new FluxError(EISDIR);
    case 'dir':
      if (flags & LOOKUP_READDIR) return last;
      throw new FluxError(EISDIR);
    case 'val':
      if (flags & LOOKUP_READDIR) throw new FluxError(ENOTDIR);
      return last;
    case 'valref':
      if (flags & LOOKUP_READDIR) throw new FluxError(ENOTDIR);
      return val(await loadValue(ctx, last.data));
    case 'symlink':
      // followed or returned above, whatever the flags
      return last;
  }
}

/**
 * The tree object at `key` under the root `rootref`, as kvs.lookup answers it: a value (a valref's blobs joined
 * into one val), a directory with READDIR, a link with READLINK, the entry as stored with TREEOBJ. Links are
 * followed from the root of their namespace. Errors: ENOENT, EISDIR, ENOTDIR, EINVAL (READLINK on a non-link,
 * a bad key), ELOOP, and whatever loading a blob throws.
 */
export function lookup(rootref: string, key: string, flags: number, access: ReadAccess, namespace?: string): Promise<TreeObj> {
  let comps: string[];
  try {
    comps = keyPath(key);
  } catch (err) {
    return Promise.reject(err);
  }
  const wantDir = comps.length > 0 && key.endsWith('.');
  return resolve(comps, { access, rootref, namespace, flags, wantDir }, 0);
}
