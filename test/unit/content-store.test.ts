// Blobrefs, the sqlite content store (flux-core's layout both ways, compression, locking, damage, full disk) and
// the content service's rank-0 batching and rank > 0 cache, on a stand-in broker.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import lz4 from 'lz4';
import {
  ContentStore, COMPRESS_MIN, MAX_CHECKPOINTS, OBJECTS_TABLE, CHECKPOINT_TABLE,
} from '../../src/core/content/store.js';
import {
  blobref, blobrefOf, parseBlobref, digestOf, hashBlob, checkHashName, DIGEST_SIZE,
} from '../../src/core/content/blobref.js';
import {
  FluxError, EBUSY, EUCLEAN, ENOENT, EINVAL, ENOSPC, EROFS, EPROTO, EFBIG, ENOSYS,
} from '../../src/core/errors.js';
import {
  type Message, makeRequest, jsonPayload, payloadJson, ROLE_OWNER, MSGTYPE_RESPONSE,
} from '../../src/core/wire/message.js';
import { Attrs } from '../../src/services/attrs.js';
import { ServiceRegistry } from '../../src/broker/registry.js';
import type { ModuleHost, Payload, RpcOptions } from '../../src/services/module.js';
import { contentModule, type ContentService } from '../../src/services/content.js';
import { fakeHost } from '../helpers/module-host.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'flux-cs-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** a content store opened in another process (from the build: the e2e and fixture convention) */
const OPENER = fileURLToPath(new URL('../fixtures/content-open.mjs', import.meta.url));

const sha = (hash: 'sha1' | 'sha256', b: Buffer): Buffer => createHash(hash).update(b).digest();

function thrown(fn: () => unknown): FluxError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FluxError);
    return err as FluxError;
  }
  throw new Error('expected a FluxError');
}

