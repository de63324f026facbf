// Any history made by running operations one at a time against the model, then stretching each operation's
// interval (so that they overlap) without moving its linearization point, is accepted by the checker.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { check } from '../../src/verify/linearizability.js';
import { kvsModel, type KvsInput, type KvsOp } from '../../src/verify/kvs-model.js';

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
