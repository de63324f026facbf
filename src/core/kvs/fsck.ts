// Checking KVS trees in a content store: every object reachable from the given roots must exist and hash to
// its blobref, and be what it is named as: a directory (one dir object, or a dirhash node whose slots hold the
// rest of it) or a long value's valnode of the right level. Each object is checked once however many roots share
// it (the versions of a journal share nearly all of theirs); a damaged one is reported with the keys that reach
// it. Blob access is injected (synchronous: an offline store); no I/O of its own.
import { FluxError, ENOENT } from '../errors.js';
import { blobrefOf, parseBlobref } from '../content/blobref.js';
import { type RefKind, type Stored, decodeStored, refsOf } from './wide.js';

export interface FsckRoot {
  /** what the root is, for reports: "checkpoint 0", "primary version 12", ... */
  label: string;
  rootref: string;
  /** a blob to check as it is (a journal snapshot), not a directory to walk */
  blob?: boolean;
}

export interface Damage {
  ref: string;
  problem: 'missing' | 'corrupt';
  why: string;
  /** "<root label>: <key>" for the first few keys found to reach it */
  paths: string[];
}

export interface FsckReport {
  roots: number;
  objects: number;
  damage: Damage[];
}

/** keys recorded per damaged object: enough to find it, bounded for an object every version shares */
const PATHS_MAX = 5;

type Work = { ref: string; kind: RefKind; level?: number; label: string; key: string };

/** what a stored object is, for a report */
const what = (s: Stored) => (s.kind === 'node' ? `a level ${s.level} value node` : 'a directory');

/** the reason in a decoding error, without the blobref it starts with (the report names it) */
const reasonOf = (ref: string, err: unknown) => {
  const text = (err as Error).message;
  return text.startsWith(ref) ? text.slice(ref.length).replace(/^:? /, '') : text;
};

/** reads started ahead of the walk, at most this many at a time */
const READ_AHEAD = 256;

/**
 * Check the trees under `roots`. `read` gives a stored blob's bytes and fails with FluxError ENOENT when there
 * is none (any other error counts as damage too). `onRoot` is told of each root as its walk starts.
 */
export async function fsck(
  roots: FsckRoot[], read: (ref: string) => Buffer | Promise<Buffer>, onRoot?: (r: FsckRoot) => void,
): Promise<FsckReport> {
  /** each object checked, and whether it was read as a tree object or as data only */
  const checked = new Map<string, 'tree' | 'data'>();
  const bad = new Map<string, Damage>();
  const report = (d: Omit<Damage, 'paths'>, at: string) => {
    const prev = bad.get(d.ref);
    if (prev === undefined) bad.set(d.ref, { ...d, paths: [at] });
    else if (prev.paths.length < PATHS_MAX && !prev.paths.includes(at)) prev.paths.push(at);
  };

  /** reads under way ahead of the walk, by blobref; each is taken (and removed) when the walk gets there */
  const ahead = new Map<string, Promise<Buffer>>();
  const readAhead = (ref: string) => {
    if (ahead.size >= READ_AHEAD || ahead.has(ref) || checked.has(ref)) return;
    const p = Promise.resolve().then(() => read(ref));
    // taken later; until then a failure must not count as unhandled
    p.catch(() => undefined);
    ahead.set(ref, p);
  };
  const take = (ref: string): Buffer | Promise<Buffer> => {
    const p = ahead.get(ref);
    if (p === undefined) return read(ref);
    ahead.delete(ref);
    return p;
  };

  /** the blob, checked against its name; undefined when damaged (and reported) */
  const fetch = async (w: Work): Promise<Buffer | undefined> => {
    const at = `${w.label}: ${w.key}`;
    let blob: Buffer;
    try {
      blob = await take(w.ref);
    } catch (err) {
      const missing = err instanceof FluxError && err.errno === ENOENT;
      report({ ref: w.ref, problem: missing ? 'missing' : 'corrupt', why: missing ? 'not in the content store' : (err as Error).message }, at);
      return undefined;
    }
    if (blobrefOf(parseBlobref(w.ref).hash, blob) !== w.ref) {
      report({ ref: w.ref, problem: 'corrupt', why: 'its bytes do not hash to its blobref' }, at);
      return undefined;
    }
    return blob;
  };

  /** the object as what it is named as; undefined when it is not that (reported) */
  const decode = (w: Work, blob: Buffer): Stored | undefined => {
    const corrupt = (why: string) => report({ ref: w.ref, problem: 'corrupt', why }, `${w.label}: ${w.key}`);
    let s: Stored;
    try {
      s = decodeStored(blob, w.ref);
    } catch (err) {
      corrupt(reasonOf(w.ref, err));
      return undefined;
    }
    const node = w.level === undefined ? 'a value node' : `a level ${w.level} value node`;
    const fits = w.kind === 'dir' ? s.kind !== 'node' : s.kind === 'node' && (w.level === undefined || s.level === w.level);
    if (fits) return s;
    corrupt(`${what(s)} where ${w.kind === 'dir' ? 'a directory' : node} should be`);
    return undefined;
  };

  for (const root of roots) {
    onRoot?.(root);
    const stack: Work[] = [{ ref: root.rootref, kind: root.blob === true ? 'blob' : 'dir', label: root.label, key: '.' }];
    for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
      const done = checked.get(w.ref);
      if (done !== undefined) {
        ahead.delete(w.ref);
        // already checked: a damaged one is reported again for this key too
        const d = bad.get(w.ref);
        if (d !== undefined) report(d, `${w.label}: ${w.key}`);
        // a value's blob may hold a tree object's very bytes: reached as one, it is read as one
        if (d !== undefined || done === 'tree' || w.kind === 'blob') continue;
      }
      checked.set(w.ref, w.kind === 'blob' ? 'data' : 'tree');
      const blob = await fetch(w);
      if (blob === undefined || w.kind === 'blob') continue;
      const s = decode(w, blob);
      if (s === undefined) continue;
      const refs = refsOf(s);
      for (const r of refs) readAhead(r.ref);
      // pushed last first: the walk goes in key order
      for (const r of refs.reverse()) {
        const key = r.key === '' ? w.key : w.key === '.' ? r.key : `${w.key}.${r.key}`;
        stack.push({ ref: r.ref, kind: r.kind, level: r.level, label: w.label, key });
      }
    }
  }
  return { roots: roots.length, objects: checked.size, damage: [...bad.values()] };
}
