// Rank 0: a batch's objects and the history indexes (each namespace's versions, the keys each version changed,
// the oldest version a compaction kept), written in the journal's own transactions.
import type { JournalStore } from '../../core/journal/store.js';
import type { Entry } from '../../core/journal/entry.js';
import { KVS, isKvsEntry, kvsProjection, namespaceList, namespaceTopic } from '../../projections/kvs.js';
import type { KvsContext } from './context.js';
import type { CommitQueue } from './commit-queue.js';

export interface VersionRow {
  rootref: string;
  seq: number;
  time: number;
}

export interface HistoryIndex {
  /** the oldest version of a namespace a compaction kept (0 when none was dropped) */
  floorOf(ns: string): number;
  /** a past version's root, when the index has it */
  versionRoot(ns: string, rootseq: number): VersionRow | undefined;
}

/** without a store (below rank 0) the index is empty */
export function historyIndex(ctx: KvsContext, store: JournalStore | undefined, queue: Pick<CommitQueue, 'unstored'>): HistoryIndex {
  if (!store) return { floorOf: () => 0, versionRoot: () => undefined };
  const { backing } = ctx;
  const db = store.database;
  db.exec(`CREATE TABLE IF NOT EXISTS kvs_version(namespace TEXT, rootseq INTEGER, seq INTEGER, time REAL, rootref TEXT,
      PRIMARY KEY(namespace, rootseq));
    CREATE TABLE IF NOT EXISTS kvs_key(namespace TEXT, key TEXT, rootseq INTEGER, PRIMARY KEY(namespace, key, rootseq));
    CREATE TABLE IF NOT EXISTS kvs_floor(namespace TEXT PRIMARY KEY, rootseq INTEGER NOT NULL);`);
  const putVersion = db.prepare('INSERT OR REPLACE INTO kvs_version(namespace, rootseq, seq, time, rootref) VALUES (?, ?, ?, ?, ?)');
  const putKey = db.prepare('INSERT OR IGNORE INTO kvs_key(namespace, key, rootseq) VALUES (?, ?, ?)');
  const dropVersions = db.prepare('DELETE FROM kvs_version WHERE namespace = ?');
  const dropKeys = db.prepare('DELETE FROM kvs_key WHERE namespace = ?');
  const getVersion = db.prepare('SELECT rootref, seq, time FROM kvs_version WHERE namespace = ? AND rootseq = ?');
  const putFloor = db.prepare('INSERT OR REPLACE INTO kvs_floor(namespace, rootseq) VALUES (?, ?)');
  const dropFloor = db.prepare('DELETE FROM kvs_floor WHERE namespace = ?');
  const getFloor = db.prepare('SELECT rootseq FROM kvs_floor WHERE namespace = ?').pluck();
  // the journal's start moved: a namespace's versions before the one it had there are compacted (their objects
  // go). Their index rows stay, a few dozen bytes a version, so that a read of one is told which version is gone
  store.addRetireHook((_first, saved) => {
    for (const r of namespaceList(kvsProjection.load(saved[KVS]))) putFloor.run(r.namespace, r.rootseq);
  });
  store.addIndexer((entry: Entry) => {
    if (!isKvsEntry(entry)) return;
    const p = entry.payload as { namespace?: unknown; rootseq?: unknown; rootref?: unknown; keys?: unknown } | null;
    const ns = p?.namespace;
    if (typeof ns !== 'string') return;
    if (entry.topic === namespaceTopic(ns, 'setroot')) {
      const blobs = queue.unstored(ns, p!.rootseq);
      if (blobs) for (const b of blobs) backing!.store(b);
    }
    if (entry.topic === namespaceTopic(ns, 'setroot') || entry.topic === namespaceTopic(ns, 'created')) {
      putVersion.run(ns, p!.rootseq, entry.seq, entry.time, p!.rootref);
      if (Array.isArray(p!.keys)) for (const k of p!.keys) putKey.run(ns, k, p!.rootseq);
    } else if (entry.topic === namespaceTopic(ns, 'removed')) {
      // a namespace made again under the same name starts again at rootseq 0: the old versions would collide
      dropVersions.run(ns);
      dropKeys.run(ns);
      dropFloor.run(ns);
    }
  });
  return {
    floorOf: (ns) => Number(getFloor.get(ns) ?? 0),
    versionRoot: (ns, rootseq) => getVersion.get(ns, rootseq) as VersionRow | undefined,
  };
}
