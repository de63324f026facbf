// What cron and job-list answer from the projected records, at the edges: when an interval entry is next due
// around a restart, the stats and run times it reports, the keys a job listing leaves out, the list's order, and
// the job counts job-list keeps.
import { describe, it, expect } from 'vitest';
import { entryJson, nextWakeupOf } from '../../src/projections/cron-json.js';
import type { CronEntry } from '../../src/projections/cron.js';
import { jobStats, listOrder, listing } from '../../src/projections/job-listing.js';
import type { JobRecord, JobTable } from '../../src/projections/jobs.js';
import { STATE_INACTIVE, STATE_RUN, STATE_SCHED } from '../../src/core/jobs/state.js';

const cron = (stats: Partial<CronEntry['stats']>, more: Partial<CronEntry> = {}): CronEntry => ({
  id: 1, name: 'c', command: 'true', type: 'interval', args: { interval: 5, after: 2 }, repeat: 0, rank: 0,
  historyCount: 3, stopOnFailure: 0, stopped: false, events: 0, deferredPending: false, tasks: [],
  stats: { ctime: 0, starttime: 100, lastrun: 0, count: 0, failcount: 0, total: 0, success: 0, failure: 0, deferred: 0, ...stats },
  ...more,
});

describe('cron entries as answered', () => {
  it('an interval entry is due `after` a start until it runs, then an interval after its last run', () => {
    // never ran since this start, though its last run is not before it
    expect(nextWakeupOf(cron({ starttime: 0, lastrun: 0, count: 0 }), 0)).toBe(2);
    // ran before a restart: the runs counted are older than the start
    expect(nextWakeupOf(cron({ starttime: 100, lastrun: 90, count: 3 }), 0)).toBe(102);
    // ran at the very second of its start
    expect(nextWakeupOf(cron({ starttime: 100, lastrun: 100, count: 1 }), 0)).toBe(105);
  });

  it('reports its stats, leaves out a next wakeup it has not got, and times a finished task by its end', () => {
    const stats = { ctime: 1, starttime: 100, lastrun: 104, count: 2, failcount: 1, total: 7, success: 6, failure: 1, deferred: 0 };
    const e = cron(stats, {
      stopped: true,
      tasks: [{ rank: 0, pid: 4, state: 'Exited', 'create-time': 103, 'start-time': 103.25, 'end-time': 104.5, status: 0, code: 0 }],
    });
    const out = entryJson(e, 200);
    expect(out.stats).toEqual(stats);
    expect('next_wakeup' in (out.typedata as object)).toBe(false);
    expect((out.tasks as Array<Record<string, unknown>>)[0]!['running-time']).toBe(1.25);
  });
});

const job = (id: number, state: number, more: Partial<JobRecord> = {}): JobRecord => ({
  id, userid: 5, urgency: 16, state, flags: 0, t_submit: 1, allocated: false, events: 1,
  name: 'j', ntasks: 1, nnodes: 0, ncores: 1, duration: 0, ...more,
});

describe('job listings', () => {
  it('leave out every key that has no value', () => {
    const out = listing(job(1, STATE_SCHED));
    for (const k of ['priority', 't_depend', 't_run', 't_cleanup', 't_inactive', 'cwd', 'queue', 'expiration', 'waitstatus', 'nnodes', 'ranks', 'nodelist']) {
      expect(k in out, k).toBe(false);
    }
    // resources without host names: ranks and cores, no node list
    const R = { version: 1, execution: { R_lite: [{ rank: '0-1', children: { core: '0-1' } }], starttime: 10, expiration: 70 } };
    const run = listing(job(2, STATE_RUN, { R: R as JobRecord['R'] }));
    expect([run.ranks, run.nnodes, run.ncores, 'nodelist' in run]).toEqual(['[0-1]', 2, 4, false]);
  });

  it("tell a job's placement the same each time it is listed, whatever was done with an earlier answer", () => {
    const R = { version: 1, execution: { R_lite: [{ rank: '2', children: { core: '0-3' } }], nodelist: ['n7'], starttime: 1, expiration: 0 } };
    const first = listing(job(3, STATE_INACTIVE, { R: R as JobRecord['R'], result: 1 }));
    first.ranks = 'changed';
    first.ncores = 0;
    // another record holding the same R, as the table's next version does
    const again = listing(job(3, STATE_INACTIVE, { R: R as JobRecord['R'], result: 1, t_inactive: 9 }));
    expect([again.ranks, again.nnodes, again.ncores, again.nodelist]).toEqual(['2', 1, 4, 'n7']);
  });

  it('list pending jobs of one priority by id, and inactive ones by when they ended, whenever they ran', () => {
    const pending = [job(30, STATE_SCHED, { priority: 7 }), job(10, STATE_SCHED, { priority: 7 }), job(20, STATE_SCHED, { priority: 7 })];
    expect([...pending].sort(listOrder).map((j) => j.id)).toEqual([10, 20, 30]);
    const inactive = [
      job(1, STATE_INACTIVE, { t_run: 30, t_inactive: 40 }),
      job(2, STATE_INACTIVE, { t_run: 10, t_inactive: 50 }),
      job(3, STATE_INACTIVE, { t_run: 20, t_inactive: 45 }),
    ];
    expect([...inactive].sort(listOrder).map((j) => j.id)).toEqual([2, 3, 1]);
    expect([job(4, STATE_RUN, { t_run: 5 }), job(5, STATE_RUN, { t_run: 6 })].sort(listOrder).map((j) => j.id)).toEqual([5, 4]);
  });
});

describe('job stats', () => {
  it('count the table\'s jobs by state and result, and the inactive ones it no longer holds', () => {
    const table = { shards: {}, maxId: 0, inactive: [], gone: 3 } as JobTable;
    const jobs = [
      job(1, STATE_SCHED), job(2, STATE_RUN), job(3, STATE_INACTIVE, { result: 1 }), job(4, STATE_INACTIVE, { result: 4 }),
      job(5, STATE_INACTIVE, { result: 2 }), job(6, 1),
    ];
    for (const j of jobs) ((table.shards.g ??= {}).s ??= {})[String(j.id)] = j;
    expect(jobStats(table)).toEqual({
      job_states: { depend: 1, priority: 0, sched: 1, run: 1, cleanup: 0, inactive: 3, total: 6 },
      successful: 1, failed: 1, timeout: 0, canceled: 1, inactive_purged: 3, queues: [],
    });
  });
});
