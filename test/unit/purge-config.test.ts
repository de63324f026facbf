// The [job-manager] limits on inactive jobs: read as flux-core reads them, each mistake named.
import { describe, it, expect } from 'vitest';
import { parsePurgeLimits } from '../../src/core/jobs/purge-config.js';

describe('parsePurgeLimits', () => {
  it('reads an age as a Flux standard duration and a count of at least 0, leaving other keys alone', () => {
    expect(parsePurgeLimits({}, 'c')).toEqual({});
    expect(parsePurgeLimits({ 'job-manager': { 'inactive-age-limit': '7d', 'inactive-num-limit': 0, plugins: [] } }, 'c'))
      .toEqual({ ageLimit: 7 * 86400, numLimit: 0 });
  });

  it('names the key and what is wrong with it', () => {
    expect(() => parsePurgeLimits({ 'job-manager': 3 }, 'c')).toThrow('c: job-manager must be a table');
    expect(() => parsePurgeLimits({ 'job-manager': { 'inactive-age-limit': 42 } }, 'c')).toThrow('c: job-manager.inactive-age-limit: Expected string');
    expect(() => parsePurgeLimits({ 'job-manager': { 'inactive-age-limit': 'x' } }, 'c')).toThrow('c: job-manager.inactive-age-limit: invalid duration "x"');
    expect(() => parsePurgeLimits({ 'job-manager': { 'inactive-num-limit': -42 } }, 'c')).toThrow('c: job-manager.inactive-num-limit must be >= 0');
    expect(() => parsePurgeLimits({ 'job-manager': { 'inactive-num-limit': 1.5 } }, 'c')).toThrow('c: job-manager.inactive-num-limit must be >= 0');
  });
});
