// The cron table's rules one by one: the entries it ignores as written by no cron service, optional fields
// left out, how a task's end is matched and named, when repeat and stop-on-failure stop an entry, what a stop
// keeps, event entries sharing a topic, and every malformed snapshot refused.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { EPROTO } from '../../src/core/errors.js';
import { applyEntry, initialTable, entries, cronProjection, watching, type CronTable } from '../../src/projections/cron.js';
import { entryJson, eventFires, nextWakeupOf } from '../../src/projections/cron-json.js';

let seq = 0;
const entry = (topic: string, payload: unknown): Entry => ({ seq: ++seq, prev: null, time: 1000 + seq, topic, userid: 0, rolemask: 1, flags: 0, payload });
const createPayload = (id: number, extra: Record<string, unknown> = {}) => ({
  id, name: 'echo', command: 'echo hi', type: 'interval', args: { interval: 2 }, repeat: 0, rank: 0,
  'task-history-count': 3, 'stop-on-failure': 0, ...extra,
});
const create = (id: number, extra: Record<string, unknown> = {}) => entry('cron.entry-created', createPayload(id, extra));
const started = (id: number, pid: number, rank = 0) => entry('cron.task-started', { id, rank, pid });
const finished = (id: number, more: Record<string, unknown>, rank = 0) => entry('cron.task-finished', { id, rank, ...more });
const build = (es: Entry[], from: CronTable = initialTable()) => es.reduce((s, e) => applyEntry(s, e), from);

describe('the cron table', () => {
  it('ignores what no cron service writes', () => {
    const empty = initialTable();
    const badCreates = [null, [], 'x', { id: -1 }, { name: 5 }, { command: 5 }, { type: 'cron' }, { args: null }, { args: [] },
      { repeat: -1 }, { rank: 1.5 }, { 'task-history-count': '1' }, { 'stop-on-failure': -1 }, { timeout: '5' }];
    for (const b of badCreates) {
      const e = b === null || Array.isArray(b) || typeof b !== 'object' ? entry('cron.entry-created', b) : create(1, b);
      expect(build([e], empty), JSON.stringify(b)).toBe(empty);
    }
    const one = build([create(1), started(1, 5)]);
    expect(build([create(1, { name: 'again' })], one)).toBe(one);
    const ignored = [
      entry('cron.entry-stopped', null), entry('cron.entry-stopped', { id: 9 }), entry('cron.entry-started', [1]),
      entry('cron.task-deferred', { id: -1 }), entry('cron.entry-deleted', { id: 9 }),
      entry('cron.task-started', { id: 1, rank: -1, pid: 6 }), entry('cron.task-started', { id: 1, rank: 0 }),
      finished(1, { pid: 5 }, -1), finished(1, { pid: -1 }), finished(1, { pid: 5, status: -1 }), finished(1, { errno: 1.5 }),
      entry('cron.sync-set', null), entry('cron.sync-set', { epsilon: '1' }), entry('cron.sync-set', { epsilon: 1, topic: 5 }),
    ];
    for (const e of ignored) expect(build([e], one), `${e.topic} ${JSON.stringify(e.payload)}`).toBe(one);
  });

  it('keeps a timeout, an environment and a directory only when given, and lists entries by id', () => {
    const t = build([create(3), create(1, { timeout: 5, environ: { A: '1' }, cwd: '/x' }), create(2)]);
    expect(entries(t).map((e) => e.id)).toEqual([1, 2, 3]);
    const [withAll, , bare] = entries(t);
    expect([withAll!.timeout, withAll!.environ, withAll!.cwd]).toEqual([5, { A: '1' }, '/x']);
    expect(['timeout' in bare!, 'environ' in bare!, 'cwd' in bare!]).toEqual([false, false, false]);
    expect([bare!.stats.count, bare!.tasks, bare!.deferredPending]).toEqual([0, [], false]);
  });

  it('ends the task it started, and names each end as flux-core does', () => {
    const t = build([create(1), started(1, 5), started(1, 5, 1), finished(1, { pid: 5, status: 0 })]);
    const e = entries(t)[0]!;
    expect(e.tasks.map((x) => [x.rank, x.pid, x.state])).toEqual([[1, 5, 'Running'], [0, 5, 'Exited']]);
    const end = (more: Record<string, unknown>) => entries(build([create(1), started(1, 5), finished(1, more)]))[0]!.tasks[0]!;
    expect(end({ pid: 5, status: 0, timedout: true })).toMatchObject({ state: 'Timeout', timedout: true });
    expect(end({ pid: 5, status: 256 })).toMatchObject({ state: 'Failed', code: 1 });
    expect(end({ pid: 5 }).state).toBe('Failed');
    expect(end({ errno: 2 })).toMatchObject({ state: 'Failed', code: 127, rexec_errno: 2 });
    expect(end({ errno: 13 }).code).toBe(126);
    // a command that never started has no pid
    expect('pid' in end({ errno: 2 })).toBe(false);
    expect(entries(build([create(1), finished(1, { pid: 8, status: 0 })]))[0]!.tasks[0]).toMatchObject({ pid: 8, state: 'Exited' });
  });

  it('stops after repeat runs (never with 0) and after stop-on-failure failures in a row (never with 0)', () => {
    const runs = (extra: Record<string, unknown>, n: number) =>
      entries(build([create(1, extra), ...Array.from({ length: n }, (_, i) => started(1, 10 + i))]))[0]!.stopped;
    expect([runs({ repeat: 2 }, 1), runs({ repeat: 2 }, 2), runs({ repeat: 0 }, 3)]).toEqual([false, true, false]);
    const fails = (extra: Record<string, unknown>, n: number) =>
      entries(build([create(1, extra), ...Array.from({ length: n }, () => finished(1, { errno: 2 }))]))[0]!.stopped;
    expect([fails({ 'stop-on-failure': 2 }, 1), fails({ 'stop-on-failure': 2 }, 2), fails({ 'stop-on-failure': 0 }, 3)]).toEqual([false, true, false]);
  });

  it('keeps its counts through a stop, and starts them anew on a start', () => {
    const t = build([create(1), started(1, 5), started(1, 6), entry('cron.entry-stopped', { id: 1 })]);
    expect(entries(t)[0]!.stats.count).toBe(2);
    expect(entries(build([entry('cron.entry-started', { id: 1 })], t))[0]!.stats.count).toBe(0);
  });

  it('keeps the other event entries on a topic when one is deleted', () => {
    const ev = { type: 'event', args: { topic: 'hb' } };
    const t = build([create(1, ev), create(2, ev), entry('cron.entry-deleted', { id: 1 })]);
    expect(watching(t, 'hb')).toEqual([2]);
    expect(watching(build([entry('cron.entry-deleted', { id: 2 })], t), 'hb')).toEqual([]);
  });

  it('refuses every malformed snapshot, and takes back one it saved', () => {
    const t = build([create(1), started(1, 5)]);
    expect(cronProjection.load(JSON.parse(JSON.stringify(cronProjection.save(t))))).toEqual(t);
    const good = { nextId: 1, entries: {}, watch: {} };
    for (const b of [null, [], { ...good, nextId: -1 }, { ...good, entries: null }, { ...good, entries: [] }, { ...good, watch: 5 }]) {
      expect(() => cronProjection.load(b), JSON.stringify(b)).toThrow(expect.objectContaining({ errno: EPROTO, message: 'cron table snapshot is malformed' }));
    }
  });
});

