// Which inactive jobs flux job purge takes by its limits, by example: oldest first, the jobs the table dropped past
// its bound before every job it holds, counted whole while the ids answered stop at a batch; and the job manager's
// handlers unlinking such a job's directory (with a stand-in host: the whole path is the job-purge e2e test's).
import { describe, it, expect } from 'vitest';
import { JobPurge, purgeable } from '../../src/services/job-purge.js';
import type { ModuleHost } from '../../src/services/module.js';
import type { Message } from '../../src/core/wire/message.js';
import { PURGE, allJobs, initialTable, jobsProjection, type JobTable } from '../../src/projections/jobs.js';
import { ENTRY_KVS, namespaceTopic } from '../../src/projections/kvs.js';
import type { Entry } from '../../src/core/journal/entry.js';
import { jobDir } from '../../src/core/jobs/kvs.js';
import { EINVAL, ENOENT } from '../../src/core/errors.js';
import { STATE_INACTIVE, STATE_NEW, STATE_RUN } from '../../src/core/jobs/state.js';

interface Job { id: number; state: number; t_inactive?: number }
const job = (id: number, state: number, t_inactive?: number): Job => ({ id, state, t_inactive });

/** a table the projection makes of the jobs (an inactive one invalidated at its time, another only submitted) */
function table(jobs: Job[], dropped?: number[][]): JobTable {
  const items = jobs.flatMap((j) => [
    { id: j.id, event: { timestamp: 1, name: 'submit', context: { userid: 5, urgency: 16, flags: 0 } }, submit: { name: 'j', ntasks: 1, nnodes: 0, ncores: 1, duration: 0 } },
    ...(j.state === STATE_INACTIVE ? [{ id: j.id, event: { timestamp: j.t_inactive!, name: 'invalidate' } }] : []),
  ]);
  const entry = {
    seq: 1, prev: null, time: 1, topic: namespaceTopic('primary', 'setroot'), userid: 0, rolemask: 1,
    flags: 0x20 | ENTRY_KVS, payload: { namespace: 'primary', rootseq: 1, jobs: items },
  } as Entry;
  const t = jobsProjection.apply(initialTable(), entry, 'ref');
  expect(allJobs(t).map((j) => j.state).sort()).toEqual(jobs.map((j) => (j.state === STATE_INACTIVE ? STATE_INACTIVE : STATE_NEW)).sort());
  return dropped ? { ...t, dropped } : t;
}

describe('purgeable jobs', () => {
  // dropped 1, 2, 3 ended before the held 10 (t 100), 11 (200), 12 (300); 13 still runs
  const t = table([job(12, STATE_INACTIVE, 300), job(10, STATE_INACTIVE, 100), job(13, STATE_RUN), job(11, STATE_INACTIVE, 200)], [[1, 2], [3]]);

  it('beyond a count of the newest kept: the dropped first, then the held by when they ended', () => {
    expect(purgeable(t, 400, -1, 4)).toEqual({ count: 2, ids: [1, 2] });
    expect(purgeable(t, 400, -1, 1)).toEqual({ count: 5, ids: [1, 2, 3, 10, 11] });
    expect(purgeable(t, 400, -1, 1, 4)).toEqual({ count: 5, ids: [1, 2, 3, 10] });
    expect(purgeable(t, 400, -1, 0, 2)).toEqual({ count: 6, ids: [1, 2] });
    expect(purgeable(t, 400, -1, 6)).toEqual({ count: 0, ids: [] });
  });

  it('past an age: the dropped when the oldest held one is, or when none is held', () => {
    expect(purgeable(t, 400, 150, -1)).toEqual({ count: 5, ids: [1, 2, 3, 10, 11] });
    expect(purgeable(t, 400, 350, -1)).toEqual({ count: 0, ids: [] });
    expect(purgeable(table([job(13, STATE_RUN)], [[7]]), 400, 10, -1)).toEqual({ count: 1, ids: [7] });
    expect(purgeable(table([], [[7]]), 400, -1, -1)).toEqual({ count: 0, ids: [] });
    // either limit takes a job
    expect(purgeable(t, 400, 350, 5)).toEqual({ count: 1, ids: [1] });
    expect(purgeable(t, 400, 250, 5)).toEqual({ count: 4, ids: [1, 2, 3, 10] });
    expect(purgeable(t, 400, 150, 5, 1)).toEqual({ count: 5, ids: [1] });
  });
});

describe('the job manager\'s purge of a job the table dropped', () => {
  /** the purge handlers over the table, with a host that records the commits asked for and the answers */
  function purger(t: JobTable) {
    const commits: Array<Record<string, unknown>> = [];
    const answers: unknown[] = [];
    const host = {
      rpc: async (topic: string, payload: Record<string, unknown>) => {
        expect(topic).toBe('kvs.commit');
        commits.push(payload);
        return {} as Message;
      },
      respond: (_msg: Message, payload: unknown) => answers.push(payload),
    } as unknown as ModuleHost;
    const handlers = new JobPurge(host, () => t).handlers();
    const call = (topic: string, body: Record<string, unknown>) => handlers.find((h) => h.topic === topic)!.handler({} as Message, body);
    return { commits, answers, call };
  }

  it('unlinks its directory by id, as a held one\'s, and refuses an id it never had or an active job', async () => {
    const t = table([job(10, STATE_INACTIVE, 100), job(13, STATE_RUN)], [[1, 2]]);
    const p = purger(t);
    await p.call('job-manager.purge-id', { ids: [2, 10], force: 1 });
    expect(p.answers).toEqual([{ count: 2 }]);
    expect(p.commits[0]!.ops).toEqual([jobDir(2), jobDir(10)].map((key) => ({ key, flags: 0, dirent: null })));
    expect((p.commits[0]!.jobs as Array<{ id: number; event: { name: string } }>).map((j) => [j.id, j.event.name])).toEqual([[2, PURGE], [10, PURGE]]);
    await expect(p.call('job-manager.purge-id', { ids: [3], force: 1 })).rejects.toMatchObject({ errno: ENOENT });
    await expect(p.call('job-manager.purge-id', { ids: [13], force: 1 })).rejects.toMatchObject({ errno: EINVAL });
    await p.call('job-manager.purge', { age_limit: -1, num_limit: 0, batch: 2, force: 1 });
    expect(p.answers.at(-1)).toEqual({ count: 2 });
    expect((p.commits.at(-1)!.jobs as Array<{ id: number }>).map((j) => j.id)).toEqual([1, 2]);
  });
});
