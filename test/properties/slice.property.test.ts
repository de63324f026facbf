// Python slices, as `flux job last` sends them: with a step of 1 a slice is JavaScript's Array.prototype.slice
// (the same rule for negative bounds), a step of k takes every k-th of that; a negative step walks backwards.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseSlice } from '../../src/core/jobs/slice.js';

const list = fc.array(fc.integer(), { maxLength: 12 });
const bound = fc.option(fc.integer({ min: -15, max: 15 }), { nil: undefined });
const text = (a?: number, b?: number, c?: number) => `[${a ?? ''}:${b ?? ''}${c === undefined ? '' : `:${c}`}]`;

describe('Python slices', () => {
  it('[a:b] is Array.prototype.slice, and [a:b:k] every k-th item of it', () => {
    fc.assert(fc.property(list, bound, bound, fc.integer({ min: 1, max: 4 }), (xs, a, b, k) => {
      const plain = xs.slice(a ?? 0, b ?? xs.length);
      expect(parseSlice(text(a, b))(xs)).toEqual(plain);
      expect(parseSlice(text(a, b, k))(xs)).toEqual(plain.filter((_, i) => i % k === 0));
    }), { numRuns: 500 });
  });

  it('[::-1] is the list reversed, and a backward slice the items from start down to just above stop', () => {
    fc.assert(fc.property(list, (xs) => {
      expect(parseSlice('[::-1]')(xs)).toEqual([...xs].reverse());
    }), { numRuns: 200 });
    // what Python 3 gives for these on [0, 1, 2, 3, 4, 5]
    const xs = [0, 1, 2, 3, 4, 5];
    const python: Record<string, number[]> = {
      '[4:1:-1]': [4, 3, 2], '[-2::-1]': [4, 3, 2, 1, 0], '[:-4:-1]': [5, 4, 3], '[10:-10:-1]': [5, 4, 3, 2, 1, 0],
      '[1:4:-1]': [], '[::-2]': [5, 3, 1], '[5:0:-3]': [5, 2], '[-1:-7:-1]': [5, 4, 3, 2, 1, 0],
    };
    for (const [slice, want] of Object.entries(python)) expect(parseSlice(slice)(xs), slice).toEqual(want);
  });

  it('a lone index picks one item, counting from the end when negative, or none', () => {
    expect(parseSlice('[0]')([7, 8])).toEqual([7]);
    expect(parseSlice('[-1]')([7, 8])).toEqual([8]);
    expect(parseSlice('[2]')([7, 8])).toEqual([]);
    expect(parseSlice('[ 1 : ]')([7, 8])).toEqual([8]);
  });

  it('refuses what is not a slice, and a step of 0', () => {
    for (const bad of ['', ':1', '[a]', '[1:2:3:4]', '[]', '[1.5:]', '[1:2:0]']) expect(() => parseSlice(bad), bad).toThrow();
  });
});
