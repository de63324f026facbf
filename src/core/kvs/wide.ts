// How the KVS stores wide directories and long values, so that a commit costs the same into a directory of
// 100,000 keys as into an empty one, and an append the same to a value of 100,000 blobs as to a new one.
//
// A directory of at most `dirMax` entries is stored as flux-core stores it: one RFC 11 dir object. A wider one is
// a hash trie: a `dirhash` node of FANOUT slots, an entry going to the slot picked by FANOUT_BITS bits of its
// name's hash at that depth, each slot naming the subtree of its entries (stored by the same rule one level
// down) and how many entries it holds. A commit rewrites the leaves it touches and the nodes above them.
//
// A value of at most `chunk` blobs is a plain valref in its directory. A longer one is a `valtree` entry naming a
// chunk tree of `valnode`s: level 0 nodes hold the blobrefs, `chunk` to a node, level k + 1 nodes the refs of
// `chunk` level k nodes, every node full but the last of its level. An append rewrites the last node of each
// level only.
//
// Both shapes depend on the contents alone, never on the order things were done in, so one logical tree has one
// rootref (a replay recomputes it byte for byte). The hash and the formats are part of every stored root: they
// must never change.
import { FluxError, EPROTO } from '../errors.js';
import { type Dirent, type ValTree, checkDirent, isBlobref, treeObjText } from './treeobj.js';

export interface Shape {
  /** the most entries a directory (or one subtree of a hashed one) keeps in a single dir object */
  dirMax: number;
  /** the most blobrefs a plain valref holds, and a valnode */
  chunk: number;
}

/** what the KVS stores with; tests pass smaller shapes to reach both forms with small data */
export const DEFAULT_SHAPE: Shape = Object.freeze({ dirMax: 256, chunk: 64 });

export const FANOUT_BITS = 4;
export const FANOUT = 1 << FANOUT_BITS;
/** depths the 32-bit hash has bits for: a subtree this deep is one dir object whatever its size */
export const MAX_DEPTH = 32 / FANOUT_BITS;

/** FNV-1a over the name's UTF-16 code units: cheap, and fixed forever (stored roots depend on it) */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function slotOf(hash: number, depth: number): number {
  return (hash >>> (32 - FANOUT_BITS * (depth + 1))) & (FANOUT - 1);
}

export interface Slot {
  ref: string;
  /** entries in the subtree */
  count: number;
}

/** a stored object the tree is built of, decoded */
export type Stored =
  | DirObject
  | { kind: 'hash'; slots: ReadonlyArray<Slot | null>; count: number }
  | { kind: 'node'; level: number; refs: readonly string[] };

/**
 * A dir object's entries by name, as decoded. Never changed once made, so versions share them; a Map, because
 * reading a directory's entries is what every lookup does, and a Map does it faster than an object.
 */
export type DirEntries = ReadonlyMap<string, Dirent>;

/** how a stored dir object's bytes begin and end around its entries' texts, which are joined by commas */
const DIR_HEAD = Buffer.from('{"data":{');
const DIR_TAIL = Buffer.from('},"type":"dir","ver":1}');
const COMMA = 0x2c;

/**
 * A dir object as stored: its entries in canonical order (names by code unit), and its bytes once they have been
 * made, with where each entry's text ends in them. A commit changes a few entries of a directory and stores it
 * again: the new object is this one merged with the changes, and its bytes are this one's, copied in the runs
 * between the changed entries, with the changed entries' texts written between. Sorting, encoding and joining
 * every entry of each directory a commit touched took most of its time (measured). Never changed once made, so
 * versions share it.
 */
export class DirObject {
  readonly kind = 'dir';
  #entries: Map<string, Dirent> | undefined;
  #bytes: Buffer | undefined;
  /** `#ends[i]`: where entry i's text ends in #bytes */
  #ends: Uint32Array | undefined;
  /** until its bytes are made: the object this one was merged from, and for each entry its index there (-1: new) */
  #base: DirObject | undefined;
  #from: number[] | undefined;

