// The caches of decoded tree objects (the KVS) and of clean blobs (content, below rank 0): within a byte limit,
// the oldest dropped first, but one read since it last came up kept once more (sent to the back), so that what
// lookups keep reading stays.
import { describe, it, expect } from 'vitest';
import { ByteCache } from '../../src/core/byte-cache.js';
import { TreeCache, storedFootprint } from '../../src/core/kvs/tree.js';
import type { Stored } from '../../src/core/kvs/wide.js';

const node = (level: number): Stored => ({ kind: 'node', level, refs: [] });

describe('a byte-bounded cache', () => {
  it('drops the oldest unread object first, and keeps one read since it came up for another round', () => {
    const c = new ByteCache<Stored>(30);
    for (const r of ['a', 'b', 'c']) c.set(r, node(0), 10);
    expect(c.get('a')).toEqual(node(0));
    c.set('d', node(1), 10);
    // a was read: it goes to the back, and b, the oldest unread, goes
    expect([c.get('b'), c.count, c.bytes]).toEqual([undefined, 3, 30]);
    c.set('e', node(1), 10);
    // a came up again unread since (the lookups above do not count: b missed), c is older: c goes
    expect(c.get('c')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    c.set('f', node(1), 20);
    // room for 20: d and e, unread, go first; a, read again, stays
    expect([c.get('d'), c.get('e'), c.get('a') !== undefined, c.get('f') !== undefined, c.bytes]).toEqual([undefined, undefined, true, true, 30]);
  });

  it('takes no object larger than its limit, nor the same one twice, and empties when cleared', () => {
    const c = new ByteCache<Stored>(10);
    c.set('big', node(0), 11);
    c.set('x', node(0), 4);
    c.set('x', node(1), 4);
    expect([c.get('big'), c.get('x'), c.count, c.bytes]).toEqual([undefined, node(0), 1, 4]);
    c.clear();
    expect([c.count, c.bytes, c.get('x')]).toEqual([0, 0, undefined]);
    const none = new ByteCache<Stored>(0);
    none.set('y', node(0), 1);
    expect(none.count).toBe(0);
  });

  it('trims to a lowered limit by the same rule, and holds any kind of value', () => {
    const c = new ByteCache<string>(40);
    for (const k of ['a', 'b', 'c', 'd']) c.set(k, k.toUpperCase(), 10);
    c.get('b');
    c.limit = 20;
    c.trim();
    expect([c.get('a'), c.get('b'), c.get('c'), c.get('d'), c.bytes]).toEqual([undefined, 'B', undefined, 'D', 20]);
  });

  it('ends its sweep when everything was read: each object is sent back once, then the oldest goes', () => {
    const c = new ByteCache<Stored>(30);
    for (const r of ['a', 'b', 'c']) c.set(r, node(0), 10);
    for (const r of ['a', 'b', 'c']) c.get(r);
    c.set('d', node(0), 10);
    expect([c.count, c.bytes, c.get('a'), c.get('d') !== undefined]).toEqual([3, 30, undefined, true]);
  });
  it('tells what leaves it, and keeps what it is told an object sent to the back is kept as from then on', () => {
    const dropped: string[] = [];
    const c = new ByteCache<string>(20, {
      dropped: (v, size) => dropped.push(`${v}/${size}`),
      requeued: (v) => `${v}'`,
    });
    for (const k of ['a', 'b']) c.set(k, k, 10);
    c.get('a');
    c.set('c', 'c', 10);
    expect([c.get('a'), c.get('b'), dropped]).toEqual(["a'", undefined, ['b/10']]);
    expect(c.entry('c')).toMatchObject({ value: 'c', size: 10 });
    c.clear();
    expect(dropped.sort()).toEqual(["a'/10", 'b/10', 'c/10']);
  });
});

describe('the cache of decoded tree objects', () => {
  it('counts an object as the memory it takes decoded, not as its blob', () => {
    // more than the blob (the entries decoded, and their bytes once written), and more per byte of a larger blob
    expect(storedFootprint(200)).toBeGreaterThan(4 * 200);
    expect(storedFootprint(2000) - storedFootprint(1000)).toBeGreaterThanOrEqual(4 * 1000);
    const c = new TreeCache(3 * storedFootprint(300));
    for (const r of ['a', 'b', 'c', 'd']) c.keep(r, node(0), 300);
    // room for three of them, though their blobs' 1,200 bytes are far under the limit
    expect([c.count, c.bytes, c.get('a'), c.get('d') !== undefined]).toEqual([3, 3 * storedFootprint(300), undefined, true]);
  });
});
