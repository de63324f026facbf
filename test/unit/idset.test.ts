// RFC 22 idsets as flux exec, flux ps and rexec.ps read and print them.
import { describe, it, expect } from 'vitest';
import { parseIdset, formatIdset, IDSET_MAX } from '../../src/core/resource/idset.js';
import { FluxError, EINVAL } from '../../src/core/errors.js';

const rejects = (text: string, size?: number) => {
  let err: unknown;
  try {
    parseIdset(text, size);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FluxError);
  expect((err as FluxError).errno).toBe(EINVAL);
};

describe('parseIdset', () => {
  it('reads single ids, ranges and lists, sorted and without duplicates', () => {
    expect(parseIdset('3')).toEqual([3]);
    expect(parseIdset('0-3,5')).toEqual([0, 1, 2, 3, 5]);
    expect(parseIdset('5,0-2,1,2-3')).toEqual([0, 1, 2, 3, 5]);
    expect(parseIdset('7-7')).toEqual([7]);
  });

  it('accepts the bracketed form it prints', () => {
    expect(parseIdset('[1-2]')).toEqual([1, 2]);
    expect(parseIdset('[0,4-5]')).toEqual([0, 4, 5]);
  });

  it('"all" is every rank of the instance, and needs its size', () => {
    expect(parseIdset('all', 4)).toEqual([0, 1, 2, 3]);
    expect(parseIdset('all', 0)).toEqual([]);
    rejects('all');
  });

  it('the empty string is the empty set', () => {
    expect(parseIdset('')).toEqual([]);
    expect(parseIdset('[]')).toEqual([]);
  });

  it('rejects what is not an idset', () => {
    for (const bad of ['a', '-1', '1-', '-', '1,,2', '1 ', ' 1', '3-1', '01', '1.5', '[1-2', '1-2]', '1-2-3', '+1', '0x1']) rejects(bad);
  });

  it('rejects ids past the largest nodeid and ranges too large to hold', () => {
    expect(parseIdset(String(IDSET_MAX))).toEqual([IDSET_MAX]);
    rejects(String(IDSET_MAX + 1));
    rejects('0-99999999');
  });
});

describe('formatIdset', () => {
  it('folds consecutive ids into ranges', () => {
    expect(formatIdset([0, 1, 2, 3, 5])).toBe('0-3,5');
    expect(formatIdset([5, 3, 1, 2, 3])).toBe('1-3,5');
    expect(formatIdset([1, 2])).toBe('1-2');
    expect(formatIdset([])).toBe('');
  });

  it('brackets, as flux-core prints ranks, only a set of more than one id', () => {
    expect(formatIdset([1, 2], true)).toBe('[1-2]');
    expect(formatIdset([0, 2], true)).toBe('[0,2]');
    expect(formatIdset([2], true)).toBe('2');
    expect(formatIdset([], true)).toBe('');
  });

  it('round-trips with parseIdset', () => {
    for (const ids of [[0], [0, 1, 2, 7, 9, 10, 11], [3, 5, 7], [100, 101]]) {
      expect(parseIdset(formatIdset(ids))).toEqual(ids);
      expect(parseIdset(formatIdset(ids, true))).toEqual(ids);
    }
  });
});
