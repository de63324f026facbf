// The content store on disk: flux-core's content-sqlite layout, so either implementation reads the other's
// file. objects(hash = binary digest, size = uncompressed size or -1 when stored as is, object = bytes, an LZ4
// raw block when compressed); checkpt_v2(id, value = JSON text), newest = highest id. Synchronous by design: a
// transaction never spans an await, and the journal puts its own rows in the same transactions through `db`.
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import type * as Lz4 from 'lz4';
import {
  FluxError, EINVAL, ENOENT, ENOSPC, EBUSY, EIO, EFBIG, EUCLEAN, EROFS, ENOMEM, EACCES,
} from '../errors.js';
import { type HashName, hashBlob } from './blobref.js';

// Both native modules are required on first use, not imported: brokers other than rank 0 import this module for
// its helpers but never open a store, and loading sqlite costs a process ~6 MiB of resident memory (measured);
// and an ES import of a CommonJS package would start Node's CommonJS export scanner (see transport/overlay.ts).
// not named `require`: the bundle's own require must stay free in this file (below)
const load = createRequire(import.meta.url);
let sqliteModule: typeof Database | undefined;
let lz4Module: typeof Lz4 | undefined;
// the build bundles the library's JavaScript with the broker, by this very expression (scripts/bundle-cli.mjs)
const sqlite = () => (sqliteModule ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database);
const lz4 = () => (lz4Module ??= load('lz4') as typeof Lz4);
// The addon named by its path: left to find it, better-sqlite3 asks the `bindings` package, which searches a dozen
// places from its caller's file (1.5-5 ms a process, measured), and finds none from a bundle
let addonPath: string | undefined;
const sqliteAddon = () => (addonPath ??= load.resolve('better-sqlite3/build/Release/better_sqlite3.node'));

/** flux-core compresses blobs from this size up */
export const COMPRESS_MIN = 256;
/** checkpoints kept, as flux-core's content-sqlite keeps them */
export const MAX_CHECKPOINTS = 5;
/** flux-core's largest blob: a stored size above it is damage, not data */
export const MAX_BLOB_SIZE = 1 << 30;
/** LZ4 expands a block at most ~255 times: a size claiming more is damage (and must not drive an allocation) */
const LZ4_MAX_RATIO = 255;
/** compression output up to this size reuses one buffer rather than allocating per blob */
const SCRATCH_MAX = 1 << 20;
/** the page size of a file this module creates */
export const PAGE_SIZE = 16384;

/** flux-core's tables, statement for statement: sqlite keeps this text in sqlite_master, and tools compare it */
export const OBJECTS_TABLE = 'CREATE TABLE objects(hash BLOB PRIMARY KEY, size INT, object BLOB, epoch INT DEFAULT 0)';
export const CHECKPOINT_TABLE = 'CREATE TABLE checkpt_v2(id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, value TEXT)';
const REQUIRED_COLUMNS: Record<string, string[]> = { objects: ['hash', 'size', 'object'], checkpt_v2: ['id', 'value'] };

export interface ContentStats {
  /** objects stored */
  count: number;
  /** their total size uncompressed, in bytes */
  size: number;
}

export interface OpenOptions {
  /** read only: the file must exist; nothing is created or changed */
  readonly?: boolean;
  /**
   * check the whole file (quick_check) before use; default true. A read-only reader may skip it (it reads the
   * whole file): it changes nothing, and damage it meets is still reported as EUCLEAN when it meets it
   */
  check?: boolean;
  /**
   * when a commit is on disk: 'full' (the default) syncs the write-ahead log before a transaction returns, so
   * whatever was acknowledged after it survives a power loss or an OS crash; 'normal' syncs only at checkpoints of
   * the log, which survives the process being killed but may lose the newest transactions to a power loss
   */
  synchronous?: Synchronous;
}

export const SYNCHRONOUS = ['full', 'normal'] as const;
export type Synchronous = (typeof SYNCHRONOUS)[number];

/**
 * Map an sqlite failure to a typed error with an errno the wire can carry. Anything that is not an sqlite error
 * (a bug in the caller's transaction body, say) is returned as is, so its stack is not lost.
 */
