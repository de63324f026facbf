// What every part of the KVS module shares: its host, the journal and content it reads and writes, the tree
// cache, and the namespace roots of this broker's projection.
import { FluxError, ENOSYS } from '../../core/errors.js';
import { USERID_UNKNOWN } from '../../core/wire/message.js';
import { blobrefOf, checkHashName, type HashName } from '../../core/content/blobref.js';
import { TreeCache, EMPTY_DIR_BLOB } from '../../core/kvs/tree.js';
import type { JournalStore } from '../../core/journal/store.js';
import { type KvsState, type NamespaceRoot, KVS, PRIMARY, namespaceList, namespaceRoot } from '../../projections/kvs.js';
import type { JournalService } from '../journal.js';
import type { ContentAccess, ContentService } from '../content.js';
import type { ModuleHost } from '../module.js';

export interface KvsOptions {
  journal: JournalService;
  content: ContentAccess & Pick<ContentService, 'backing'>;
  /** rank 0: the journal's store, whose append transactions also write the history indexes */
  store?: JournalStore;
  /**
   * rank 0: what primary starts from (-S content.restore: a checkpoint's index or an archive's path); given to the
   * KVS the broker starts with, not to one loaded again later
   */
  restore?: string;
}

export interface KvsContext {
  host: ModuleHost;
  journal: JournalService;
  content: KvsOptions['content'];
  /** rank 0 only (checked at start): the content store itself */
  backing: KvsOptions['content']['backing'];
  hash: HashName;
  instanceOwner: number;
  cache: TreeCache;
  primaryAtStart: NamespaceRoot;
  /** a namespace's root in this broker's projection (primary is there from the start) */
  rootOf(ns: string): NamespaceRoot | undefined;
  listNamespaces(): Array<NamespaceRoot & { namespace: string }>;
}

export function kvsContext(host: ModuleHost, opts: KvsOptions): KvsContext {
  const { journal, content, store } = opts;
  const hash = checkHashName(content.hash);
  const backing = content.backing;
  if (host.rank === 0 && (!backing || !store)) throw new FluxError(ENOSYS, 'the KVS master on rank 0 needs the content and journal stores');
  const instanceOwner = Number(host.attrs.get('security.owner') ?? USERID_UNKNOWN);
  const state = () => journal.state<KvsState>(KVS);
  const primaryAtStart: NamespaceRoot = { rootseq: 0, rootref: blobrefOf(hash, EMPTY_DIR_BLOB), owner: instanceOwner, flags: 0 };
  return {
    host, journal, content, backing, hash, instanceOwner, cache: new TreeCache(), primaryAtStart,
    rootOf: (ns) => namespaceRoot(state(), ns) ?? (ns === PRIMARY ? primaryAtStart : undefined),
    listNamespaces: () => {
      const list = namespaceList(state());
      return list.some((r) => r.namespace === PRIMARY) ? list : [{ namespace: PRIMARY, ...primaryAtStart }, ...list];
    },
  };
}

export interface Deferred<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export function deferred<T>(): { promise: Promise<T>; done: Deferred<T> } {
  let done!: Deferred<T>;
  const promise = new Promise<T>((resolve, reject) => (done = { resolve, reject }));
  return { promise, done };
}
