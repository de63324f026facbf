// Which tasks run where, and the PMI mapping keys that describe it to MPI.
import { describe, it, expect } from 'vitest';
import { coresByRank, mappings, taskMap } from '../../src/services/job-exec.js';
import { buildJobspec } from '../../src/core/jobs/jobspec.js';
import type { JobR } from '../../src/projections/jobs.js';

const R = (lite: Array<[string, string]>): JobR => ({
  version: 1, execution: { R_lite: lite.map(([rank, core]) => ({ rank, children: { core } })) },
});

describe('task placement', () => {
  it('puts one task per slot, slots of -c cores, in rank order', () => {
    const r = R([['0-1', '0-1'], ['3', '0-3']]);
    expect(coresByRank(r)).toEqual([{ rank: 0, ncores: 2 }, { rank: 1, ncores: 2 }, { rank: 3, ncores: 4 }]);
    expect(taskMap(r, buildJobspec({ command: ['x'], ntasks: 8 }))).toEqual([[0, 1], [2, 3], [4, 5, 6, 7]]);
    expect(taskMap(r, buildJobspec({ command: ['x'], ntasks: 4, coresPerTask: 2 }))).toEqual([[0], [1], [2, 3]]);
  });

  it('deals a total task count out over the slots in order, the first ones getting one more', () => {
    // -N 2 -n 5: three slots a node, five tasks
    const js = buildJobspec({ command: ['x'], ntasks: 5, nodes: 2 });
    expect(taskMap(R([['0-1', '0-2']]), js)).toEqual([[0, 1, 2], [3, 4]]);
    const cores = buildJobspec({ command: ['x'], ntasks: 3, nodes: 3, coresPerTask: 2 });
    expect(taskMap(R([['0-2', '0-1']]), cores)).toEqual([[0], [1], [2]]);
  });

  it('describes blocks of nodes with equal task counts as RFC 34 and MPICH read them', () => {
    expect(mappings([2, 2])).toEqual({ taskmap: '{"version":1,"map":[[0,2,2,1]]}', processMapping: '(vector,(0,2,2))' });
    expect(mappings([2, 2, 1])).toEqual({
      taskmap: '{"version":1,"map":[[0,2,2,1],[2,1,1,1]]}', processMapping: '(vector,(0,2,2),(2,1,1))',
    });
  });
});
