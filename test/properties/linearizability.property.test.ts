// Any history made by running operations one at a time against the model, then stretching each operation's
// interval (so that they overlap) without moving its linearization point, is accepted by the checker.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { check } from '../../src/verify/linearizability.js';
import { kvsModel, valuesAt, type KvsInput, type KvsOp } from '../../src/verify/kvs-model.js';
import { checkWatch, keyValues } from '../../src/verify/event-log.js';

const keys = ['a', 'b', 'c'];
const input: fc.Arbitrary<KvsInput> = fc.oneof(
  fc.record({ f: fc.constant('put' as const), key: fc.constantFrom(...keys), value: fc.constantFrom('x', 'y', 'z') }),
  fc.record({ f: fc.constant('append' as const), key: fc.constantFrom(...keys), value: fc.constantFrom('1', '2') }),
  fc.record({ f: fc.constant('unlink' as const), key: fc.constantFrom(...keys) }),
  fc.record({ f: fc.constant('get' as const), key: fc.constantFrom(...keys) }),
  fc.record({ f: fc.constant('get-at' as const), key: fc.constantFrom(...keys), version: fc.nat(30) }),
);

/** run the inputs in order; writes get successive versions; reads at a version not made yet are left out */
function execute(inputs: KvsInput[], spans: Array<[number, number, boolean]>): KvsOp[] {
  const values = new Map<string, Array<string | null>>();
  const at = (key: string, v: number) => {
    const h = values.get(key) ?? [null];
    return h[Math.min(v, h.length - 1)] ?? null;
  };
  let version = 0;
  const ops: KvsOp[] = [];
  inputs.forEach((i, n) => {
    const point = n * 10;
    const [before, after, lost] = spans[n % spans.length]!;
    const span = { id: n, client: n % 4, call: point - before, ret: lost ? Infinity : point + after };
    if (i.f === 'get' || i.f === 'get-at') {
      if (i.f === 'get-at' && i.version > version) return;
      ops.push({ ...span, input: i, output: { value: at(i.key, i.f === 'get' ? version : i.version) } });
      return;
    }
    version++;
    for (const k of keys) {
      const h = values.get(k) ?? [null];
      const cur = h[h.length - 1]!;
      const next = k !== i.key ? cur : i.f === 'put' ? i.value : i.f === 'unlink' ? null : (cur ?? '') + i.value;
      h.push(next);
      values.set(k, h);
    }
    ops.push({ ...span, input: i, output: lost ? undefined : { version } });
  });
  return ops;
}

describe('the checker on sequential executions', () => {
  it('accepts every history whose operations took effect inside their intervals', () => {
    fc.assert(fc.property(
      fc.array(input, { maxLength: 60 }),
      // how far each interval reaches before and after its point (less than 2 neighbours each way), and whether its answer was lost
      fc.array(fc.tuple(fc.nat(19), fc.nat(19), fc.boolean()), { minLength: 1, maxLength: 20 }),
      (inputs, spans) => {
        const ops = execute(inputs, spans);
        const r = check(kvsModel, ops);
        expect(r.ok, r.ok === false ? r.reason : '').toBe(true);
      },
    ), { numRuns: 200 });
  });
});

/** a history made non-linearizable on purpose, and what was done to it */
type Broken = { ops: KvsOp[]; how: string };

/** the operations after the whole history: each called after the one before it returned */
function after(ops: KvsOp[], more: Array<Pick<KvsOp, 'input' | 'output'>>): KvsOp[] {
  let t = Math.max(0, ...ops.map((o) => (o.ret === Infinity ? o.call : o.ret))) + 1;
  let version = Math.max(0, ...ops.flatMap((o) => (o.output && 'version' in o.output ? [o.output.version] : [])));
  return more.map((m, i) => {
    const output = m.output && 'version' in m.output ? { version: ++version } : m.output;
    const op = { id: ops.length + i, client: i % 4, input: m.input, output, call: t, ret: t + 1 };
    t += 2;
    return op;
  });
}

