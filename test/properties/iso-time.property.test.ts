// A log timestamp's calendar arithmetic against Date's own: any second from year 0 to past 9999 (where the
// arithmetic hands over to Date), weighted toward the days where a calendar is easiest to get wrong (the last
// days of February, of a year, of a century, and the days around them).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { isoSeconds, isoLocalMicros } from '../../src/core/format/logline.js';

const DAY = 86_400;
const YEAR0 = -62_167_219_200;
const YEAR10000 = 253_402_300_800;

const dateIso = (secs: number) => new Date(secs * 1000).toISOString().slice(0, -5);

/** a second within a day of Feb 28/29, Mar 1, Dec 31 or Jan 1 of any year, century years included */
const nearCalendarEdge = fc.record({
  year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }).map((c) => c * 100)),
  edge: fc.constantFrom([1, 28], [1, 29], [2, 1], [11, 31], [0, 1]),
  within: fc.integer({ min: -DAY, max: 2 * DAY - 1 }),
}).map(({ year, edge: [month, day], within }) => {
  const d = new Date(0);
  d.setUTCFullYear(year, month!, day!);
  return Math.floor(d.getTime() / 1000) + within;
});

describe('isoSeconds', () => {
  it('says what Date says, for any second of years 0 to 9999 and past them', () => {
    fc.assert(fc.property(
      fc.oneof(fc.integer({ min: YEAR0 - DAY, max: YEAR10000 + DAY }), nearCalendarEdge),
      (secs) => { expect(isoSeconds(secs)).toBe(dateIso(secs)); },
    ), { numRuns: 20_000 });
  });

  // microseconds since the epoch are exact in a double until 2255 (2^53 of them)
  it('keeps the microseconds and the zone of a log timestamp', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: Math.floor(Number.MAX_SAFE_INTEGER / 1e6) - 1 }), fc.integer({ min: 0, max: 999_999 }),
      fc.integer({ min: -14 * 60, max: 14 * 60 }),
      (secs, us, offset) => {
        const zone = offset === 0 ? 'Z'
          : `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
        expect(isoLocalMicros(secs * 1_000_000 + us, offset))
          .toBe(`${dateIso(secs + offset * 60)}.${String(us).padStart(6, '0')}${zone}`);
      },
    ), { numRuns: 5_000 });
  });
});
