// The journal on disk: entries are content-addressed blobs in the content store's `objects` table; the
// `journal` index maps seq -> ref, time, topic; signed checkpoints name a head and a projection snapshot.
// Everything here is synchronous: a transaction never spans an await.
import type Database from 'better-sqlite3';
import { FluxError, EINVAL, EPROTO, ENOENT } from '../errors.js';
import { type Entry, type JsonPieces, encodeEntry, decodeEntry } from './entry.js';
export { checkpointMessage } from './entry.js';
import { inflate } from '../content/store.js';

/** a new entry: all but its place in the chain, and its payload's canonical text when its maker wrote it */
export type NewEntry = Omit<Entry, 'seq' | 'prev'> & { payloadText?: JsonPieces };

/** the on-disk format this code writes; a newer one is refused, never reset */
export const JOURNAL_FORMAT = 1;

export interface BlobStore {
  readonly db: Database.Database;
  /** the blobref hash name: sha1 or sha256 */
  readonly hashName: string;
  store(blob: Buffer): Buffer;
  load(digest: Buffer): Buffer;
  /** `fn` in one transaction, what it stored counted only if it commits; sqlite's errors named as `what`'s */
  transaction<T>(fn: () => T, what?: string): T;
  /** garbage collection: see ContentStore */
  beginCollection(epoch: number): void;
  markLive(digests: Buffer[]): boolean[];
  sweep(after: number, limit: number): { next: number | undefined; deleted: number };
  endCollection(): void;
}

/**
 * What a service that keeps index tables beside the journal does when the journal's start moves: called inside
 * the transaction that moves it, with the saved projection states of the snapshot at the new first seq.
 */
export type RetireHook = (first: number, states: Record<string, unknown>) => void;

/**
 * Besides the newest checkpoints, the first one of every this many entries is kept, so a replay to any past seq
 * starts from a snapshot at most about this far behind it (a few kilobytes each, a hundred per million entries).
 */
export const SNAPSHOT_SPACING = 10_000;

/** the stable error for anything asked below the journal's first kept entry */
export function compactedError(seq: number): FluxError {
  return new FluxError(ENOENT, `version ${seq} has been compacted`);
}

export interface Head {
  seq: number;
  ref: string | null;
}

export interface IndexRow {
  seq: number;
  ref: string;
  time: number;
  topic: string;
}

export interface Checkpoint {
  id: number;
  seq: number;
  ref: string | null;
  time: number;
  /** blobref of the projection snapshot at seq, if one was taken */
  snapshot: string | null;
  pubkey: string;
  sig: string;
}

export class JournalStore {
  private readonly db: Database.Database;
  private readonly insertRow: Database.Statement;
  private readonly selectRow: Database.Statement;
  private readonly selectRange: Database.Statement;
  private readonly selectHead: Database.Statement;
  private readonly selectFirst: Database.Statement;

  constructor(private readonly blobs: BlobStore) {
    const db = blobs.db;
    this.db = db;
    db.exec(`CREATE TABLE IF NOT EXISTS journal_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS journal(seq INTEGER PRIMARY KEY, ref BLOB NOT NULL, time REAL NOT NULL, topic TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS journal_checkpoint(id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL,
        ref TEXT, time REAL NOT NULL, snapshot TEXT, pubkey TEXT NOT NULL, sig TEXT NOT NULL);`);
    const fmt = db.prepare('SELECT value FROM journal_meta WHERE key = ?').get('format') as { value: string } | undefined;
    if (fmt === undefined) {
      db.prepare('INSERT INTO journal_meta(key, value) VALUES (?, ?)').run('format', String(JOURNAL_FORMAT));
      db.prepare('INSERT INTO journal_meta(key, value) VALUES (?, ?)').run('hash', blobs.hashName);
    } else if (Number(fmt.value) > JOURNAL_FORMAT) {
      throw new FluxError(EINVAL, `journal format ${fmt.value} was written by a newer version (this one reads ${JOURNAL_FORMAT})`);
    } else if (Number(fmt.value) !== JOURNAL_FORMAT) {
      throw new FluxError(EINVAL, `journal format "${fmt.value}" is not one this version knows`);
    }
    const hash = (db.prepare('SELECT value FROM journal_meta WHERE key = ?').get('hash') as { value: string }).value;
    if (hash !== blobs.hashName) {
      throw new FluxError(EINVAL, `this statedir uses content.hash=${hash}, not ${blobs.hashName}`);
    }
    this.insertRow = db.prepare('INSERT INTO journal(seq, ref, time, topic) VALUES (?, ?, ?, ?)');
    this.selectRow = db.prepare('SELECT seq, ref, time, topic FROM journal WHERE seq = ?');
    this.selectRange = db.prepare('SELECT seq, ref, time, topic FROM journal WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?');
    this.selectHead = db.prepare('SELECT seq, ref FROM journal ORDER BY seq DESC LIMIT 1');
    this.selectFirst = db.prepare('SELECT seq FROM journal WHERE seq >= ? ORDER BY seq ASC LIMIT 1');
    this.selectMeta = db.prepare('SELECT value FROM journal_meta WHERE key = ?').pluck();
    this.putMeta = db.prepare('INSERT OR REPLACE INTO journal_meta(key, value) VALUES (?, ?)');
    this.expected = Number((this.selectMeta.get('first') as string | undefined) ?? 1);
  }

