// The overlay sends the messages a busy turn holds for one peer as one list in the local framing: any list of
// frame lists comes back as it went, a list cut short is refused unless the cut falls between two messages, and no
// damage to one makes the reader fail other than with EPROTO (the overlay reports that and reads on).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { encodeLocalList, isLocalList, splitLocalList } from '../../src/core/wire/framing.js';
import { FluxError, EPROTO } from '../../src/core/errors.js';
import { thrownError } from '../helpers/rejection.js';

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

  it('are refused with EPROTO when cut short anywhere but between two messages, and read up to there if so', () => {
    fc.assert(fc.property(lists, fc.nat(), (list, at) => {
      const buf = encodeLocalList(list);
      const cut = 1 + (at % (buf.length - 1));
      // where each message after the first begins
      const starts = new Map<number, number>();
      let off = 0;
      list.forEach((frames, k) => {
        off += encodeLocalList([frames]).length;
        starts.set(off, k + 1);
      });
      const whole = starts.get(cut);
      if (whole !== undefined) {
        expect(splitLocalList(buf.subarray(0, cut))).toEqual(list.slice(0, whole));
        return;
      }
      expect(thrownError(() => splitLocalList(buf.subarray(0, cut))).errno).toBe(EPROTO);
    }), { numRuns: 500 });
  });

  it('refuse an altered byte with EPROTO, if at all: no other error', () => {
    fc.assert(fc.property(lists, fc.nat(), fc.nat(255), (list, at, byte) => {
      const buf = Buffer.from(encodeLocalList(list));
      buf[at % buf.length] = byte;
      try {
        splitLocalList(buf);
      } catch (err) {
        expect(err).toBeInstanceOf(FluxError);
        expect((err as FluxError).errno).toBe(EPROTO);
      }
    }), { numRuns: 500 });
  });
});