function breakHistory(ops: KvsOp[], how: 'unwritten' | 'overwritten' | 'reordered', key: string, pick: number): Broken {
  if (how === 'unwritten') {
    // a read (one of the history's that returned, or one more) answers a value no write ever wrote
    const reads = ops.filter((o) => (o.input.f === 'get' || o.input.f === 'get-at') && o.ret !== Infinity);
    if (reads.length > 0) {
      const victim = reads[pick % reads.length]!;
      return { ops: ops.map((o) => (o === victim ? { ...o, output: { value: 'never-written' } } : o)), how };
    }
    return { ops: [...ops, ...after(ops, [{ input: { f: 'get', key }, output: { value: 'never-written' } }])], how };
  }
  if (how === 'overwritten') {
    // A is overwritten by B, and a read that starts after B returned still sees A
    return {
      ops: [...ops, ...after(ops, [
        { input: { f: 'put', key, value: 'A!' }, output: { version: 0 } },
        { input: { f: 'put', key, value: 'B!' }, output: { version: 0 } },
        { input: { f: 'get', key }, output: { value: 'A!' } },
      ])],
      how,
    };
  }
  // P is appended before Q is, one after the other, and a read sees them the other way round
  return {
    ops: [...ops, ...after(ops, [
      { input: { f: 'put', key, value: 'S!' }, output: { version: 0 } },
      { input: { f: 'append', key, value: 'P!' }, output: { version: 0 } },
      { input: { f: 'append', key, value: 'Q!' }, output: { version: 0 } },
      { input: { f: 'get', key }, output: { value: 'S!Q!P!' } },
    ])],
    how,
  };
}

describe('the checker on histories made non-linearizable', () => {
  it('rejects a read of a value never written, of a value overwritten before it began, and of appends reordered', () => {
    fc.assert(fc.property(
      fc.array(input, { maxLength: 40 }),
      fc.array(fc.tuple(fc.nat(19), fc.nat(19), fc.boolean()), { minLength: 1, maxLength: 20 }),
      fc.constantFrom('unwritten' as const, 'overwritten' as const, 'reordered' as const),
      fc.constantFrom(...keys),
      fc.nat(),
      (inputs, spans, how, key, pick) => {
        const broken = breakHistory(execute(inputs, spans), how, key, pick);
        const r = check(kvsModel, broken.ops);
        expect(r.ok, `${broken.how}: accepted`).toBe(false);
      },
    ), { numRuns: 300 });
  });

  it('names the key whose history cannot be linearized, and the operations stuck after the longest prefix', () => {
    const ok = execute([{ f: 'put', key: 'a', value: 'x' }, { f: 'put', key: 'b', value: 'y' }], [[0, 0, false]]);
    const broken = breakHistory(ok, 'overwritten', 'b', 0);
    const r = check(kvsModel, broken.ops);
    if (r.ok !== false) throw new Error(`accepted: ${JSON.stringify(r)}`);
    expect(r.partition).toBe('b');
    expect(r.stuck.map((o) => o.input)).toEqual([{ f: 'get', key: 'b' }]);
    expect(r.reason).toContain('get b -> "A!"');
  });
});

describe('the checker against every order', () => {
  /** linearizable by the definition: some order of the operations, each taken only when no other one left had
   * returned before it was called, that the model accepts, with those that never returned taken or left out */
  function brute(ops: KvsOp[], s = kvsModel.init(), left: KvsOp[] = ops): boolean {
    if (left.every((o) => o.ret === Infinity)) return true;
    return left.some((o) => {
      if (left.some((p) => p !== o && p.ret < o.call)) return false;
      const rest = left.filter((p) => p !== o);
      const next = kvsModel.step(s, o.input, o.output);
      return (next !== undefined && brute(ops, next, rest)) || (o.ret === Infinity && brute(ops, s, rest));
    });
  }

  it('agrees with trying every order, on histories with and without a linearization', () => {
    fc.assert(fc.property(
      fc.array(input.map((i) => ({ ...i, key: 'a' })), { minLength: 2, maxLength: 7 }),
      // intervals reaching a neighbour or two: an answer changed is then as often wrong as not
      fc.array(fc.tuple(fc.nat(14), fc.nat(14), fc.nat(4).map((x) => x === 0)), { minLength: 1, maxLength: 7 }),
      // one answer changed, or none: a read's to a value some write wrote (or none), a write's to another's version
      fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: undefined }),
      (inputs, spans, change) => {
        let ops = execute(inputs, spans);
        if (change && ops.length > 0) {
          const victim = ops[change[0] % ops.length]!;
          const values = [null, ...ops.flatMap((o) => ('value' in o.input ? [o.input.value] : []))];
          const versions = ops.flatMap((o) => (o.output && 'version' in o.output ? [o.output.version] : []));
          const output = victim.input.f === 'get' || victim.input.f === 'get-at'
            ? { value: values[change[1] % values.length]! }
            : versions.length > 0 ? { version: versions[change[1] % versions.length]! } : victim.output;
          ops = ops.map((o) => (o === victim ? { ...o, output } : o));
        }
        expect(check(kvsModel, ops).ok).toBe(brute(ops));
      },
    ), { numRuns: 1000 });
  });
});

