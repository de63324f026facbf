// Resource sets and R version 1: building from discoveries, R_lite grouping, nodelist compression, the round
// trip through R, malformed R, and the set operations with flux-core's rule that an emptied rank leaves the set.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  type ResourceSet, buildResourceSet, emptySet, encodeR, decodeR, union, difference, intersection, selectRanks,
  withWindow, countNodes, countCores, countGpus, ranksOf, rankIdset, nodelist,
} from '../../src/core/resource/rset.js';
import { EINVAL } from '../../src/core/errors.js';

const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
const four = buildResourceSet(range(0, 3).map((rank) => ({ rank, hostname: `host${rank}`, cores: [0, 1] })));

describe('building and encoding', () => {
  it('groups ranks with like children into R_lite entries and compresses the nodelist', () => {
    expect(encodeR(four)).toEqual({
      version: 1,
      execution: { R_lite: [{ rank: '0-3', children: { core: '0-1' } }], starttime: 0, expiration: 0, nodelist: ['host[0-3]'] },
    });
  });

  it('orders entries by their first rank, joins ranks that are not adjacent, names GPUs only where there are some', () => {
    const set = buildResourceSet([
      { rank: 0, hostname: 'vm', cores: [0, 1, 2, 3] },
      { rank: 1, hostname: 'vm', cores: [0, 1], gpus: [0] },
      { rank: 2, hostname: 'vm', cores: [3, 2, 1, 0, 0] },
      { rank: 3, hostname: 'vm', cores: [] },
    ], { starttime: 10, expiration: 70.5 });
    expect(encodeR(set)).toEqual({
      version: 1,
      execution: {
        R_lite: [{ rank: '0,2', children: { core: '0-3' } }, { rank: '1', children: { core: '0-1', gpu: '0' } }],
        starttime: 10,
        expiration: 70.5,
        nodelist: ['vm,vm,vm'],
      },
    });
  });

  it('leaves the nodelist out when a rank has no hostname, and writes an empty set as flux-core does', () => {
    expect(encodeR(buildResourceSet([{ rank: 0, cores: [0] }])).execution.nodelist).toBeUndefined();
    expect(encodeR(emptySet())).toEqual({ version: 1, execution: { R_lite: [], starttime: 0, expiration: 0, nodelist: [''] } });
  });

  it('merges a rank named twice and refuses a negative one', () => {
    const set = buildResourceSet([{ rank: 1, cores: [0] }, { rank: 1, cores: [2], gpus: [1] }]);
    expect(set.nodes).toEqual([{ rank: 1, cores: [0, 2], gpus: [1] }]);
    expect(() => buildResourceSet([{ rank: -1, cores: [0] }])).toThrow(expect.objectContaining({ errno: EINVAL }));
  });
});

describe('decodeR', () => {
  it('reads back what encodeR writes', () => {
    const set = buildResourceSet([
      { rank: 0, hostname: 'a1', cores: [0, 1] },
      { rank: 5, hostname: 'a2', cores: [0, 1], gpus: [0, 1] },
      { rank: 7, hostname: 'b', cores: [3] },
    ], { starttime: 1, expiration: 2 });
    expect(decodeR(encodeR(set))).toEqual(set);
    expect(decodeR(JSON.parse(JSON.stringify(encodeR(four))))).toEqual(four);
  });

  it('reads flux-core\'s R (extra keys, entries naming the same rank, a nodelist in several strings)', () => {
    const set = decodeR({
      version: 1,
      execution: {
        R_lite: [{ rank: '0-1', children: { core: '0-3', gpu: '0' } }, { rank: '1', children: { core: '4' } }],
        nodelist: ['fluke1', 'fluke2'],
        properties: { debug: '0' },
      },
      scheduling: { graph: {} },
    });
    expect(set).toEqual({
      nodes: [
        { rank: 0, hostname: 'fluke1', cores: [0, 1, 2, 3], gpus: [0] },
        { rank: 1, hostname: 'fluke2', cores: [0, 1, 2, 3, 4], gpus: [0] },
      ],
      starttime: 0,
      expiration: 0,
    });
  });

  it('refuses malformed R with EINVAL', () => {
    const bad: unknown[] = [
      null,
      'R',
      { version: 2, execution: { R_lite: [] } },
      { version: 1 },
      { version: 1, execution: {} },
      { version: 1, execution: { R_lite: [{ rank: '0' }] } },
      { version: 1, execution: { R_lite: [{ rank: 0, children: { core: '0' } }] } },
      { version: 1, execution: { R_lite: [{ rank: '3-1', children: { core: '0' } }] } },
      { version: 1, execution: { R_lite: [{ rank: '0', children: { core: 'x' } }] } },
      { version: 1, execution: { R_lite: [{ rank: '0', children: { core: '0' } }], nodelist: ['a,b'] } },
      { version: 1, execution: { R_lite: [{ rank: '0', children: { core: '0' } }], nodelist: ['a['] } },
      { version: 1, execution: { R_lite: [{ rank: '0', children: { core: '0' } }], starttime: 'now' } },
    ];
    for (const R of bad) expect(() => decodeR(R), JSON.stringify(R)).toThrow(expect.objectContaining({ errno: EINVAL }));
  });
});

