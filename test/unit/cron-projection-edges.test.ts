// The cron table at its edges: which running task a finish ends, a finish for a task already ended, the record a
// finish with nothing but its rank leaves, and a sync setting that is ignored with one in place.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { applyEntry, initialTable, type CronTable } from '../../src/projections/cron.js';

let seq = 0;
const entry = (topic: string, payload: unknown): Entry => ({ seq: ++seq, prev: null, time: 1000 + seq, topic, userid: 0, rolemask: 1, flags: 0, payload });
const create = (id: number) => entry('cron.entry-created', {
  id, name: 'echo', command: 'echo hi', type: 'interval', args: { interval: 2 }, repeat: 0, rank: 0, 'task-history-count': 3, 'stop-on-failure': 0,
});
const started = (id: number, pid: number) => entry('cron.task-started', { id, rank: 0, pid });
const finished = (id: number, more: Record<string, unknown>) => entry('cron.task-finished', { id, rank: 0, ...more });
const build = (es: Entry[], from: CronTable = initialTable()) => es.reduce((s, e) => applyEntry(s, e), from);

describe('the cron table, at its edges', () => {
  it('a finish ends the running task of its pid, not the newest one', () => {
    const t = build([create(1), started(1, 4), started(1, 5), finished(1, { pid: 4, status: 0 })]);
    expect(t.entries[1]!.tasks.map((k) => [k.pid, k.state])).toEqual([[5, 'Running'], [4, 'Exited']]);
  });

  it('a second finish for a pid makes a record of its own rather than rewrite the ended task', () => {
    const [c, s, first, again] = [create(1), started(1, 4), finished(1, { pid: 4, status: 0 }), finished(1, { pid: 4, status: 256 })];
    const t = build([c!, s!, first!, again!]);
    expect(t.entries[1]!.tasks.map((k) => [k.pid, k.state, k['end-time']])).toEqual([[4, 'Failed', again!.time], [4, 'Exited', first!.time]]);
  });

  it('a finish with neither pid, status nor errno leaves a failed task of that rank and time, and nothing else', () => {
    const f = finished(1, {});
    const t = build([create(1), f]);
    expect(t.entries[1]!.tasks).toStrictEqual([{ rank: 0, state: 'Failed', 'create-time': f.time, 'end-time': f.time }]);
  });

  it('a sync setting without a number epsilon leaves the one in place', () => {
    const set = build([entry('cron.sync-set', { topic: 'heartbeat.pulse', epsilon: 1 })]);
    expect(build([entry('cron.sync-set', { epsilon: '2' })], set)).toBe(set);
  });
});
