// Walking a KVS tree in key order, for `flux dump`: every value and link under a root, its directories loaded
// ahead of the walk (many loads in flight) so that a deep or wide tree costs about one round trip per window
// of directories rather than one per directory. Blob access is injected; no I/O of its own.
import { FluxError, EPROTO } from './errors.js';
import { type TreeObj, decodeTreeObj } from './treeobj.js';

export type Leaf = { key: string; obj: Extract<TreeObj, { type: 'val' | 'valref' | 'symlink' }> };

export interface WalkOptions {
  /** directory loads in flight at once */
  window?: number;
  /**
   * a directory that cannot be loaded: return to skip it (and what is under it), throw to stop the walk.
   * Without it the walk stops with the error.
   */
  onDirError?: (key: string, err: unknown) => void;
}

type Loaded = Array<{ name: string; obj: TreeObj; sub?: Promise<Loaded> }>;

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
  // a directory's entries, and (started at once while few are ahead) the loads of the directories under it
  const entriesOf = (data: Record<string, TreeObj>): Loaded => {
    const entries: Loaded = Object.keys(data).sort().map((name) => ({ name, obj: data[name]! }));
    prefetch(entries, 0);
    return entries;
  };
  /** start the loads of the directories in entries[from...] while few are ahead */
  const prefetch = (entries: Loaded, from: number): void => {
    for (let j = from; j < entries.length && ahead < aheadMax; j++) {
      const e = entries[j]!;
      if (e.obj.type !== 'dirref' || e.sub !== undefined) continue;
      e.sub = expand(e.obj.data[0]!);
      // awaited in walk order later; until then a failure must not count as unhandled
      e.sub.catch(() => {});
    }
  };
  const expand = (ref: string): Promise<Loaded> => {
    ahead++;
    return limit(() => load(ref)).then(decodeDir(ref));
  };
  const decodeDir = (ref: string) => (blob: Buffer): Loaded => {
    const t = decodeTreeObj(blob);
    if (t.type !== 'dir') throw new FluxError(EPROTO, `${ref} names a ${t.type}, not a directory`);
    return entriesOf(t.data);
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
    const { name, obj, sub } = frame.entries[frame.i++]!;
    const key = frame.prefix === '' ? name : `${frame.prefix}.${name}`;
    if (obj.type === 'dirref') {
      const pending = sub ?? expand(obj.data[0]!);
      // a directory not loaded ahead (too many were): its later siblings start loading after it
      if (sub === undefined) prefetch(frame.entries, frame.i);
      let loaded: Loaded;
      try {
        loaded = await pending;
      } catch (err) {
        if (!opts.onDirError) throw err;
        opts.onDirError(key, err);
        continue;
      } finally {
        ahead--;
      }
      stack.push({ prefix: key, entries: loaded, i: 0 });
    } else if (obj.type === 'dir') {
      stack.push({ prefix: key, entries: entriesOf(obj.data), i: 0 });
    } else {
      yield { key, obj };
    }
  }
}
