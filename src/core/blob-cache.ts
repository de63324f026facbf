// The clean blobs a rank below 0 keeps (the content service's cache), packed into slabs. Kept as a Buffer each, a
// blob costs its own ArrayBuffer, backing store and malloc chunk besides its bytes: ~720 bytes of RSS for a 227-byte
// blob, against ~370 packed with its place held as a number (bench/blob-cache.bench.mjs, 75,000 blobs, about what a
// leaf's full cache holds under load). A slab is let go once no blob in it is kept. A blob read since it last came
// up is copied to the newest slab when the cache sends it to the back, so that the blobs kept in the cache's order
// are in slab order too: the slabs held are those from the oldest blob's to the newest, and a blob read often never
// keeps an old slab, and the dead bytes in it, alive.
import { ByteCache } from './byte-cache.js';

const SLAB_BYTES = 256 << 10;
/** a blob's place: its slab's number times this, plus its offset in the slab (exact in a double to 2^32 slabs) */
const SPAN = 2 ** 21;

interface Slab {
  bytes: Buffer;
  /** blobs kept in it */
  held: number;
}

export interface BlobCacheOptions {
  /** the size of a slab, at most 2 MiB; a blob over an eighth of it gets a slab of its own size */
  slabBytes?: number;
}

export class BlobCache {
  private readonly index: ByteCache<number>;
  private readonly slabs = new Map<number, Slab>();
  private readonly slabBytes: number;
  private nextId = 0;
  /** the slab blobs are packed into, and how much of it is used */
  private open: { id: number; slab: Slab; used: number } | undefined;

  constructor(limit: number, opts: BlobCacheOptions = {}) {
    this.slabBytes = opts.slabBytes ?? SLAB_BYTES;
    if (!(this.slabBytes >= 8 && this.slabBytes <= SPAN)) throw new RangeError(`a slab of ${this.slabBytes} bytes`);
    this.index = new ByteCache<number>(limit, {
      dropped: (place) => this.release(place),
      requeued: (place, size) => {
        const moved = this.pack(this.view(place, size));
        this.release(place);
        return moved;
      },
    });
  }

  /** the bytes of blobs kept at most (flux-core's content.purge-target-size); trim() after lowering it */
  get limit(): number {
    return this.index.limit;
  }

  set limit(n: number) {
    this.index.limit = n;
  }

  /** the bytes of the blobs kept */
  get bytes(): number {
    return this.index.bytes;
  }

  get count(): number {
    return this.index.count;
  }

  /** the memory of the slabs held: the blobs kept, the dead bytes of the oldest slab and the free ones of the newest */
  get heldBytes(): number {
    let n = 0;
    for (const s of this.slabs.values()) n += s.bytes.length;
    return n;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  /** the blob's bytes, a view into its slab, marked read */
  get(key: string): Buffer | undefined {
    const e = this.index.entry(key);
    return e === undefined ? undefined : this.view(e.value, e.size);
  }

  /** a copy of `blob` kept; nothing for a key kept already, nor for a blob over the limit */
  set(key: string, blob: Buffer): void {
    if (this.index.has(key) || blob.length > this.index.limit) return;
    this.index.set(key, this.pack(blob), blob.length);
  }

  trim(): void {
    this.index.trim();
  }

  clear(): void {
    this.index.clear();
    this.slabs.clear();
    this.open = undefined;
  }

  private pack(blob: Buffer): number {
    if (blob.length > this.slabBytes / 8) {
      const id = this.nextId++;
      const bytes = Buffer.allocUnsafeSlow(blob.length);
      blob.copy(bytes);
      this.slabs.set(id, { bytes, held: 1 });
      return id * SPAN;
    }
    let o = this.open;
    if (o === undefined || o.used + blob.length > this.slabBytes) {
      if (o !== undefined && o.slab.held === 0) this.slabs.delete(o.id);
      o = { id: this.nextId++, slab: { bytes: Buffer.allocUnsafeSlow(this.slabBytes), held: 0 }, used: 0 };
      this.slabs.set(o.id, o.slab);
      this.open = o;
    }
    blob.copy(o.slab.bytes, o.used);
    o.slab.held++;
    const place = o.id * SPAN + o.used;
    o.used += blob.length;
    return place;
  }

  private view(place: number, size: number): Buffer {
    const offset = place % SPAN;
    return this.slabs.get((place - offset) / SPAN)!.bytes.subarray(offset, offset + size);
  }

  private release(place: number): void {
    const id = (place - (place % SPAN)) / SPAN;
    const slab = this.slabs.get(id)!;
    if (--slab.held === 0 && id !== this.open?.id) this.slabs.delete(id);
  }
}
