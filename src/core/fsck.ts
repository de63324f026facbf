// Checking KVS trees in a content store: every object reachable from the given roots must exist and hash to
// its blobref, and every directory must be one. Each object is checked once however many roots share it (the
// versions of a journal share nearly all of theirs); a damaged one is reported with the keys that reach it.
// Blob access is injected (synchronous: an offline store); no I/O of its own.
import { FluxError, ENOENT } from './errors.js';
import { blobrefOf, parseBlobref } from './blobref.js';
import { type TreeObj, decodeTreeObj } from './treeobj.js';

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

type Work = { ref: string; dir: boolean; label: string; key: string };

/**
 * Check the trees under `roots`. `read` returns a stored blob's bytes and throws FluxError ENOENT when there is
 * none (any other error counts as damage too). `onRoot` is told of each root as its walk starts.
 */
export function fsck(roots: FsckRoot[], read: (ref: string) => Buffer, onRoot?: (r: FsckRoot) => void): FsckReport {
  const checked = new Set<string>();
  const bad = new Map<string, Damage>();
  const report = (d: Omit<Damage, 'paths'>, at: string) => {
    const prev = bad.get(d.ref);
    if (prev === undefined) bad.set(d.ref, { ...d, paths: [at] });
    else if (prev.paths.length < PATHS_MAX && !prev.paths.includes(at)) prev.paths.push(at);
  };

  /** the blob, checked against its name; undefined when damaged (and reported) */
  const fetch = (w: Work): Buffer | undefined => {
    const at = `${w.label}: ${w.key}`;
    let blob: Buffer;
    try {
      blob = read(w.ref);
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

  const children = (data: Record<string, TreeObj>, w: Work, stack: Work[]) => {
    for (const name of Object.keys(data).sort().reverse()) {
      const obj = data[name]!;
      const key = w.key === '.' ? name : `${w.key}.${name}`;
      if (obj.type === 'dirref') stack.push({ ref: obj.data[0]!, dir: true, label: w.label, key });
      else if (obj.type === 'valref') for (const ref of obj.data) stack.push({ ref, dir: false, label: w.label, key });
      else if (obj.type === 'dir') children(obj.data, { ...w, key }, stack);
    }
  };

  for (const root of roots) {
    onRoot?.(root);
    const stack: Work[] = [{ ref: root.rootref, dir: root.blob !== true, label: root.label, key: '.' }];
    for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
      if (checked.has(w.ref)) {
        // already checked: a damaged one is reported again for this key too
        const d = bad.get(w.ref);
        if (d !== undefined) report(d, `${w.label}: ${w.key}`);
        continue;
      }
      checked.add(w.ref);
      const blob = fetch(w);
      if (blob === undefined || !w.dir) continue;
      let t: TreeObj;
      try {
        t = decodeTreeObj(blob);
      } catch (err) {
        report({ ref: w.ref, problem: 'corrupt', why: (err as Error).message }, `${w.label}: ${w.key}`);
        continue;
      }
      if (t.type !== 'dir') {
        report({ ref: w.ref, problem: 'corrupt', why: `a ${t.type} where a directory should be` }, `${w.label}: ${w.key}`);
        continue;
      }
      children(t.data, w, stack);
    }
  }
  return { roots: roots.length, objects: checked.size, damage: [...bad.values()] };
}
