import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { compressHostlist, expandHostlist } from '../../src/core/resource/hostlist.js';
import { EINVAL } from '../../src/core/errors.js';

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

describe('compressHostlist (RFC 29, as flux-core encodes)', () => {
  it('writes what flux-core\'s encoder writes', () => {
    const cases: Array<[string[], string]> = [
      [[], ''],
      [['vm', 'vm', 'vm', 'vm'], 'vm,vm,vm,vm'],
      [['host0', 'host1', 'host2', 'host3'], 'host[0-3]'],
      [['foo-1a-2', 'foo-1a-3'], 'foo-1a-[2-3]'],
      [['foo1', 'foo2', 'foo3', 'fooi'], 'foo[1-3],fooi'],
      [['foo1', 'fooi', 'foo2', 'foo3'], 'foo1,fooi,foo[2-3]'],
      [['fooi', 'foo1', 'foo2', 'foo3', 'foo5', 'foo7', 'foo8'], 'fooi,foo[1-3,5,7-8]'],
      [['1', '2', '3', '4', '5', '9'], '[1-5,9]'],
      [['14636'], '14636'],
      [['foo1-bar', 'foo3-bar'], 'foo1-bar,foo3-bar'],
      [['foo12', 'foo4', 'foo1', 'foo2', 'bar26', 'bar27'], 'foo[12,4,1-2],bar[26-27]'],
      [['flux-0-0', 'flux-0-0', 'flux-0-0'], 'flux-0-[0,0,0]'],
      [['n08', 'n09', 'n10', 'n11'], 'n[08-11]'],
      [['n9', 'n10'], 'n[9-10]'],
      [['n1', 'n02', 'n3'], 'n[1,02,3]'],
    ];
    for (const [hosts, text] of cases) expect(compressHostlist(hosts), hosts.join(',')).toBe(text);
  });

  it('refuses names a hostlist cannot hold', () => {
    for (const bad of ['', 'a,b', 'n[1]', 'x y']) {
      expect(() => compressHostlist([bad])).toThrow(expect.objectContaining({ errno: EINVAL }));
    }
  });

  it('gives back every list it is given when expanded', () => {
    const name = fc.tuple(fc.constantFrom('n', 'node', 'r1n', 'x-', ''), fc.oneof(fc.nat(120).map(String), fc.constantFrom('007', '08', '0', '00', '099', '100', 'i')))
      .map(([p, n]) => p + n).filter((h) => h !== '');
    fc.assert(fc.property(fc.array(name, { maxLength: 30 }), (hosts) => {
      expect(expandHostlist(compressHostlist(hosts))).toEqual(hosts);
    }), { numRuns: 500 });
  });
});
