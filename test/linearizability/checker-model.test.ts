// The checker's parts on their own: the KVS model step by step (versions order writes, reads at a version raise a
// floor, states compare by their whole history), its descriptions, and the search's bookkeeping (states explored,
// giving up, the longest prefix and what cannot follow it), on histories small enough to count by hand.
import { describe, it, expect } from 'vitest';
import { check, type Model, type Operation } from '../../src/verify/linearizability.js';
import { kvsModel, valuesAt, type KvsOp } from '../../src/verify/kvs-model.js';

const s0 = kvsModel.init();
const put = (value: string) => ({ f: 'put' as const, key: 'k', value });

describe('the KVS model', () => {
  it('orders writes by version: an older version, or one at or below a read of the past, cannot come next', () => {
    const s1 = kvsModel.step(s0, put('a'), { version: 2 })!;
    expect(s1).toMatchObject({ lastKnown: 2, readFloor: 0, hist: { version: 2, value: 'a' } });
    expect(kvsModel.step(s1, put('b'), { version: 1 })).toBeUndefined();
    // the same version again (writes merged into one batch) and any later one may follow
    expect(kvsModel.step(s1, put('b'), { version: 2.5 })).toMatchObject({ lastKnown: 2.5 });
    expect(kvsModel.step(s1, put('b'), { version: 2 })).toMatchObject({ lastKnown: 2 });
    // an unknown version keeps what is known
    expect(kvsModel.step(s1, put('b'), undefined)).toMatchObject({ lastKnown: 2, hist: { version: undefined, value: 'b' } });
    const read = kvsModel.step(s1, { f: 'get-at', key: 'k', version: 5 }, { value: 'a' })!;
    expect(read.readFloor).toBe(5);
    expect(kvsModel.step(read, put('c'), { version: 5.5 })).toBeUndefined();
    expect(kvsModel.step(read, put('c'), { version: 5 })).toBeUndefined();
    expect(kvsModel.step(read, put('c'), { version: 6 })).toMatchObject({ lastKnown: 6, readFloor: 5 });
    // a read of an older version does not lower the floor; one of the floor itself keeps the state
    expect(kvsModel.step(read, { f: 'get-at', key: 'k', version: 3 }, { value: 'a' })).toMatchObject({ readFloor: 5 });
    expect(kvsModel.step(read, { f: 'get-at', key: 'k', version: 5 }, { value: 'a' })).toBe(read);
  });

  it('applies puts, appends and unlinks, and holds reads to the current value', () => {
    let s = kvsModel.step(s0, { f: 'append', key: 'k', value: 'x' }, { version: 1 })!;
    expect(s.hist.value).toBe('x');
    s = kvsModel.step(s, { f: 'append', key: 'k', value: 'y' }, { version: 2 })!;
    expect(s.hist.value).toBe('xy');
    expect(kvsModel.step(s, { f: 'get', key: 'k' }, { value: 'xy' })).toBe(s);
    expect(kvsModel.step(s, { f: 'get', key: 'k' }, { value: 'x' })).toBeUndefined();
    expect(kvsModel.step(s, { f: 'get', key: 'k' }, undefined)).toBe(s);
    s = kvsModel.step(s, { f: 'unlink', key: 'k' }, { version: 3 })!;
    expect(s.hist.value).toBeNull();
    expect(kvsModel.step(s, { f: 'get', key: 'k' }, { value: null })).toBe(s);
    // a write's answer is not a read's
    expect(kvsModel.step(s, { f: 'get', key: 'k' }, { version: 3 })).toBe(s);
  });

  it('knows the values a version may have had, with writes of unknown version between', () => {
    let s = kvsModel.step(s0, put('a'), { version: 1 })!;
    s = kvsModel.step(s, put('b'), undefined)!;
    s = kvsModel.step(s, put('c'), { version: 3 })!;
    s = kvsModel.step(s, put('d'), undefined)!;
    expect(valuesAt(s.hist, 0)).toEqual([null]);
    expect(valuesAt(s.hist, 1)).toEqual(['a', 'b']);
    expect(valuesAt(s.hist, 2)).toEqual(['a', 'b']);
    expect(valuesAt(s.hist, 3)).toEqual(['c', 'd']);
    expect(valuesAt(s.hist, 3.5)).toEqual(['c', 'd']);
    expect(kvsModel.step(s, { f: 'get-at', key: 'k', version: 2 }, { value: 'b' })).toBeDefined();
    expect(kvsModel.step(s, { f: 'get-at', key: 'k', version: 2 }, { value: 'c' })).toBeUndefined();
  });

  it('tells states apart by their whole history of versions and values, and by their floor', () => {
    const a = kvsModel.step(kvsModel.step(s0, put('x'), { version: 1 })!, put('y'), { version: 2 })!;
    const b = kvsModel.step(kvsModel.step(s0, put('x'), { version: 1 })!, put('y'), { version: 3 })!;
    const c = kvsModel.step(kvsModel.step(s0, put('y'), { version: 1 })!, put('y'), { version: 2 })!;
    const d = kvsModel.step(kvsModel.step(s0, put('x'), { version: 1 })!, put('y'), undefined)!;
    const e = kvsModel.step(kvsModel.step(s0, put('x'), { version: 1 })!, { f: 'unlink', key: 'k' }, { version: 2 })!;
    const f = kvsModel.step(kvsModel.step(s0, put('x'), { version: 1 })!, put(''), { version: 2 })!;
    const keys = [s0, a, b, c, d, e, f].map((s) => kvsModel.key(s));
    expect(new Set(keys).size).toBe(keys.length);
    expect(kvsModel.key(a)).toBe(kvsModel.key(kvsModel.step(kvsModel.step(s0, put('x'), { version: 1 })!, put('y'), { version: 2 })!));
    expect(kvsModel.key(s0)).toBe('0|0:0');
    const floor = kvsModel.step(a, { f: 'get-at', key: 'k', version: 7 }, { value: 'y' })!;
    expect(kvsModel.key(floor)).toBe(`7|${a.digest}`);
    expect(a.digest).toMatch(/^[0-9a-z]+:[0-9a-z]+$/);
  });

  it('describes an operation for a report', () => {
    const o = (input: KvsOp['input'], output: KvsOp['output'], ret = 2.5): KvsOp => ({ id: 7, client: 3, input, output, call: 1, ret });
    expect(kvsModel.describe!(o(put('v'), { version: 4 }))).toBe('#7 client 3 put k(v) -> v4  [1.000, 2.500]');
    expect(kvsModel.describe!(o({ f: 'append', key: 'k', value: 'w' }, undefined, Infinity))).toBe('#7 client 3 append k(w) -> ?  [1.000, ∞]');
    expect(kvsModel.describe!(o({ f: 'get-at', key: 'k', version: 9 }, { value: null }))).toBe('#7 client 3 get-at k@9 -> null  [1.000, 2.500]');
    expect(kvsModel.describe!(o({ f: 'get', key: 'k' }, { value: 'x' }))).toBe('#7 client 3 get k -> "x"  [1.000, 2.500]');
    expect(kvsModel.describe!(o({ f: 'unlink', key: 'k' }, { version: 1 }))).toBe('#7 client 3 unlink k -> v1  [1.000, 2.500]');
  });
});

