// The cron table under any sequence of cron entries and events: a table rebuilt from a snapshot saved at any seq
// (as a restarted rank 0 or a joining replica does) and the rest of the journal equals the table built in one
// pass, and at every step the counters agree with each other, the task history stays within its bound and the
// topic index names exactly the event entries.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Entry } from '../../src/core/journal/entry.js';
import { applyEntry, initialTable, entries, cronProjection, watchKey, type CronTable } from '../../src/projections/cron.js';

const id = fc.integer({ min: 1, max: 3 });
const pid = fc.integer({ min: 100, max: 104 });
const rank = fc.integer({ min: 0, max: 1 });

const op: fc.Arbitrary<{ topic: string; payload: unknown }> = fc.oneof(
  fc.record({
    id, type: fc.constantFrom('interval', 'event'), repeat: fc.integer({ min: 0, max: 3 }),
    hist: fc.integer({ min: 1, max: 3 }), sof: fc.integer({ min: 0, max: 2 }), rank,
  }).map((c) => ({
    topic: 'cron.entry-created',
    payload: {
      id: c.id, name: 'x', command: 'true', type: c.type, args: c.type === 'event' ? { topic: 'ev' } : { interval: 1 },
      repeat: c.repeat, rank: c.rank, 'task-history-count': c.hist, 'stop-on-failure': c.sof,
    },
  })),
  fc.record({ id, t: fc.constantFrom('cron.entry-stopped', 'cron.entry-started', 'cron.entry-deleted', 'cron.task-deferred') })
    .map((o) => ({ topic: o.t, payload: { id: o.id } })),
  fc.record({ id, rank, pid }).map((p) => ({ topic: 'cron.task-started', payload: p })),
  fc.record({
    id, rank, pid: fc.option(pid, { nil: undefined }),
    outcome: fc.oneof(
      fc.constantFrom(0, 256, 9).map((status) => ({ status })),
      fc.constant({ errno: 2 }),
      fc.constant({ status: 15, timedout: true }),
      fc.constant({ lost: true }),
    ),
  }).map((f) => ({ topic: 'cron.task-finished', payload: { id: f.id, rank: f.rank, ...(f.pid === undefined ? {} : { pid: f.pid }), ...f.outcome } })),
  fc.constantFrom(
    { topic: 'ev', payload: {} },
    { topic: 'other', payload: {} },
    { topic: 'cron.sync-set', payload: { topic: 'ev', epsilon: 0.1 } },
    { topic: 'cron.sync-set', payload: { epsilon: 0 } },
  ),
);

function toEntries(ops: Array<{ topic: string; payload: unknown }>): Entry[] {
  return ops.map((o, i) => ({ seq: i + 1, prev: null, time: 1000 + i, topic: o.topic, userid: 0, rolemask: 1, flags: 0, payload: o.payload }));
}

function checkInvariants(t: CronTable): void {
  // the topic index names exactly the event entries there are
  const indexed = Object.entries(t.watch).flatMap(([k, ids]) => ids.map((i) => `${k}#${i}`)).sort();
  const expected = entries(t).filter((e) => e.type === 'event').map((e) => `${watchKey(String(e.args.topic))}#${e.id}`).sort();
  expect(indexed).toEqual(expected);
  for (const e of entries(t)) {
    expect(e.tasks.length).toBeLessThanOrEqual(e.historyCount);
    expect(e.stats.total).toBe(e.stats.success + e.stats.failure);
    expect(e.stats.failcount).toBeLessThanOrEqual(e.stats.failure);
    expect(t.nextId).toBeGreaterThan(e.id);
    expect(e.tasks.filter((x) => x.state === 'Running').every((x) => x.pid !== undefined)).toBe(true);
  }
}

describe('cron table property', () => {
  it('a table rebuilt from a snapshot at any seq equals the one-pass table; invariants hold at every step', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.nat(), (ops, cutRaw) => {
        const es = toEntries(ops);
        let state = initialTable();
        const prefix: CronTable[] = [state];
        for (const e of es) {
          state = applyEntry(state, e);
          checkInvariants(state);
          prefix.push(state);
        }
        const cut = es.length === 0 ? 0 : cutRaw % (es.length + 1);
        let resumed = cronProjection.load(JSON.parse(JSON.stringify(cronProjection.save(prefix[cut]!))));
        for (const e of es.slice(cut)) resumed = applyEntry(resumed, e);
        expect(resumed).toEqual(state);
      }),
      { numRuns: 300 },
    );
  });
});
