// Placing writes from the journal's setroot entries: the checks a run makes of durability and of refusals.
import { describe, it, expect } from 'vitest';
import { attribute, keyTimelines, settle, type KvsRecord, type SetrootOp } from '../../src/verify/attribution.js';

const batches = new Map<number, SetrootOp[]>([
  [1, [{ key: 'a', flags: 0, value: 'x' }]],
  [2, [{ key: 'a', flags: 32, value: '[y]' }, { key: 'a', flags: 0, value: null }, { key: 'b', flags: 0, value: 'z' }]],
]);

describe('attribution of writes to versions', () => {
  it('places acknowledged and unanswered writes by value, merged ones by their place in the batch', () => {
    const r = attribute([
      { id: 1, call: 1, input: { f: 'put', key: 'a', value: 'x' }, output: { version: 1 } },
      { id: 2, call: 2, input: { f: 'append', key: 'a', value: '[y]' } },
      { id: 3, call: 3, input: { f: 'unlink', key: 'a' }, output: { version: 2 } },
      { id: 4, call: 4, input: { f: 'put', key: 'b', value: 'never' } },
    ], batches);
    expect(r.problems).toEqual([]);
    expect(r.exact.get(1)).toBe(1.5);
    expect(r.exact.get(2)).toBe(2.25);
    expect(r.exact.get(3)).toBe(2.5);
    expect(r.exact.has(4)).toBe(false);
  });

  it('names an acknowledged write that is missing or elsewhere, and a refused one that landed', () => {
    const r = attribute([
      { id: 1, call: 1, input: { f: 'put', key: 'a', value: 'lost' }, output: { version: 1 } },
      { id: 2, call: 2, input: { f: 'put', key: 'b', value: 'z' }, output: { version: 1 } },
      { id: 3, call: 3, input: { f: 'put', key: 'a', value: 'x' }, refused: true },
      { id: 4, call: 4, input: { f: 'unlink', key: 'b' }, output: { version: 2 } },
    ], batches);
    expect(r.problems).toEqual([
      'put a lost was acknowledged with version 1 but is not in the journal',
      'put b z was acknowledged with version 1 but is in version 2',
      'put a x was refused but is in version 1',
      'unlink b was acknowledged with version 2 but that version has no such unlink',
      'unlink a in version 2 is no unlink a client made (acknowledged or unanswered)',
    ]);
  });

  it('gives the journal\'s unlinks no acknowledged one took to those whose answer was lost, earliest call first', () => {
    const unlinks = new Map<number, SetrootOp[]>([
      [3, [{ key: 'a', flags: 0, value: null }, { key: 'a', flags: 0, value: null }]],
      [5, [{ key: 'b', flags: 0, value: 'y' }, { key: 'a', flags: 0, value: null }]],
      [6, [{ key: 'b', flags: 0, value: null }]],
      // a key no client wrote is another writer's
      [7, [{ key: 'other', flags: 0, value: null }]],
    ]);
    const r = attribute([
      { id: 1, call: 40, input: { f: 'unlink', key: 'a' } },
      { id: 2, call: 10, input: { f: 'unlink', key: 'a' }, output: { version: 3 } },
      { id: 3, call: 20, input: { f: 'unlink', key: 'a' } },
      { id: 4, call: 50, input: { f: 'unlink', key: 'a' } },
      { id: 5, call: 30, input: { f: 'unlink', key: 'a' }, refused: true },
      { id: 6, call: 60, input: { f: 'put', key: 'b', value: 'y' }, output: { version: 5 } },
    ], unlinks);
    // the acknowledged one takes version 3's first; the lost ones, by call, the second and then version 5's
    expect([r.exact.get(2), r.exact.get(3), r.exact.get(1)]).toEqual([3 + 1 / 3, 3 + 2 / 3, 5 + 2 / 3]);
    // one more lost than the journal holds: the last called did not happen; a refused one never takes a place
    expect([r.exact.has(4), r.exact.has(5)]).toEqual([false, false]);
    expect(r.problems).toEqual(['unlink b in version 6 is no unlink a client made (acknowledged or unanswered)']);
  });
});

describe('the history the checker takes', () => {
  const rec = (id: number, call: number, ret: number, input: KvsRecord['input'], output?: KvsRecord['output'], refused?: boolean): KvsRecord =>
    ({ id, client: id, input, call, ret, ...(output ? { output } : {}), ...(refused ? { refused } : {}) });

  it('leaves out refused operations, reads whose answer was lost and lost writes the journal does not hold', () => {
    const ops = settle([
      rec(1, 0, 1, { f: 'put', key: 'a', value: 'x' }, { version: 1 }),
      rec(2, 2, 9, { f: 'get', key: 'a' }),
      rec(3, 2, 9, { f: 'put', key: 'a', value: 'gone' }),
      rec(4, 3, 4, { f: 'put', key: 'a', value: 'no' }, undefined, true),
      rec(5, 5, 6, { f: 'get-at', key: 'a', version: 1 }, { value: 'x' }),
    ], new Map([[1, 1.5]]));
    expect(ops.map((o) => [o.id, o.output, o.ret])).toEqual([[1, { version: 1.5 }, 1], [5, { value: 'x' }, 6]]);
  });

  it('places a lost write the journal holds between the calls and the returns of the writes acknowledged around its version', () => {
    const ops = settle([
      rec(1, 0, 100, { f: 'put', key: 'a', value: 'lost' }),
      rec(2, 1, 30, { f: 'put', key: 'b', value: 'later' }, { version: 3 }),
      rec(3, 2, 20, { f: 'put', key: 'c', value: 'same' }, { version: 2 }),
      rec(4, 3, 10, { f: 'put', key: 'd', value: 'before' }, { version: 1 }),
      rec(5, 4, 100, { f: 'unlink', key: 'a' }),
      rec(6, 50, 100, { f: 'append', key: 'a', value: 'late' }),
    ], new Map([[1, 2.25], [2, 3.5], [3, 2.5], [4, 1.5], [5, 4.5], [6, 2.75]]));
    // 1 is in version 2: after 4 (version 1) was called, at 3, and before 3 (version 2, its own) returned, at 20;
    // 5 is above every acknowledged version: it may never have returned; 6 was called after that return: no earlier
    expect(ops.map((o) => [o.id, o.call, o.ret])).toEqual([[1, 3, 20], [2, 1, 30], [3, 2, 20], [4, 3, 10], [5, 4, Infinity], [6, 50, 50]]);
  });
});

describe('a key\'s timeline replayed from the setroot ops', () => {
  it('is its value after each version that touched it, merged ops applied in order, versions in order', () => {
    expect(Object.fromEntries(keyTimelines(batches))).toEqual({
      a: { versions: [1, 2], values: ['x', null] },
      b: { versions: [2], values: ['z'] },
    });
    // handed over in any order; two appends merged into one version count once, applied in their order
    const more = new Map([[3, [{ key: 'a', flags: 32, value: '1' }, { key: 'a', flags: 32, value: '2' }]], ...batches]);
    expect(keyTimelines(more).get('a')).toEqual({ versions: [1, 2, 3], values: ['x', null, '12'] });
  });
});
