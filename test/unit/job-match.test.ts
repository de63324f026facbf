// flux pgrep's and pkill's expressions: name patterns, id ranges, and how they combine.
import { describe, it, expect } from 'vitest';
import { matches, parseExpressions } from '../../src/commands/job-match.js';
import { encodeFluid } from '../../src/core/jobs/fluid.js';
import type { JobListing } from '../../src/api/jobs.js';

const job = (id: number, name: string) => ({ id, name }) as JobListing;

describe('pgrep expressions', () => {
  it('a pattern is searched for in the name; a range of ids holds both ends', () => {
    const e = parseExpressions(['^sl']);
    expect(matches(e, job(1, 'sleep'))).toBe(true);
    expect(matches(e, job(1, 'asleep'))).toBe(false);
    const r = parseExpressions([`${encodeFluid(100, 'f58')}..${encodeFluid(200, 'f58')}`]);
    expect([99, 100, 200, 201].map((id) => matches(r, job(id, 'x')))).toEqual([false, true, true, false]);
  });

  it('takes any of the patterns and any of the ranges, and both kinds together', () => {
    const e = parseExpressions(['alpha', 'beta', '10..20', '30..40']);
    expect(matches(e, job(15, 'beta'))).toBe(true);
    expect(matches(e, job(35, 'alpha'))).toBe(true);
    expect(matches(e, job(25, 'alpha'))).toBe(false);
    expect(matches(e, job(15, 'gamma'))).toBe(false);
  });

  it('reads what only looks like a range as a pattern, and name: forces one', () => {
    expect(parseExpressions(['fr..x'])).toEqual({ patterns: [/fr..x/], ranges: [] });
    expect(parseExpressions(['name:1..2'])).toEqual({ patterns: [/1..2/], ranges: [] });
    expect(() => parseExpressions(['('])).toThrow("invalid pattern '('");
  });
});