/** a register with no partitions: reads must see the last write */
const register: Model<string | null, { w?: string }, { r: string | null } | undefined> = {
  init: () => null,
  step: (s, i, o) => (i.w !== undefined ? i.w : o === undefined || o.r === s ? s : undefined),
  key: (s) => String(s),
};
let id = 0;
const op = (call: number, ret: number, input: { w?: string }, output?: { r: string | null }): Operation<{ w?: string }, { r: string | null } | undefined> =>
  ({ id: id++, client: 0, call, ret, input, output });

describe('the search', () => {
  it('counts the states it explores, over every part', () => {
    // three ops one after another: the initial state and one per op
    expect(check(register, [op(0, 1, { w: 'a' }), op(2, 3, {}, { r: 'a' }), op(4, 5, { w: 'b' })])).toEqual({ ok: true, explored: 4 });
    // each key its own part; their counts add up
    const h: KvsOp[] = [
      { id: 1, client: 0, call: 0, ret: 1, input: put('a'), output: { version: 1 } },
      { id: 2, client: 0, call: 2, ret: 3, input: { f: 'put', key: 'j', value: 'b' }, output: { version: 2 } },
    ];
    expect(check(kvsModel, h)).toEqual({ ok: true, explored: 4 });
  });

  it('orders operations by call, then return, and only lets one follow what every earlier return allows', () => {
    // given out of order: the read is called last and must see the second write
    expect(check(register, [op(4, 5, {}, { r: 'b' }), op(2, 3, { w: 'b' }), op(0, 1, { w: 'a' })]).ok).toBe(true);
    expect(check(register, [op(4, 5, {}, { r: 'a' }), op(2, 3, { w: 'b' }), op(0, 1, { w: 'a' })]).ok).toBe(false);
    // concurrent writes: either order, so either value
    expect(check(register, [op(0, 3, { w: 'a' }), op(1, 2, { w: 'b' }), op(4, 5, {}, { r: 'a' })]).ok).toBe(true);
    expect(check(register, [op(0, 3, { w: 'a' }), op(1, 2, { w: 'b' }), op(4, 5, {}, { r: 'b' })]).ok).toBe(true);
    // equal calls, the earlier return first
    expect(check(register, [op(0, 5, {}, { r: 'a' }), op(0, 1, { w: 'a' })]).ok).toBe(true);
    // a write that returned before a read began is not linearized after it; one returning as it began may be
    expect(check(register, [op(0, 1, { w: 'a' }), op(2, 3, {}, { r: null })]).ok).toBe(false);
    expect(check(register, [op(0, 1, { w: 'a' }), op(1, 3, {}, { r: null })]).ok).toBe(true);
    // a write that never returned may come last, or never
    expect(check(register, [op(0, Infinity, { w: 'a' }), op(1, 2, {}, { r: null }), op(3, 4, {}, { r: 'a' })]).ok).toBe(true);
  });

  it('gives up past its state budget in a part, naming it, and still reports a violation found in another part', () => {
    const wide: KvsOp[] = Array.from({ length: 12 }, (_, i) => ({
      id: i, client: i, call: 0, ret: 100, input: { f: 'put', key: 'w', value: `v${i}` }, output: undefined,
    }));
    wide.push({ id: 99, client: 0, call: 101, ret: 102, input: { f: 'get', key: 'w' }, output: { value: 'none of them' } });
    const r = check(kvsModel, wide, { maxStates: 50 });
    expect(r).toMatchObject({ ok: 'unknown', partition: 'w' });
    if (r.ok !== 'unknown') throw new Error('decided');
    expect(r.reason).toBe(`gave up after ${r.explored} states`);
    expect(r.explored).toBe(51);
    const bad: KvsOp = { id: 100, client: 0, call: 0, ret: 1, input: { f: 'get', key: 'x' }, output: { value: 'ghost' } };
    expect(check(kvsModel, [...wide, bad], { maxStates: 50 })).toMatchObject({ ok: false, partition: 'x' });
    expect(check(kvsModel, [bad, ...wide], { maxStates: 50 })).toMatchObject({ ok: false, partition: 'x' });
    // within budget the same part is decided
    expect(check(kvsModel, wide.slice(0, 3)).ok).toBe(true);
    // a part that passes before one that gives up: the whole is undecided, not accepted
    const fine: KvsOp = { id: 101, client: 0, call: 0, ret: 1, input: { f: 'put', key: 'a', value: 'x' }, output: { version: 1 } };
    expect(check(kvsModel, [fine, ...wide], { maxStates: 50 })).toMatchObject({ ok: 'unknown', partition: 'w' });
  });

  it('reports the longest linearizable prefix and every operation that could not follow it', () => {
    const h = [op(0, 1, { w: 'a' }), op(2, 3, { w: 'b' }), op(4, 5, {}, { r: 'a' }), op(4, 6, {}, { r: 'c' })];
    const r = check(register, h);
    if (r.ok !== false) throw new Error('accepted');
    expect(r.partition).toBe('');
    expect(r.linearized.map((o) => o.id)).toEqual([h[0]!.id, h[1]!.id]);
    expect(r.stuck.map((o) => o.id)).toEqual([h[2]!.id, h[3]!.id]);
    expect(r.reason).toBe(`no linearization of 4 operations: the longest linearizable prefix has 2; none of these can follow it:\n` +
      `  ${JSON.stringify(h[2])}\n  ${JSON.stringify(h[3])}`);
    expect(r.explored).toBe(3);
    const k = check(kvsModel, [{ id: 5, client: 1, call: 0, ret: 1, input: { f: 'get', key: 'q' }, output: { value: 'z' } }]);
    if (k.ok !== false) throw new Error('accepted');
    expect(k.reason).toBe('no linearization of 1 operations on q: the longest linearizable prefix has 0; none of these can follow it:\n' +
      '  #5 client 1 get q -> "z"  [0.000, 1.000]');
  });

  it('does not explore a state twice, and stops at the first linearization', () => {
    // six concurrent identical writes and a read nothing explains: every subset of the writes is one state,
    // reached by many orders and explored once
    const same = Array.from({ length: 6 }, () => op(0, 10, { w: 'x' }));
    expect(check(register, [...same, op(11, 12, {}, { r: 'y' })])).toMatchObject({ ok: false, explored: 2 ** 6 });
    // with a read they explain, the first path through them is enough
    expect(check(register, [...same, op(11, 12, {}, { r: 'x' })])).toEqual({ ok: true, explored: 8 });
  });
});