  /** `names` sorted by code unit, without repeats; `values[i]` is the entry named `names[i]` */
  constructor(readonly names: readonly string[], readonly values: readonly Dirent[]) {}

  get size(): number {
    return this.names.length;
  }

  /** by name: made when first asked for, since a directory a commit rewrites is seldom read by name before the next */
  get entries(): DirEntries {
    if (this.#entries === undefined) {
      const m = new Map<string, Dirent>();
      for (let i = 0; i < this.names.length; i++) m.set(this.names[i]!, this.values[i]!);
      this.#entries = m;
    }
    return this.#entries;
  }

  /** entry i as the stored object writes it: `"name":{...}` */
  #text(i: number): string {
    return `${JSON.stringify(this.names[i])}:${treeObjText(this.values[i]!)}`;
  }

  /** the stored object's bytes */
  blob(): Buffer {
    if (this.#bytes !== undefined) return this.#bytes;
    const n = this.names.length;
    const base = this.#base;
    const from = base !== undefined && base.#bytes !== undefined ? this.#from : undefined;
    const texts = new Array<string | undefined>(n);
    let size = DIR_HEAD.length + DIR_TAIL.length + Math.max(n - 1, 0);
    for (let i = 0; i < n; i++) {
      const j = from === undefined ? -1 : from[i]!;
      if (j >= 0) {
        size += base!.#ends![j]! - base!.#start(j);
      } else {
        texts[i] = this.#text(i);
        size += Buffer.byteLength(texts[i]!, 'utf8');
      }
    }
    const out = Buffer.allocUnsafe(size);
    const ends = new Uint32Array(n);
    let off = DIR_HEAD.copy(out, 0);
    for (let i = 0; i < n; ) {
      if (i > 0) out[off++] = COMMA;
      const j = from === undefined ? -1 : from[i]!;
      if (j < 0) {
        off += out.write(texts[i]!, off, 'utf8');
        ends[i++] = off;
        continue;
      }
      // a run of entries that follow each other here as they did in the base: one copy, commas and all
      let k = 1;
      while (i + k < n && from![i + k] === j + k) k++;
      const start = off;
      off += base!.#bytes!.copy(out, off, base!.#start(j), base!.#ends![j + k - 1]);
      for (let m = 0; m < k; m++) ends[i + m] = start + (base!.#ends![j + m]! - base!.#start(j));
      i += k;
    }
    DIR_TAIL.copy(out, off);
    this.#bytes = out;
    this.#ends = ends;
    this.#base = undefined;
    this.#from = undefined;
    return out;
  }

  /** where entry j's text begins in #bytes */
  #start(j: number): number {
    return j === 0 ? DIR_HEAD.length : this.#ends![j - 1]! + 1;
  }

  /**
   * a dir object read back, its entries in the order its text holds them: canonical order, but where it was
   * written by another (its entries are then listed in its own order) or holds names like array indices (which
   * JSON.parse puts first)
   */
  static decoded(pairs: Array<[string, Dirent]>): DirObject {
    let sorted = true;
    for (let i = 1; i < pairs.length && sorted; i++) sorted = pairs[i - 1]![0] < pairs[i]![0];
    if (sorted) return new DirObject(pairs.map(([n]) => n), pairs.map(([, e]) => e));
    const given = new Map(pairs);
    const d = DirObject.of(given);
    d.#entries = given;
    return d;
  }

  /** a dir object of these entries, in whatever order they come */
  static of(entries: ReadonlyMap<string, Dirent>): DirObject {
    const names = [...entries.keys()].sort();
    return new DirObject(names, names.map((n) => entries.get(n)!));
  }

  /**
   * this directory with `changes` made (null: removed): the entries before, after and between the changed names
   * are taken as they are, and their bytes with them
   */
  with(changes: ReadonlyMap<string, Dirent | null>): DirObject {
    const changed = [...changes.keys()].sort();
    const names: string[] = [];
    const values: Dirent[] = [];
    const from: number[] = [];
    const n = this.names.length;
    let i = 0;
    const keepBefore = (name: string | undefined) => {
      for (; i < n && (name === undefined || this.names[i]! < name); i++) {
        names.push(this.names[i]!);
        values.push(this.values[i]!);
        from.push(i);
      }
    };
    for (const name of changed) {
      keepBefore(name);
      if (i < n && this.names[i] === name) i++;
      const e = changes.get(name)!;
      if (e === null) continue;
      names.push(name);
      values.push(e);
      from.push(-1);
    }
    keepBefore(undefined);
    const next = new DirObject(names, values);
    next.#base = this;
    next.#from = from;
    return next;
  }
}

