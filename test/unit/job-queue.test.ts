// The scheduler's queue: priority first, then age, whatever order jobs arrive and change in.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { JobQueue } from '../../src/services/job-queue.js';

describe('job queue', () => {
  it('serves the highest priority first, then the lowest id, as jobs come, change priority and go', () => {
    fc.assert(fc.property(fc.array(fc.record({ id: fc.integer({ min: 1, max: 30 }), priority: fc.integer({ min: 0, max: 4 }), leave: fc.boolean() })), (ops) => {
      const q = new JobQueue();
      const model = new Map<number, number>();
      for (const op of ops) {
        if (op.leave) {
          q.delete(op.id);
          model.delete(op.id);
        } else {
          q.set(op.id, op.priority);
          model.set(op.id, op.priority);
        }
      }
      const want = [...model].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([id]) => id);
      expect(q.ids()).toEqual(want);
      expect(q.size).toBe(model.size);
    }), { numRuns: 300 });
  });

  it('remembers which jobs were checked until their priority changes', () => {
    const q = new JobQueue();
    q.set(1, 5);
    q.set(2, 5);
    q.checked(1);
    expect(q.uncheckedIds()).toEqual([2]);
    q.set(1, 7);
    expect(q.uncheckedIds().sort()).toEqual([1, 2]);
    q.delete(2);
    expect(q.uncheckedIds()).toEqual([1]);
  });
});
