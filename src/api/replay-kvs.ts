// The KVS of a replayed state, read as the KVS service reads it: a namespace's root from the kvs projection,
// keys resolved under it by the same lookup code, blobs from the read-only content store.
import { FluxError, ENOTSUP } from '../core/errors.js';
import { blobrefOf } from '../core/content/blobref.js';
import { EMPTY_DIR_BLOB, LOOKUP_READDIR, LOOKUP_READLINK, TreeCache, lookup } from '../core/kvs/tree.js';
import type { TreeObj } from '../core/kvs/treeobj.js';
import { byteCompare } from '../core/kvs/format-json.js';
import { type KvsState, KVS, PRIMARY, namespaceRoot } from '../projections/kvs.js';
import type { Replay, ReplayState } from './replay.js';

export class KvsView {
  private readonly cache = new TreeCache();
  private readonly emptyRoot: string;
  constructor(private readonly r: Replay) {
    this.emptyRoot = blobrefOf(r.hashName, EMPTY_DIR_BLOB);
  }

  rootOf(s: ReplayState, ns: string): string {
    const root = namespaceRoot(this.r.stateOf<KvsState>(s, KVS), ns)?.rootref ?? (ns === PRIMARY ? this.emptyRoot : undefined);
    if (root === undefined) throw new FluxError(ENOTSUP, `namespace ${ns} does not exist at seq ${s.seq}`);
    return root;
  }

  lookup(s: ReplayState, ns: string, key: string, flags: number): Promise<TreeObj> {
    return lookup(this.rootOf(s, ns), key, flags, {
      load: (ref) => this.r.load(ref), cache: this.cache, rootOf: (n) => this.rootOf(s, n),
    }, ns);
  }

  /** every key under the namespace's root, as `flux kvs dir -R` walks it, in its order: values, links, empty dirs */
  async walk(s: ReplayState, ns: string, each: (key: string, t: TreeObj) => void): Promise<void> {
    const dump = async (dirKey: string, dir: TreeObj): Promise<void> => {
      const data = dir.data as Record<string, TreeObj>;
      for (const name of Object.keys(data).sort(byteCompare)) {
        const key = dirKey === '.' ? name : `${dirKey}.${name}`;
        const e = data[name]!;
        if (e.type === 'symlink') each(key, await this.lookup(s, ns, key, LOOKUP_READLINK));
        else if (e.type === 'dir' || e.type === 'dirref') {
          const sub = await this.lookup(s, ns, key, LOOKUP_READDIR);
          if (Object.keys(sub.data as object).length === 0) each(key, sub);
          else await dump(key, sub);
        } else each(key, await this.lookup(s, ns, key, 0));
      }
    };
    await dump('.', await this.lookup(s, ns, '.', LOOKUP_READDIR));
  }
}

/** a value as JSON output carries it: the text of a value, a link's target, {} for an empty directory */
export function jsonValue(t: TreeObj): unknown {
  if (t.type === 'val') return Buffer.from(t.data, 'base64').toString('utf8');
  if (t.type === 'symlink') return t.data.namespace === undefined ? { symlink: t.data.target } : { symlink: t.data.target, namespace: t.data.namespace };
  return {};
}

/** every key of a namespace with its value as JSON output carries it */
export async function kvsKeys(view: KvsView, s: ReplayState, ns: string): Promise<Record<string, unknown>> {
  const keys: Record<string, unknown> = {};
  await view.walk(s, ns, (key, t) => (keys[key] = jsonValue(t)));
  return keys;
}
