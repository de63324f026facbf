// Rank 0: a batch's objects and the history indexes (each namespace's versions, the keys each version changed,
// the oldest version a compaction kept), written in the journal's own transactions.
//
// The keys a version changed go first to kvs_key_recent, ordered by version, where a batch's rows land on the
// table's last page; a timer moves them in bulk to kvs_key, ordered by key, where each row lands beside the
// key's older versions. Written straight to kvs_key, a batch's rows touched as many pages as it had keys, each
// page copied whole to the write-ahead log in every commit: measured, a tenth of a commit's CPU with 16 loops.
// Both tables are durable at every commit and a move is one transaction: a reader takes the union.
import type Database from 'better-sqlite3';
import type { JournalStore } from '../../core/journal/store.js';
import type { Entry } from '../../core/journal/entry.js';
import { KVS, isKvsEntry, kvsProjection, namespaceList, namespaceTopic } from '../../projections/kvs.js';
import type { KvsContext } from './context.js';
import type { CommitQueue } from './commit-queue.js';

/** the keys of the versions not yet moved to kvs_key; one b-tree, in which a batch's rows are adjacent */
const RECENT_KEYS_TABLE =
  'CREATE TABLE IF NOT EXISTS kvs_key_recent(namespace TEXT, rootseq INTEGER, key TEXT, PRIMARY KEY(namespace, rootseq, key)) WITHOUT ROWID;';

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
  /** the recent keys moved now, and no timer left */
  stop(): void;
}

/** how long the keys of recent versions wait to be moved, and how many may wait */
const KEY_MOVE_MS = 200;
const KEY_MOVE_ROWS = 20_000;
const KEY_MOVE_RETRY_MS = 5_000;

/**
 * A search of kvs_version: the newest version of `ns` whose seq (or time) is at most `bound`. A version's seq and
 * time never decrease as its rootseq rises (the sequencer stamps entries in order, and their times never go back),
 * so a binary search of the primary key serves both, where an index on each cost every commit a page of the
 * write-ahead log (a committer alone: 11% more commits/s without the two).
 */
export function newestUpTo(db: Database.Database): (ns: string, field: 'seq' | 'time', bound: number) => number | undefined {
  const newest = db.prepare('SELECT max(rootseq) FROM kvs_version WHERE namespace = ?').pluck();
  const atOrBelow = db.prepare('SELECT rootseq, seq, time FROM kvs_version WHERE namespace = ? AND rootseq <= ? ORDER BY rootseq DESC LIMIT 1');
  return (ns, field, bound) => {
    let lo = 0;
    let hi = newest.get(ns) as number | null;
    let found: number | undefined;
    // rootseqs may have gaps: each probe reads the version at or below the middle
    while (hi !== null && lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const r = atOrBelow.get(ns, mid) as { rootseq: number; seq: number; time: number } | undefined;
      if (r === undefined) {
        lo = mid + 1;
      } else if (r[field] <= bound) {
        found = r.rootseq;
        lo = mid + 1;
      } else {
        hi = r.rootseq - 1;
      }
    }
    return found;
  };
}