/** a tree object's entries are shared between versions and cached: never to be changed once made */
export function frozen<T extends object>(t: T): T {
  const data = (t as { data?: unknown }).data;
  if (typeof data === 'object' && data !== null) Object.freeze(data);
  return Object.freeze(t);
}

export function decodeStored(blob: Buffer, ref: string): Stored {
  let v: { type?: unknown; ver?: unknown; data?: unknown; level?: unknown };
  try {
    v = JSON.parse(blob.toString('utf8')) as typeof v;
  } catch {
    throw new FluxError(EPROTO, `${ref} is not a stored tree object`);
  }
  const bad = (why: string): never => {
    throw new FluxError(EPROTO, `${ref}: ${why}`);
  };
  if (typeof v !== 'object' || v === null || v.ver !== 1) bad('not a stored tree object');
  switch (v.type) {
    case 'dir': {
      // entries (not keys then reads: a member named __proto__ is an own member here)
      const pairs = Object.entries(checkDirent(v).data as Record<string, Dirent>);
      for (const p of pairs) frozen(p[1]);
      return DirObject.decoded(pairs);
    }
    case 'dirhash': {
      if (!Array.isArray(v.data) || v.data.length !== FANOUT) bad(`a dirhash holds ${FANOUT} slots`);
      let count = 0;
      const slots = (v.data as unknown[]).map((s) => {
        if (s === null) return null;
        const o = s as { ref?: unknown; count?: unknown };
        const counted = Number.isSafeInteger(o.count) && (o.count as number) >= 1;
        if (typeof o !== 'object' || !isBlobref(o.ref) || !counted) bad('bad dirhash slot');
        count += o.count as number;
        return Object.freeze({ ref: o.ref as string, count: o.count as number });
      });
      return { kind: 'hash', slots: Object.freeze(slots), count };
    }
    case 'valnode': {
      if (!Number.isSafeInteger(v.level) || (v.level as number) < 0) bad('a valnode needs a level');
      if (!Array.isArray(v.data) || v.data.length === 0 || !v.data.every(isBlobref)) bad('a valnode holds blobrefs');
      return { kind: 'node', level: v.level as number, refs: Object.freeze(v.data as string[]) };
    }
    default:
      return bad(`a ${String(v.type)} is not a stored directory or value node`);
  }
}

/** what a ref inside a stored tree names: a directory (a dir object or a dirhash node), a valnode, a value's blob */
export type RefKind = 'dir' | 'node' | 'blob';

export interface NamedRef {
  ref: string;
  kind: RefKind;
  /** a valnode named by a valnode: the level it must have */
  level?: number;
  /**
   * the key of the entry that names it, below the object ("a", or "a.b" inside a dir entry); "" when it is a part
   * of the object's own directory (a dirhash slot) or value (a valnode's child)
   */
  key: string;
}

/**
 * Every ref a stored object names and what each one names, a directory's entries in name order: the one answer
 * to "what lies under this object" for whatever walks stored trees (collection, checking, dumping).
 */
export function refsOf(s: Stored): NamedRef[] {
  const out: NamedRef[] = [];
  switch (s.kind) {
    case 'dir':
      for (let i = 0; i < s.names.length; i++) direntRefs(s.values[i]!, s.names[i]!, out);
      break;
    case 'hash':
      for (const slot of s.slots) if (slot !== null) out.push({ ref: slot.ref, kind: 'dir', key: '' });
      break;
    case 'node':
      for (const ref of s.refs) out.push(s.level === 0 ? { ref, kind: 'blob', key: '' } : { ref, kind: 'node', level: s.level - 1, key: '' });
      break;
  }
  return out;
}

