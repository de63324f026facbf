// The cron table projection, the entry JSON the service answers with, and how flux cron prints entries.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import {
  applyEntry, initialTable, entries, cronProjection, type CronTable,
} from '../../src/projections/cron.js';
import { entryJson, eventFires, nextWakeupOf } from '../../src/projections/cron-json.js';
import {
  listHeader, listRow, dumpLines, relativeTime, runTime, taskStatus, removedLine, parseId, parseEntryOptions, parseTabLine, scheduledText,
  type EntryJson,
} from '../../src/commands/cron-format.js';
import { parseFSD } from '../../src/core/time/fsd.js';
import { FluxError } from '../../src/core/errors.js';

let seq = 0;
function entry(topic: string, payload: unknown, time = 1000 + seq): Entry {
  seq++;
  return { seq, prev: null, time, topic, userid: 0, rolemask: 1, flags: 0, payload };
}
const create = (id: number, extra: Record<string, unknown> = {}, time?: number) => entry('cron.entry-created', {
  id, name: 'echo', command: 'echo hi', type: 'interval', args: { interval: 2 }, repeat: 0, rank: 0,
  'task-history-count': 1, 'stop-on-failure': 0, ...extra,
}, time);
const started = (id: number, pid: number, time?: number, rank = 0) => entry('cron.task-started', { id, rank, pid }, time);
const finished = (id: number, pid: number | undefined, more: Record<string, unknown>, time?: number, rank = 0) =>
  entry('cron.task-finished', { id, rank, ...(pid === undefined ? {} : { pid }), ...more }, time);
const build = (es: Entry[], from: CronTable = initialTable()) => es.reduce((s, e) => applyEntry(s, e), from);

describe('cron table', () => {
  it('creation, runs and outcomes', () => {
    const t = build([create(1, {}, 100), started(1, 42, 102), finished(1, 42, { status: 0 }, 103), started(1, 43, 104),
      finished(1, 43, { status: 3 << 8 }, 105)]);
    const e = t.entries[1]!;
    expect(e.stats).toEqual({ ctime: 100, starttime: 100, lastrun: 104, count: 2, failcount: 1, total: 2, success: 1, failure: 1, deferred: 0 });
    // one task kept (task-history-count 1), the newest: Failed, as any status but 0 is in flux-core
    expect(e.tasks).toEqual([{ rank: 0, pid: 43, state: 'Failed', 'create-time': 104, 'start-time': 104, 'end-time': 105, status: 768, code: 3 }]);
    expect(t.nextId).toBe(2);
  });

  it('repeat counts stop the entry; stop-on-failure stops it at that many failures; a start counts anew', () => {
    const r = build([create(1, { repeat: 2 }), started(1, 1), finished(1, 1, { status: 0 }), started(1, 2)]);
    expect(r.entries[1]!.stopped).toBe(true);
    const r2 = build([entry('cron.entry-started', { id: 1 })], r);
    expect(r2.entries[1]!).toMatchObject({ stopped: false, stats: { count: 0, total: 1 } });
    const f = build([create(2, { 'stop-on-failure': 2 }), started(2, 1), finished(2, 1, { status: 256 }), started(2, 2),
      finished(2, 2, { status: 0 })]);
    expect(f.entries[2]!).toMatchObject({ stopped: false, stats: { failcount: 1 } });
    const g = build([started(2, 3), finished(2, 3, { status: 9 })], f);
    expect(g.entries[2]!).toMatchObject({ stopped: true, stats: { failcount: 2, failure: 2, success: 1 } });
    const h = build([entry('cron.entry-started', { id: 2 }), started(2, 4), finished(2, 4, { status: 256 })], g);
    expect(h.entries[2]!).toMatchObject({ stopped: false, stats: { failcount: 1, failure: 3 } });
  });

  it('exec failures, timeouts and lost tasks', () => {
    const t = build([create(1, { 'task-history-count': 3 }), finished(1, undefined, { errno: 2 }, 200), started(1, 7, 201),
      finished(1, 7, { status: 15, timedout: true }, 202), started(1, 8, 203), finished(1, 8, { lost: true }, 204)]);
    const e = t.entries[1]!;
    expect(e.tasks.map((x) => x.state)).toEqual(['Failed', 'Timeout', 'Failed']);
    expect(e.tasks[2]).toMatchObject({ rexec_errno: 2, code: 127 });
    expect(e.tasks[1]).toMatchObject({ timedout: true, code: 128 + 15 });
    expect(e.stats).toMatchObject({ count: 3, total: 3, success: 0, failure: 3 });
  });

  it('stop, start, delete, deferral and sync; entries for unknown ids change nothing', () => {
    const t0 = build([create(1, {}, 10)]);
    const t1 = build([entry('cron.entry-stopped', { id: 1 })], t0);
    expect(t1.entries[1]!.stopped).toBe(true);
    const t2 = build([entry('cron.entry-started', { id: 1 }, 50)], t1);
    expect(t2.entries[1]!).toMatchObject({ stopped: false, stats: { starttime: 50, count: 0 } });
    const t3 = build([entry('cron.task-deferred', { id: 1 })], t2);
    expect(t3.entries[1]!).toMatchObject({ deferredPending: true, stats: { deferred: 1 } });
    expect(build([started(1, 5)], t3).entries[1]!.deferredPending).toBe(false);
    const t4 = build([entry('cron.sync-set', { topic: 'hb', epsilon: 0.5 }), entry('hb', {}, 77)], t3);
    expect(t4.sync).toEqual({ topic: 'hb', epsilon: 0.5, last: 77 });
    expect(build([entry('cron.sync-set', { epsilon: 0 })], t4).sync).toBeUndefined();
    for (const e of [entry('cron.entry-stopped', { id: 9 }), started(9, 1), entry('cron.entry-deleted', { id: 9 }),
      entry('cron.entry-created', { id: 'x' }), create(1), entry('cron.task-finished', { id: 1, rank: -1 })]) {
      expect(applyEntry(t4, e)).toBe(t4);
    }
    expect(entries(build([entry('cron.entry-deleted', { id: 1 })], t4))).toEqual([]);
    // immutable: the earlier state is untouched
    expect(t0.entries[1]!.stopped).toBe(false);
  });

  it('event entries count the entries with their topic while active', () => {
    const t = build([create(1, { type: 'event', args: { topic: 'app.ping', nth: 2 } }), entry('app.ping', null),
      entry('app.pong', null), entry('app.ping', {}), entry('cron.entry-stopped', { id: 1 }), entry('app.ping', {})]);
    expect(t.entries[1]!.events).toBe(2);
    // topics are user text: ones that name Object properties are ordinary topics
    const odd = build([create(2, { type: 'event', args: { topic: '__proto__' } }), create(3, { type: 'event', args: { topic: 'constructor' } }),
      entry('__proto__', {}), entry('constructor', {}), entry('toString', {}), entry('constructor', {})]);
    expect([odd.entries[2]!.events, odd.entries[3]!.events]).toEqual([1, 2]);
    const gone = build([entry('cron.entry-deleted', { id: 2 }), entry('cron.entry-deleted', { id: 3 })], odd);
    expect(gone.watch).toEqual({});
    expect(build([entry('__proto__', {})], gone)).toBe(gone);
    expect([1, 2, 3, 4, 5, 6].map((n) => eventFires(n, 2, 2))).toEqual([false, true, false, true, false, true]);
    expect([1, 2, 3, 4, 5].map((n) => eventFires(n, 2, 3))).toEqual([false, false, true, false, true]);
  });

  it('snapshots round-trip and malformed ones are refused', () => {
    const t = build([create(1), started(1, 3)]);
    expect(cronProjection.load(JSON.parse(JSON.stringify(cronProjection.save(t))))).toEqual(t);
    expect(() => cronProjection.load({ entries: [] })).toThrow(FluxError);
  });
});

