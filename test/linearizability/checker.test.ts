// The checker itself, on histories made by hand: it must accept the linearizable ones and name the classic
// anomalies (a stale read, a lost write, a read of the past that is wrong, a reordered or skipped event).
import { describe, it, expect } from 'vitest';
import { type Model, type Operation, check } from '../../src/verify/linearizability.js';
import { kvsModel, type KvsInput, type KvsOp, type KvsOutput } from '../../src/verify/kvs-model.js';
import { checkEvents, checkWatch, keyValues, type Publish } from '../../src/verify/event-log.js';

let nextId = 0;
function op(client: number, call: number, ret: number, input: KvsInput, output?: KvsOutput): KvsOp {
  return { id: nextId++, client, call, ret, input, output };
}
const put = (c: number, t0: number, t1: number, key: string, value: string, version?: number) =>
  op(c, t0, t1, { f: 'put', key, value }, version === undefined ? undefined : { version });
const get = (c: number, t0: number, t1: number, key: string, value: string | null) => op(c, t0, t1, { f: 'get', key }, { value });

describe('the KVS checker', () => {
  it('accepts sequential and overlapping histories that have a linearization', () => {
    expect(check(kvsModel, [put(0, 0, 1, 'a', 'x', 1), get(1, 2, 3, 'a', 'x')]).ok).toBe(true);
    // a read overlapping a write may see either value
    expect(check(kvsModel, [put(0, 0, 10, 'a', 'x', 1), get(1, 1, 2, 'a', null), get(2, 3, 4, 'a', 'x')]).ok).toBe(true);
    // the write's response was lost: it may have happened, late
    expect(check(kvsModel, [put(0, 0, Infinity, 'a', 'x'), get(1, 1, 2, 'a', null), get(1, 50, 51, 'a', 'x')]).ok).toBe(true);
    // ... or never
    expect(check(kvsModel, [put(0, 0, Infinity, 'a', 'x'), get(1, 50, 51, 'a', null)]).ok).toBe(true);
    // appends join in linearization order; an unlink empties the key
    expect(check(kvsModel, [
      op(0, 0, 1, { f: 'append', key: 'l', value: 'a' }, { version: 1 }),
      op(1, 2, 5, { f: 'append', key: 'l', value: 'b' }, { version: 3 }),
      op(2, 2, 5, { f: 'append', key: 'l', value: 'c' }, { version: 2 }),
      get(0, 6, 7, 'l', 'acb'),
      op(0, 8, 9, { f: 'unlink', key: 'l' }, { version: 4 }),
      get(1, 10, 11, 'l', null),
    ]).ok).toBe(true);
  });

  it('finds a stale read', () => {
    const r = check(kvsModel, [put(0, 0, 1, 'a', 'x', 1), put(0, 2, 3, 'a', 'y', 2), get(1, 4, 5, 'a', 'x')]);
    expect(r.ok).toBe(false);
    if (r.ok === false) {
      expect(r.partition).toBe('a');
      expect(r.reason).toMatch(/get a -> "x"/);
    }
  });

  it('finds a lost write', () => {
    // both writes acknowledged, yet a later read sees neither
    const r = check(kvsModel, [put(0, 0, 1, 'a', 'x', 1), put(1, 0, 1, 'b', 'y', 1), get(2, 2, 3, 'a', null), get(2, 4, 5, 'b', 'y')]);
    expect(r.ok).toBe(false);
    if (r.ok === false) expect(r.partition).toBe('a');
    // a write that was refused must not show up
    expect(check(kvsModel, [get(1, 2, 3, 'a', 'x')]).ok).toBe(false);
  });

  it('orders writes by the version they were given and checks reads of the past', () => {
    // the writes overlap, but versions say x came after y: the final x is right, a final y is not
    const w = () => [put(0, 0, 5, 'a', 'x', 2), put(1, 0, 5, 'a', 'y', 1)];
    expect(check(kvsModel, [...w(), get(2, 6, 7, 'a', 'x')]).ok).toBe(true);
    expect(check(kvsModel, [...w(), get(2, 6, 7, 'a', 'y')]).ok).toBe(false);
    const at = (t0: number, version: number, value: string | null) => op(2, t0, t0 + 1, { f: 'get-at', key: 'a', version }, { value });
    expect(check(kvsModel, [...w(), at(6, 1, 'y'), at(8, 2, 'x'), at(10, 0, null)]).ok).toBe(true);
    expect(check(kvsModel, [...w(), at(6, 1, 'x')]).ok).toBe(false);
    // version 3 touched another key: a at 3 is still x
    expect(check(kvsModel, [...w(), at(6, 3, 'x')]).ok).toBe(true);
    expect(check(kvsModel, [...w(), at(6, 3, 'y')]).ok).toBe(false);
  });

  it('reads a version as it was after all of its merged writes, in their order in the batch', () => {
    // one batch (version 5): an append, then an unlink of the same key
    const batch = () => [op(0, 0, 5, { f: 'append', key: 'a', value: 'x' }, { version: 5 + 1 / 3 }), op(1, 0, 5, { f: 'unlink', key: 'a' }, { version: 5 + 2 / 3 })];
    const at = (value: string | null) => op(2, 6, 7, { f: 'get-at', key: 'a', version: 5 }, { value });
    expect(check(kvsModel, [...batch(), at(null)]).ok).toBe(true);
    expect(check(kvsModel, [...batch(), at('x')]).ok).toBe(false);
  });

  it('gives up rather than searching forever', () => {
    const ops = Array.from({ length: 14 }, (_, i) => put(i, 0, 100, 'a', `v${i}`));
    ops.push(get(99, 101, 102, 'a', 'nope'));
    expect(check(kvsModel, ops, { maxStates: 1000 }).ok).toBe('unknown');
    // an undecided key does not hide a violation on another
    const r = check(kvsModel, [...ops, put(0, 0, 1, 'b', 'x', 1), get(1, 2, 3, 'b', null)], { maxStates: 1000 });
    expect([r.ok, r.ok === false && r.partition]).toEqual([false, 'b']);
  });
});