export function sqliteError(err: unknown, what: string): unknown {
  if (err instanceof FluxError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  const msg = (err as Error).message;
  const base = code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1');
  switch (base) {
    case 'SQLITE_FULL': return new FluxError(ENOSPC, `${what}: no space left on device (${msg})`);
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return new FluxError(EBUSY, `${what}: in use by another process (the content store is opened exclusively)`);
    case 'SQLITE_CORRUPT':
    case 'SQLITE_NOTADB':
      return new FluxError(EUCLEAN, `${what}: the database is damaged (${msg}); it was left as it is`);
    case 'SQLITE_TOOBIG': return new FluxError(EFBIG, `${what}: blob too large for sqlite (${msg})`);
    case 'SQLITE_READONLY': return new FluxError(EROFS, `${what}: read-only (${msg})`);
    case 'SQLITE_NOMEM': return new FluxError(ENOMEM, `${what}: out of memory`);
    case 'SQLITE_PERM':
    case 'SQLITE_AUTH':
      return new FluxError(EACCES, `${what}: ${msg}`);
    default: return new FluxError(EIO, `${what}: ${msg} (${code})`);
  }
}

/** A stored object as the blob it holds: `size` is -1 for bytes stored as is, else the size they inflate to. */
export function inflate(size: number, object: Buffer | null, name: () => string): Buffer {
  const bytes = object ?? Buffer.alloc(0);
  if (size < 0) return bytes;
  if (!Number.isSafeInteger(size) || size > MAX_BLOB_SIZE || size > bytes.length * LZ4_MAX_RATIO + 16) {
    throw new FluxError(EUCLEAN, `blob ${name()} is damaged: its recorded size ${size} cannot come from ${bytes.length} bytes`);
  }
  const out = Buffer.allocUnsafe(size);
  const n = size === 0 ? 0 : lz4().decodeBlock(bytes, out);
  if (n !== size) throw new FluxError(EUCLEAN, `blob ${name()} is damaged: it does not decompress to its recorded size`);
  return out;
}

let scratch = Buffer.alloc(0);

/**
 * The bytes to store for a blob and the size column that goes with them: an LZ4 raw block when that is smaller,
 * else the blob itself with size -1. The output view may be a shared scratch buffer: bind it before the next call.
 */
export function deflate(blob: Buffer): { size: number; object: Buffer } {
  if (blob.length < COMPRESS_MIN) return { size: -1, object: blob };
  const room = blob.length - 1;
  let out: Buffer;
  if (room <= SCRATCH_MAX) {
    if (scratch.length < room) scratch = Buffer.allocUnsafe(SCRATCH_MAX);
    out = scratch.subarray(0, room);
  } else {
    out = Buffer.allocUnsafe(room);
  }
  // with room for one byte less than the blob, LZ4 gives up (returns 0) exactly when compressing would not shrink it
  const n = lz4().encodeBlock(blob, out);
  return n > 0 ? { size: blob.length, object: out.subarray(0, n) } : { size: -1, object: blob };
}

export class ContentStore {
  readonly db: Database.Database;
  readonly hashName: HashName;
  readonly path: string;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private readonly exists: Database.Statement;
  private readonly checkpointInsert: Database.Statement;
  private readonly checkpointPrune: Database.Statement;
  private readonly checkpointSelect: Database.Statement;
  private readonly insertMarked: Database.Statement;
  private readonly sweepPage: Database.Statement;
  private readonly sweepOne: Database.Statement;
  /** while a collection runs: its epoch, and its statements on the mark table */
  private gc: { epoch: number; mark: Database.Statement; marked: Database.Statement } | undefined;
  /** counted once on first use, then kept up to date by store(); dropped when a transaction fails */
  private totals: ContentStats | undefined;
  /** the write-ahead log, opened for syncLog() */
  private logFd: number | undefined;
  private syncsInFlight = 0;
  private closing = false;
  /** runs its argument in a transaction; made once, as better-sqlite3 builds a wrapper (~7 µs) for every db.transaction() */
  private readonly inTransaction: (fn: () => unknown) => unknown;

  private constructor(db: Database.Database, hash: HashName, path: string) {
    this.db = db;
    this.inTransaction = db.transaction((fn: () => unknown) => fn());
    this.hashName = hash;
    this.path = path;
    this.insert = db.prepare('INSERT OR IGNORE INTO objects(hash, size, object) VALUES (?, ?, ?)');
    this.select = db.prepare('SELECT size, object FROM objects WHERE hash = ?').raw();
    this.exists = db.prepare('SELECT 1 FROM objects WHERE hash = ?').pluck();
    this.checkpointInsert = db.prepare('INSERT INTO checkpt_v2(value) VALUES (?)');
    this.checkpointPrune = db.prepare('DELETE FROM checkpt_v2 WHERE id NOT IN (SELECT id FROM checkpt_v2 ORDER BY id DESC LIMIT ?)');
    this.checkpointSelect = db.prepare('SELECT value FROM checkpt_v2 ORDER BY id DESC').pluck();
    this.insertMarked = db.prepare('INSERT OR IGNORE INTO objects(hash, size, object, epoch) VALUES (?, ?, ?, ?)');
    this.sweepPage = db.prepare('SELECT rowid, hash, epoch FROM objects WHERE rowid > ? ORDER BY rowid LIMIT ?').raw();
    this.sweepOne = db.prepare('DELETE FROM objects WHERE rowid = ?');
  }

  /**
   * Open (creating if needed) the store at `path` (':memory:' for none). The file is checked first
   * (quick_check): a damaged one is refused with EUCLEAN and left untouched, never reset. The lock is
   * exclusive: a second process on the same file is refused at once with EBUSY, never left waiting or sharing.
   */
  static open(path: string, hash: HashName, opts: OpenOptions = {}): ContentStore {
    const readonly = opts.readonly ?? false;
    let db: Database.Database | undefined;
    try {
      db = new (sqlite())(path, { readonly, fileMustExist: readonly, timeout: 0, nativeBinding: sqliteAddon() });
      // a reader shares (sqlite cannot hold a WAL file exclusively without writing); it still fails at once with
      // EBUSY while a writer has the file, and a writer fails while it reads
      if (!readonly) db.pragma('locking_mode = EXCLUSIVE');
      // before anything writes: switching to WAL would already change a damaged file's header
      if (!readonly && opts.check === false) throw new FluxError(EINVAL, `${path}: only a read-only open may skip the check`);
      const check = opts.check === false ? [{ quick_check: 'ok' }] : db.pragma('quick_check') as Array<{ quick_check: string }>;
      if (check.length !== 1 || check[0]!.quick_check !== 'ok') {
        const why = check.slice(0, 3).map((r) => r.quick_check).join('; ');
        throw new FluxError(EUCLEAN, `${path}: the database is damaged (quick_check: ${why}); it was left as it is`);
      }
      if (!readonly) {
        // only a new file takes it (it is part of the file format, not of the schema; flux-core reads any size).
        // 16 KiB rather than sqlite's 4: a 4 KiB blob then fits its page instead of spilling to an overflow page,
        // and the trees are shallower. Measured here: a third more inserts per second, of 4 KiB and 200-byte blobs
        db.pragma(`page_size = ${PAGE_SIZE}`);
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (mode !== 'wal' && mode !== 'memory') throw new FluxError(EIO, `${path}: cannot use WAL journaling (got ${String(mode)})`);
        const sync = opts.synchronous ?? 'full';
        if (!SYNCHRONOUS.includes(sync)) throw new FluxError(EINVAL, `${path}: synchronous must be one of ${SYNCHRONOUS.join(', ')}`);
        db.pragma(`synchronous = ${sync.toUpperCase()}`);
        const have = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
        if (!have.has('objects')) db.exec(OBJECTS_TABLE);
        if (!have.has('checkpt_v2')) db.exec(CHECKPOINT_TABLE);
        // take the exclusive lock now, so a second instance fails at start rather than at its first write
        db.exec('BEGIN IMMEDIATE; COMMIT;');
      }
      checkColumns(db, path);
      return new ContentStore(db, hash, path);
    } catch (err) {
      db?.close();
      throw sqliteError(err, path);
    }
  }

  /**
   * Store a blob (deduplicated); returns its binary digest. `digest`: the caller's, made of these very bytes with
   * this store's hash (a commit names every object it makes before storing it, and hashing a directory of a few KB
   * again cost ~5 µs).
   */
  store(blob: Buffer, digest = hashBlob(this.hashName, blob)): Buffer {
    const { size, object } = deflate(blob);
    let changes: number;
    try {
      if (this.gc === undefined) {
        changes = this.insert.run(digest, size, object).changes;
      } else {
        // during a collection a new blob carries its epoch, and one stored again is live again: it is marked
        changes = this.insertMarked.run(digest, size, object, this.gc.epoch).changes;
        if (changes === 0) this.gc.mark.run(digest);
      }
    } catch (err) {
      this.totals = undefined;
      throw sqliteError(err, this.path);
    }
    if (changes > 0 && this.totals) {
      this.totals.count++;
      this.totals.size += blob.length;
    }
    return digest;
  }

  /** Store many blobs in one transaction: all or none. */
  storeMany(blobs: Buffer[]): Buffer[] {
    return this.transaction(() => blobs.map((b) => this.store(b)));
  }

  /** The blob with this digest; ENOENT when there is none, EUCLEAN when its row cannot be read back. */
  load(digest: Buffer): Buffer {
    let row: [number, Buffer | null] | undefined;
    try {
      row = this.select.get(digest) as typeof row;
    } catch (err) {
      throw sqliteError(err, this.path);
    }
    if (!row) throw new FluxError(ENOENT, `blob ${this.name(digest)} is not in the content store`);
    return inflate(row[0], row[1], () => this.name(digest));
  }

  has(digest: Buffer): boolean {
    try {
      return this.exists.get(digest) !== undefined;
    } catch (err) {
      throw sqliteError(err, this.path);
    }
  }

  /**
   * Run fn in one sqlite transaction (nested calls become savepoints); sqlite errors become FluxErrors naming
   * `what`. Writers of objects rows (the journal) use this rather than db.transaction so that stats() stays
   * exact when a transaction fails.
   */
  transaction<T>(fn: () => T, what = this.path): T {
    try {
      return this.inTransaction(fn) as T;
    } catch (err) {
      this.totals = undefined;
      throw sqliteError(err, what);
    }
  }

  /** Add a checkpoint (JSON object, flux-core's {version, rootref, sequence, timestamp}); the last 5 are kept. */
  checkpointPut(value: Record<string, unknown>): void {
    this.transaction(() => {
      this.checkpointInsert.run(JSON.stringify(value));
      this.checkpointPrune.run(MAX_CHECKPOINTS);
    });
  }

  /**
   * The checkpoints, newest first. A value that is not JSON (written by an old flux-core) comes back as the
   * string it is, as flux-core's backing store returns it.
   */
  checkpointGet(): unknown[] {
    let rows: Array<string | null>;
    try {
      rows = this.checkpointSelect.all() as Array<string | null>;
    } catch (err) {
      throw sqliteError(err, this.path);
    }
    return rows.map((text) => {
      if (text === null) throw new FluxError(EUCLEAN, `${this.path}: a checkpoint row has no value`);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    });
  }

  /**
   * Objects stored and their total uncompressed size. The first call counts them (one scan of the table, which
   * reads sizes but not the blobs); later ones are kept up to date as blobs are stored.
   */
  stats(): ContentStats {
    if (!this.totals) {
      try {
        const r = this.db.prepare(`SELECT count(*) AS count,
            coalesce(sum(CASE WHEN size < 0 THEN length(object) ELSE size END), 0) AS size FROM objects`).get() as ContentStats;
        this.totals = { count: r.count, size: r.size };
      } catch (err) {
        throw sqliteError(err, this.path);
      }
    }
    return { ...this.totals };
  }

  /**
   * Start a collection (mark and sweep). Two records keep an object: the `epoch` column (flux-core's layout
   * has it) stamps every object stored while the collection runs, so one written for a commit whose entry does
   * not exist yet is never taken; and a mark table, in sqlite's temp store, holds what the collector found
   * reachable and the old objects stored again. Marks do not go into the objects rows: updating a row rewrites
   * its page, blob and all, into the WAL, and that was most of a collection's time (measured).
   */
  beginCollection(epoch: number): void {
    this.db.exec('CREATE TEMP TABLE IF NOT EXISTS gc_mark(hash BLOB PRIMARY KEY) WITHOUT ROWID; DELETE FROM temp.gc_mark;');
    this.gc = {
      epoch,
      mark: this.db.prepare('INSERT OR IGNORE INTO temp.gc_mark(hash) VALUES (?)'),
      marked: this.db.prepare('SELECT 1 FROM temp.gc_mark WHERE hash = ?').pluck(),
    };
  }

  /** Mark these objects live, in one transaction; returns which were not marked before. */
  markLive(digests: Buffer[]): boolean[] {
    const gc = this.gc;
    if (!gc) throw new FluxError(EINVAL, 'no collection is running');
    return this.transaction(() => digests.map((d) => gc.mark.run(d).changes > 0));
  }

  /**
   * Delete the unmarked objects older than the collection among the next `limit` rows after rowid `after`, in
   * one transaction. Returns where to go on from (undefined at the end) and how many were deleted. Paging by
   * rowid: each page is read once, whatever is kept.
   */
  sweep(after: number, limit: number): { next: number | undefined; deleted: number } {
    const gc = this.gc;
    if (!gc) throw new FluxError(EINVAL, 'no collection is running');
    const r = this.transaction(() => {
      const rows = this.sweepPage.all(after, limit) as Array<[number, Buffer, number | null]>;
      let deleted = 0;
      for (const [rowid, hash, e] of rows) {
        if ((e ?? 0) < gc.epoch && gc.marked.get(hash) === undefined) deleted += this.sweepOne.run(rowid).changes;
      }
      return { next: rows.length < limit ? undefined : rows[rows.length - 1]![0], deleted };
    });
    // counted again when next asked: deleted rows' sizes were not read
    if (r.deleted > 0) this.totals = undefined;
    return r;
  }

  /** End the collection: objects are stored as before, and the marks are dropped. */
  endCollection(): void {
    this.gc = undefined;
    this.db.exec('DROP TABLE IF EXISTS temp.gc_mark');
  }

  /**
   * Sync the write-ahead log to disk without blocking the event loop (the call runs on libuv's threads): every
   * transaction that committed before the call is then on disk, and survives a power loss. One sync covers all the
   * transactions before it, so a caller that answers only after it can let the next transactions commit meanwhile
   * (group commit).
   */
  async syncLog(): Promise<void> {
    if (this.path === ':memory:' || this.path === '') return;
    const fd = this.logToSync();
    this.syncsInFlight++;
    try {
      await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    } catch (err) {
      throw this.syncError(err);
    } finally {
      if (--this.syncsInFlight === 0 && this.closing) this.closeLog();
    }
  }

  /** syncLog() on the calling thread: the same guarantee, without the two thread wake-ups, blocking meanwhile */
  syncLogNow(): void {
    if (this.path === ':memory:' || this.path === '') return;
    const fd = this.logToSync();
    try {
      fdatasyncSync(fd);
    } catch (err) {
      throw this.syncError(err);
    }
  }

  /** the log's descriptor; opened by the first sync, which also syncs the directory, so that the log's name survives */
  private logToSync(): number {
    if (this.closing) throw new FluxError(EIO, `${this.path}: the content store is closed`);
    if (this.logFd !== undefined) return this.logFd;
    let fd: number | undefined;
    try {
      fd = openSync(`${this.path}-wal`, 'r');
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      throw this.syncError(err);
    }
    this.logFd = fd;
    return fd;
  }

  private syncError(err: unknown): FluxError {
    const e = err as NodeJS.ErrnoException;
    return new FluxError(e.code === 'ENOSPC' ? ENOSPC : EIO, `${this.path}: the log could not be synced to disk: ${e.message}`);
  }

  close(): void {
    this.closing = true;
    // a sync still on its way holds the descriptor: it is closed when that sync is over
    if (this.syncsInFlight === 0) this.closeLog();
    this.db.close();
  }

  private closeLog(): void {
    if (this.logFd !== undefined) closeSync(this.logFd);
    this.logFd = undefined;
  }

  /** the blobref for messages; not blobref(), which would throw on a digest of the wrong size */
  private name(digest: Buffer): string {
    return `${this.hashName}-${digest.toString('hex')}`;
  }
}

/** A file that holds other tables under these names is not a content store: refuse it rather than write into it. */
function checkColumns(db: Database.Database, path: string): void {
  for (const [table, need] of Object.entries(REQUIRED_COLUMNS)) {
    const cols = new Set((db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name));
    const missing = need.filter((c) => !cols.has(c));
    if (missing.length > 0) {
      throw new FluxError(EINVAL, `${path} is not a content store: table ${table} lacks ${missing.join(', ')}`);
    }
  }
}