describe('the values a key may have had at a version', () => {
  /** the rule itself, walked over the whole history: the last write of known version at or below v, with the
   * writes of unknown version after it and before any known one above v */
  function walk(writes: Array<{ version: number | undefined; value: string | null }>, v: number): Array<string | null> {
    const newer: Array<string | null> = [];
    for (let i = writes.length - 1; i >= 0; i--) {
      const w = writes[i]!;
      if (w.version === undefined) newer.push(w.value);
      else if (Math.floor(w.version) > v) newer.length = 0;
      else return [w.value, ...newer];
    }
    return newer;
  }

  it('are what a walk of the whole history gives, at every version, however long the history', () => {
    fc.assert(fc.property(
      // each write: how far its version moves on (0: merged into the version before), or unknown; an unlink or a put
      fc.array(fc.tuple(fc.option(fc.nat(3), { nil: undefined }), fc.boolean()), { maxLength: 300 }),
      (steps) => {
        const writes: Array<{ version: number | undefined; value: string | null }> = [{ version: 0, value: null }];
        let s = kvsModel.init();
        let version = 0;
        steps.forEach(([gap, unlink], n) => {
          const value = unlink ? null : `w${n}`;
          const input: KvsInput = unlink ? { f: 'unlink', key: 'k' } : { f: 'put', key: 'k', value: `w${n}` };
          // writes merged into one version are told apart by their place in it; version 0 is the empty one
          const v = gap === undefined ? undefined
            : (version = gap === 0 && version >= 1 ? Math.floor(version) + ((version % 1) + 1) / 2 : Math.floor(version) + Math.max(gap, 1) + 0.5);
          writes.push({ version: v, value });
          s = kvsModel.step(s, input, v === undefined ? undefined : { version: v })!;
        });
        for (let v = 0; v <= Math.floor(version) + 1; v++) expect(valuesAt(s.hist, v)).toEqual(walk(writes, v));
      },
    ), { numRuns: 200 });
  });
});

describe('a watch\'s run of values', () => {
  // a history of a few distinct values and nulls (a value may repeat, as one applied twice would), and what a
  // watch saw: a slice of it, or a slice with one value changed, dropped or repeated
  const history = fc.array(fc.option(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), { nil: null }), { minLength: 1, maxLength: 30 });
  const brute = (seen: Array<string | null>, values: Array<string | null>) =>
    seen.length === 0 || values.some((_, i) => i + seen.length <= values.length && seen.every((v, j) => values[i + j] === v));

  it('is accepted exactly when it is a contiguous run of the key\'s values, as a search of every place says', () => {
    fc.assert(fc.property(history, fc.nat(), fc.nat(8), fc.nat(3), fc.nat(), (values, from, len, how, pick) => {
      const start = from % values.length;
      const seen = values.slice(start, start + len);
      const k = pick % Math.max(1, seen.length);
      if (how === 1 && seen.length > 0) seen[k] = seen[k] === null ? 'a' : null;
      if (how === 2 && seen.length > 1) seen.splice(k, 1);
      if (how === 3 && seen.length > 0) seen.splice(k, 0, seen[k]!);
      expect(checkWatch('k', seen, keyValues(values)) === undefined).toBe(brute(seen, values));
    }), { numRuns: 1000 });
  });
});