/**
 * A model of tokens handed out in a fixed order of states: `step` follows `table` (input -> from-state -> to-state),
 * so a test can say exactly which orders of its operations are allowed.
 */
function tableModel(table: Record<string, Record<number, number>>): Model<number, string, null> {
  return { init: () => 0, step: (s, input) => table[input]?.[s], key: (s) => String(s) };
}
const tok = (id: number, call: number, ret: number, input: string): Operation<string, null> => ({ id, client: id, call, ret, input, output: null });

describe('the search itself', () => {
  it('keeps to real time behind a long operation: a read begun after a write returned must see it', () => {
    // the long read is called before the write returns; the short one after, so it cannot go before the write
    const r = check(kvsModel, [put(0, 0, 1, 'a', 'x', 1), get(1, 0.5, 10, 'a', 'x'), get(2, 2, 3, 'a', null)]);
    expect(r.ok).toBe(false);
    expect(check(kvsModel, [put(0, 0, 1, 'a', 'x', 1), get(1, 0.5, 10, 'a', 'x'), get(2, 2, 3, 'a', 'x')]).ok).toBe(true);
  });

  it('tells apart every set of operations it has linearized, however many lie above the first one left', () => {
    // op 0 and the fillers never return and never apply, so the first op left stays 0; x then y, or z, reach state 2,
    // from which only x then y go on: with z taken first the history is linearizable, with x and y first it is not
    const model = tableModel({ x: { 0: 1, 2: 3 }, y: { 1: 2, 3: 4 }, z: { 0: 2 } });
    const ops = Array.from({ length: 113 }, (_, i) => tok(i, i, Infinity, 'never'));
    ops[1] = tok(1, 1, 1000, 'x');
    ops[12] = tok(12, 12, 1000, 'y');
    ops[112] = tok(112, 112, 1000, 'z');
    expect(check(model, ops).ok).toBe(true);
  });

  it('reports the same prefix whatever order the history is listed in: operations in call order, earliest return first', () => {
    // a and b exclude each other, and the check after them fails either way: two prefixes of one operation each
    const model = tableModel({ a: { 0: 1 }, b: { 0: 2 } });
    const history = [tok(0, 0, 5, 'a'), tok(1, 0, 3, 'b'), tok(2, 6, 7, 'never')];
    const reports = [history, [...history].reverse()].map((h) => check(model, h));
    for (const r of reports) {
      expect(r.ok).toBe(false);
      if (r.ok === false) expect([r.linearized.map((o) => o.input), r.stuck.map((o) => o.input)]).toEqual([['b'], ['a']]);
    }
    // called apart, the earlier call is taken first
    const apart = check(model, [tok(0, 1, 5, 'b'), tok(1, 0, 5, 'a'), tok(2, 6, 7, 'never')]);
    expect(apart.ok === false && [apart.linearized.map((o) => o.input), apart.stuck.map((o) => o.input)]).toEqual([['a'], ['b']]);
  });
});

