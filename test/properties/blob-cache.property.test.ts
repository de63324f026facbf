// The content cache's blobs packed in slabs, against the cache policy it is built on holding each blob as a copy of
// its own: after any sets, reads, lowered or raised limits and clears, the same blobs are kept with the same bytes,
// and the slabs held stay within a bound of the bytes kept, however often some blobs are read while others come and
// go (a blob read often must never keep an old slab, and the dead bytes in it, alive).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BlobCache } from '../../src/core/blob-cache.js';
import { ByteCache } from '../../src/core/byte-cache.js';

type Op =
  | { op: 'set'; key: number; size: number; fill: number }
  | { op: 'get'; key: number }
  | { op: 'limit'; limit: number }
  | { op: 'clear' };

const KEYS = 400;
/** the keys most reads go to */
const HOT = 10;

const ops = (slab: number): fc.Arbitrary<Op[]> => fc.array(
  fc.oneof(
    { weight: 50, arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.nat(KEYS - 1), size: fc.oneof({ weight: 4, arbitrary: fc.nat(slab / 8) }, { weight: 1, arbitrary: fc.integer({ min: slab / 8, max: slab * 2 }) }), fill: fc.nat(255) }) },
    // reads weighted to a few keys, which then keep being sent to the back while the rest come and go
    { weight: 40, arbitrary: fc.record({ op: fc.constant('get' as const), key: fc.oneof({ weight: 4, arbitrary: fc.nat(HOT - 1) }, { weight: 1, arbitrary: fc.nat(KEYS - 1) }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('limit' as const), limit: fc.nat(slab * 8) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  ),
  { minLength: 100, maxLength: 600 },
);

/** a blob of `size` bytes that differ from one another and from those of another fill */
const blobOf = (size: number, fill: number): Buffer => Buffer.from(Array.from({ length: size }, (_, i) => (fill + i * 7) & 255));

describe('the content cache packed in slabs', () => {
  it('keeps what a cache of separate copies keeps, byte for byte, in slabs bounded by the bytes kept', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(64, 256, 1024).chain((slab) => fc.tuple(fc.constant(slab), fc.nat(slab * 8), ops(slab))),
        ([slab, limit, steps]) => {
          const cache = new BlobCache(limit, { slabBytes: slab });
          const model = new ByteCache<Buffer>(limit);
          for (const s of steps) {
            const key = 'key' in s ? `k${s.key}` : '';
            if (s.op === 'set') {
              const blob = blobOf(s.size, s.fill);
              cache.set(key, blob);
              // the blob handed in may be reused by its owner at once
              blob.fill(0);
              if (!model.has(key)) model.set(key, blobOf(s.size, s.fill), s.size);
            } else if (s.op === 'get') {
              const got = cache.get(key);
              const want = model.get(key);
              expect(got === undefined ? undefined : Buffer.from(got)).toEqual(want);
            } else if (s.op === 'limit') {
              cache.limit = s.limit;
              cache.trim();
              model.limit = s.limit;
              model.trim();
            } else {
              cache.clear();
              model.clear();
              expect(cache.heldBytes).toBe(0);
            }
            expect([cache.count, cache.bytes]).toEqual([model.count, model.bytes]);
            // blobs over an eighth of a slab are held exactly; besides the blobs, the slabs hold at most the oldest
            // one's dead bytes, the newest one's free ones, and under an eighth of each one between
            expect(cache.heldBytes).toBeLessThanOrEqual(((cache.bytes + 2 * slab) * 8) / 7);
          }
          for (let k = 0; k < KEYS; k++) {
            const got = cache.get(`k${k}`);
            expect(got === undefined ? undefined : Buffer.from(got)).toEqual(model.get(`k${k}`));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
