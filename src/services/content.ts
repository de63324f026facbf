// The content service (RFC 10) on every rank, with flux-core's raw payloads: content.load takes a binary digest
// and answers the blob, content.store takes the blob and answers its binary digest. Rank 0 holds the sqlite
// store and answers from it; stores that arrive in one turn of the event loop are committed in one transaction
// and answered only after it (acknowledged => on disk). Ranks > 0 keep a bounded cache of clean blobs: a miss goes
// upstream once per digest, and a store is write-through (answered once rank 0 has it).
import { BlobCache } from '../core/blob-cache.js';
import { FluxError, EPROTO, EFBIG, EINVAL, ENOENT, ENOSYS } from '../core/errors.js';
import { type Message, ROLE_ALL } from '../core/wire/message.js';
import { type HashName, DIGEST_SIZE, hashBlob, isDigest } from '../core/content/blobref.js';
import type { ContentStore } from '../core/content/store.js';
import { ATTR_IMMUTABLE, ATTR_RUNTIME } from './attrs.js';
import type { ModuleDef, ModuleHost } from './module.js';

/** flux-core's default content.blob-size-limit */
export const DEFAULT_BLOB_SIZE_LIMIT = 1 << 30;
/** flux-core's default content.purge-target-size: the bytes of blobs a rank > 0 keeps */
export const DEFAULT_CACHE_BYTES = 16 << 20;
/** the most blobs (and bytes) one rank-0 transaction takes, so one commit never holds the event loop for long */
const BATCH_BLOBS = 4096;
const BATCH_BYTES = 64 << 20;

/** what other services on this rank use to read and write blobs, with the same cache and batching as clients */
export interface ContentAccess {
  readonly hash: HashName;
  /** ENOENT when no rank has it */
  load(digest: Buffer): Promise<Buffer>;
  /** resolves with the digest once the blob is committed on rank 0 */
  store(blob: Buffer): Promise<Buffer>;
}

export interface ContentService extends ContentAccess {
  def: ModuleDef;
  /** rank 0: the sqlite store the service answers from */
  readonly backing?: ContentStore;
  /** resolves once every store accepted so far is committed (rank 0) or acknowledged by rank 0 (rank > 0) */
  flush(): Promise<void>;
}

const CHECKPOINT_PUT_SCHEMA = {
  type: 'object',
  properties: {
    value: {
      type: 'object',
      properties: {
        version: { type: 'integer', minimum: 1 },
        rootref: { type: 'string', minLength: 1 },
        sequence: { type: 'integer', minimum: 0 },
        timestamp: { type: 'number' },
      },
      required: ['version', 'rootref', 'sequence', 'timestamp'],
    },
  },
  required: ['value'],
};

/** a store waiting for the next rank-0 commit; `done` answers whoever asked */
interface Queued {
  blob: Buffer;
  done: (err: unknown, digest?: Buffer) => void;
}

function sizeAttr(host: ModuleHost, name: string, dflt: number, apply: (n: number) => void): void {
  const parse = (v: string): number => {
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new FluxError(EINVAL, `${name} must be a byte count, not "${v}"`);
    return Number(v);
  };
  const initial = host.attrs.get(name) ?? String(dflt);
  apply(parse(initial));
  host.attrs.define(name, initial, ATTR_RUNTIME, { set: (v) => apply(parse(v)) });
}

/**
 * The content module. `store` is rank 0's sqlite store (the broker opens and closes it; the journal writes to it
 * too) and must be given there; `hash` is the instance's content.hash.
 */