describe('blobref', () => {
  it('formats and parses sha1 and sha256 blobrefs of raw bytes', () => {
    expect(blobrefOf('sha1', Buffer.from('hello'))).toBe('sha1-aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d');
    expect(blobrefOf('sha256', Buffer.from('hello'))).toBe('sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    const d = hashBlob('sha256', Buffer.alloc(0));
    expect(d.length).toBe(DIGEST_SIZE.sha256);
    const ref = blobref('sha256', d);
    expect(parseBlobref(ref)).toEqual({ hash: 'sha256', digest: d });
    expect(digestOf('sha256', ref).equals(d)).toBe(true);
  });

  it('refuses anything that is not a blobref with EINVAL', () => {
    const good = blobrefOf('sha1', Buffer.from('x'));
    for (const bad of ['', 'sha1', 'sha1-', `SHA1-${good.slice(5)}`, good.toUpperCase(), `${good}0`, good.slice(0, -1),
      `md5-${good.slice(5)}`, `sha256-${good.slice(5)}`, `sha1-${'g'.repeat(40)}`, `-${good}`, `${good}\n`]) {
      expect(thrown(() => parseBlobref(bad)).errno).toBe(EINVAL);
    }
    // a good blobref of the other hash is not this instance's
    expect(thrown(() => digestOf('sha256', good)).errno).toBe(EINVAL);
    expect(thrown(() => blobref('sha1', Buffer.alloc(32))).errno).toBe(EINVAL);
    expect(thrown(() => checkHashName('md5')).errno).toBe(EINVAL);
  });
});

describe('content store', () => {
  it.each(['sha1', 'sha256'] as const)('round-trips 0 B to 1 MiB with %s, LZ4 raw blocks from 256 bytes when smaller', (hash) => {
    const cs = ContentStore.open(join(tmp(), 'c.sqlite'), hash);
    // [blob, stored compressed]: from 256 bytes on, and only when LZ4 makes it smaller (never for random bytes)
    const cases: Array<[Buffer, boolean]> = [[Buffer.alloc(0), false], [Buffer.from('hello'), false],
      [Buffer.alloc(COMPRESS_MIN - 1, 7), false], [Buffer.alloc(COMPRESS_MIN, 7), true], [Buffer.alloc(1 << 20, 'abc'), true],
      [randomBytes(1 << 20), false], [randomBytes(COMPRESS_MIN), false], [randomBytes(4096), false]];
    const blobs = cases.map(([b]) => b);
    const digests = cs.storeMany(blobs);
    blobs.forEach((b, i) => {
      // Buffer.equals: a deep equality over a MiB is slow in the test runner
      expect(digests[i]!.equals(sha(hash, b))).toBe(true);
      expect(cs.load(digests[i]!).equals(b)).toBe(true);
    });
    const rows = cs.db.prepare('SELECT hash, size, object FROM objects').all() as Array<{ hash: Buffer; size: number; object: Buffer }>;
    const byDigest = new Map(rows.map((r) => [r.hash.toString('hex'), r]));
    blobs.forEach((b, i) => {
      const r = byDigest.get(digests[i]!.toString('hex'))!;
      const compressible = cases[i]![1];
      expect(r.size).toBe(compressible ? b.length : -1);
      if (compressible) {
        // a raw block, not the LZ4 frame format (whose magic is 04 22 4d 18)
        expect(r.object.readUInt32LE(0)).not.toBe(0x184d2204);
        const out = Buffer.alloc(b.length);
        expect(lz4.decodeBlock(r.object, out)).toBe(b.length);
        expect(out.equals(b)).toBe(true);
      } else {
        expect(r.object.equals(b)).toBe(true);
      }
    });
    expect(cs.stats()).toEqual({ count: blobs.length, size: blobs.reduce((n, b) => n + b.length, 0) });
    expect(thrown(() => cs.load(Buffer.alloc(DIGEST_SIZE[hash]))).errno).toBe(ENOENT);
    cs.close();
  });

  it('deduplicates: a blob stored again is one row, and stats do not move', () => {
    const cs = ContentStore.open(':memory:', 'sha256');
    const a = cs.store(Buffer.from('same'));
    const before = cs.stats();
    expect(cs.storeMany([Buffer.from('same'), Buffer.from('same')]).every((d) => d.equals(a))).toBe(true);
    expect(cs.stats()).toEqual(before);
    expect(cs.db.prepare('SELECT count(*) FROM objects').pluck().get()).toBe(1);
    expect(cs.has(a)).toBe(true);
    expect(cs.has(Buffer.alloc(32))).toBe(false);
    cs.close();
  });

  it('reads a file made by hand in flux-core\'s exact layout (4 KiB pages, an LZ4 raw block row)', () => {
    const path = join(tmp(), 'content.sqlite');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(`${OBJECTS_TABLE}; ${CHECKPOINT_TABLE};`);
    const big = Buffer.from('flux '.repeat(200));
    const out = Buffer.alloc(lz4.encodeBound(big.length));
    const n = lz4.encodeBlock(big, out);
    expect(n).toBeGreaterThan(0);
    db.prepare('INSERT INTO objects(hash, size, object) VALUES (?, ?, ?)').run(sha('sha1', big), big.length, out.subarray(0, n));
    db.prepare('INSERT INTO objects(hash, size, object) VALUES (?, ?, ?)').run(sha('sha1', Buffer.from('hello')), -1, Buffer.from('hello'));
    db.prepare('INSERT INTO checkpt_v2(value) VALUES (?)').run('{"version":1,"rootref":"sha1-00","sequence":4,"timestamp":1.5}');
    db.prepare('INSERT INTO checkpt_v2(value) VALUES (?)').run('sha1-from-an-old-flux');
    db.close();
    const cs = ContentStore.open(path, 'sha1');
    expect(cs.load(sha('sha1', big)).equals(big)).toBe(true);
    expect(cs.load(sha('sha1', Buffer.from('hello'))).toString()).toBe('hello');
    // newest first; a value that is not JSON comes back as the string it is
    expect(cs.checkpointGet()).toEqual(['sha1-from-an-old-flux', { version: 1, rootref: 'sha1-00', sequence: 4, timestamp: 1.5 }]);
    // an existing file keeps its page size
    expect(cs.db.pragma('page_size', { simple: true })).toBe(4096);
    expect(cs.stats()).toEqual({ count: 2, size: big.length + 5 });
    cs.close();
  });

  it('writes exactly flux-core\'s schema and encoding, in WAL mode', () => {
    const path = join(tmp(), 'content.sqlite');
    const cs = ContentStore.open(path, 'sha256');
    const small = Buffer.from('hello');
    const big = Buffer.alloc(1000, 'z');
    cs.storeMany([small, big]);
    cs.close();
    const db = new Database(path, { readonly: true });
    const schema = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    expect(schema).toEqual([
      { name: 'checkpt_v2', sql: 'CREATE TABLE checkpt_v2(id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, value TEXT)' },
      { name: 'objects', sql: 'CREATE TABLE objects(hash BLOB PRIMARY KEY, size INT, object BLOB, epoch INT DEFAULT 0)' },
      { name: 'sqlite_sequence', sql: 'CREATE TABLE sqlite_sequence(name,seq)' },
    ]);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const rows = db.prepare('SELECT hash, size, object, epoch, typeof(hash) AS t FROM objects ORDER BY size').all() as
      Array<{ hash: Buffer; size: number; object: Buffer; epoch: number; t: string }>;
    expect(rows[0]).toEqual({ hash: sha('sha256', small), size: -1, object: small, epoch: 0, t: 'blob' });
    expect(rows[1]!.hash.equals(sha('sha256', big))).toBe(true);
    expect(rows[1]!.size).toBe(1000);
    const out = Buffer.alloc(1000);
    expect(lz4.decodeBlock(rows[1]!.object, out)).toBe(1000);
    expect(out.equals(big)).toBe(true);
    db.close();
  });

  it('keeps the newest checkpoints, newest first', () => {
    const cs = ContentStore.open(':memory:', 'sha256');
    for (let i = 1; i <= 7; i++) cs.checkpointPut({ version: 1, rootref: `sha256-${i}`, sequence: i, timestamp: i });
    expect((cs.checkpointGet() as Array<{ sequence: number }>).map((c) => c.sequence)).toEqual([7, 6, 5, 4, 3]);
    expect(cs.db.prepare('SELECT count(*) FROM checkpt_v2').pluck().get()).toBe(MAX_CHECKPOINTS);
    cs.close();
  });

  it('refuses a second opener at once, in this process and in another, and a writer while a reader has it', async () => {
    const path = join(tmp(), 'content.sqlite');
    const a = ContentStore.open(path, 'sha256');
    a.store(Buffer.from('held'));
    const e = thrown(() => ContentStore.open(path, 'sha256'));
    expect(e.errno).toBe(EBUSY);
    expect(e.message).toContain('in use by another process');
    expect(thrown(() => ContentStore.open(path, 'sha256', { readonly: true })).errno).toBe(EBUSY);
    const other = spawnSync(process.execPath, [OPENER, path], { encoding: 'utf8', timeout: 10_000 });
    expect(other.stdout).toMatch(new RegExp(`^${EBUSY} .*in use by another process`));
    a.close();

    // the other way round: another process holds it, this one is refused
    const holder = spawn(process.execPath, [OPENER, path, 'hold'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve()));
    expect(thrown(() => ContentStore.open(path, 'sha256')).errno).toBe(EBUSY);
    holder.stdin.end();
    await new Promise((resolve) => holder.on('close', resolve));

    const r = ContentStore.open(path, 'sha256', { readonly: true });
    expect(thrown(() => ContentStore.open(path, 'sha256')).errno).toBe(EBUSY);
    expect(thrown(() => r.store(Buffer.from('x'))).errno).toBe(EROFS);
    expect(r.load(sha('sha256', Buffer.from('held'))).toString()).toBe('held');
    r.close();
    ContentStore.open(path, 'sha256').close();
  });

  it('reports a damaged file with EUCLEAN and leaves it byte for byte as it was', () => {
    const dir = tmp();
    // not sqlite at all
    const junk = join(dir, 'junk.sqlite');
    writeFileSync(junk, Buffer.alloc(8192, 0x41));
    const e = thrown(() => ContentStore.open(junk, 'sha256'));
    expect(e.errno).toBe(EUCLEAN);
    expect(e.message).toMatch(/damaged/);
    expect(readFileSync(junk).equals(Buffer.alloc(8192, 0x41))).toBe(true);

    // sqlite with a header intact and a b-tree page overwritten: found by quick_check
    const path = join(dir, 'content.sqlite');
    const cs = ContentStore.open(path, 'sha256');
    cs.storeMany(Array.from({ length: 200 }, (_, i) => Buffer.from(`blob ${i} `.repeat(50))));
    cs.close();
    const bytes = readFileSync(path);
    const pageSize = bytes.readUInt16BE(16);
    expect(bytes.length).toBeGreaterThan(3 * pageSize);
    bytes.fill(0xa5, 2 * pageSize + 8, 3 * pageSize);
    writeFileSync(path, bytes);
    const d = thrown(() => ContentStore.open(path, 'sha256'));
    expect(d.errno).toBe(EUCLEAN);
    expect(d.message).toMatch(/damaged/);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('reports a row that does not inflate to its size as damaged, without allocating what it claims', () => {
    const cs = ContentStore.open(':memory:', 'sha256');
    const d = cs.store(Buffer.alloc(1000, 'q'));
    cs.db.prepare('UPDATE objects SET size = ? WHERE hash = ?').run(999, d);
    expect(thrown(() => cs.load(d)).errno).toBe(EUCLEAN);
    cs.db.prepare('UPDATE objects SET size = ? WHERE hash = ?').run(2 ** 40, d);
    expect(thrown(() => cs.load(d)).message).toMatch(/damaged/);
    cs.close();
  });

  it('refuses an sqlite file that holds other tables under these names', () => {
    const path = join(tmp(), 'other.sqlite');
    const db = new Database(path);
    db.exec('CREATE TABLE objects(name TEXT)');
    db.close();
    expect(thrown(() => ContentStore.open(path, 'sha256')).errno).toBe(EINVAL);
  });

  it('maps a full database to ENOSPC, keeps the failed batch out entirely, and goes on after', () => {
    const cs = ContentStore.open(join(tmp(), 'c.sqlite'), 'sha256');
    const kept = cs.store(Buffer.from('kept'));
    const pages = cs.db.pragma('page_count', { simple: true }) as number;
    cs.db.pragma(`max_page_count = ${pages + 4}`);
    const batch = Array.from({ length: 16 }, () => randomBytes(16384));
    const e = thrown(() => cs.storeMany(batch));
    expect(e.errno).toBe(ENOSPC);
    expect(e.message).toMatch(/no space left on device/);
    expect(batch.some((b) => cs.has(sha('sha256', b)))).toBe(false);
    expect(cs.stats()).toEqual({ count: 1, size: 4 });
    expect(cs.load(kept).toString()).toBe('kept');
    cs.db.pragma('max_page_count = 1073741823');
    cs.storeMany(batch);
    expect(cs.stats().count).toBe(17);
    cs.close();
  });

  // needs root (tmpfs), as CI and these machines have; the journal's full-disk e2e test needs it too
  it('on a real full disk (1 MiB tmpfs): ENOSPC, what was stored stays readable, and reopens clean', () => {
    const dir = tmp();
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const path = join(mnt, 'content.sqlite');
      const cs = ContentStore.open(path, 'sha256');
      const stored: Buffer[] = [];
      let err: FluxError | undefined;
      for (let i = 0; i < 200 && !err; i++) {
        try {
          stored.push(...cs.storeMany([randomBytes(8192), randomBytes(8192)]));
        } catch (e) {
          err = e as FluxError;
        }
      }
      expect(err).toBeInstanceOf(FluxError);
      expect(err!.errno).toBe(ENOSPC);
      expect(stored.length).toBeGreaterThan(0);
      expect(stored.every((d) => cs.load(d).length === 8192)).toBe(true);
      cs.close();
      const again = ContentStore.open(path, 'sha256');
      expect(again.stats().count).toBe(stored.length);
      again.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

// ---- the content service on a stand-in broker ------------------------------------------------------------

interface Upstream {
  calls: Array<{ topic: string; payload: Buffer | undefined }>;
  /** answer upstream requests only when released (to see who waits on whom) */
  hold: boolean;
  release(): void;
  /** what the parent answers content.load with (default: the rank-0 store's blob) */
  tamper?: (blob: Buffer) => Buffer;
}

interface Harness {
  attrs: Attrs;
  registry: ServiceRegistry;
  responses: Message[];
  upstream: Upstream;
  svc: ContentService;
  send(topic: string, payload?: Buffer): Message;
  /** all responses so far with this matchtag */
  answered(req: Message): Message | undefined;
}

async function harness(rank: number, store: ContentStore | undefined, attrs: Record<string, string> = {}): Promise<Harness> {
  const a = new Attrs();
  a.define('content.hash', 'sha256');
  for (const [k, v] of Object.entries(attrs)) a.put(k, v);
  const responses: Message[] = [];
  const parent = ContentStore.open(':memory:', 'sha256');
  const waiting: Array<() => void> = [];
  const upstream: Upstream = {
    calls: [],
    hold: false,
    release: () => {
      for (const fn of waiting.splice(0)) fn();
    },
  };
  const reply = (payload?: Buffer): Message => ({
    type: MSGTYPE_RESPONSE, flags: 0, userid: 0, rolemask: ROLE_OWNER, aux1: 0, aux2: 0, payload,
  });
  const host = fakeHost(a, {
    rank, size: 2, uuid: 'u',
    respond: (req, payload?: Payload) => {
      const p = payload === undefined || Buffer.isBuffer(payload) ? payload : jsonPayload(payload);
      responses.push({ ...reply(p), aux2: req.aux2 });
    },
    respondError: (req, err) => {
      responses.push({ ...reply(), aux1: (err as FluxError).errno ?? 5, aux2: req.aux2 });
    },
    rpc: (topic: string, payload: Payload, opts?: RpcOptions) => {
      expect(opts?.upstream).toBe(true);
      const body = Buffer.isBuffer(payload) ? payload : undefined;
      upstream.calls.push({ topic, payload: body });
      const answer = (): Message => {
        if (topic === 'content.load') {
          const blob = parent.load(body!);
          return reply(upstream.tamper ? upstream.tamper(blob) : blob);
        }
        if (topic === 'content.store') return reply(parent.store(body ?? Buffer.alloc(0)));
        throw new FluxError(ENOSYS, topic);
      };
      return new Promise<Message>((resolve, reject) => {
        const go = () => {
          try {
            resolve(answer());
          } catch (err) {
            reject(err);
          }
        };
        if (upstream.hold) waiting.push(go);
        else setImmediate(go);
      });
    },
  });
  const registry = new ServiceRegistry(host);
  const svc = contentModule(host, store, 'sha256');
  await registry.load(svc.def, 'builtin');
  let tag = 1;
  return {
    attrs: a, registry, responses, upstream, svc,
    send: (topic, payload) => {
      const m = makeRequest(topic, payload, { matchtag: tag++ });
      m.rolemask = ROLE_OWNER;
      m.userid = 0;
      registry.dispatch(m);
      return m;
    },
    answered: (req) => responses.find((r) => r.aux2 === req.aux2),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

describe('content service', () => {
  it('rank 0: stores of one turn go in one transaction and are answered only after it; load, EPROTO, EFBIG', async () => {
    const store = ContentStore.open(':memory:', 'sha256');
    let transactions = 0;
    const storeMany = store.storeMany.bind(store);
    store.storeMany = (blobs) => {
      transactions++;
      return storeMany(blobs);
    };
    const h = await harness(0, store, { 'content.blob-size-limit': '100' });
    const reqs = Array.from({ length: 50 }, (_, i) => h.send('content.store', Buffer.from(`blob ${i}`)));
    expect(h.responses).toHaveLength(0);
    await settle();
    expect(transactions).toBe(1);
    reqs.forEach((r, i) => expect(h.answered(r)!.payload!.equals(sha('sha256', Buffer.from(`blob ${i}`)))).toBe(true));

    const load = h.send('content.load', sha('sha256', Buffer.from('blob 7')));
    expect(h.answered(load)!.payload!.toString()).toBe('blob 7');
    expect(h.answered(h.send('content.load', Buffer.alloc(20)))!.aux1).toBe(EPROTO);
    expect(h.answered(h.send('content.load'))!.aux1).toBe(EPROTO);
    expect(h.answered(h.send('content.load', Buffer.alloc(32)))!.aux1).toBe(ENOENT);
    expect(h.answered(h.send('content.store', Buffer.alloc(101)))!.aux1).toBe(EFBIG);

    // the empty blob: stored from no payload, answered with no payload
    const empty = h.send('content.store');
    await settle();
    expect(h.answered(empty)!.payload!.equals(sha('sha256', Buffer.alloc(0)))).toBe(true);
    const back = h.send('content-backing.load', sha('sha256', Buffer.alloc(0)));
    expect(h.answered(back)!.aux1).toBe(0);
    expect(h.answered(back)!.payload).toBeUndefined();

    const stats = h.send('content.stats-get');
    const bytes = reqs.reduce((n, _, i) => n + `blob ${i}`.length, 0);
    expect(payloadJson(h.answered(stats)!)).toEqual({
      count: 51, valid: 51, dirty: 0, size: bytes, 'flush-batch-count': 0, mmap: null,
    });
    await h.registry.removeAll();
    store.close();
  });

  it('rank 0: flush waits for the pending batch; checkpoints are validated, kept and read back', async () => {
    const store = ContentStore.open(':memory:', 'sha256');
    const h = await harness(0, store);
    const s = h.send('content.store', Buffer.from('pending'));
    const f = h.send('content.flush');
    expect(h.answered(f)).toBeUndefined();
    await settle();
    expect(h.responses.map((r) => r.aux2)).toEqual([s.aux2, f.aux2]);

    expect(h.answered(h.send('content.checkpoint-get'))!.aux1).toBe(ENOENT);
    const bad = h.send('content.checkpoint-put', jsonPayload({ value: { rootref: 'x' } }));
    expect(h.answered(bad)!.aux1).toBe(EPROTO);
    const value = { version: 1, rootref: blobrefOf('sha256', Buffer.from('pending')), sequence: 3, timestamp: 1.25 };
    const put = h.send('content.checkpoint-put', jsonPayload({ value }));
    await settle();
    expect(h.answered(put)!.aux1).toBe(0);
    const get = h.send('content.checkpoint-get');
    expect(payloadJson(h.answered(get)!)).toEqual({ value: [value] });
    await h.registry.removeAll();
    store.close();
  });

  it('rank 0: the module will not run without its store', () => {
    const a = new Attrs();
    const host = { rank: 0, attrs: a } as unknown as ModuleHost;
    expect(thrown(() => contentModule(host, undefined, 'sha256')).errno).toBe(ENOSYS);
  });

  it('rank > 0: concurrent loads of one digest make one upstream request; then the cache answers', async () => {
    const h = await harness(1, undefined);
    const blob = Buffer.from('shared');
    const d = await h.svc.store(blob);
    // nothing cached any more; the parent still has it
    h.send('content.dropcache');
    h.upstream.calls.length = 0;
    h.upstream.hold = true;
    const reqs = Array.from({ length: 20 }, () => h.send('content.load', d));
    await settle();
    expect(h.upstream.calls).toHaveLength(1);
    expect(reqs.some((r) => h.answered(r))).toBe(false);
    h.upstream.release();
    await settle();
    for (const r of reqs) expect(h.answered(r)!.payload!.equals(blob)).toBe(true);
    expect(h.answered(h.send('content.load', d))!.payload!.equals(blob)).toBe(true);
    expect(h.upstream.calls).toHaveLength(1);
  });

  it('rank > 0: a store is answered only once upstream has it, and one upstream store serves all its askers', async () => {
    const h = await harness(1, undefined);
    h.upstream.hold = true;
    const blob = Buffer.from('written through');
    const reqs = [h.send('content.store', blob), h.send('content.store', blob)];
    const flush = h.send('content.flush');
    await settle();
    expect(h.upstream.calls.map((c) => c.topic)).toEqual(['content.store']);
    expect(h.responses).toHaveLength(0);
    h.upstream.release();
    await settle();
    for (const r of reqs) expect(h.answered(r)!.payload!.equals(sha('sha256', blob))).toBe(true);
    expect(h.answered(flush)!.aux1).toBe(0);
    // valid here now: a third store is squashed
    const again = h.send('content.store', blob);
    expect(h.answered(again)!.payload!.equals(sha('sha256', blob))).toBe(true);
    expect(h.upstream.calls).toHaveLength(1);
  });

  it('rank > 0: a blob from upstream that does not match its digest is refused and not kept', async () => {
    const h = await harness(1, undefined);
    const d = await h.svc.store(Buffer.from('true bytes'));
    h.send('content.dropcache');
    h.upstream.tamper = () => Buffer.from('other bytes');
    const r = h.send('content.load', d);
    await settle();
    expect(h.answered(r)!.aux1).toBe(EPROTO);
    h.upstream.tamper = undefined;
    const r2 = h.send('content.load', d);
    await settle();
    expect(h.answered(r2)!.payload!.toString()).toBe('true bytes');
  });

  it('rank > 0: the cache stays within content.purge-target-size, dropping the least recently used', async () => {
    const h = await harness(1, undefined, { 'content.purge-target-size': '3000' });
    const blobs = Array.from({ length: 5 }, (_, i) => Buffer.alloc(1000, i));
    const ds = [];
    for (const b of blobs) ds.push(await h.svc.store(b));
    const stats = () => payloadJson(h.answered(h.send('content.stats-get'))!);
    expect(stats()).toMatchObject({ count: 3, valid: 3, dirty: 0, size: 3000 });
    h.upstream.calls.length = 0;
    // the newest three are here, the oldest two went
    for (const d of ds.slice(2)) expect(h.answered(h.send('content.load', d))!.payload).toBeDefined();
    expect(h.upstream.calls).toHaveLength(0);
    expect((await h.svc.load(ds[0]!)).equals(blobs[0]!)).toBe(true);
    expect(h.upstream.calls).toHaveLength(1);
    // a runtime change is checked, and applied at once
    expect(thrown(() => h.attrs.update('content.purge-target-size', '1k')).errno).toBe(EINVAL);
    h.attrs.update('content.purge-target-size', '1000');
    expect(stats()).toMatchObject({ count: 1, size: 1000 });
    h.send('content.dropcache');
    expect(stats()).toMatchObject({ count: 0, size: 0 });
  });
});