  private readonly selectMeta: Database.Statement;
  private readonly putMeta: Database.Statement;
  /** journal_meta 'first', kept in memory: every read below it is refused */
  private expected: number;
  private readonly retireHooks: RetireHook[] = [];

  private readonly indexers: Array<(entry: Entry, ref: string) => void> = [];

  /**
   * Run `fn` for every entry appended, inside the transaction that stores it: an index kept by a service (KVS
   * versions, key history) is then exactly as durable as the entries, never ahead or behind.
   */
  addIndexer(fn: (entry: Entry, ref: string) => void): void {
    this.indexers.push(fn);
  }

  /** the database, for a service that keeps its own index tables beside the journal's */
  get database(): Database.Database {
    return this.db;
  }

  get hashName(): string {
    return this.blobs.hashName;
  }

  refOf(digest: Buffer): string {
    return `${this.blobs.hashName}-${digest.toString('hex')}`;
  }

  head(): Head {
    const r = this.selectHead.get() as { seq: number; ref: Buffer } | undefined;
    return r ? { seq: r.seq, ref: this.refOf(r.ref) } : { seq: 0, ref: null };
  }

  /**
   * The oldest seq the journal should hold: 1, or the seq a compaction kept from (recorded as 'first' in
   * journal_meta). A missing first entry is then told apart from a compacted one.
   */
  expectedFirst(): number {
    return this.expected;
  }

  /**
   * The oldest seq still held (1 unless compacted), or undefined when empty. Rows below expectedFirst() that a
   * compaction has not deleted yet (it deletes them in chunks, after moving the start) do not count.
   */
  first(): number | undefined {
    return (this.selectFirst.get(this.expected) as { seq: number } | undefined)?.seq;
  }

  /** the objects the journal's entries and snapshots are stored in */
  get objects(): BlobStore {
    return this.blobs;
  }

  /** a value kept in journal_meta (compaction keeps its progress there) */
  meta(key: string): string | undefined {
    return this.selectMeta.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.transaction(() => this.putMeta.run(key, value));
  }

  /** Run `fn` whenever the journal's start moves (see RetireHook). */
  addRetireHook(fn: RetireHook): void {
    this.retireHooks.push(fn);
  }

  /**
   * Move the journal's start to `first`, whose snapshot checkpoint `base` must exist: from now on nothing below
   * it is read, the checkpoints before it are dropped and `base` is never pruned (it is where a replay of what is
   * left starts). One transaction, with the retire hooks; the rows below are deleted after it by dropBelow().
   */
  retire(first: number, base: Checkpoint, states: Record<string, unknown>): void {
    if (base.seq !== first || base.snapshot === null) throw new FluxError(EINVAL, `the journal needs a snapshot at ${first} to start there`);
    if (first <= this.expected) return;
    this.transaction(() => {
      this.putMeta.run('first', String(first));
      this.putMeta.run('base', String(base.id));
      // the rows below and the objects only they reach are still to go: a restart finishes that
      this.putMeta.run('gc-pending', '1');
      this.db.prepare('DELETE FROM journal_checkpoint WHERE seq < ?').run(first);
      for (const fn of this.retireHooks) fn(first, states);
    });
    this.expected = first;
  }

  /** Delete up to `limit` index rows below the start; returns how many went (0: none are left). */
  dropBelow(limit: number): number {
    let n = 0;
    this.transaction(() => {
      n = this.db.prepare('DELETE FROM journal WHERE seq IN (SELECT seq FROM journal WHERE seq < ? ORDER BY seq LIMIT ?)')
        .run(this.expected, limit).changes;
    });
    return n;
  }

  /**
   * Sequence, chain and store a batch of new entries and their index rows in ONE transaction (group commit).
   * Nothing is changed if it throws: the caller's head stays where it was.
   */
  appendBatch(head: Head, items: NewEntry[]): Array<{ entry: Entry; ref: string; blob: Buffer }> {
    const out: Array<{ entry: Entry; ref: string; blob: Buffer }> = [];
    this.transaction(() => {
      let seq = head.seq;
      let prev = head.ref;
      for (const it of items) {
        const entry: Entry = {
          seq: ++seq, prev, time: it.time, topic: it.topic, userid: it.userid, rolemask: it.rolemask, flags: it.flags,
          payload: it.payload,
        };
        const blob = encodeEntry(entry, it.payloadText);
        const digest = this.blobs.store(blob);
        this.insertRow.run(entry.seq, digest, entry.time, entry.topic);
        prev = this.refOf(digest);
        for (const ix of this.indexers) ix(entry, prev);
        out.push({ entry, ref: prev, blob });
      }
    });
    return out;
  }

