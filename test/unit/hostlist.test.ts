import { describe, it, expect } from 'vitest';
import { expandHostlist } from '../../src/core/hostlist.js';

describe('expandHostlist (RFC 29)', () => {
  it('keeps plain names and their repeats in order', () => {
    expect(expandHostlist('vm,vm,vm,vm')).toEqual(['vm', 'vm', 'vm', 'vm']);
    expect(expandHostlist('login1')).toEqual(['login1']);
    expect(expandHostlist('')).toEqual([]);
  });

  it('expands bracketed ranges with their zero padding', () => {
    expect(expandHostlist('node[0-3,7]')).toEqual(['node0', 'node1', 'node2', 'node3', 'node7']);
    expect(expandHostlist('n[08-11]')).toEqual(['n08', 'n09', 'n10', 'n11']);
    expect(expandHostlist('a[1-2],b,c[5]')).toEqual(['a1', 'a2', 'b', 'c5']);
    expect(expandHostlist('r[1-2]n[1-2]')).toEqual(['r1n1', 'r1n2', 'r2n1', 'r2n2']);
    expect(expandHostlist('x[1-2]-ib')).toEqual(['x1-ib', 'x2-ib']);
  });

  it('rejects malformed lists', () => {
    expect(() => expandHostlist('n[1-')).toThrow(/unbalanced/);
    expect(() => expandHostlist('n1]')).toThrow(/unbalanced/);
    expect(() => expandHostlist('n[[1]]')).toThrow(/unbalanced/);
    expect(() => expandHostlist('n[a-b]')).toThrow(/bad range/);
    expect(() => expandHostlist('n[3-1]')).toThrow(/backwards/);
  });
});
