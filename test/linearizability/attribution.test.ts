// Placing writes from the journal's setroot entries: the checks a run makes of durability and of refusals.
import { describe, it, expect } from 'vitest';
import { attribute, keyHistory, type SetrootOp } from '../../src/verify/attribution.js';

const batches = new Map<number, SetrootOp[]>([
  [1, [{ key: 'a', flags: 0, value: 'x' }]],
  [2, [{ key: 'a', flags: 32, value: '[y]' }, { key: 'a', flags: 0, value: null }, { key: 'b', flags: 0, value: 'z' }]],
]);

describe('attribution of writes to versions', () => {
  it('places acknowledged and unanswered writes by value, merged ones by their place in the batch', () => {
    const r = attribute([
      { id: 1, input: { f: 'put', key: 'a', value: 'x' }, version: 1 },
      { id: 2, input: { f: 'append', key: 'a', value: '[y]' } },
      { id: 3, input: { f: 'unlink', key: 'a' }, version: 2 },
      { id: 4, input: { f: 'put', key: 'b', value: 'never' } },
    ], batches);
    expect(r.problems).toEqual([]);
    expect(r.exact.get(1)).toBe(1.5);
    expect(r.exact.get(2)).toBe(2.25);
    expect(r.exact.get(3)).toBe(2.5);
    expect(r.exact.has(4)).toBe(false);
  });

  it('names an acknowledged write that is missing or elsewhere, and a refused one that landed', () => {
    const r = attribute([
      { id: 1, input: { f: 'put', key: 'a', value: 'lost' }, version: 1 },
      { id: 2, input: { f: 'put', key: 'b', value: 'z' }, version: 1 },
      { id: 3, input: { f: 'put', key: 'a', value: 'x' }, refused: true },
      { id: 4, input: { f: 'unlink', key: 'b' }, version: 2 },
    ], batches);
    expect(r.problems).toEqual([
      'put a lost was acknowledged with version 1 but is not in the journal',
      'put b z was acknowledged with version 1 but is in version 2',
      'put a x was refused but is in version 1',
      'unlink b was acknowledged with version 2 but that version has no such unlink',
    ]);
  });
});

describe('a key\'s history replayed from the setroot ops', () => {
  it('is its value after each version that touched it, merged ops applied in order', () => {
    expect(keyHistory('a', batches)).toEqual([null, 'x', null]);
    expect(keyHistory('b', batches)).toEqual([null, 'z']);
    const more = new Map([...batches, [3, [{ key: 'a', flags: 32, value: '1' }, { key: 'a', flags: 32, value: '2' }]]]);
    expect(keyHistory('a', more)).toEqual([null, 'x', null, '12']);
  });
});