describe('the event log checks', () => {
  const pub = (id: number, call: number, ret: number, seq?: number, failed = false): Publish =>
    ({ id, topic: `t.${id}`, call, ret, ...(seq !== undefined ? { seq } : {}), failed });

  it('accept publishes sequenced in real-time order and subscribers that saw everything', () => {
    const pubs = [pub(1, 0, 1, 1), pub(2, 2, 5, 3), pub(3, 3, 4, 2), pub(4, 6, Infinity)];
    const journal = new Map([[1, 't.1'], [2, 't.3'], [3, 't.2']]);
    const seen = [{ seq: 2, topic: 't.3' }, { seq: 3, topic: 't.2' }];
    expect(checkEvents(pubs, [{ id: 0, client: 0, from: 2, seen }], journal)).toEqual([]);
  });

  it('name a publish sequenced before one that returned earlier, a lost one, a failed one that landed', () => {
    expect(checkEvents([pub(1, 0, 1, 2), pub(2, 2, 3, 1)], [], new Map([[1, 't.2'], [2, 't.1']]))[0]).toMatch(/t\.2 got seq 1 though t\.1/);
    expect(checkEvents([pub(1, 0, 1, 1)], [], new Map())[0]).toMatch(/acknowledged publish t\.1 \(seq 1\) is not in the journal/);
    expect(checkEvents([pub(1, 0, 1, undefined, true)], [], new Map([[1, 't.1']]))[0]).toMatch(/failed but is in the journal/);
  });

  it('name a gap, a duplicate and a reordering seen by a subscriber', () => {
    const journal = new Map([[1, 'a'], [2, 'b'], [3, 'c']]);
    const sub = (seen: number[]) => [{ id: 7, client: 1, from: 1, seen: seen.map((seq) => ({ seq, topic: journal.get(seq)! })) }];
    expect(checkEvents([], sub([1, 3]), journal)).toEqual(['subscriber 7 (client 1, from 1) missed seq 2 (b)']);
    expect(checkEvents([], sub([1, 2, 2, 3]), journal)[0]).toMatch(/saw seq 2 after 2: a duplicate/);
    expect(checkEvents([], sub([2, 1, 3]), journal)[0]).toMatch(/saw seq 1 after 2: out of order/);
    // a segment owes the events from its start to the last it saw, not those before or after
    const four = new Map([...journal, [4, 'd']]);
    const from = (start: number, seen: number[]) => [{ id: 8, client: 2, from: start, seen: seen.map((seq) => ({ seq, topic: four.get(seq)! })) }];
    expect(checkEvents([], from(3, [3]), four)).toEqual([]);
    expect(checkEvents([], from(2, [2, 4]), four)).toEqual(['subscriber 8 (client 2, from 2) missed seq 3 (c)']);
    expect(checkEvents([], from(3, [4]), four)).toEqual(['subscriber 8 (client 2, from 3) missed seq 3 (c)']);
    expect(checkEvents([], from(5, []), four)).toEqual([]);
  });

  it('accept a watch that saw a run of successive values and nothing else', () => {
    const hist = keyValues([null, 'a', 'b', 'c', null, 'd']);
    expect(checkWatch('k', ['b', 'c'], hist)).toBeUndefined();
    expect(checkWatch('k', ['a', 'c'], hist)).toMatch(/not a run/);
    expect(checkWatch('k', ['a', 'a'], hist)).toMatch(/not a run/);
    // unlinked (null) values repeat: a run is placed by the first other value in it, or by nulls alone
    expect(checkWatch('k', [null, 'd'], hist)).toBeUndefined();
    expect(checkWatch('k', ['c', null], hist)).toBeUndefined();
    expect(checkWatch('k', [null], hist)).toBeUndefined();
    expect(checkWatch('k', [null, null], hist)).toMatch(/not a run/);
    expect(checkWatch('k', [null, null, 'a'], hist)).toMatch(/not a run/);
    expect(checkWatch('k', ['b', 'c', null, 'd', null], hist)).toMatch(/not a run/);
    // what a failure shows: the values around where the run would have started, or that its value never was
    expect(checkWatch('k', ['c', 'd'], hist)).toBe(
      'a watch of k saw ["c","d"], which is not a run of the key\'s successive values: the key\'s successive values from position 0 were [null,"a","b","c",null,"d"]',
    );
    expect(checkWatch('k', ['z'], hist)).toBe('a watch of k saw ["z"], which is not a run of the key\'s successive values: "z" was never the key\'s value');
    // a value written twice (a broker that applied one op twice) is found at either place
    const twice = keyValues(['a', 'b', 'a', 'c']);
    expect(checkWatch('k', ['a', 'c'], twice)).toBeUndefined();
    expect(checkWatch('k', ['a', 'b'], twice)).toBeUndefined();
  });
});
