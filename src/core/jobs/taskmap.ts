// How many tasks each rank of a job's allocation runs: what the job manager writes in the output eventlog's header
// (the streams a reader waits for) and what job-exec hands each rank's shell, from one rule. Pure.
import type { ResourceRequest } from '../resource/sched-alloc.js';

/** even shares of `n` over `parts`, the first ones one more */
const shares = (n: number, parts: number) => Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));

/**
 * The task count of each rank, given each rank's allocated cores in rank order:
 * - per-resource core (--tasks-per-core k): k a core;
 * - per-resource node (--tasks-per-node k): k a rank;
 * - with a node count (-N): the tasks spread evenly over the nodes, the first ones one more, as flux run
 *   documents; an exclusive node's cores beyond what its slots ask for make no more slots;
 * - otherwise: a slot per coresPerSlot of a rank's cores, the tasks dealt out over the slots in rank order, the
 *   first slots one more.
 */
export function taskCounts(coresPerRank: readonly number[], req: ResourceRequest): number[] {
  const per = req.tasksPer;
  if (per?.type === 'core') return coresPerRank.map((n) => n * per.count);
  if (per?.type === 'node') return coresPerRank.map(() => per.count);
  if (req.nnodes > 0) return shares(req.ntasks, coresPerRank.length);
  const slots = coresPerRank.map((n) => Math.max(1, Math.floor(n / Math.max(1, req.coresPerSlot))));
  const perSlot = shares(req.ntasks, slots.reduce((a, b) => a + b, 0));
  let next = 0;
  return slots.map((n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += perSlot[next++]!;
    return sum;
  });
}
