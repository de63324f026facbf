// The overlay sends the messages a busy turn holds for one peer as one list in the local framing: any list of
// frame lists comes back as it went, and no corruption of one makes the reader fail other than with EPROTO (the
// overlay reports that and reads on), nor read past the buffer.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { encodeLocalList, isLocalList, splitLocalList } from '../../src/core/wire/framing.js';
import { FluxError, EPROTO } from '../../src/core/errors.js';

// frames around the one-byte size prefix's limit (254, 255) as well as small and empty ones
const frame = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 250, max: 300 }).map((n) => new Uint8Array(n).fill(n & 0xff)) },
).map((a) => Buffer.from(a));
const lists = fc.array(fc.array(frame, { maxLength: 6 }), { minLength: 1, maxLength: 12 });

describe('local lists', () => {
  it('round-trip any frame lists', () => {
    fc.assert(fc.property(lists, (list) => {
      const buf = encodeLocalList(list);
      expect(isLocalList(buf)).toBe(true);
      expect(splitLocalList(buf)).toEqual(list);
    }), { numRuns: 300 });
  });

  it('refuse a truncated or altered list with EPROTO, or read it within its bytes', () => {
    fc.assert(fc.property(lists, fc.nat(), fc.nat(255), fc.boolean(), (list, at, byte, cut) => {
      const buf = Buffer.from(encodeLocalList(list));
      const i = at % buf.length;
      const bad = cut ? buf.subarray(0, i) : (buf[i] = byte, buf);
      try {
        for (const frames of splitLocalList(bad)) {
          for (const f of frames) {
            expect(f.buffer === bad.buffer && f.byteOffset + f.length <= bad.byteOffset + bad.length).toBe(true);
          }
        }
      } catch (err) {
        expect(err).toBeInstanceOf(FluxError);
        expect((err as FluxError).errno).toBe(EPROTO);
      }
    }), { numRuns: 500 });
  });
});
