import { describe, it, expect } from 'vitest';
import { isoMicros, isoLocalMicros, parseEntry, formatEntry, nowMicros } from '../../src/core/format/logline.js';

describe('logline timestamps', () => {
  const t = Date.UTC(2024, 4, 1, 12, 0, 0) * 1000 + 123456;

  it('writes UTC with microseconds and Z', () => {
    expect(isoMicros(t)).toBe('2024-05-01T12:00:00.123456Z');
    expect(isoLocalMicros(t, 0)).toBe('2024-05-01T12:00:00.123456Z');
  });

  it('writes other zones with their offset', () => {
    expect(isoLocalMicros(t, 330)).toBe('2024-05-01T17:30:00.123456+05:30');
    expect(isoLocalMicros(t, -420)).toBe('2024-05-01T05:00:00.123456-07:00');
    expect(isoLocalMicros(Date.UTC(2024, 0, 1) * 1000, -60)).toBe('2023-12-31T23:00:00.000000-01:00');
  });

  it('reads back what it writes, in any zone', () => {
    const e = { severity: 3, facility: 0, timeUs: t, rank: '2', appname: 'x', procid: '9', msgid: '', msg: 'a b' };
    expect(parseEntry(formatEntry(e))).toEqual(e);
    expect(parseEntry('<24>1 2024-05-01T17:30:00.123456+05:30 2 x 9 - - a b')!.timeUs).toBe(t);
  });

  it('has a clock with microseconds', () => {
    const before = Date.now() * 1000;
    const now = nowMicros();
    expect(Number.isInteger(now)).toBe(true);
    expect(Math.abs(now - before)).toBeLessThan(5_000_000);
  });
});
