// The content store client (flux_content_load / flux_content_store): blobs by their blobref, and the checkpoints
// that name a KVS root to restart from.
import { FluxError, EPROTO } from '../core/errors.js';
import type { HashName } from '../core/content/blobref.js';
import type { Flux } from './handle.js';
import type { CallOpts } from './kvs.js';
import { getAttr } from './attrs.js';

export interface ContentOpts extends CallOpts {
  /** talk to the backing store (content-backing.*) rather than through the broker's cache */
  bypassCache?: boolean;
}

/** hashing loads node:crypto: only a program that names blobs pays for it */
const blobrefs = () => import('../core/content/blobref.js');

const service = (o: ContentOpts) => (o.bypassCache ? 'content-backing' : 'content');

/** the hash the instance names blobs by (content.hash) */
export async function contentHash(h: Flux, opts: CallOpts = {}): Promise<HashName> {
  const { checkHashName } = await blobrefs();
  return checkHashName(await getAttr(h, 'content.hash', opts));
}

/** the blob with this digest (ENOENT when the store has none) */
export async function loadDigest(h: Flux, digest: Buffer, opts: ContentOpts = {}): Promise<Buffer> {
  return (await h.rpc(`${service(opts)}.load`, digest, opts)).payload ?? Buffer.alloc(0);
}

/** store a blob; the digest the store answers with, checked to be one of `hash` */
export async function storeBlob(h: Flux, hash: HashName, blob: Buffer, opts: ContentOpts = {}): Promise<string> {
  const { blobref, isDigest } = await blobrefs();
  const payload = (await h.rpc(`${service(opts)}.store`, blob.length > 0 ? blob : undefined, opts)).payload;
  if (!payload || !isDigest(hash, payload)) throw new FluxError(EPROTO, 'content.store: protocol error (the response is not a digest)');
  return blobref(hash, payload);
}

/** the checkpoints kept, newest first, as the service answers (an older flux-core answered one object) */
export async function checkpointGet(h: Flux, opts: CallOpts & { nodeid?: number } = {}): Promise<unknown> {
  return (await h.call('content.checkpoint-get', undefined, opts)).value;
}

export interface CheckpointValue {
  version: number;
  rootref: string;
  sequence: number;
  timestamp: number;
}

export async function checkpointPut(h: Flux, value: CheckpointValue, opts: CallOpts = {}): Promise<void> {
  await h.rpc('content.checkpoint-put', { value: { ...value } }, opts);
}

/** content.flush, content.dropcache and the like: a request with no payload and nothing in the answer */
export async function contentControl(h: Flux, topic: 'content.flush' | 'content.dropcache' | 'content-backing.flush', opts: CallOpts = {}): Promise<void> {
  await h.rpc(topic, undefined, opts);
}

/** The instance's content store, bound to a handle. */
export class Content {
  private hash: HashName | undefined;

  constructor(private readonly h: Flux) {}

  private async hashName(opts: CallOpts): Promise<HashName> {
    this.hash ??= await contentHash(this.h, opts);
    return this.hash;
  }

  /** the blob named by `ref` (sha256-… or sha1-…) */
  async load(ref: string, opts: ContentOpts = {}): Promise<Buffer> {
    const { digestOf, parseBlobref } = await blobrefs();
    parseBlobref(ref);
    return loadDigest(this.h, digestOf(await this.hashName(opts), ref), opts);
  }

  /** store `blob`; its blobref */
  async store(blob: Buffer, opts: ContentOpts = {}): Promise<string> {
    return storeBlob(this.h, await this.hashName(opts), blob, opts);
  }
}