describe('entry JSON', () => {
  it('has the fields of reference §9 and the next wakeup of an interval entry', () => {
    const t = build([create(1, { timeout: 5 }, 100), started(1, 9, 102)]);
    const j = entryJson(t.entries[1]!, 103.5);
    expect(j).toMatchObject({
      id: 1, rank: 0, name: 'echo', command: 'echo hi', repeat: 0, stopped: false, type: 'interval', timeout: 5,
      typedata: { interval: 2, after: 2, next_wakeup: 104 },
      tasks: [{ rank: 0, pid: 9, state: 'Running', 'start-time': 102, 'running-time': 1.5 }],
    });
    expect(nextWakeupOf(build([create(2, { args: { interval: 2, after: 0.5 } }, 100)]).entries[2]!, 100)).toBe(100.5);
    expect(nextWakeupOf(build([entry('cron.entry-stopped', { id: 1 })], t).entries[1]!, 0)).toBeUndefined();
  });
});

describe('flux cron output', () => {
  const stats = (count: number, lastrun: number) => ({
    ctime: 1, starttime: 1, lastrun, count, failcount: 0, total: count, success: count, failure: 0, deferred: 0,
  });
  const base = (over: Partial<EntryJson> = {}): EntryJson => ({
    id: 1, name: 'echo', command: 'echo hi', repeat: 0, stopped: false, type: 'interval',
    stats: stats(0, 0), typedata: { interval: 2 }, tasks: [], ...over,
  });

  it('list: header and rows in "%6s %-15s %-8s %9s %18s  %-18s"', () => {
    expect(listHeader()).toBe('    ID CMD/NAME        STATE        #RUNS            LASTRUN  STATUS            ');
    expect(listRow(base(), 0)).toBe('     1 echo            Active           0               None                    ');
    const ran = base({ id: 12, repeat: 5, stopped: true, stats: stats(3, 100), tasks: [{ rank: 0, state: 'Failed', code: 2 }] });
    expect(listRow(ran, 190)).toBe('    12 echo            Stopped        3/5       a minute ago  Failed:rc=2       ');
  });

  it('relative times, run times and status texts in flux-core\'s words', () => {
    expect([-1, 0, 1.9, 2, 89, 90, 150, 5399, 5400, 3600 * 35, 86400 * 3, 86400 * 20, 86400 * 100, 86400 * 800].map(relativeTime)).toEqual([
      'in the future', 'a second ago', 'a second ago', '2 seconds ago', '89 seconds ago', 'a minute ago', '2 minutes ago',
      '89 minutes ago', '1.5 hours ago', '35.0 hours ago', '3.0 days ago', '3 weeks ago', '3 months ago', '2.2 years ago',
    ]);
    expect([0.0123, 1, 1.5, 90, 7200, 86400 * 2].map(runTime)).toEqual(['12.30ms', '1000.00ms', '1.500s', '1.500m', '2.000h', '2.000d']);
    expect(taskStatus(undefined)).toBe('');
    expect(taskStatus({ rank: 0, state: 'Exited', code: 0 })).toBe('Success');
    expect(taskStatus({ rank: 0, state: 'Failed', code: 127 })).toBe('Exec-Error');
    expect(taskStatus({ rank: 0, state: 'Failed', code: 126, rexec_errno: 13 })).toBe('Failed:rc=126');
    expect(taskStatus({ rank: 0, state: 'Running' })).toBe('Running');
  });

  it('delete says when the newest task ran and for how long, or that it still runs', () => {
    expect(removedLine(base(), 10)).toBe('Removed cron-1: echo');
    const done = base({ tasks: [{ rank: 0, state: 'Exited', code: 0, 'create-time': 99, 'start-time': 100, 'end-time': 100.5 }] });
    expect(removedLine(done, 130)).toBe('Removed cron-1: echo last ran 29 seconds ago for 500.00ms');
    const running = base({ tasks: [{ rank: 0, state: 'Running', 'create-time': 99, 'start-time': 100 }] });
    expect(removedLine(running, 101)).toBe('Removed cron-1: echo still running. Started a second ago');
  });

  it('dump: key = value with strings quoted, nested keys dotted, tasks numbered from 1', () => {
    const e = base({ stats: stats(1, 5), tasks: [{ rank: 1, pid: 7, state: 'Exited' }] });
    expect(dumpLines(e)).toEqual([
      'id = 1', 'name = "echo"', 'command = "echo hi"', 'repeat = 0', 'stopped = false', 'type = "interval"',
      'stats.ctime = 1', 'stats.starttime = 1', 'stats.lastrun = 5', 'stats.count = 1', 'stats.failcount = 0', 'stats.total = 1',
      'stats.success = 1', 'stats.failure = 0', 'stats.deferred = 0', 'typedata.interval = 2', 'task.1.rank = 1', 'task.1.pid = 7', 'task.1.state = "Exited"',
    ]);
    expect(dumpLines(e, 'task.1.pid')).toEqual(['7']);
    expect(dumpLines(e, 'name')).toEqual(['echo']);
    expect(() => dumpLines(e, 'nope')).toThrow(FluxError);
  });

  it('ids, -o options, crontab lines and the scheduled line', () => {
    expect(parseId('3')).toBe(3);
    expect(parseId('cron-12')).toBe(12);
    expect(() => parseId('x1')).toThrow(FluxError);
    expect(parseEntryOptions(['timeout=1.5m,rank=2', 'task-history-count=4', 'stop-on-failure=1'], parseFSD))
      .toEqual({ timeout: 90, rank: 2, 'task-history-count': 4, 'stop-on-failure': 1 });
    expect(() => parseEntryOptions(['color=red'], parseFSD)).toThrow(FluxError);
    expect(() => parseEntryOptions(['rank=-1'], parseFSD)).toThrow(FluxError);
    expect(parseTabLine('  # a comment')).toBeUndefined();
    expect(parseTabLine('')).toBeUndefined();
    expect(parseTabLine('*/5 1,2 * 0-11 1-5   echo  a b')).toEqual({
      fields: { second: '0', minute: '*/5', hour: '1,2', mday: '*', month: '0-11', weekday: '1-5' }, command: 'echo  a b',
    });
    expect(() => parseTabLine('* * * echo')).toThrow(FluxError);
    const next = new Date(2031, 0, 2, 3, 4, 5).getTime() / 1000;
    expect(scheduledText(base({ id: 2, typedata: { next_wakeup: next } }), next - 12.3456))
      .toBe('cron-2 created: scheduled in 12.346s at Thu Jan  2 03:04:05 2031');
  });
});
