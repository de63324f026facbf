// The process table at its edges: entries with no payload or with ids that are strings, two pids of one shard,
// the history's bound when a loss retires many at once, the order of running(), and snapshots that are not objects.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { EPROTO } from '../../src/core/errors.js';
import {
  HISTORY, PAGE, applyEntry, initialTable, proctableProjection, records, running, TOPIC_FINISHED, TOPIC_LOST, TOPIC_STARTED,
  type ProcTable,
} from '../../src/projections/proctable.js';

let seq = 0;
const entry = (topic: string, payload: unknown): Entry => ({ seq: ++seq, prev: null, time: 1000 + seq, topic, userid: 0, rolemask: 1, flags: 0, payload });
const started = (rank: number, pid: number) => entry(TOPIC_STARTED, { rank, pid, cmd: ['true'], userid: 5, cwd: '/' });
const build = (entries: Entry[], from: ProcTable = initialTable()) => entries.reduce((s, e) => applyEntry(s, e), from);

describe('the process table, at its edges', () => {
  it('ignores an entry with no payload at all', () => {
    const one = build([started(0, 70)]);
    for (const topic of [TOPIC_STARTED, TOPIC_FINISHED, TOPIC_LOST]) expect(build([entry(topic, undefined)], one), topic).toBe(one);
  });

  it('ignores a finish or a loss that names its rank or pid as a string', () => {
    const one = build([started(0, 70)]);
    for (const p of [{ rank: '0', pid: 70, status: 0 }, { rank: 0, pid: '70', status: 0 }]) {
      expect(build([entry(TOPIC_FINISHED, p)], one), JSON.stringify(p)).toBe(one);
    }
    expect(build([entry(TOPIC_LOST, { rank: '0' })], one)).toBe(one);
  });

  it('keeps two running pids of one shard', () => {
    const t = build([started(0, 1), started(0, 17), started(0, 33)]);
    expect(running(t).map((r) => r.pid)).toEqual([1, 17, 33]);
  });

  it('orders running processes by rank, then by start, whatever their pids', () => {
    const t = build([started(2, 4), started(1, 1), started(0, 9), started(0, 2), started(2, 3), started(1, 0), started(0, 16)]);
    expect(running(t).map((r) => [r.rank, r.pid])).toEqual([[0, 9], [0, 2], [0, 16], [1, 1], [1, 0], [2, 4], [2, 3]]);
  });

  it('a loss retires in the order of start, and the history drops its oldest page when one more would be full', () => {
    const n = HISTORY + PAGE;
    // pids in the opposite order to the starts, spread over the shards
    const starts = Array.from({ length: n }, (_, i) => started(0, 100000 - 7 * i));
    const lost = entry(TOPIC_LOST, { rank: 0 });
    const all = build([...starts, lost]);
    expect(records(all).map((r) => r.ord)).toEqual(Array.from({ length: HISTORY }, (_, i) => PAGE + i));
    const short = build([...starts.slice(1), lost]);
    expect(records(short)).toHaveLength(n - 1);
  });

  it('refuses a snapshot or a rank of one that is missing', () => {
    for (const bad of [undefined, { ranks: { 0: undefined } }]) {
      expect(() => proctableProjection.load(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ errno: EPROTO }));
    }
  });
});