describe('set operations', () => {
  const a = buildResourceSet([
    { rank: 0, hostname: 'n0', cores: [0, 1, 2, 3], gpus: [0] },
    { rank: 1, hostname: 'n1', cores: [0, 1] },
  ], { starttime: 5, expiration: 9 });
  const b = buildResourceSet([
    { rank: 0, hostname: 'n0', cores: [2, 3, 4], gpus: [0] },
    { rank: 2, hostname: 'n2', cores: [0] },
  ]);

  it('union holds what either holds and keeps the first set\'s window', () => {
    const u = union(a, b);
    expect(u.nodes.map((n) => [n.rank, n.cores, n.gpus])).toEqual([[0, [0, 1, 2, 3, 4], [0]], [1, [0, 1], []], [2, [0], []]]);
    expect([u.starttime, u.expiration]).toEqual([5, 9]);
  });

  it('difference drops a rank it empties', () => {
    expect(difference(a, b).nodes.map((n) => [n.rank, n.cores, n.gpus])).toEqual([[0, [0, 1], []], [1, [0, 1], []]]);
    const only = buildResourceSet([{ rank: 1, cores: [0, 1] }]);
    expect(ranksOf(difference(a, union(only, buildResourceSet([{ rank: 0, cores: [0, 1, 2, 3], gpus: [0] }]))))).toEqual([]);
  });

  it('intersection holds what both hold', () => {
    expect(intersection(a, b).nodes).toEqual([{ rank: 0, hostname: 'n0', cores: [2, 3], gpus: [0] }]);
    expect(countNodes(intersection(a, buildResourceSet([{ rank: 1, cores: [5] }])))).toBe(0);
  });

  it('counts, ranks and nodelist', () => {
    expect([countNodes(a), countCores(a), countGpus(a)]).toEqual([2, 6, 1]);
    expect(rankIdset(union(a, b))).toBe('0-2');
    expect(nodelist(union(a, b))).toBe('n[0-2]');
    expect(rankIdset(selectRanks(union(a, b), [0, 2]))).toBe('0,2');
    expect(withWindow(a, 1, 2)).toMatchObject({ starttime: 1, expiration: 2 });
  });

  const setArb: fc.Arbitrary<ResourceSet> = fc.array(fc.record({
    rank: fc.nat(8),
    cores: fc.uniqueArray(fc.nat(7), { maxLength: 8 }),
    gpus: fc.uniqueArray(fc.nat(3), { maxLength: 4 }),
  }), { maxLength: 9 }).map((nodes) => buildResourceSet(nodes.map((n) => ({ ...n, hostname: `h${n.rank}` }))));

  /** every (rank, kind, id) a set holds */
  const items = (s: ResourceSet) => new Set(s.nodes.flatMap((n) => [...n.cores.map((c) => `${n.rank}c${c}`), ...n.gpus.map((g) => `${n.rank}g${g}`)]));

  it('agree with sets of items and survive R', () => {
    fc.assert(fc.property(setArb, setArb, (x, y) => {
      const ix = items(x);
      const iy = items(y);
      expect(items(union(x, y))).toEqual(new Set([...ix, ...iy]));
      expect(items(difference(x, y))).toEqual(new Set([...ix].filter((i) => !iy.has(i))));
      expect(items(intersection(x, y))).toEqual(new Set([...ix].filter((i) => iy.has(i))));
      for (const s of [union(x, y), difference(x, y), intersection(x, y)]) {
        expect(s.nodes.every((n) => n.cores.length + n.gpus.length > 0)).toBe(true);
        expect(decodeR(encodeR(s))).toEqual(s);
      }
    }), { numRuns: 300 });
  });
});
