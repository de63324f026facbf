// The job table projection on hand-made entries: a job's life through RFC 21's states with the times and outcome
// each event records, what it refuses (events not allowed in the state, malformed items, entries that are not the
// KVS master's), how results are decided, copy on write, the bound on inactive jobs, snapshots, and the listing.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import {
  jobsProjection, jobOf, allJobs, jobItems, allowed, nextState, initialTable, INACTIVE_MAX, PURGE, type JobTable, type JobItem,
} from '../../src/projections/jobs.js';
import { listing, listOrder } from '../../src/projections/job-listing.js';
import { namespaceTopic, ENTRY_KVS } from '../../src/projections/kvs.js';
import {
  STATE_NEW, STATE_DEPEND, STATE_PRIORITY, STATE_SCHED, STATE_RUN, STATE_CLEANUP, STATE_INACTIVE,
  RESULT_COMPLETED, RESULT_FAILED, RESULT_CANCELED, RESULT_TIMEOUT,
} from '../../src/core/jobs/state.js';
import { EPROTO } from '../../src/core/errors.js';

const summary = { name: 'sleep', ntasks: 2, nnodes: 0, ncores: 2, duration: 60, cwd: '/w', queue: 'q' };
const R = { version: 1, execution: { R_lite: [{ rank: '0-1', children: { core: '0' } }], nodelist: ['h[0-1]'], starttime: 10, expiration: 70 } };

let seq = 0;
function entry(items: unknown[], opts: { flags?: number; topic?: string; namespace?: string } = {}): Entry {
  return {
    seq: ++seq, prev: null, time: seq, topic: opts.topic ?? namespaceTopic('primary', 'setroot'), userid: 0, rolemask: 1,
    flags: opts.flags ?? 0x20 | ENTRY_KVS, payload: { namespace: opts.namespace ?? 'primary', rootseq: seq, jobs: items },
  };
}
const ev = (id: number, name: string, timestamp: number, context?: Record<string, unknown>, more: Partial<JobItem> = {}) =>
  ({ id, event: { timestamp, name, ...(context ? { context } : {}) }, ...more });
const submit = (id: number, t = 1, ctx: Record<string, unknown> = { userid: 7, urgency: 16, flags: 4 }) => ev(id, 'submit', t, ctx, { submit: summary });
const apply = (t: JobTable, ...items: unknown[]) => jobsProjection.apply(t, entry(items), 'ref');

/** a job through its whole life; `end` is what happens at run time */
function life(id: number, end: unknown[]): JobTable {
  let t = apply(initialTable(), submit(id));
  t = apply(t, ev(id, 'validate', 2), ev(id, 'depend', 3), ev(id, 'priority', 4, { priority: 99 }));
  t = apply(t, ev(id, 'alloc', 5, {}, { R }), ev(id, 'start', 6));
  for (const it of end) t = apply(t, it);
  return t;
}