export function contentModule(host: ModuleHost, store: ContentStore | undefined, hash: HashName): ContentService {
  const rank0 = host.rank === 0;
  if (rank0 && !store) throw new FluxError(ENOSYS, 'the content service on rank 0 needs its sqlite store');
  if (store && store.hashName !== hash) {
    throw new FluxError(EINVAL, `the content store uses ${store.hashName} but content.hash is ${hash}`);
  }
  // fixed for the life of the instance, and flagged so (flux-core answers attr.get content.hash with flags 1)
  host.attrs.define('content.hash', hash, ATTR_IMMUTABLE);
  let blobSizeLimit = DEFAULT_BLOB_SIZE_LIMIT;
  /** clean blobs, by key (ranks > 0): copies, which hold nothing of the frames they came in */
  const cache = new BlobCache(DEFAULT_CACHE_BYTES);
  sizeAttr(host, 'content.blob-size-limit', DEFAULT_BLOB_SIZE_LIMIT, (n) => (blobSizeLimit = n));
  sizeAttr(host, 'content.purge-target-size', DEFAULT_CACHE_BYTES, (n) => {
    cache.limit = n;
    cache.trim();
  });

  function checkDigest(d: Buffer | undefined, topic: string): Buffer {
    if (d === undefined || !isDigest(hash, d)) {
      throw new FluxError(EPROTO, `${topic}: expected a ${DIGEST_SIZE[hash]}-byte ${hash} digest, got ${d?.length ?? 0} bytes`);
    }
    return d;
  }

  function checkSize(blob: Buffer): Buffer {
    if (blob.length > blobSizeLimit) {
      throw new FluxError(EFBIG, `blob of ${blob.length} bytes is over content.blob-size-limit (${blobSizeLimit})`);
    }
    return blob;
  }

  /** an empty blob goes back with no payload at all, as flux-core answers it */
  function respondBlob(msg: Message, blob: Buffer): void {
    host.respond(msg, blob.length > 0 ? blob : undefined);
  }

  function answer(msg: Message): (err: unknown, digest?: Buffer) => void {
    return (err, digest) => (err === undefined ? host.respond(msg, digest) : host.respondError(msg, err));
  }

  // ---- rank 0: the sqlite store, stores grouped into one transaction per turn of the event loop --------------

  let queue: Queued[] = [];
  let queuedBytes = 0;
  let commitScheduled = false;
  const drained: Array<() => void> = [];

  function enqueue(blob: Buffer, done: Queued['done']): void {
    queue.push({ blob, done });
    queuedBytes += blob.length;
    if (!commitScheduled) {
      commitScheduled = true;
      setImmediate(commitBatch);
    }
  }

  function takeBatch(): Queued[] {
    let n = 0;
    let bytes = 0;
    while (n < queue.length && n < BATCH_BLOBS && (n === 0 || bytes + queue[n]!.blob.length <= BATCH_BYTES)) {
      bytes += queue[n]!.blob.length;
      n++;
    }
    const batch = n === queue.length ? queue : queue.slice(0, n);
    queue = n === queue.length ? [] : queue.slice(n);
    queuedBytes -= bytes;
    return batch;
  }

  function commitBatch(): void {
    commitScheduled = false;
    // stop() may have committed everything before this turn came
    if (queue.length === 0) return;
    const batch = takeBatch();
    let digests: Buffer[] | undefined;
    try {
      digests = store!.storeMany(batch.map((q) => q.blob));
    } catch (err) {
      host.log(3, 'content', `storing ${batch.length} blobs failed: ${(err as Error).message}`);
      for (const q of batch) q.done(err);
    }
    if (digests) for (let i = 0; i < batch.length; i++) batch[i]!.done(undefined, digests[i]);
    if (queue.length > 0) {
      commitScheduled = true;
      setImmediate(commitBatch);
    } else {
      for (const fn of drained.splice(0)) fn();
    }
  }

  // ---- ranks > 0: the cache, faulting misses in from upstream and writing stores through ---------------------

  const loading = new Map<string, Promise<Buffer>>();
  const storing = new Map<string, { promise: Promise<void>; bytes: number }>();

  // the digest's bytes as a string: a cheap, exact Map key
  const keyOf = (digest: Buffer): string => digest.toString('latin1');

  async function fault(digest: Buffer, key: string): Promise<Buffer> {
    try {
      const resp = await host.rpc('content.load', digest, { upstream: true });
      const blob = resp.payload ?? Buffer.alloc(0);
      // everyone below trusts this cache: never keep bytes under a name that is not theirs
      if (!hashBlob(hash, blob).equals(digest)) {
        throw new FluxError(EPROTO, 'upstream content.load answered a blob that does not match its digest');
      }
      cache.set(key, blob);
      return blob;
    } finally {
      loading.delete(key);
    }
  }

  async function writeThrough(blob: Buffer, digest: Buffer, key: string): Promise<void> {
    try {
      const resp = await host.rpc('content.store', blob, { upstream: true });
      if (!resp.payload || !resp.payload.equals(digest)) {
        throw new FluxError(EPROTO, 'upstream content.store answered another digest (is content.hash the same on every rank?)');
      }
      cache.set(key, blob);
    } finally {
      storing.delete(key);
    }
  }

  /** a cached blob, or the one upstream load for it that every asker shares */
  function loadN(digest: Buffer): Buffer | Promise<Buffer> {
    const key = keyOf(digest);
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    let p = loading.get(key);
    if (!p) {
      p = fault(Buffer.from(digest), key);
      loading.set(key, p);
    }
    return p;
  }

  /** the digest at once when the blob is cached (hence on rank 0 already: squashed), else after rank 0 has it */
  function storeN(blob: Buffer): Buffer | Promise<Buffer> {
    const digest = hashBlob(hash, blob);
    const key = keyOf(digest);
    if (cache.has(key)) return digest;
    let s = storing.get(key);
    if (!s) {
      s = { promise: writeThrough(blob, digest, key), bytes: blob.length };
      storing.set(key, s);
    }
    return s.promise.then(() => digest);
  }

  // ---- both ---------------------------------------------------------------------------------------------------

  function load(digest: Buffer): Promise<Buffer> {
    try {
      checkDigest(digest, 'content.load');
      return Promise.resolve(rank0 ? store!.load(digest) : loadN(digest));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  function storeBlob(blob: Buffer): Promise<Buffer> {
    try {
      checkSize(blob);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!rank0) return Promise.resolve(storeN(blob));
    return new Promise((resolve, reject) => enqueue(blob, (err, digest) => (err === undefined ? resolve(digest!) : reject(err))));
  }

  function flush(): Promise<void> {
    if (rank0) {
      if (queue.length === 0 && !commitScheduled) return Promise.resolve();
      return new Promise((resolve) => drained.push(resolve));
    }
    return Promise.allSettled([...storing.values()].map((s) => s.promise)).then(() => undefined);
  }

  function stats(): Record<string, unknown> {
    if (rank0) {
      const s = store!.stats();
      return {
        count: s.count + queue.length, valid: s.count + queue.length, dirty: queue.length, size: s.size + queuedBytes,
        'flush-batch-count': commitScheduled ? 1 : 0, mmap: null,
      };
    }
    let inflight = 0;
    for (const s of storing.values()) inflight += s.bytes;
    return {
      count: cache.count + loading.size + storing.size, valid: cache.count + storing.size, dirty: storing.size,
      size: cache.bytes + inflight, 'flush-batch-count': storing.size, mmap: null,
    };
  }

  // the request handlers: synchronous on the hot paths (no promise per request where none is needed)
  function handleLoad(msg: Message): void {
    const digest = checkDigest(msg.payload, msg.topic!);
    if (rank0) {
      respondBlob(msg, store!.load(digest));
      return;
    }
    const r = loadN(digest);
    if (Buffer.isBuffer(r)) respondBlob(msg, r);
    else r.then((blob) => respondBlob(msg, blob), (err: unknown) => host.respondError(msg, err));
  }

  function handleStore(msg: Message): void {
    const blob = checkSize(msg.payload ?? Buffer.alloc(0));
    if (rank0) {
      enqueue(blob, answer(msg));
      return;
    }
    const r = storeN(blob);
    if (Buffer.isBuffer(r)) host.respond(msg, r);
    else r.then((digest) => host.respond(msg, digest), (err: unknown) => host.respondError(msg, err));
  }

  function forward(topic: string) {
    return async (msg: Message): Promise<void> => {
      const resp = await host.rpc(topic, msg.payload, { upstream: true });
      host.respond(msg, resp.payload);
    };
  }

  const def: ModuleDef = {
    name: 'content',
    // flux-core's --bypass-cache topics name the backing store itself, which only rank 0 has (others route upstream)
    services: rank0 ? ['content-backing'] : [],
    handlers: [
      { topic: 'content.load', handler: handleLoad },
      { topic: 'content.store', handler: handleStore },
      {
        topic: 'content.flush',
        handler: async (msg) => {
          await flush();
          host.respond(msg);
        },
      },
      {
        topic: 'content.dropcache',
        handler: (msg) => {
          cache.clear();
          host.respond(msg);
        },
      },
      {
        // flux-core ignores this request's payload (its own clients send none)
        topic: 'content.checkpoint-get',
        handler: rank0
          ? (msg) => {
            const value = store!.checkpointGet();
            if (value.length === 0) throw new FluxError(ENOENT, 'no checkpoint has been written');
            host.respond(msg, { value });
          }
          : forward('content.checkpoint-get'),
      },
      {
        topic: 'content.checkpoint-put',
        schema: CHECKPOINT_PUT_SCHEMA,
        handler: rank0
          ? async (msg, body) => {
            // a checkpoint never names blobs still on their way to disk
            await flush();
            store!.checkpointPut(body!.value as Record<string, unknown>);
            host.respond(msg);
          }
          : forward('content.checkpoint-put'),
      },
      { topic: 'content.stats-get', allow: ROLE_ALL, handler: (msg) => host.respond(msg, stats()) },
      ...(rank0
        ? [
          { topic: 'content-backing.load', handler: handleLoad },
          { topic: 'content-backing.store', handler: handleStore },
        ]
        : []),
    ],
    stop: () => {
      // whatever was accepted is committed before the broker closes the store
      while (queue.length > 0) commitBatch();
      cache.clear();
    },
  };
  return { def, hash, backing: store, load, store: storeBlob, flush };
}