/** the refs one directory entry names, under `key` */
export function direntRefs(e: Dirent, key: string, out: NamedRef[] = []): NamedRef[] {
  switch (e.type) {
    case 'dirref':
      out.push({ ref: e.data[0]!, kind: 'dir', key });
      break;
    case 'valref':
      for (const ref of e.data) out.push({ ref, kind: 'blob', key });
      break;
    case 'valtree':
      out.push({ ref: e.data.ref, kind: 'node', key });
      break;
    case 'dir': {
      // a dir object written inside its parent (RFC 11 allows it): its entries are the parent's, one level down
      const data = e.data as Record<string, Dirent>;
      for (const name of Object.keys(data).sort()) direntRefs(data[name]!, `${key}.${name}`, out);
      break;
    }
    case 'val':
    case 'symlink':
      break;
  }
  return out;
}

export function hashNodeBlob(slots: ReadonlyArray<Slot | null>): Buffer {
  const parts = slots.map((s) => (s === null ? 'null' : `{"count":${s.count},"ref":${JSON.stringify(s.ref)}}`));
  return Buffer.from(`{"data":[${parts.join(',')}],"type":"dirhash","ver":1}`, 'utf8');
}

export function valNodeBlob(level: number, refs: readonly string[]): Buffer {
  return Buffer.from(`{"data":${JSON.stringify(refs)},"level":${level},"type":"valnode","ver":1}`, 'utf8');
}

export interface ChunkAccess {
  shape: Shape;
  /** a stored valnode */
  node(ref: string): Extract<Stored, { kind: 'node' }>;
  store(blob: Buffer, decoded: Stored): string;
}

/** a value's blobrefs in stored form: a plain list when short, a valtree when long */
export type RefList = { kind: 'list'; refs: readonly string[] } | { kind: 'tree'; tree: ValTree };

/**
 * `base` with `more` blobrefs appended, in stored form. Only the last node of each level of a chunk tree is
 * read and written again: the levels are kept open from the bottom up, and a full node is closed (stored, its
 * ref passed to the level above) only when another ref must go into it, so the nodes come out exactly as if
 * every ref had been appended one by one since the first.
 */
export function appendRefs(access: ChunkAccess, base: RefList, more: readonly string[]): Dirent {
  const { chunk } = access.shape;
  /** open nodes, level 0 first: each holds its closed children (the open child below is not in it yet) */
  const open: string[][] = [];
  let count: number;
  const push = (level: number, ref: string): void => {
    if (open[level] === undefined) open[level] = [];
    if (open[level]!.length === chunk) {
      const full = open[level]!;
      open[level] = [];
      push(level + 1, storeNode(access, level, full));
    }
    open[level]!.push(ref);
  };
  if (base.kind === 'list') {
    count = 0;
    for (const r of base.refs) {
      push(0, r);
      count++;
    }
  } else {
    count = base.tree.data.count;
    let node = access.node(base.tree.data.ref);
    for (;;) {
      if (node.level === 0) {
        open[0] = [...node.refs];
        break;
      }
      open[node.level] = node.refs.slice(0, -1);
      node = access.node(node.refs[node.refs.length - 1]!);
    }
  }
  for (const r of more) {
    push(0, r);
    count++;
  }
  if (open.length === 1 && count <= chunk) return frozen({ data: open[0]!, type: 'valref', ver: 1 });
  for (let level = 0; level < open.length - 1; level++) push(level + 1, storeNode(access, level, open[level]!));
  const top = open.length - 1;
  return frozen({ data: { count, ref: storeNode(access, top, open[top]!) }, type: 'valtree', ver: 1 });
}

function storeNode(access: ChunkAccess, level: number, refs: string[]): string {
  return access.store(valNodeBlob(level, refs), { kind: 'node', level, refs: Object.freeze(refs) });
}
