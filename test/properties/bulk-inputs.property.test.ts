// flux bulksubmit's inputs over random lists: the combinations are the crossed lists with the linked ones cycled
// alongside (a reference by counting), and a template of literal text (its braces doubled) and fields formats to
// the text and the fields' inputs in order.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { combinations, formatInputs } from '../../src/core/format/bulk-inputs.js';

const list = fc.record({ items: fc.array(fc.string({ maxLength: 3 }), { minLength: 1, maxLength: 3 }), linked: fc.boolean() });

describe('bulksubmit inputs', () => {
  it('combine as crossed lists with linked ones cycled', () => {
    fc.assert(fc.property(fc.array(list, { maxLength: 4 }), (lists) => {
      const got = combinations(lists);
      // the number of a combination, read digit by digit in the crossed lists' sizes
      const crossed = lists.filter((l) => !l.linked);
      const total = crossed.reduce((n, l) => n * l.items.length, 1);
      expect(got).toHaveLength(total);
      got.forEach((combo, n) => {
        // where each crossed list stands at combination n, the last crossed list varying fastest
        const at = new Map<number, number>();
        let rest = n;
        for (let k = lists.length - 1; k >= 0; k--) {
          const l = lists[k]!;
          if (l.linked) continue;
          at.set(k, rest % l.items.length);
          rest = Math.floor(rest / l.items.length);
        }
        // a linked list's item goes by the count of combinations of the lists before it
        lists.forEach((l, k) => {
          const before = lists.slice(0, k).filter((x) => !x.linked).reduce((m, x) => m * x.items.length, 1);
          const prefix = Math.floor(n / (total / before));
          expect(combo[k]).toBe(l.linked ? l.items[prefix % l.items.length] : l.items[at.get(k)!]);
        });
      });
    }), { numRuns: 300 });
  });

  it('format literal text and fields in order', () => {
    const piece = fc.oneof(fc.string({ maxLength: 4 }).map((t) => ({ lit: t })), fc.nat(2).map((i) => ({ field: i })));
    fc.assert(fc.property(fc.array(piece, { maxLength: 6 }), fc.array(fc.string({ maxLength: 4 }), { minLength: 3, maxLength: 3 }), (pieces, inputs) => {
      const template = pieces.map((p) => ('lit' in p ? p.lit.replace(/[{}]/g, (c) => c + c) : `{${p.field}}`)).join('');
      const want = pieces.map((p) => ('lit' in p ? p.lit : inputs[p.field]!)).join('');
      expect(formatInputs(template, inputs, 0, false)).toBe(want);
    }), { numRuns: 300 });
  });
});
