// Which tasks run where, the PMI mapping keys that describe it to MPI, and the output a shell that never ran ends.
import { describe, it, expect } from 'vitest';
import { JobExec, coresByRank, taskMap } from '../../src/services/job-exec.js';
import { mappings } from '../../src/core/jobs/rfc34.js';
import { buildJobspec, resourceRequest } from '../../src/core/jobs/jobspec.js';
import { taskCounts } from '../../src/core/jobs/taskmap.js';
import { parseEventlog } from '../../src/core/jobs/kvs.js';
import { FluxError, EHOSTUNREACH } from '../../src/core/errors.js';
import type { ModuleHost } from '../../src/services/module.js';
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

  it('spreads -N jobs evenly over their nodes, whatever cores an exclusive node brings', () => {
    const counts = (o: Parameters<typeof buildJobspec>[0], cores: number[]) => taskCounts(cores, resourceRequest(buildJobspec(o)));
    // -N 3 on nodes of two cores: one task a node, not two on the first and none on the last
    expect(counts({ command: ['x'], nodes: 3 }, [2, 2, 2])).toEqual([1, 1, 1]);
    expect(counts({ command: ['x'], nodes: 3, ntasks: 4 }, [2, 2, 2])).toEqual([2, 1, 1]);
    expect(counts({ command: ['x'], nodes: 2, ntasks: 5 }, [3, 3])).toEqual([3, 2]);
    expect(taskMap(R([['0-2', '0-1']]), buildJobspec({ command: ['x'], nodes: 3 }))).toEqual([[0], [1], [2]]);
  });

  it('counts --tasks-per-core on the cores allocated and --tasks-per-node on each node', () => {
    const counts = (o: Parameters<typeof buildJobspec>[0], cores: number[]) => taskCounts(cores, resourceRequest(buildJobspec(o)));
    expect(counts({ command: ['x'], nodes: 2, tasksPerCore: 1 }, [2, 4])).toEqual([2, 4]);
    expect(counts({ command: ['x'], nodes: 2, tasksPerCore: 2 }, [2, 2])).toEqual([4, 4]);
    expect(counts({ command: ['x'], nodes: 3, tasksPerNode: 2 }, [4, 4, 4])).toEqual([2, 2, 2]);
    expect(counts({ command: ['x'], cores: 3, tasksPerCore: 2 }, [2, 1])).toEqual([4, 2]);
    // the listing's count before allocation, which these replace once the cores are known
    expect(resourceRequest(buildJobspec({ command: ['x'], nodes: 2, tasksPerCore: 1 })).ntasks).toBe(0);
  });

  it('describes blocks of nodes with equal task counts as RFC 34 and MPICH read them', () => {
    expect(mappings([2, 2])).toEqual({ taskmap: '{"version":1,"map":[[0,2,2,1]]}', processMapping: '(vector,(0,2,2))' });
    expect(mappings([2, 2, 1])).toEqual({
      taskmap: '{"version":1,"map":[[0,2,2,1],[2,1,1,1]]}', processMapping: '(vector,(0,2,2),(2,1,1))',
    });
  });
});

describe('a shell that never ran', () => {
  it('ends its tasks\' output streams with the finish, and the job fails', async () => {
    const raised: string[] = [];
    let finished: { status: number; output: string } | undefined;
    const host = {
      // rank 1's shell cannot be reached; rank 0's runs its task and reports
      rpcStream: async (_topic: string, _payload: unknown, opts: { nodeid: number }, each: (m: unknown) => void) => {
        if (opts.nodeid === 1) throw new FluxError(EHOSTUNREACH, 'overlay disconnect');
        const answer = (body: object) => ({ payload: Buffer.from(`${JSON.stringify(body)}\0`) });
        each(answer({ type: 'started' }));
        each(answer({ type: 'finished', status: 0 }));
      },
      rpc: async () => ({}),
      log: () => undefined,
    } as unknown as ModuleHost;
    const exec = new JobExec(host, {
      start: () => undefined,
      finish: (_id, status, output) => (finished = { status, output }),
      raise: (_id, type, note) => raised.push(`${type}: ${note}`),
    });
    exec.start(7, R([['0-1', '0-1']]), buildJobspec({ command: ['x'], ntasks: 4 }), 0);
    await new Promise((r) => setTimeout(r, 0));
    expect(raised).toEqual(['exec: rank 1: overlay disconnect']);
    expect(finished?.status).toBe(1 << 8);
    // rank 1's tasks are 2 and 3: each of their two streams ends
    const eofs = parseEventlog(finished!.output).map((e) => `${String(e.context?.stream)} ${String(e.context?.rank)} ${String(e.context?.eof)}`);
    expect(eofs.sort()).toEqual(['stderr 2 true', 'stderr 3 true', 'stdout 2 true', 'stdout 3 true']);
  });
});
