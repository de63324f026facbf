// Cron dates: field parsing and the next matching second, in local time (expected times are built with local
// Date constructors, so the test holds in any time zone).
import { describe, it, expect } from 'vitest';
import { parseField, parseCronodate, nextWakeup, exactFields } from '../../src/core/time/cronodate.js';
import { FluxError } from '../../src/core/errors.js';

const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo, d, h, mi, s).getTime() / 1000;

describe('cronodate fields', () => {
  it('parses *, values, lists, ranges and steps', () => {
    expect(parseField('minute', '*')).toBeUndefined();
    expect([...parseField('minute', '5')!]).toEqual([5]);
    expect([...parseField('hour', '1,3-5')!].sort((a, b) => a - b)).toEqual([1, 3, 4, 5]);
    expect([...parseField('minute', '*/15')!]).toEqual([0, 15, 30, 45]);
    expect([...parseField('mday', '10-20/5')!]).toEqual([10, 15, 20]);
    expect([...parseField('month', 11)!]).toEqual([11]);
  });

  it('refuses values outside the field and text it cannot read', () => {
    for (const [f, v] of [['month', '12'], ['weekday', '7'], ['mday', '0'], ['hour', '3-1'], ['minute', 'x'], ['second', '*/0']] as const) {
      expect(() => parseField(f, v), `${f}=${v}`).toThrow(FluxError);
    }
  });
});

describe('next wakeup', () => {
  it('every minute at second 0: the start of the next minute', () => {
    const d = parseCronodate({ second: '0' });
    expect(nextWakeup(d, at(2030, 4, 10, 12, 30, 15))).toBe(at(2030, 4, 10, 12, 31, 0));
    // strictly after: a time that matches gives the next match
    expect(nextWakeup(d, at(2030, 4, 10, 12, 31, 0))).toBe(at(2030, 4, 10, 12, 32, 0));
  });

  it('crosses hours, days, months and years', () => {
    const d = parseCronodate({ second: '0', minute: '0', hour: '0', mday: '1', month: '0' });
    expect(nextWakeup(d, at(2030, 5, 15, 8))).toBe(at(2031, 0, 1));
    const daily = parseCronodate({ second: '0', minute: '30', hour: '2' });
    expect(nextWakeup(daily, at(2030, 1, 28, 3))).toBe(at(2030, 2, 1, 2, 30));
  });

  it('weekday and day of month must both match', () => {
    // Friday the 13th, at noon
    const d = parseCronodate({ second: '0', minute: '0', hour: '12', mday: '13', weekday: '5' });
    const t = nextWakeup(d, at(2030, 0, 1))!;
    const got = new Date(t * 1000);
    expect([got.getDate(), got.getDay(), got.getHours()]).toEqual([13, 5, 12]);
    expect(t).toBe(at(2030, 8, 13, 12));
  });

  it('Feb 29 is found years ahead; a date that never comes is undefined', () => {
    const leap = parseCronodate({ second: '0', minute: '0', hour: '0', mday: '29', month: '1' });
    expect(nextWakeup(leap, at(2029, 2, 1))).toBe(at(2032, 1, 29));
    expect(nextWakeup(parseCronodate({ mday: '31', month: '1' }), at(2030, 0, 1))).toBeUndefined();
    expect(nextWakeup(parseCronodate({ year: '100' }), at(2030, 0, 1))).toBeUndefined();
  });

  it('exact fields of a time schedule exactly that time, once', () => {
    const t = at(2031, 6, 4, 9, 8, 7);
    const d = parseCronodate(exactFields(t));
    expect(nextWakeup(d, t - 100)).toBe(t);
    expect(nextWakeup(d, t)).toBeUndefined();
  });
});
