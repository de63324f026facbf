// Rank 0 publishes the instance's hostlist over PMI in pieces no longer than a value may be: any text comes back
// whole when its pieces are joined, each piece within the limit in UTF-8, none of them cutting a character.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { splitValue } from '../../src/broker/business-cards.js';

// hostlist-like text, and any Unicode, multi-byte characters and surrogate pairs among it
const text = fc.oneof(
  fc.stringMatching(/^[a-z0-9[\],-]{0,300}$/),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

describe('a PMI value in pieces', () => {
  it('joins back to the text, each piece at most the limit in UTF-8 and whole characters', () => {
    fc.assert(fc.property(text, fc.integer({ min: 4, max: 64 }), (s, max) => {
      const pieces = splitValue(s, max);
      expect(pieces.join('')).toBe(s);
      for (const p of pieces) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(max);
      // no cut falls between the two halves of a surrogate pair
      for (let i = 0; i + 1 < pieces.length; i++) {
        const end = pieces[i]!.charCodeAt(pieces[i]!.length - 1);
        const start = pieces[i + 1]!.charCodeAt(0);
        expect(end >= 0xd800 && end <= 0xdbff && start >= 0xdc00 && start <= 0xdfff).toBe(false);
      }
      // no piece is empty but the text's own, and none but the last could have held the next one's first character
      if (s.length > 0) expect(pieces.every((p) => p.length > 0)).toBe(true);
      for (let i = 0; i + 1 < pieces.length; i++) {
        const next = String.fromCodePoint(pieces[i + 1]!.codePointAt(0)!);
        expect(Buffer.byteLength(pieces[i]! + next)).toBeGreaterThan(max);
      }
    }), { numRuns: 400 });
  });
});
