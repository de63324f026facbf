// The journal's ring of recent entries, against a model that keeps everything: after any pushes it holds the
// longest run of the newest items that fits both its count and its byte budget (never fewer than the newest one),
// each found under its own number and nothing else found; a number out of step starts it afresh.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Recent } from '../../src/core/journal/recent.js';

/** how many of `sizes`' last items a ring of this capacity and budget holds */
function expectedHeld(sizes: number[], capacity: number, budget: number): number {
  let n = 0;
  let bytes = 0;
  for (let i = sizes.length - 1; i >= 0 && n < capacity; i--) {
    if (n > 0 && bytes + sizes[i]! > budget) break;
    bytes += sizes[i]!;
    n++;
  }
  return n;
}

describe('the ring of recent entries', () => {
  it('holds the newest items within its capacity and budget, each under its number', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.record({ size: fc.integer({ min: 0, max: 80 }), restart: fc.boolean() }), { maxLength: 60 }),
        (capacity, budget, pushes) => {
          const ring = new Recent<{ n: number; size: number }>(capacity, budget, (it) => it.size);
          // the model: the items since the last restart, numbered from where that restart began
          let run: Array<{ n: number; size: number }> = [];
          let next = 1;
          for (const { size, restart } of pushes) {
            // a restart pushes a number that does not follow the newest
            if (restart && run.length > 0) next += 5;
            if (restart) run = [];
            const it = { n: next++, size };
            run.push(it);
            ring.push(it.n, it);
          }
          const held = expectedHeld(run.map((it) => it.size), capacity, budget);
          const kept = run.slice(run.length - held);
          expect(ring.size).toBe(held);
          expect(ring.bytes).toBe(kept.reduce((s, it) => s + it.size, 0));
          expect(ring.oldest).toBe(kept[0]?.n);
          for (const it of run) expect(ring.get(it.n)).toBe(kept.includes(it) ? it : undefined);
          if (kept.length > 0) expect(ring.from(kept[0]!.n, capacity)).toEqual(kept);
        },
      ),
      { numRuns: 300 },
    );
  });
});
