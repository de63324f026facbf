// flux-core's KVS archive layout (what `flux dump` writes and `flux restore` reads): a value key is a regular
// file at the key's path ('.' -> '/'), a link is a symbolic link whose target is the key (or "NS::key" when it
// names another namespace), directories are not stored. And the other way: the tree of RFC 11 objects that an
// archive's entries make, built in memory (keys and small values only) and stored bottom up. Pure.
import { FluxError, EINVAL } from '../errors.js';
import { type TreeObj, VAL_INLINE_MAX, dirref, encodeTreeObj, keyPath, symlink, val, valref } from './treeobj.js';
import { type TarEntry, TYPE_DIR, TYPE_FILE, TYPE_SYMLINK } from './tar.js';

/** the archive path of a key */
export function pathOfKey(key: string): string {
  return keyPath(key).join('/');
}

/** the key an archive path names (undefined for the root: "", ".", "./") */
export function keyOfPath(path: string): string | undefined {
  const comps = path.split('/').flatMap((c) => keyPath(c === '' ? '.' : c));
  return comps.length === 0 ? undefined : comps.join('.');
}

/** the symbolic link target that stands for a KVS link */
export function linkTargetOf(link: Extract<TreeObj, { type: 'symlink' }>): string {
  return link.data.namespace === undefined ? link.data.target : `${link.data.namespace}::${link.data.target}`;
}

/** the KVS link a symbolic link target stands for */
export function linkOfTarget(target: string): TreeObj {
  const sep = target.indexOf('::');
  if (sep < 0) return symlink(target);
  const ns = target.slice(0, sep);
  if (ns === '') throw new FluxError(EINVAL, `link target "${target}" names an empty namespace`);
  return symlink(target.slice(sep + 2), ns);
}

/**
 * A value as a commit would store it: inline when its base64 text is at most VAL_INLINE_MAX characters, else
 * its bytes as one blob (stored through `store`) and a valref to it.
 */
export function valueObj(bytes: Buffer, store: (blob: Buffer) => string): TreeObj {
  return Math.ceil(bytes.length / 3) * 4 > VAL_INLINE_MAX ? valref([store(bytes)]) : val(bytes);
}

interface Node {
  dirs: Map<string, Node>;
  leaves: Map<string, TreeObj>;
}

const node = (): Node => ({ dirs: new Map(), leaves: new Map() });

/** A KVS tree built from archive entries in any order; a later entry at the same key replaces an earlier one. */
export class TreeBuilder {
  private readonly root = node();
  private count = 0;

  /** entries added */
  get entries(): number {
    return this.count;
  }

  /** put a value or link at `key`; a value in the way of a directory is replaced by one, as a KVS put does */
  add(key: string, obj: TreeObj): void {
    const comps = keyPath(key);
    if (comps.length === 0) throw new FluxError(EINVAL, 'an archive entry cannot replace the root directory');
    let n = this.root;
    for (const c of comps.slice(0, -1)) {
      let next = n.dirs.get(c);
      if (next === undefined) {
        n.leaves.delete(c);
        next = node();
        n.dirs.set(c, next);
      }
      n = next;
    }
    const last = comps[comps.length - 1]!;
    n.dirs.delete(last);
    n.leaves.set(last, obj);
    this.count++;
  }

  /** store every directory, deepest first, through `store`; returns the root's blobref */
  finish(store: (blob: Buffer) => string): string {
    const unroll = (n: Node): string => {
      // made by fromEntries, as own properties: an entry named __proto__ assigned to an object literal would
      // set its prototype instead, and vanish from the directory
      const data: Record<string, TreeObj> = Object.fromEntries([...[...n.dirs].map(([name, sub]) => [name, dirref(unroll(sub))]), ...n.leaves]);
      return store(encodeTreeObj({ ver: 1, type: 'dir', data }));
    };
    return unroll(this.root);
  }
}

/** what became of an archive entry: the key it was stored at, or why it was not (undefined: nothing to store) */
export type EntryOutcome = { key: string } | { skipped: string } | undefined;

/**
 * Put one archive entry into the tree: a regular file becomes a value (its blob stored through `store` when it is
 * not inline), a symbolic link a KVS link; directories are implied by the keys under them. A value larger than
 * `sizeLimit` (whose data the reader skipped) and entries of other types are skipped, with the reason.
 */
export function addEntry(tree: TreeBuilder, e: TarEntry, store: (blob: Buffer) => string, sizeLimit?: number): EntryOutcome {
  const key = keyOfPath(e.path);
  if (key === undefined || e.type === TYPE_DIR) return undefined;
  if (e.type === TYPE_SYMLINK) {
    tree.add(key, linkOfTarget(e.linkpath));
    return { key };
  }
  // '7' is a contiguous file, a regular file to any reader that does not know better
  if (e.type !== TYPE_FILE && e.type !== '7') return { skipped: `${e.path}: skipped, an archive entry of type '${e.type}' is not a KVS value or link` };
  if (sizeLimit !== undefined && e.size > sizeLimit) return { skipped: `${key}: skipped, its ${e.size} bytes exceed the size limit of ${sizeLimit}` };
  tree.add(key, valueObj(e.data, store));
  return { key };
}