describe('a cron entry as the cron service answers it', () => {
  /** the entry created with `extra`, after the entries `more` makes (made after the creation, so later) */
  const one = (extra: Record<string, unknown>, more: () => Entry[] = () => []) => {
    const c = create(1, extra);
    return entries(build([c, ...more()]))[0]!;
  };

  it('gives an event entry its nth, after, min_interval and counter, by default and as given', () => {
    const ev = (args: Record<string, unknown>) => entryJson(one({ type: 'event', args: { topic: 'hb', ...args } }), 5000);
    expect(ev({}).typedata).toEqual({ topic: 'hb', nth: 1, after: 1, min_interval: 0, counter: 0 });
    expect(ev({ nth: 3 }).typedata).toMatchObject({ nth: 3, after: 3 });
    expect(ev({ nth: 3, after: 5, min_interval: 2 }).typedata).toEqual({ topic: 'hb', nth: 3, after: 5, min_interval: 2, counter: 0 });
    expect([4, 5, 6, 7, 8].map((n) => eventFires(n, 3, 5))).toEqual([false, true, false, false, true]);
  });

  it('is next due after its interval, once after a start for an interval of 0, and never when stopped', () => {
    const e = one({ args: { interval: 2 } });
    const created = e.stats.starttime;
    expect(nextWakeupOf(e, 0)).toBe(created + 2);
    const late = one({ args: { interval: 2, after: 7 } });
    expect(nextWakeupOf(late, 0)).toBe(late.stats.starttime + 7);
    const ranOnce = one({ args: { interval: 2 } }, () => [started(1, 5)]);
    expect(nextWakeupOf(ranOnce, 0)).toBe(ranOnce.stats.lastrun + 2);
    expect(nextWakeupOf(one({ args: { interval: 0 } }, () => [started(1, 5)]), 0)).toBeUndefined();
    const zero = one({ args: { interval: 0 } });
    expect(nextWakeupOf(zero, 0)).toBe(zero.stats.starttime);
    expect(nextWakeupOf(one({}, () => [entry('cron.entry-stopped', { id: 1 })]), 0)).toBeUndefined();
    expect(nextWakeupOf(one({ type: 'event', args: { topic: 'hb' } }), 0)).toBeUndefined();
    const json = entryJson(e, 0);
    expect(json.typedata).toEqual({ interval: 2, after: 2, next_wakeup: created + 2 });
    expect('timeout' in json).toBe(false);
    expect(entryJson(one({ timeout: 3 }), 0).timeout).toBe(3);
  });

  it('gives a datetime entry its next time, and a task that has run its running time', () => {
    const dt = one({ type: 'datetime', args: { minute: '0' } });
    const next = nextWakeupOf(dt, 3600 * 1000 + 60)!;
    expect(next % 3600).toBe(0);
    expect(next).toBeGreaterThan(3600 * 1000 + 60);
    const task = entryJson(one({}, () => [started(1, 5)]), 0).tasks as Array<Record<string, unknown>>;
    const t = task[0]!;
    expect(t['running-time']).toBe(Math.round((0 - (t['start-time'] as number)) * 1e6) / 1e6);
    const never = entryJson(one({}, () => [finished(1, { errno: 2 })]), 0).tasks as Array<Record<string, unknown>>;
    expect('running-time' in never[0]!).toBe(false);
  });
});