/** without a store (below rank 0) the index is empty */
export function historyIndex(ctx: KvsContext, store: JournalStore | undefined, queue: Pick<CommitQueue, 'unstored'>): HistoryIndex {
  if (!store) return { floorOf: () => 0, versionRoot: () => undefined, stop: () => undefined };
  const { backing } = ctx;
  const db = store.database;
  if (!db.readonly) {
    // without a rowid: the row is its primary key's tree, one page written per commit where a rowid table and its
    // key's index were two, and a key's row is stored once, not twice (a store made before keeps its tables as
    // they are); stores made before also have indexes by time and by seq, which newestUpTo does without
    db.exec(`CREATE TABLE IF NOT EXISTS kvs_version(namespace TEXT, rootseq INTEGER, seq INTEGER, time REAL, rootref TEXT,
        PRIMARY KEY(namespace, rootseq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS kvs_key(namespace TEXT, key TEXT, rootseq INTEGER, PRIMARY KEY(namespace, key, rootseq)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS kvs_floor(namespace TEXT PRIMARY KEY, rootseq INTEGER NOT NULL);
      ${RECENT_KEYS_TABLE}
      DROP INDEX IF EXISTS kvs_version_time;
      DROP INDEX IF EXISTS kvs_version_seq;`);
  }
  const getVersion = db.prepare('SELECT rootref, seq, time FROM kvs_version WHERE namespace = ? AND rootseq = ?');
  const getFloor = db.prepare('SELECT rootseq FROM kvs_floor WHERE namespace = ?').pluck();
  const reads = {
    floorOf: (ns: string) => Number(getFloor.get(ns) ?? 0),
    versionRoot: (ns: string, rootseq: number) => getVersion.get(ns, rootseq) as VersionRow | undefined,
  };
  // a past state served from a store opened read-only: nothing is appended there, so nothing is indexed
  if (db.readonly) return { ...reads, stop: () => undefined };
  const putVersion = db.prepare('INSERT OR REPLACE INTO kvs_version(namespace, rootseq, seq, time, rootref) VALUES (?, ?, ?, ?, ?)');
  // a version's keys in one statement, sqlite reading them from one JSON array: a call per key cost twice the
  // time for a wide commit, and 0.4 µs less for a commit of one key
  const putKeys = db.prepare('INSERT OR IGNORE INTO kvs_key_recent(namespace, key, rootseq) SELECT ?, value, ? FROM json_each(?)');
  const dropVersions = db.prepare('DELETE FROM kvs_version WHERE namespace = ?');
  const dropKeys = db.prepare('DELETE FROM kvs_key WHERE namespace = ?');
  const dropRecentKeys = db.prepare('DELETE FROM kvs_key_recent WHERE namespace = ?');
  const moveKeys = db.transaction(() => {
    db.exec(`INSERT OR IGNORE INTO kvs_key(namespace, key, rootseq)
        SELECT namespace, key, rootseq FROM kvs_key_recent ORDER BY namespace, key, rootseq;
      DELETE FROM kvs_key_recent;`);
  });
  let waiting = 0;
  let timer: NodeJS.Timeout | undefined;
  function move(): void {
    clearTimeout(timer);
    timer = undefined;
    const n = waiting;
    waiting = 0;
    // the broker closes the store as it stops
    if (!db.open) return;
    try {
      moveKeys();
    } catch (err) {
      // a full disk, say: the rows stay where readers find them too, and the move is tried again later
      ctx.host.log(3, 'kvs', `the keys of recent versions were not moved to the key index: ${(err as Error).message}`);
      waiting = n;
      timer = setTimeout(move, KEY_MOVE_RETRY_MS).unref();
    }
  }
  /** `n` more rows wait: the move comes after a while, or at once (after this transaction) when many wait */
  function keysWaiting(n: number): void {
    waiting += n;
    if (waiting >= KEY_MOVE_ROWS) {
      clearTimeout(timer);
      timer = setTimeout(move, 0);
    } else {
      timer ??= setTimeout(move, KEY_MOVE_MS);
    }
    timer.unref();
  }
  const putFloor = db.prepare('INSERT OR REPLACE INTO kvs_floor(namespace, rootseq) VALUES (?, ?)');
  const dropFloor = db.prepare('DELETE FROM kvs_floor WHERE namespace = ?');
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
      if (blobs) for (const b of blobs) backing!.store(b.blob, b.digest);
    }
    if (entry.topic === namespaceTopic(ns, 'setroot') || entry.topic === namespaceTopic(ns, 'created')) {
      putVersion.run(ns, p!.rootseq, entry.seq, entry.time, p!.rootref);
      if (Array.isArray(p!.keys)) {
        putKeys.run(ns, p!.rootseq, JSON.stringify(p!.keys));
        keysWaiting(p!.keys.length);
      }
    } else if (entry.topic === namespaceTopic(ns, 'removed')) {
      // a namespace made again under the same name starts again at rootseq 0: the old versions would collide
      dropVersions.run(ns);
      dropKeys.run(ns);
      dropRecentKeys.run(ns);
      dropFloor.run(ns);
    }
  });
  // what a broker killed before its move left
  const left = db.prepare('SELECT count(*) FROM kvs_key_recent').pluck().get() as number;
  if (left > 0) keysWaiting(left);
  return {
    ...reads,
    stop: () => {
      if (timer !== undefined) move();
    },
  };
}
