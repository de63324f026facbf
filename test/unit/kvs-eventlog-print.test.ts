// How flux kvs eventlog and flux job eventlog print each entry: every -T time form, -H at each month and around
// zero, and the color of each part; and what a line that cannot be an entry is refused with.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { EventlogFormatter, decodeEntry, encodeEntry, type EventlogEntry } from '../../src/core/kvs/format-eventlog.js';
import { JReal } from '../../src/core/kvs/format-json.js';

const at = (timestamp: number, name = 'e', context?: EventlogEntry['context']): EventlogEntry =>
  (context === undefined ? { entry: new Map(), timestamp, name } : { entry: new Map(), timestamp, name, context });

let tz: string | undefined;
beforeAll(() => {
  tz = process.env.TZ;
  process.env.TZ = 'UTC';
});
afterAll(() => {
  if (tz === undefined) delete process.env.TZ;
  else process.env.TZ = tz;
});

describe('eventlog times', () => {
  it('-T offset: seconds since the first entry printed', () => {
    const f = new EventlogFormatter({ time: 'offset' });
    expect([10.5, 12.25, 10.5].map((ts) => f.format(at(ts))).join('')).toBe('0.000000 e\n1.750000 e\n0.000000 e\n');
  });

  it('-T iso: local time to the microsecond', () => {
    const f = new EventlogFormatter({ time: 'iso' });
    expect(f.format(at(1.5))).toBe('1970-01-01T00:00:01.500000Z e\n');
    expect(f.format(at(86400 + 0.000002))).toBe('1970-01-02T00:00:00.000002Z e\n');
  });

  it('-H wins over -T', () => {
    for (const time of ['offset', 'iso'] as const) {
      expect(new EventlogFormatter({ time, human: true }).format(at(60.5))).toBe('[Jan01 00:01] e\n');
    }
  });

  it('-H names every month', () => {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    months.forEach((m, i) => {
      const ts = Date.UTC(2026, i, 9 + i, 7, 5) / 1000;
      expect(new EventlogFormatter({ human: true }).format(at(ts))).toBe(`[${m}${String(9 + i).padStart(2, '0')} 07:05] e\n`);
    });
  });

  it('-H offsets: a sign always, minus for before (negative zero included), a negative time as its offset', () => {
    const f = new EventlogFormatter({ human: true });
    expect([0, 0, -0, 0.25, -1.5].map((ts) => f.format(at(ts))).join(''))
      .toBe('[Jan01 00:00] e\n[  +0.000000] e\n[  -0.000000] e\n[  +0.250000] e\n[  -1.500000] e\n');
  });
});

describe('eventlog colors', () => {
  it('numbers gray, other values magenta, keys blue', () => {
    const ctx = new Map<string, never>([['n', 7n as never], ['r', new JReal(0.5) as never], ['s', 'x' as never]]);
    expect(new EventlogFormatter({ color: true }).format(at(2, 'go', ctx))).toBe(
      '\x1b[32m2.000000\x1b[0m \x1b[33mgo\x1b[0m \x1b[34mn\x1b[0m=\x1b[37m7\x1b[0m \x1b[34mr\x1b[0m=\x1b[37m0.5\x1b[0m'
      + ' \x1b[34ms\x1b[0m=\x1b[35m"x"\x1b[0m\n');
  });
});

describe('eventlog entries', () => {
  it('an empty line is refused as no entry, not as bad JSON', () => {
    expect(() => decodeEntry(Buffer.alloc(0))).toThrow(/^Invalid argument$/);
  });

  it('timestamp 0 means now', () => {
    const before = Date.now() / 1000;
    const line = encodeEntry(0, 'go');
    const after = Date.now() / 1000;
    const ts = decodeEntry(Buffer.from(line.slice(0, -1))).timestamp;
    expect(ts).toBeGreaterThanOrEqual(before - 0.01);
    expect(ts).toBeLessThanOrEqual(after + 0.01);
  });
});
