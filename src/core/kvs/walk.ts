// Walking a KVS tree in key order, for `flux dump`: every value and link under a root, its directories loaded
// ahead of the walk (many loads in flight) so that a deep or wide tree costs about one round trip per window
// of directories rather than one per directory. Trees are read in every stored form (kvs-wide.ts): a hashed
// directory's leaves are loaded together and their entries merged in key order, a long value's chunk tree is
// read down to its blobrefs and given as the valref it stands for. Blob access is injected; no I/O of its own.
import { FluxError, EPROTO } from '../errors.js';
import { type Dirent, type TreeObj, type ValTree } from './treeobj.js';
import { type Stored, decodeStored, refsOf } from './wide.js';

export type Leaf = { key: string; obj: Extract<TreeObj, { type: 'val' | 'valref' | 'symlink' }> };

export interface WalkOptions {
  /** object loads in flight at once */
  window?: number;
  /**
   * a directory, or a long value's chunk tree, that cannot be loaded: return to skip it (and what is under it),
   * throw to stop the walk. Without it the walk stops with the error.
   */
  onDirError?: (key: string, err: unknown) => void;
}

/** a directory's entries in key order; a subdirectory's, or a long value's blobrefs, loading ahead of the walk */
type Loaded = Array<{ name: string; obj: Dirent; sub?: Promise<Loaded>; refs?: Promise<string[]> }>;

/** run at most n of the tasks at once, in the order they were asked for */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  // a queue read from a moving head: shift() on a long array costs its length, and tens of thousands wait here
  let waiting: Array<() => void> = [];
  let head = 0;
  const next = () => {
    active--;
    if (head === waiting.length) return;
    const go = waiting[head]!;
    waiting[head++] = undefined as unknown as () => void;
    if (head > 4096 && head * 2 > waiting.length) {
      waiting = waiting.slice(head);
      head = 0;
    }
    go();
  };
  return <T>(task: () => Promise<T>) => new Promise<T>((resolve, reject) => {
    const go = () => {
      active++;
      task().then(resolve, reject).finally(next);
    };
    if (active < n) go();
    else waiting.push(go);
  });
}

/**
 * Every value (val, valref) and link under `rootref`, keys in code-unit order within each directory, depth first.
 * Directories are not returned (empty ones vanish, as in flux-core's archives).
 */
export async function* walkTree(
  rootref: string, load: (ref: string) => Promise<Buffer>, opts: WalkOptions = {},
): AsyncGenerator<Leaf> {
  const window = opts.window ?? 256;
  const limit = limiter(window);
  /**
   * directories loaded or loading ahead of the walk: bounded, so that the tree is not all in memory at once
   * (which costs more in garbage collection than it saves); past the bound a directory is loaded when reached
   */
  let ahead = 0;
  const aheadMax = 4 * window;
  const loadStored = (ref: string): Promise<Stored> => limit(() => load(ref)).then((blob) => decodeStored(blob, ref));
  // a directory's entries, and (started at once while few are ahead) the loads of what lies under them
  const entriesOf = (entries: Iterable<[string, Dirent]>): Loaded => {
    const loaded: Loaded = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, obj]) => ({ name, obj }));
    prefetch(loaded, 0);
    return loaded;
  };
  /** start the loads of the directories and long values in entries[from...] while few are ahead */
  const prefetch = (entries: Loaded, from: number): void => {
    for (let j = from; j < entries.length && ahead < aheadMax; j++) {
      const e = entries[j]!;
      if (e.obj.type === 'dirref' && e.sub === undefined) {
        e.sub = expand(e.obj.data[0]!);
        // awaited in walk order later; until then a failure must not count as unhandled
        e.sub.catch(() => {});
      } else if (e.obj.type === 'valtree' && e.refs === undefined) {
        e.refs = chunkRefs(e.obj);
        e.refs.catch(() => {});
      }
    }
  };
  const expand = (ref: string): Promise<Loaded> => {
    ahead++;
    return dirEntries(ref).then(entriesOf);
  };
  /** every entry of a stored directory: one dir object, or the leaves of a dirhash trie, a level at a time */
  const dirEntries = async (ref: string): Promise<Array<[string, Dirent]>> => {
    const out: Array<[string, Dirent]> = [];
    for (let level = [await loadStored(ref)]; level.length > 0;) {
      const below: string[] = [];
      for (const s of level) {
        if (s.kind === 'node') throw new FluxError(EPROTO, `${ref} names a value node, not a directory`);
        if (s.kind === 'dir') out.push(...s.entries);
        else for (const r of refsOf(s)) below.push(r.ref);
      }
      level = await Promise.all(below.map(loadStored));
    }
    return out;
  };
  /** the blobrefs a valtree stands for, in order: its chunk tree read a level at a time */
  const chunkRefs = async (t: ValTree): Promise<string[]> => {
    ahead++;
    for (let refs = [t.data.ref]; ;) {
      const nodes = await Promise.all(refs.map(loadStored));
      const named = nodes.flatMap((n) => {
        if (n.kind !== 'node') throw new FluxError(EPROTO, `${t.data.ref}: a directory inside a value's chunk tree`);
        return refsOf(n);
      });
      refs = named.map((r) => r.ref);
      const blobs = named.filter((r) => r.kind === 'blob').length;
      if (blobs === 0) continue;
      if (blobs < named.length) throw new FluxError(EPROTO, `${t.data.ref}: a value's chunk tree of uneven depth`);
      if (refs.length !== t.data.count) throw new FluxError(EPROTO, `${t.data.ref}: a chunk tree of ${refs.length} blobs for a value of ${t.data.count}`);
      return refs;
    }
  };

  /** what was loading for the entry at `key`; undefined when it failed and the walk goes on without it */
  const settle = async <T>(key: string, pending: Promise<T>): Promise<T | undefined> => {
    try {
      return await pending;
    } catch (err) {
      if (!opts.onDirError) throw err;
      opts.onDirError(key, err);
      return undefined;
    } finally {
      ahead--;
    }
  };

  let top: Loaded;
  try {
    top = await expand(rootref);
    ahead--;
  } catch (err) {
    if (!opts.onDirError) throw err;
    opts.onDirError('.', err);
    return;
  }
  // one generator with its own stack: a generator per directory level would pass each leaf up through all of them
  const stack: Array<{ prefix: string; entries: Loaded; i: number }> = [{ prefix: '', entries: top, i: 0 }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.i === frame.entries.length) {
      stack.pop();
      continue;
    }
    const { name, obj, sub, refs } = frame.entries[frame.i++]!;
    const key = frame.prefix === '' ? name : `${frame.prefix}.${name}`;
    if (obj.type === 'dirref') {
      const pending = sub ?? expand(obj.data[0]!);
      // a directory not loaded ahead (too many were): its later siblings start loading after it
      if (sub === undefined) prefetch(frame.entries, frame.i);
      const loaded = await settle(key, pending);
      if (loaded !== undefined) stack.push({ prefix: key, entries: loaded, i: 0 });
    } else if (obj.type === 'valtree') {
      const pending = refs ?? chunkRefs(obj);
      if (refs === undefined) prefetch(frame.entries, frame.i);
      const blobrefs = await settle(key, pending);
      if (blobrefs !== undefined) yield { key, obj: { ver: 1, type: 'valref', data: blobrefs } };
    } else if (obj.type === 'dir') {
      stack.push({ prefix: key, entries: entriesOf(Object.entries(obj.data)), i: 0 });
    } else {
      yield { key, obj };
    }
  }
}
