// How a job's tasks are shared out over its allocation (src/core/jobs/taskmap.ts), for any job flux run can
// describe and any cores its ranks bring: every task runs somewhere and exactly once, -N jobs spread evenly with
// a task on every node, and the per-resource options count what was allocated. And the tree's subtrees
// (src/core/overlay/topology.ts), from which a broker says which ranks below it are down: a rank's subtree is it
// and its children's subtrees, which do not overlap.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { buildJobspec, resourceRequest } from '../../src/core/jobs/jobspec.js';
import { taskCounts } from '../../src/core/jobs/taskmap.js';
import { childrenOf, parentOf, subtreeOf } from '../../src/core/overlay/topology.js';

const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

describe('task counts', () => {
  it('-N jobs: every node runs a task, and no node two more than another', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 40 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 16, maxLength: 16 }),
      (nodes, extra, cores) => {
        const ntasks = nodes + extra;
        const counts = taskCounts(cores.slice(0, nodes), resourceRequest(buildJobspec({ command: ['x'], nodes, ntasks })));
        expect(sum(counts)).toBe(ntasks);
        expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        // the first nodes take the remainder
        expect([...counts].sort((a, b) => b - a)).toEqual(counts);
      }), { numRuns: 500 });
  });

  it('-n jobs: the tasks fill the slots the ranks\' cores make, in rank order', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 8 }),
      (coresPerTask, slotsPerRank) => {
        // an allocation as the scheduler makes it: whole slots on each rank
        const cores = slotsPerRank.map((n) => n * coresPerTask);
        const ntasks = sum(slotsPerRank);
        const counts = taskCounts(cores, resourceRequest(buildJobspec({ command: ['x'], ntasks, coresPerTask })));
        expect(counts).toEqual(slotsPerRank);
      }), { numRuns: 500 });
  });

  it('per-resource options count the cores and nodes allocated', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 8, maxLength: 8 }),
      (nodes, k, cores) => {
        const mine = cores.slice(0, nodes);
        expect(taskCounts(mine, resourceRequest(buildJobspec({ command: ['x'], nodes, tasksPerCore: k })))).toEqual(mine.map((c) => c * k));
        expect(taskCounts(mine, resourceRequest(buildJobspec({ command: ['x'], nodes, tasksPerNode: k })))).toEqual(mine.map(() => k));
      }), { numRuns: 300 });
  });
});

describe('subtrees', () => {
  it('a rank\'s subtree is itself and its children\'s subtrees, disjoint, each rank\'s parents leading back to it', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 8 }), fc.nat(), (size, k, pick) => {
      const rank = pick % size;
      const tree = subtreeOf(rank, size, k);
      const parts = [[rank], ...childrenOf(rank, size, k).map((c) => subtreeOf(c, size, k))].flat();
      expect([...parts].sort((a, b) => a - b)).toEqual(tree);
      expect(new Set(tree).size).toBe(tree.length);
      for (const r of tree) {
        let up: number | undefined = r;
        while (up !== undefined && up > rank) up = parentOf(up, k);
        expect(up).toBe(rank);
      }
      // and the whole tree from rank 0
      if (rank === 0) expect(tree).toEqual(Array.from({ length: size }, (_, i) => i));
    }), { numRuns: 500 });
  });
});