describe('the job table', () => {
  it('follows a job through every state with its times, and ends it COMPLETED when it exits 0', () => {
    let t = apply(initialTable(), submit(100));
    expect(jobOf(t, 100)).toEqual({ ...summary, id: 100, userid: 7, urgency: 16, flags: 4, state: STATE_NEW, t_submit: 1, allocated: false, events: 1 });
    expect(t.maxId).toBe(100);
    t = apply(t, ev(100, 'validate', 2));
    expect(jobOf(t, 100)).toMatchObject({ state: STATE_DEPEND, t_depend: 2, events: 2 });
    t = apply(t, ev(100, 'dependency-add', 2.5, { description: 'x' }), ev(100, 'dependency-remove', 2.6, { description: 'x' }), ev(100, 'depend', 3));
    expect(jobOf(t, 100)).toMatchObject({ state: STATE_PRIORITY, events: 5 });
    t = apply(t, ev(100, 'priority', 4, { priority: 99 }));
    expect(jobOf(t, 100)).toMatchObject({ state: STATE_SCHED, t_sched: 4, priority: 99 });
    t = apply(t, ev(100, 'urgency', 4.2, { urgency: 3, userid: 7 }), ev(100, 'priority', 4.5, { priority: 5 }));
    expect(jobOf(t, 100)).toMatchObject({ state: STATE_SCHED, urgency: 3, priority: 5 });
    t = apply(t, ev(100, 'alloc', 5, {}, { R }));
    expect(jobOf(t, 100)).toMatchObject({ state: STATE_RUN, t_run: 5, allocated: true, R, expiration: 70 });
    t = apply(t, ev(100, 'start', 6), ev(100, 'priority', 6.5, { priority: 8 }));
    expect(jobOf(t, 100)).toMatchObject({ state: STATE_RUN, priority: 8 });
    t = apply(t, ev(100, 'finish', 7, { status: 0 }));
    expect(jobOf(t, 100)).toMatchObject({ state: STATE_CLEANUP, t_cleanup: 7, waitstatus: 0 });
    // resources first: a clean while they are held changes nothing
    t = apply(t, ev(100, 'clean', 7.5));
    expect(jobOf(t, 100)!.state).toBe(STATE_CLEANUP);
    t = apply(t, ev(100, 'release', 8, { ranks: 'all', final: true }), ev(100, 'free', 8.5), ev(100, 'clean', 9));
    expect(jobOf(t, 100)).toMatchObject({ state: STATE_INACTIVE, t_inactive: 9, result: RESULT_COMPLETED, allocated: false, events: 15 });
    expect(t.inactive).toEqual([[100]]);
    // memo is allowed when inactive; nothing else is
    t = apply(t, ev(100, 'memo', 10, { x: 1 }), ev(100, 'exception', 11, { type: 'cancel', severity: 0 }));
    expect(jobOf(t, 100)).toMatchObject({ events: 16, result: RESULT_COMPLETED });
    expect(jobOf(t, 100)).not.toHaveProperty('exception');
  });

  it('decides the result: a fatal exception by its type, else the wait status', () => {
    const ended = (end: unknown[]) => jobOf(life(1, end), 1)!;
    const fin = (status: number) => [ev(1, 'finish', 7, { status }), ev(1, 'release', 8, { final: true }), ev(1, 'free', 8), ev(1, 'clean', 9)];
    expect(ended(fin(0)).result).toBe(RESULT_COMPLETED);
    expect(ended(fin(256)).result).toBe(RESULT_FAILED);
    const raised = (type: string, severity = 0) => [ev(1, 'exception', 6.5, { type, severity, note: 'n', userid: 3 }), ...fin(0)];
    expect(ended(raised('cancel'))).toMatchObject({ result: RESULT_CANCELED, exception: { type: 'cancel', severity: 0, note: 'n', userid: 3 }, t_cleanup: 6.5 });
    expect(ended(raised('timeout')).result).toBe(RESULT_TIMEOUT);
    expect(ended(raised('exec')).result).toBe(RESULT_FAILED);
    // a non-fatal exception neither ends the job nor decides its result
    const soft = ended(raised('warn', 3));
    expect(soft).toMatchObject({ result: RESULT_COMPLETED, exception: { type: 'warn', severity: 3 }, t_cleanup: 7 });
  });

  it('keeps the first fatal exception over later ones, and the latest of the others', () => {
    let t = life(1, [ev(1, 'exception', 6.1, { type: 'a', severity: 2 }), ev(1, 'exception', 6.2, { type: 'b', severity: 4 })]);
    expect(jobOf(t, 1)!.exception).toEqual({ type: 'b', severity: 4, note: '' });
    t = apply(t, ev(1, 'exception', 6.3, { type: 'fatal', severity: 0 }), ev(1, 'exception', 6.4, { type: 'later', severity: 0 }));
    expect(jobOf(t, 1)!.exception).toEqual({ type: 'fatal', severity: 0, note: '' });
    expect(jobOf(t, 1)!.state).toBe(STATE_CLEANUP);
  });

  it('ends a job that fails validation, and one with an exception before it runs', () => {
    let t = apply(initialTable(), submit(3), ev(3, 'invalidate', 2, { description: 'bad' }));
    expect(jobOf(t, 3)).toMatchObject({ state: STATE_INACTIVE, t_inactive: 2, result: RESULT_FAILED });
    t = apply(t, submit(4), ev(4, 'validate', 2), ev(4, 'exception', 3, { type: 'cancel', severity: 0 }));
    expect(jobOf(t, 4)).toMatchObject({ state: STATE_CLEANUP, t_cleanup: 3 });
    t = apply(t, ev(4, 'clean', 4));
    expect(jobOf(t, 4)).toMatchObject({ state: STATE_INACTIVE, result: RESULT_CANCELED });
    expect(t.inactive).toEqual([[3, 4]]);
  });

  it('takes the task count an alloc carries (a request per core knows it only then), and only a count', () => {
    let t = apply(initialTable(), submit(12), ev(12, 'validate', 2), ev(12, 'depend', 3), ev(12, 'priority', 4, { priority: 1 }));
    expect(jobOf(t, 12)!.ntasks).toBe(2);
    t = apply(t, ev(12, 'alloc', 5, {}, { R, ntasks: 6 }));
    expect(jobOf(t, 12)!.ntasks).toBe(6);
    let u = apply(initialTable(), submit(13), ev(13, 'validate', 2), ev(13, 'depend', 3), ev(13, 'priority', 4, { priority: 1 }));
    u = apply(u, ev(13, 'alloc', 5, {}, { R, ntasks: -1 } as Partial<JobItem>));
    expect(jobOf(u, 13)).toMatchObject({ ntasks: 2, state: STATE_RUN });
  });

  it('keeps the dependencies a job in DEPEND waits on, from dependency-add until dependency-remove, and lists them', () => {
    let t = apply(initialTable(), submit(8), ev(8, 'validate', 2));
    t = apply(t, ev(8, 'dependency-add', 3, { description: 'after-success=ƒ2' }), ev(8, 'dependency-add', 3, { description: 'after-start=ƒ3' }));
    // a second add of the same is one dependency; a remove of one not waited on, or without a description, changes nothing
    t = apply(t, ev(8, 'dependency-add', 4, { description: 'after-start=ƒ3' }), ev(8, 'dependency-remove', 4, { description: 'after-finish=ƒ9' }),
      ev(8, 'dependency-remove', 4), ev(8, 'dependency-add', 4, { description: 7 }));
    expect(jobOf(t, 8)!.dependencies).toEqual(['after-success=ƒ2', 'after-start=ƒ3']);
    expect(listing(jobOf(t, 8)!).dependencies).toEqual(['after-success=ƒ2', 'after-start=ƒ3']);
    const before = t;
    t = apply(t, ev(8, 'dependency-remove', 5, { description: 'after-success=ƒ2' }));
    expect(jobOf(t, 8)!.dependencies).toEqual(['after-start=ƒ3']);
    expect(jobOf(before, 8)!.dependencies).toEqual(['after-success=ƒ2', 'after-start=ƒ3']);
    t = apply(t, ev(8, 'dependency-remove', 6, { description: 'after-start=ƒ3' }), ev(8, 'depend', 6));
    expect(jobOf(t, 8)!.dependencies).toBeUndefined();
    expect(listing(jobOf(t, 8)!)).not.toHaveProperty('dependencies');
    // outside DEPEND they are refused
    t = apply(t, ev(8, 'dependency-add', 7, { description: 'after-start=ƒ4' }));
    expect(jobOf(t, 8)!.dependencies).toBeUndefined();
  });

  it('refuses events RFC 21 does not allow in the job\'s state, and a second submission', () => {
    expect(allowed(undefined, 'submit')).toBe(true);
    expect(allowed(STATE_NEW, 'submit')).toBe(false);
    expect(allowed(undefined, 'validate')).toBe(false);
    expect(allowed(STATE_NEW, 'nonsense')).toBe(false);
    expect(allowed(STATE_NEW, 'validate')).toBe(true);
    expect(allowed(STATE_DEPEND, 'validate')).toBe(false);
    expect(nextState(STATE_RUN, { timestamp: 1, name: 'exception', context: { severity: 1 } })).toBe(STATE_RUN);
    expect(nextState(STATE_RUN, { timestamp: 1, name: 'exception', context: { severity: 0 } })).toBe(STATE_CLEANUP);
    expect(nextState(STATE_RUN, { timestamp: 1, name: 'exception' })).toBe(STATE_RUN);
    expect(nextState(STATE_CLEANUP, { timestamp: 1, name: 'finish' })).toBe(STATE_CLEANUP);
    expect(nextState(STATE_SCHED, { timestamp: 1, name: 'priority' })).toBe(STATE_SCHED);
    expect(nextState(STATE_RUN, { timestamp: 1, name: 'release' })).toBe(STATE_RUN);
    expect(nextState(STATE_SCHED, { timestamp: 1, name: 'start' })).toBeUndefined();
    expect(nextState(undefined, { timestamp: 1, name: 'submit' })).toBe(STATE_NEW);
    const t = apply(initialTable(), submit(5));
    for (const bad of [ev(5, 'alloc', 2, {}, { R }), ev(5, 'start', 2), ev(5, 'clean', 2), ev(5, 'free', 2), ev(5, 'depend', 2), ev(5, 'finish', 2, { status: 0 }),
      ev(5, 'priority', 2, { priority: 1 }), ev(6, 'validate', 2), submit(5, 9)]) {
      expect(apply(t, bad), JSON.stringify(bad)).toEqual(t);
    }
    expect(jobOf(apply(t, ev(5, 'urgency', 2, { urgency: 0 })), 5)!.urgency).toBe(0);
    expect(jobOf(apply(t, ev(5, 'flux-restart', 2)), 5)!.events).toBe(2);
  });

  it('ignores malformed items and events whose context is not what they need', () => {
    const t = apply(initialTable(), submit(5));
    const j = apply(t, ev(5, 'validate', 2), ev(5, 'depend', 3), ev(5, 'priority', 4, { priority: 1 }));
    const unchanged = (base: JobTable, it: unknown) => expect(apply(base, it), JSON.stringify(it)).toEqual(base);
    unchanged(j, ev(5, 'alloc', 5, {}));
    unchanged(j, ev(5, 'alloc', 5, {}, { R: { version: 2, execution: { R_lite: [] } } as never }));
    unchanged(j, ev(5, 'alloc', 5, {}, { R: { version: 1, execution: { R_lite: [{ rank: 0, children: {} }] } } as never }));
    unchanged(j, ev(5, 'alloc', 5, {}, { R: { version: 1, execution: { R_lite: [{ rank: '0' }] } } as never }));
    unchanged(j, ev(5, 'alloc', 5, {}, { R: { version: 1, execution: {} } as never }));
    unchanged(j, ev(5, 'alloc', 5, {}, { R: { version: 1 } as never }));
    unchanged(j, ev(5, 'priority', 5, { priority: -1 }));
    unchanged(j, ev(5, 'priority', 5, {}));
    unchanged(j, ev(5, 'urgency', 5, { urgency: 1.5 }));
    unchanged(j, ev(5, 'exception', 5, { type: 'x', severity: 8 }));
    unchanged(j, ev(5, 'exception', 5, { type: 3, severity: 0 }));
    unchanged(j, ev(5, 'exception', 5, { type: 'x' }));
    const run = apply(j, ev(5, 'alloc', 5, {}, { R }));
    unchanged(run, ev(5, 'finish', 6, { status: 'x' }));
    unchanged(run, ev(5, 'finish', 6));
    // the items of an entry, and what makes one unreadable
    for (const bad of [null, 3, { id: -1, event: { name: 'submit', timestamp: 1 } }, { id: 1.5, event: { name: 'submit', timestamp: 1 } },
      { id: 9, event: 'submit' }, { id: 9, event: { name: 1, timestamp: 1 } }, { id: 9, event: { name: 'submit', timestamp: -1 } },
      { id: 9, event: { name: 'submit', timestamp: Infinity } }, { id: 9, event: { name: 'submit', timestamp: 1, context: [] } }]) {
      expect(jobItems(entry([bad])), JSON.stringify(bad)).toEqual([]);
    }
    // a submission without a readable summary, a user or an urgency makes no job
    for (const sub of [undefined, { ...summary, name: 3 }, { ...summary, ntasks: -1 }, { ...summary, nnodes: 0.5 }, { ...summary, ncores: 'x' },
      { ...summary, duration: -1 }, { ...summary, cwd: 1 }, { ...summary, queue: 1 }, 'x']) {
      const it = { ...submit(9), submit: sub };
      expect(apply(initialTable(), it).maxId, JSON.stringify(sub)).toBe(0);
    }
    for (const ctx of [{ urgency: 16 }, { userid: 7 }, { userid: -1, urgency: 16 }, { userid: 7, urgency: 1.5 }]) {
      expect(apply(initialTable(), ev(9, 'submit', 1, ctx, { submit: summary })).maxId).toBe(0);
    }
    // flags default to none; a summary without cwd or queue has none
    const { cwd: _c, queue: _q, ...bare } = summary;
    const plain = apply(initialTable(), ev(9, 'submit', 1, { userid: 7, urgency: 16, flags: 'x' }, { submit: bare }));
    expect(jobOf(plain, 9)).toEqual({ ...bare, id: 9, userid: 7, urgency: 16, flags: 0, state: STATE_NEW, t_submit: 1, allocated: false, events: 1 });
  });

  it('reads job events only from the KVS master\'s setroot of the primary namespace', () => {
    const items = [submit(1)];
    expect(jobItems(entry(items))).toHaveLength(1);
    expect(jobItems(entry(items, { flags: 0x20 }))).toEqual([]);
    expect(jobItems(entry(items, { topic: 'app.kvs.namespace-primary-setroot' }))).toEqual([]);
    expect(jobItems(entry(items, { namespace: 'job-1' }))).toEqual([]);
    expect(jobItems({ ...entry(items), payload: { namespace: 'primary', jobs: {} } })).toEqual([]);
    expect(jobItems({ ...entry(items), payload: null })).toEqual([]);
    const t = initialTable();
    expect(jobsProjection.apply(t, entry(items, { flags: 0 }), 'ref')).toBe(t);
    expect(jobsProjection.apply(t, entry([]), 'ref')).toBe(t);
  });

  it('copies on write: an older table is never changed, and what an entry does not touch is shared', () => {
    const a = apply(initialTable(), submit(1), submit(2 ** 25 + 3));
    const before = JSON.stringify(a);
    const b = apply(a, ev(1, 'validate', 2));
    expect(JSON.stringify(a)).toBe(before);
    expect(jobOf(a, 1)!.state).toBe(STATE_NEW);
    expect(jobOf(b, 1)!.state).toBe(STATE_DEPEND);
    expect(jobOf(b, 2 ** 25 + 3)).toBe(jobOf(a, 2 ** 25 + 3));
    expect(allJobs(b).map((j) => j.id).sort((x, y) => x - y)).toEqual([1, 2 ** 25 + 3]);
    expect(jobOf(b, 77)).toBeUndefined();
    // two events of one entry on one job: one copy, both applied
    const c = apply(b, ev(1, 'depend', 3), ev(1, 'priority', 4, { priority: 2 }));
    expect(jobOf(c, 1)).toMatchObject({ state: STATE_SCHED, priority: 2, events: 4 });
    expect(jobOf(b, 1)).toMatchObject({ state: STATE_DEPEND, events: 2 });
    // a job ending: the inactive list is copied, not written
    const d = apply(c, ev(1, 'exception', 5, { type: 'cancel', severity: 0 }), ev(1, 'clean', 6));
    expect(d.inactive).toEqual([[1]]);
    expect(c.inactive).toEqual([]);
    const e = apply(d, submit(9), ev(9, 'invalidate', 2));
    expect(e.inactive).toEqual([[1, 9]]);
    expect(d.inactive).toEqual([[1]]);
  });

  it('keeps at most INACTIVE_MAX inactive jobs, dropping the oldest page of them', () => {
    let t = initialTable();
    const n = INACTIVE_MAX + 256 + 10;
    const items = [];
    for (let id = 1; id <= n; id++) items.push(submit(id), ev(id, 'invalidate', 2));
    t = apply(t, ...items);
    expect(t.maxId).toBe(n);
    expect(t.inactive.reduce((k, p) => k + p.length, 0)).toBe(n - 256);
    expect(t.inactive[0]![0]).toBe(257);
    expect(t.inactive.slice(0, -1).every((p) => p.length === 256)).toBe(true);
    expect(jobOf(t, 256)).toBeUndefined();
    expect(jobOf(t, 257)).toBeDefined();
    expect(allJobs(t).length).toBe(n - 256);
    // and counts them as gone, as job-list's inactive_purged says
    expect(t.gone).toBe(256);
    // their ids stay for flux job purge, which unlinks their directories: one purged leaves them, not the count
    expect(t.dropped).toEqual([Array.from({ length: 256 }, (_, i) => i + 1)]);
    const purged = apply(t, ev(5, PURGE, 9));
    expect(purged.dropped![0]).toHaveLength(255);
    expect(purged.dropped![0]).not.toContain(5);
    expect(purged.gone).toBe(256);
    expect(t.dropped![0]).toContain(5);
    expect(apply(purged, ev(5, PURGE, 9)).dropped).toEqual(purged.dropped);
    const all = apply(t, ...Array.from({ length: 256 }, (_, i) => ev(i + 1, PURGE, 9)));
    expect(all.dropped).toBeUndefined();
    expect([all.gone, allJobs(all).length]).toEqual([256, n - 256]);
  });

  it('saves itself as is and loads only a well-formed snapshot', () => {
    const t = life(1, [ev(1, 'finish', 7, { status: 0 })]);
    const saved = JSON.parse(JSON.stringify(jobsProjection.save(t)));
    expect(jobsProjection.load(saved)).toEqual(t);
    const [g, s] = Object.entries(saved.shards as Record<string, Record<string, unknown>>).flatMap(([gg, grp]) => Object.keys(grp).map((ss) => [gg, ss]))[0]!;
    const damaged = (f: (x: any) => void) => {
      const x = JSON.parse(JSON.stringify(saved));
      f(x);
      return () => jobsProjection.load(x);
    };
    const refused = { errno: EPROTO, message: 'job table snapshot is malformed' };
    expect(() => jobsProjection.load(null)).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.shards = []))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.maxId = -1))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.gone = 'many'))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.dropped = {}))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.dropped = [[1, -2]]))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.inactive = {}))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.inactive = [3]))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.shards[g!] = 3))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.shards[g!][s!] = []))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.shards[g!][s!]['1'].id = 2))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.shards[g!][s!]['1'].state = 'x'))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.shards[g!][s!]['1'].userid = -3))).toThrow(expect.objectContaining(refused));
    expect(damaged((x) => (x.shards[g!][s!]['1'] = null))).toThrow(expect.objectContaining(refused));
    // a job filed under another shard would never be found
    expect(damaged((x) => {
      x.shards[g!][String((Number(s) + 1) % 64)] = x.shards[g!][s!];
      delete x.shards[g!][s!];
    })).toThrow(expect.objectContaining(refused));
    expect(jobsProjection.load(jobsProjection.initial())).toEqual({ shards: {}, maxId: 0, inactive: [] });
  });
});

