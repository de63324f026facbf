// First-fit allocation against a brute-force oracle: requests applied one after another (with some
// allocations released on the way) get resources that are free, never handed out twice, and sized exactly as
// asked; 'busy' and 'unsatisfiable' are answered exactly when the oracle finds no way to place the request in
// the free resources, and in the whole instance respectively.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { allocate, type ResourceRequest } from '../../src/core/resource/sched-alloc.js';
import {
  type NodeResources, type ResourceSet, buildResourceSet, countCores, countGpus, countNodes, difference, intersection, union,
} from '../../src/core/resource/rset.js';

const instanceArb: fc.Arbitrary<ResourceSet> = fc.array(fc.record({
  cores: fc.uniqueArray(fc.nat(7), { maxLength: 6 }),
  gpus: fc.uniqueArray(fc.nat(3), { maxLength: 3 }),
}), { minLength: 1, maxLength: 6 }).map((nodes) => buildResourceSet(nodes.map((n, rank) => ({ rank, hostname: `n${rank}`, ...n }))));

const requestArb: fc.Arbitrary<ResourceRequest> = fc.record({
  nslots: fc.integer({ min: 1, max: 8 }),
  nnodesPick: fc.nat(3),
  coresPerSlot: fc.integer({ min: 1, max: 4 }),
  gpusPerSlot: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
  exclusive: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
}).map((r) => ({
  nnodes: Math.min(r.nnodesPick, r.nslots), nslots: r.nslots, coresPerSlot: r.coresPerSlot, gpusPerSlot: r.gpusPerSlot,
  exclusive: r.exclusive, duration: 0, ntasks: r.nslots,
}));

type Step = { kind: 'alloc'; req: ResourceRequest } | { kind: 'release'; pick: number };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: requestArb.map((req): Step => ({ kind: 'alloc', req })) },
  { weight: 1, arbitrary: fc.nat(10).map((pick): Step => ({ kind: 'release', pick })) },
);

const capacity = (n: NodeResources, r: ResourceRequest) =>
  Math.min(Math.floor(n.cores.length / r.coresPerSlot), r.gpusPerSlot > 0 ? Math.floor(n.gpus.length / r.gpusPerSlot) : Infinity);

function* subsets<T>(xs: T[], k: number, from = 0): Generator<T[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= xs.length - k; i++) for (const rest of subsets(xs, k - 1, i + 1)) yield [xs[i]!, ...rest];
}

/** whether the request can be placed in `pool` at all, tried every way (exclusive: only on wholly idle nodes) */
function fits(pool: ResourceSet, all: ResourceSet, r: ResourceRequest): boolean {
  const whole = (n: NodeResources) => {
    const t = all.nodes.find((x) => x.rank === n.rank)!;
    return t.cores.length === n.cores.length && t.gpus.length === n.gpus.length;
  };
  const caps = pool.nodes.filter((n) => !r.exclusive || whole(n)).map((n) => capacity(n, r));
  if (r.nnodes === 0) return caps.reduce((a, b) => a + b, 0) >= r.nslots;
  const base = Math.floor(r.nslots / r.nnodes);
  const extra = r.nslots % r.nnodes;
  for (const chosen of subsets(caps, r.nnodes)) {
    for (const big of subsets(chosen.map((_, i) => i), extra)) {
      if (chosen.every((c, i) => c >= (big.includes(i) ? base + 1 : base))) return true;
    }
  }
  return false;
}

describe('allocate (property)', () => {
  it('hands out free resources once, sized as asked, and refuses exactly when nothing fits', () => {
    fc.assert(fc.property(instanceArb, fc.array(stepArb, { minLength: 1, maxLength: 12 }), (all, steps) => {
      let free = all;
      const held: ResourceSet[] = [];
      for (const step of steps) {
        if (step.kind === 'release') {
          if (held.length === 0) continue;
          const [gone] = held.splice(step.pick % held.length, 1);
          free = union(free, gone!);
          continue;
        }
        const r = step.req;
        const got = allocate(free, all, r);
        if (got === 'unsatisfiable') {
          expect(fits(all, all, r)).toBe(false);
          continue;
        }
        if (got === 'busy') {
          expect(fits(all, all, r)).toBe(true);
          expect(fits(free, all, r)).toBe(false);
          continue;
        }
        expect(fits(free, all, r)).toBe(true);
        // a subset of what is free, so disjoint from every allocation still held
        expect(countCores(difference(got, free)) + countGpus(difference(got, free))).toBe(0);
        for (const h of held) expect(countNodes(intersection(got, h))).toBe(0);
        if (r.nnodes > 0) expect(countNodes(got)).toBe(r.nnodes);
        if (r.exclusive) {
          // whole ranks, able to hold the slots between them
          for (const n of got.nodes) expect(n).toEqual(all.nodes.find((x) => x.rank === n.rank));
          expect(got.nodes.reduce((s, n) => s + capacity(n, r), 0)).toBeGreaterThanOrEqual(r.nslots);
        } else {
          expect(countCores(got)).toBe(r.nslots * r.coresPerSlot);
          expect(countGpus(got)).toBe(r.nslots * r.gpusPerSlot);
          // every rank holds whole slots
          for (const n of got.nodes) {
            const slots = n.cores.length / r.coresPerSlot;
            expect(Number.isInteger(slots) && slots >= 1).toBe(true);
            expect(n.gpus.length).toBe(slots * r.gpusPerSlot);
          }
        }
        held.push(got);
        free = difference(free, got);
      }
    }), { numRuns: 400 });
  });
});