  /** through the content store: the entries' blobs are its rows, and its counts must not keep a batch that failed */
  private transaction(fn: () => void): void {
    this.blobs.transaction(fn, 'journal');
  }

  row(seq: number): IndexRow | undefined {
    if (seq < this.expected) return undefined;
    const r = this.selectRow.get(seq) as { seq: number; ref: Buffer; time: number; topic: string } | undefined;
    return r ? { ...r, ref: this.refOf(r.ref) } : undefined;
  }

  rows(from: number, to: number, limit: number): IndexRow[] {
    return (this.selectRange.all(Math.max(from, this.expected), to, limit) as Array<{ seq: number; ref: Buffer; time: number; topic: string }>)
      .map((r) => ({ ...r, ref: this.refOf(r.ref) }));
  }

  /** the entry at seq, read back from its blob and validated */
  entry(seq: number): { entry: Entry; ref: string; blob: Buffer } {
    if (seq < this.expected) throw compactedError(seq);
    const r = this.selectRow.get(seq) as { ref: Buffer } | undefined;
    if (!r) throw new FluxError(ENOENT, `journal has no entry ${seq}`);
    const blob = this.blobs.load(r.ref);
    const entry = decodeEntry(blob);
    if (entry.seq !== seq) throw new FluxError(EPROTO, `journal entry ${seq} holds seq ${entry.seq}`);
    return { entry, ref: this.refOf(r.ref), blob };
  }

  /**
   * The last seq whose time is <= t (0 when none). The sequencer stamps entries in seq order, so time does not
   * decrease along the index: a binary search over seq needs no index on time (one less to maintain per append).
   */
  seqAtTime(t: number): number {
    let lo = this.first() ?? 1;
    let hi = this.head().seq;
    let found = 0;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const r = this.row(mid);
      if (r && r.time <= t) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /**
   * Add a checkpoint; the newest `keep` are kept, and the compaction base (the snapshot the journal now starts
   * at) too. Returns the new checkpoint's id.
   */
  putCheckpoint(c: Omit<Checkpoint, 'id'>, keep = 5): number {
    let id = 0;
    this.transaction(() => {
      id = Number(this.db.prepare('INSERT INTO journal_checkpoint(seq, ref, time, snapshot, pubkey, sig) VALUES (?, ?, ?, ?, ?, ?)')
        .run(c.seq, c.ref, c.time, c.snapshot, c.pubkey, c.sig).lastInsertRowid);
      // the newest few, the compaction base, and the first of every SNAPSHOT_SPACING entries stay
      this.db.prepare(`DELETE FROM journal_checkpoint WHERE id NOT IN (SELECT id FROM journal_checkpoint ORDER BY seq DESC, id DESC LIMIT ?)
          AND id IS NOT (SELECT CAST(value AS INTEGER) FROM journal_meta WHERE key = 'base')
          AND id NOT IN (SELECT MIN(id) FROM journal_checkpoint GROUP BY seq / ${SNAPSHOT_SPACING})`).run(keep);
    });
    return id;
  }

  /**
   * Newest first, by the seq they name: a compaction may add a snapshot of a seq older than the newest
   * checkpoint. After a compaction the oldest is the snapshot at expectedFirst().
   */
  checkpoints(): Checkpoint[] {
    return this.db.prepare('SELECT id, seq, ref, time, snapshot, pubkey, sig FROM journal_checkpoint ORDER BY seq DESC, id DESC').all() as Checkpoint[];
  }

  /**
   * Every index row with its stored blob, in seq order: one joined query per page, so a verification pass does
   * not pay a lookup per entry, and no statement stays open between pages.
   */
  *scan(from = 1, pageSize = 4096): Generator<IndexRow & { blob: Buffer | undefined; damage?: string }> {
    from = Math.max(from, this.expected);
    const page = this.db.prepare(`SELECT j.seq AS seq, j.ref AS ref, j.time AS time, j.topic AS topic, o.size AS size,
        o.object AS object FROM journal j LEFT JOIN objects o ON o.hash = j.ref WHERE j.seq >= ? ORDER BY j.seq LIMIT ?`);
    for (let next = from; ; ) {
      // raw rows (arrays): no object per row, which a pass over a million entries notices
      const rows = (page.raw(true).all(next, pageSize) as Array<[number, Buffer, number, string, number | null, Buffer | null]>)
        .map(([seq, ref, time, topic, size, object]) => ({ seq, ref, time, topic, size, object }));
      if (rows.length === 0) return;
      for (const r of rows) {
        const ref = this.refOf(r.ref);
        let blob: Buffer | undefined;
        let damage: string | undefined;
        try {
          blob = r.size === null ? undefined : inflate(r.size, r.object, () => ref);
        } catch (err) {
          // a damaged object is a finding for the verifier, not a reason to stop reading
          damage = (err as Error).message;
        }
        yield { seq: r.seq, ref, time: r.time, topic: r.topic, blob, damage };
      }
      next = rows[rows.length - 1]!.seq + 1;
    }
  }
}