describe('the job listing', () => {
  it('gives flux-core\'s attributes, leaving out what a job does not have yet', () => {
    const t = apply(initialTable(), submit(1));
    expect(listing(jobOf(t, 1)!)).toEqual({
      id: 1, userid: 7, urgency: 16, t_submit: 1, state: STATE_NEW, name: 'sleep', ntasks: 2, ncores: 2, duration: 60, cwd: '/w', queue: 'q',
    });
    const run = jobOf(life(1, []), 1)!;
    expect(listing(run)).toMatchObject({ priority: 99, t_depend: 2, t_run: 5, expiration: 70, ranks: '[0-1]', nnodes: 2, ncores: 2, nodelist: 'h[0-1]' });
    expect(listing(run)).not.toHaveProperty('success');
    const done = jobOf(life(1, [ev(1, 'exception', 6.5, { type: 'cancel', severity: 0, note: 'bye' }), ev(1, 'finish', 7, { status: 9 }),
      ev(1, 'release', 8, { final: true }), ev(1, 'free', 8), ev(1, 'clean', 9)]), 1)!;
    expect(listing(done)).toMatchObject({
      success: false, result: RESULT_CANCELED, exception_occurred: true, exception_type: 'cancel', exception_severity: 0, exception_note: 'bye',
      waitstatus: 9, t_cleanup: 6.5, t_inactive: 9,
    });
    const ok = jobOf(life(1, [ev(1, 'finish', 7, { status: 0 }), ev(1, 'release', 8, { final: true }), ev(1, 'free', 8), ev(1, 'clean', 9)]), 1)!;
    expect(listing(ok)).toMatchObject({ success: true, result: RESULT_COMPLETED, exception_occurred: false });
    expect(listing(ok)).not.toHaveProperty('exception_type');
    const nodes = { ...jobOf(t, 1)!, nnodes: 3 };
    expect(listing(nodes).nnodes).toBe(3);
    expect(listing({ ...jobOf(t, 1)! }).nnodes).toBeUndefined();
  });

  it('lists pending jobs by priority then id, running ones newest first, inactive ones most recently ended first', () => {
    const j = (id: number, state: number, more: Record<string, number> = {}) => ({ ...jobOf(apply(initialTable(), submit(id)), id)!, state, ...more });
    const jobs = [
      j(1, STATE_INACTIVE, { t_inactive: 5 }), j(2, STATE_RUN, { t_run: 3 }), j(3, STATE_SCHED, { priority: 1 }), j(4, STATE_SCHED, { priority: 9 }),
      j(5, STATE_DEPEND), j(6, STATE_CLEANUP, { t_run: 4 }), j(7, STATE_INACTIVE, { t_inactive: 8 }), j(8, STATE_PRIORITY, { priority: 9 }),
      j(9, STATE_NEW), j(10, STATE_RUN, { t_run: 3 }), j(11, STATE_INACTIVE, { t_inactive: 8 }),
    ];
    expect([...jobs].sort(listOrder).map((x) => x.id)).toEqual([4, 8, 3, 5, 9, 6, 10, 2, 11, 7, 1]);
  });
});
