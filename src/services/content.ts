// The content service on every rank, with flux-core's raw payloads (binary digests). Rank 0 answers from the
// sqlite store; other ranks keep a bounded LRU cache, go upstream once per missing digest, and answer a store
// only after rank 0 has the blob (write-through).
import { FluxError, EPROTO, EFBIG, ENOENT } from '../core/errors.js';
import { type Message, ROLE_ALL } from '../core/message.js';
import { type ContentStore } from '../core/content-store.js';
import { type HashName, DIGEST_SIZE, hashBlob } from '../core/blobref.js';
import { ATTR_RUNTIME } from './attrs.js';
import type { ModuleDef, ModuleHost } from './module.js';

/** what other services use to read and write blobs on this rank */
export interface ContentAccess {
  readonly hash: HashName;
  load(digest: Buffer): Promise<Buffer>;
  store(blob: Buffer): Promise<Buffer>;
}

export interface ContentService extends ContentAccess {
  def: ModuleDef;
}

/** an LRU by bytes: a Map iterates in insertion order, so re-inserting on use keeps the oldest first */
class LruCache {
  private readonly map = new Map<string, Buffer>();
  bytes = 0;

  constructor(private readonly limit: () => number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): Buffer | undefined {
    const b = this.map.get(key);
    if (b !== undefined) {
      this.map.delete(key);
      this.map.set(key, b);
    }
    return b;
  }

  set(key: string, blob: Buffer): void {
    if (this.map.has(key)) return;
    this.map.set(key, blob);
    this.bytes += blob.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.limit() || this.map.size <= 1) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }
}

export function contentModule(host: ModuleHost, store: ContentStore | undefined, hash: HashName): ContentService {
  const attrs = host.attrs;
  if (!attrs.has('content.blob-size-limit')) attrs.define('content.blob-size-limit', String(1 << 30), ATTR_RUNTIME);
  if (!attrs.has('content.cache-size')) attrs.define('content.cache-size', String(64 << 20), ATTR_RUNTIME);
  const cache = new LruCache(() => Number(attrs.get('content.cache-size')) || 64 << 20);
  const inflight = new Map<string, Promise<Buffer>>();
  let loads = 0;
  let stores = 0;

  function checkDigest(d: Buffer | undefined): Buffer {
    if (!d || d.length !== DIGEST_SIZE[hash]) {
      throw new FluxError(EPROTO, `content.load: digest must be ${DIGEST_SIZE[hash]} bytes for ${hash}`);
    }
    return d;
  }

  async function load(digest: Buffer): Promise<Buffer> {
    loads++;
    if (store) return store.load(digest);
    const key = digest.toString('hex');
    const hit = cache.get(key);
    if (hit) return hit;
    let p = inflight.get(key);
    if (!p) {
      p = host.rpc('content.load', digest, { upstream: true }).then((m) => {
        const blob = m.payload ?? Buffer.alloc(0);
        cache.set(key, blob);
        return blob;
      });
      inflight.set(key, p);
      void p.then(() => inflight.delete(key), () => inflight.delete(key));
    }
    return p;
  }

  async function storeBlob(blob: Buffer): Promise<Buffer> {
    stores++;
    const limit = Number(attrs.get('content.blob-size-limit'));
    if (blob.length > limit) throw new FluxError(EFBIG, `blob of ${blob.length} bytes is over content.blob-size-limit`);
    if (store) return store.store(blob);
    const m = await host.rpc('content.store', blob, { upstream: true });
    const digest = m.payload ?? Buffer.alloc(0);
    if (!digest.equals(hashBlob(hash, blob))) throw new FluxError(EPROTO, 'upstream stored the blob under another digest');
    cache.set(digest.toString('hex'), blob);
    return digest;
  }

  const forward = (topic: string) => async (msg: Message, body: Record<string, unknown> | undefined) => {
    const r = await host.rpc(topic, body, { upstream: true });
    host.respond(msg, r.payload);
  };

  const def: ModuleDef = {
    name: 'content',
    handlers: [
      {
        topic: 'content.load',
        handler: async (msg) => host.respond(msg, await load(checkDigest(msg.payload))),
      },
      {
        topic: 'content.store',
        handler: async (msg) => host.respond(msg, await storeBlob(msg.payload ?? Buffer.alloc(0))),
      },
      {
        // rank 0 writes through to sqlite and others write through to rank 0: nothing is ever dirty
        topic: 'content.flush',
        handler: (msg) => host.respond(msg),
      },
      {
        topic: 'content.dropcache',
        handler: (msg) => {
          cache.clear();
          host.respond(msg);
        },
      },
      {
        topic: 'content.checkpoint-get',
        schema: { type: 'object' },
        handler: async (msg, body) => {
          if (!store) return forward('content.checkpoint-get')(msg, body);
          const value = store.checkpointGet();
          if (value.length === 0) throw new FluxError(ENOENT, 'no checkpoint');
          host.respond(msg, { value });
        },
      },
      {
        topic: 'content.checkpoint-put',
        schema: {
          type: 'object',
          properties: {
            value: {
              type: 'object',
              properties: { version: { type: 'integer' }, rootref: { type: 'string' }, sequence: { type: 'integer' }, timestamp: { type: 'number' } },
              required: ['rootref'],
            },
          },
          required: ['value'],
        },
        handler: async (msg, body) => {
          if (!store) return forward('content.checkpoint-put')(msg, body);
          store.checkpointPut(body!.value as Record<string, unknown>);
          host.respond(msg);
        },
      },
      {
        topic: 'content.stats-get',
        allow: ROLE_ALL,
        handler: (msg) => {
          const s = store?.stats();
          host.respond(msg, {
            count: s?.count ?? cache.size, valid: s?.count ?? cache.size, dirty: 0, size: s?.size ?? cache.bytes,
            'flush-batch-count': 0, mmap: { tags: {}, size: 0 }, loads, stores,
          });
        },
      },
    ],
  };
  return { def, hash, load, store: storeBlob };
}
