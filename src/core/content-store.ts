// The content store on disk: flux-core's content-sqlite layout, so either implementation reads the other's
// file. objects(hash = binary digest, size = uncompressed size or -1 when stored as is, object = bytes, LZ4 raw
// block when compressed). Synchronous by design: a transaction never spans an await.
import Database from 'better-sqlite3';
import lz4 from 'lz4';
import { FluxError, EINVAL, ENOENT, ENOSPC, EBUSY, EIO, EFBIG } from './errors.js';
import { type HashName, hashBlob, blobref } from './blobref.js';

/** flux-core compresses blobs from this size up */
export const COMPRESS_MIN = 256;
/** checkpoints kept, as flux-core's content-sqlite keeps them */
export const MAX_CHECKPOINTS = 5;

export interface ContentStats {
  count: number;
  size: number;
}

/** Map an sqlite failure to a typed error with an errno the wire can carry. */
export function sqliteError(err: unknown, what: string): FluxError {
  if (err instanceof FluxError) return err;
  const code = (err as { code?: string }).code ?? '';
  const msg = (err as Error).message;
  if (code === 'SQLITE_FULL') return new FluxError(ENOSPC, `${what}: no space left on device`);
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return new FluxError(EBUSY, `${what}: in use by another process`);
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return new FluxError(EIO, `${what}: the database is damaged (${msg})`);
  if (code === 'SQLITE_TOOBIG') return new FluxError(EFBIG, `${what}: blob too large`);
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN') return new FluxError(EIO, `${what}: ${msg} [${code}]`);
  return new FluxError(EIO, `${what}: ${msg}`);
}

/** A stored object as the blob it holds: `size` is -1 for bytes stored as is, else the size they inflate to. */
export function inflate(size: number, object: Buffer | null, name: () => string): Buffer {
  const bytes = object ?? Buffer.alloc(0);
  if (size < 0) return bytes;
  const out = Buffer.allocUnsafe(size);
  const n = lz4.decodeBlock(bytes, out);
  if (n !== size) throw new FluxError(EIO, `blob ${name()} does not decompress to its size`);
  return out;
}

export class ContentStore {
  readonly db: Database.Database;
  readonly hashName: HashName;
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private readonly exists: Database.Statement;

  private constructor(db: Database.Database, hash: HashName) {
    this.db = db;
    this.hashName = hash;
    this.insert = db.prepare('INSERT OR IGNORE INTO objects(hash, size, object) VALUES (?, ?, ?)');
    this.select = db.prepare('SELECT size, object FROM objects WHERE hash = ?');
    this.exists = db.prepare('SELECT 1 FROM objects WHERE hash = ?');
  }

  /**
   * Open (creating if needed) the store at `path` (':memory:' for none). The lock is exclusive: a second
   * process on the same file is refused at once with EBUSY, never left waiting or sharing.
   */
  static open(path: string, hash: HashName, opts: { readonly?: boolean } = {}): ContentStore {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: 0 });
      if (!opts.readonly) {
        db.pragma('locking_mode = EXCLUSIVE');
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.exec(`CREATE TABLE IF NOT EXISTS objects(hash BLOB PRIMARY KEY, size INT, object BLOB, epoch INT DEFAULT 0);
          CREATE TABLE IF NOT EXISTS checkpt_v2(id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, value TEXT);`);
        // take the exclusive lock now, so a second instance fails at start rather than at its first write
        db.exec('BEGIN IMMEDIATE; COMMIT;');
      } else {
        db.prepare('SELECT count(*) FROM objects').get();
      }
      return new ContentStore(db, hash);
    } catch (err) {
      db?.close();
      throw sqliteError(err, path);
    }
  }

  /** Store a blob (deduplicated); returns its binary digest. */
  store(blob: Buffer): Buffer {
    const digest = hashBlob(this.hashName, blob);
    let size = -1;
    let object = blob;
    if (blob.length >= COMPRESS_MIN) {
      const out = Buffer.allocUnsafe(lz4.encodeBound(blob.length));
      const n = lz4.encodeBlock(blob, out);
      if (n > 0 && n < blob.length) {
        size = blob.length;
        object = out.subarray(0, n);
      }
    }
    try {
      this.insert.run(digest, size, object);
    } catch (err) {
      throw sqliteError(err, 'content store');
    }
    return digest;
  }

  /** Store many blobs in one transaction. */
  storeMany(blobs: Buffer[]): Buffer[] {
    return this.transaction(() => blobs.map((b) => this.store(b)));
  }

  load(digest: Buffer): Buffer {
    let row: { size: number; object: Buffer | null } | undefined;
    try {
      row = this.select.get(digest) as typeof row;
    } catch (err) {
      throw sqliteError(err, 'content store');
    }
    if (!row) throw new FluxError(ENOENT, `no blob ${blobref(this.hashName, digest)}`);
    return inflate(row.size, row.object, () => blobref(this.hashName, digest));
  }

  has(digest: Buffer): boolean {
    return this.exists.get(digest) !== undefined;
  }

  /** Run fn in one sqlite transaction (nested calls become savepoints); sqlite errors become FluxErrors. */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      throw sqliteError(err, 'content store');
    }
  }

  checkpointPut(value: Record<string, unknown>): void {
    this.transaction(() => {
      this.db.prepare('INSERT INTO checkpt_v2(value) VALUES (?)').run(JSON.stringify(value));
      this.db.prepare('DELETE FROM checkpt_v2 WHERE id NOT IN (SELECT id FROM checkpt_v2 ORDER BY id DESC LIMIT ?)')
        .run(MAX_CHECKPOINTS);
    });
  }

  /** newest first */
  checkpointGet(): Array<Record<string, unknown>> {
    const rows = this.db.prepare('SELECT value FROM checkpt_v2 ORDER BY id DESC').all() as Array<{ value: string }>;
    return rows.map((r) => {
      try {
        return JSON.parse(r.value) as Record<string, unknown>;
      } catch {
        throw new FluxError(EINVAL, 'a stored checkpoint is not valid JSON');
      }
    });
  }

  stats(): ContentStats {
    const r = this.db.prepare('SELECT count(*) AS count, coalesce(sum(CASE WHEN size < 0 THEN length(object) ELSE size END), 0) AS size FROM objects').get() as ContentStats;
    return r;
  }

  close(): void {
    this.db.close();
  }
}
