// The sqlite content store: flux-core's layout both ways, compression, hashes, locking, damage.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import lz4 from 'lz4';
import { ContentStore, COMPRESS_MIN } from '../../src/core/content-store.js';
import { FluxError, EBUSY, EIO, ENOENT } from '../../src/core/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'flux-cs-'));

describe('content store', () => {
  it.each(['sha1', 'sha256'] as const)('round-trips blobs of every size with %s, compressing from 256 bytes', (hash) => {
    const cs = ContentStore.open(join(tmp(), 'c.sqlite'), hash);
    const blobs = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(COMPRESS_MIN - 1, 7), Buffer.alloc(COMPRESS_MIN, 7),
      Buffer.alloc(1 << 20, 'abc'), randomBytes(4096)];
    const digests = cs.storeMany(blobs);
    blobs.forEach((b, i) => {
      // Buffer.equals: a deep equality over a MiB is slow in the test runner
      expect(digests[i]!.equals(createHash(hash).update(b).digest())).toBe(true);
      expect(cs.load(digests[i]!).equals(b)).toBe(true);
    });
    const rows = cs.db.prepare('SELECT size, length(object) AS len FROM objects').all() as Array<{ size: number; len: number }>;
    // compressible blobs from 256 bytes on are stored compressed with their size; the rest as is (-1)
    expect(rows.filter((r) => r.size >= 0).map((r) => r.size).sort((a, b) => a - b)).toEqual([COMPRESS_MIN, 1 << 20]);
    expect(cs.stats().count).toBe(6);
    cs.store(Buffer.from('hello'));
    expect(cs.stats().count).toBe(6);
    expect(() => cs.load(Buffer.alloc(hash === 'sha1' ? 20 : 32))).toThrow(expect.objectContaining({ errno: ENOENT }));
    cs.close();
  });

  it('reads a file laid out by flux-core, and writes that very layout', () => {
    const path = join(tmp(), 'content.sqlite');
    const db = new Database(path);
    db.exec(`CREATE TABLE objects(hash BLOB PRIMARY KEY, size INT, object BLOB, epoch INT DEFAULT 0);
      CREATE TABLE checkpt_v2(id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, value TEXT);`);
    const big = Buffer.from('flux '.repeat(200));
    const out = Buffer.alloc(lz4.encodeBound(big.length));
    const n = lz4.encodeBlock(big, out);
    const sha1 = (b: Buffer) => createHash('sha1').update(b).digest();
    db.prepare('INSERT INTO objects(hash, size, object) VALUES (?, ?, ?)').run(sha1(big), big.length, out.subarray(0, n));
    db.prepare('INSERT INTO objects(hash, size, object) VALUES (?, ?, ?)').run(sha1(Buffer.from('hello')), -1, Buffer.from('hello'));
    db.prepare('INSERT INTO checkpt_v2(value) VALUES (?)').run('{"version":1,"rootref":"sha1-00","sequence":4,"timestamp":1.5}');
    db.close();
    const cs = ContentStore.open(path, 'sha1');
    expect(cs.load(sha1(big)).equals(big)).toBe(true);
    expect(cs.load(sha1(Buffer.from('hello'))).toString()).toBe('hello');
    expect(cs.checkpointGet()).toEqual([{ version: 1, rootref: 'sha1-00', sequence: 4, timestamp: 1.5 }]);
    const schema = (cs.db.prepare("SELECT sql FROM sqlite_master WHERE name IN ('objects', 'checkpt_v2') ORDER BY name").all() as Array<{ sql: string }>).map((r) => r.sql);
    expect(schema).toEqual([
      'CREATE TABLE checkpt_v2(id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, value TEXT)',
      'CREATE TABLE objects(hash BLOB PRIMARY KEY, size INT, object BLOB, epoch INT DEFAULT 0)',
    ]);
    cs.close();
  });

  it('keeps the newest 5 checkpoints, newest first', () => {
    const cs = ContentStore.open(':memory:', 'sha256');
    for (let i = 1; i <= 7; i++) cs.checkpointPut({ version: 1, rootref: `sha256-${i}`, sequence: i, timestamp: i });
    expect(cs.checkpointGet().map((c) => c.sequence)).toEqual([7, 6, 5, 4, 3]);
    cs.close();
  });

  it('refuses a second opener and reports a damaged file, never resetting it', () => {
    const dir = tmp();
    const path = join(dir, 'content.sqlite');
    const a = ContentStore.open(path, 'sha256');
    expect(() => ContentStore.open(path, 'sha256')).toThrow(expect.objectContaining({ errno: EBUSY }));
    a.close();
    writeFileSync(path, Buffer.alloc(4096, 0x41));
    let err: unknown;
    try {
      ContentStore.open(path, 'sha256');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FluxError);
    expect((err as FluxError).errno).toBe(EIO);
    expect((err as FluxError).message).toMatch(/damaged/);
  });
});
