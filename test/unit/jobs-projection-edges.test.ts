// The job table at its edges: where a job's id places it (snapshots depend on it), copy on write across the
// shards of one group and within one shard, the inactive bound exactly, and the keys a record leaves out.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { jobsProjection, jobOf, allJobs, initialTable, INACTIVE_MAX, type JobTable, type JobItem } from '../../src/projections/jobs.js';
import { namespaceTopic, ENTRY_KVS } from '../../src/projections/kvs.js';
import { STATE_PRIORITY } from '../../src/core/jobs/state.js';
import { EPROTO } from '../../src/core/errors.js';

const summary = { name: 'sleep', ntasks: 1, nnodes: 0, ncores: 1, duration: 0 };
let seq = 0;
const entry = (items: unknown[]): Entry => ({
  seq: ++seq, prev: null, time: seq, topic: namespaceTopic('primary', 'setroot'), userid: 0, rolemask: 1,
  flags: 0x20 | ENTRY_KVS, payload: { namespace: 'primary', rootseq: seq, jobs: items },
});
const ev = (id: number, name: string, timestamp: number, context?: Record<string, unknown>, more: Partial<JobItem> = {}) =>
  ({ id, event: { timestamp, name, ...(context ? { context } : {}) }, ...more });
const submit = (id: number) => ev(id, 'submit', 1, { userid: 7, urgency: 16 }, { submit: summary });
const apply = (t: JobTable, ...items: unknown[]) => jobsProjection.apply(t, entry(items), 'ref');
const R = (execution: Record<string, unknown>) => ({ version: 1, execution: { R_lite: [{ rank: '0', children: { core: '0' } }], ...execution } });

/** a job's group is (its id's milliseconds + its id mod 1024) mod 64, its shard the next 64 above */
const IN_GROUP_8 = 5 * 2 ** 24 + 3;
const IN_GROUP_10_SHARD_3 = 200 * 2 ** 24 + 2;

describe('the job table, at its edges', () => {
  it('places a job by its id', () => {
    const t = apply(initialTable(), submit(IN_GROUP_8), submit(IN_GROUP_10_SHARD_3));
    expect(Object.keys(t.shards).sort()).toEqual(['10', '8']);
    expect(Object.keys(t.shards['8']!)).toEqual(['0']);
    expect(Object.keys(t.shards['10']!)).toEqual(['3']);
  });

  it('copies on write the shards of one group, the jobs of one shard, and two shards of one entry', () => {
    // 10 and 74 share group 10 (shards 0 and 1); 2^24 + 9 shares 10's shard
    const a = apply(initialTable(), submit(10), submit(74), submit(2 ** 24 + 9));
    const before = JSON.stringify(a);
    const b = apply(a, ev(10, 'validate', 2));
    expect(allJobs(b).map((j) => j.id).sort((x, y) => x - y)).toEqual([10, 74, 2 ** 24 + 9]);
    const c = apply(a, ev(10, 'validate', 2), ev(74, 'validate', 2));
    expect(JSON.stringify(a)).toBe(before);
    expect([jobOf(c, 10)!.events, jobOf(c, 74)!.events]).toEqual([2, 2]);
  });

  it('drops the oldest page of inactive jobs exactly when one more page would pass the bound', () => {
    const n = INACTIVE_MAX + 256;
    const items = [];
    for (let id = 1; id <= n; id++) items.push(submit(id), ev(id, 'invalidate', 2));
    const t = apply(initialTable(), ...items.slice(0, -2));
    expect(allJobs(t)).toHaveLength(n - 1);
    expect(allJobs(apply(t, ...items.slice(-2)))).toHaveLength(INACTIVE_MAX);
  });

  it('leaves out what a job has not got: cwd, queue, end time, expiration, the user of an exception', () => {
    let t = apply(initialTable(), submit(1), ev(1, 'validate', 2), ev(1, 'depend', 3));
    let j = jobOf(t, 1)!;
    expect(j.state).toBe(STATE_PRIORITY);
    for (const k of ['cwd', 'queue', 't_inactive', 'result']) expect(k in j, k).toBe(false);
    t = apply(t, ev(1, 'priority', 4, { priority: 1 }), ev(1, 'alloc', 5, {}, { R: R({ expiration: 0 }) as never }));
    expect('expiration' in jobOf(t, 1)!).toBe(false);
    t = apply(apply(initialTable(), submit(2), ev(2, 'validate', 2), ev(2, 'depend', 3), ev(2, 'priority', 4, { priority: 1 })),
      ev(2, 'alloc', 5, {}, { R: R({}) as never }), ev(2, 'exception', 6, { type: 'x', severity: 7 }));
    j = jobOf(t, 2)!;
    expect('expiration' in j).toBe(false);
    expect(j.exception).toStrictEqual({ type: 'x', severity: 7, note: '' });
  });

  it('refuses a snapshot whose job is kept under another id of its shard', () => {
    const saved = JSON.parse(JSON.stringify(jobsProjection.save(apply(initialTable(), submit(10))))) as JobTable;
    const shard = saved.shards['10']!['0']!;
    shard[String(10 + 64 * 64)] = shard['10']!;
    delete shard['10'];
    expect(() => jobsProjection.load(saved)).toThrow(expect.objectContaining({ errno: EPROTO }));
  });
});
