// The job table against RFC 21: whatever job events the journal holds (in order or not, allowed or not), the table
// built entry by entry with snapshots saved and loaded on the way equals the one built in one pass, every job is
// always in exactly one of RFC 21's states, and its state only ever moves along an edge RFC 21 draws.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Entry } from '../../src/core/journal/entry.js';
import {
  STATE_NEW, STATE_DEPEND, STATE_PRIORITY, STATE_SCHED, STATE_RUN, STATE_CLEANUP, STATE_INACTIVE,
} from '../../src/core/jobs/state.js';
import { ENTRY_KVS } from '../../src/projections/kvs.js';
import { allJobs, jobOf, jobsProjection, type JobItem, type JobTable } from '../../src/projections/jobs.js';

const R = { version: 1, execution: { R_lite: [{ rank: '0', children: { core: '0-1' } }], starttime: 1, expiration: 0 } };
const NAMES = ['submit', 'validate', 'depend', 'priority', 'urgency', 'alloc', 'start', 'finish', 'release', 'free', 'clean',
  'exception', 'memo', 'flux-restart', 'invalidate', 'dependency-add', 'dependency-remove', 'bogus'];

/** the edges RFC 21 draws between states (a state may also stay where it is) */
const EDGES = new Set([
  `0>${STATE_NEW}`, `${STATE_NEW}>${STATE_DEPEND}`, `${STATE_NEW}>${STATE_INACTIVE}`, `${STATE_DEPEND}>${STATE_PRIORITY}`,
  `${STATE_PRIORITY}>${STATE_SCHED}`, `${STATE_SCHED}>${STATE_RUN}`, `${STATE_RUN}>${STATE_CLEANUP}`,
  `${STATE_CLEANUP}>${STATE_INACTIVE}`, `${STATE_DEPEND}>${STATE_CLEANUP}`, `${STATE_PRIORITY}>${STATE_CLEANUP}`,
  `${STATE_SCHED}>${STATE_CLEANUP}`, `${STATE_NEW}>${STATE_CLEANUP}`,
]);
const STATES = new Set([STATE_NEW, STATE_DEPEND, STATE_PRIORITY, STATE_SCHED, STATE_RUN, STATE_CLEANUP, STATE_INACTIVE]);

function item(id: number, name: string, t: number, sev: number): JobItem {
  const context: Record<string, unknown> | undefined = {
    submit: { userid: 1000, urgency: 16, flags: 0, version: 1 },
    priority: { priority: 16 },
    urgency: { userid: 1000, urgency: 3 },
    finish: { status: sev === 0 ? 0 : 256 },
    release: { ranks: 'all', final: true },
    'dependency-add': { description: `after-finish=ƒ${sev}` },
    'dependency-remove': { description: `after-finish=ƒ${sev}` },
    exception: { type: sev === 0 ? 'cancel' : 'test', severity: sev, userid: 1000, note: '' },
  }[name];
  const it: JobItem = { id, event: context === undefined ? { timestamp: t, name } : { timestamp: t, name, context } };
  if (name === 'submit') it.submit = { name: 'true', ntasks: 1, nnodes: 0, ncores: 1, duration: 0 };
  if (name === 'alloc') it.R = R;
  return it;
}

function entry(seq: number, items: JobItem[]): Entry {
  return {
    seq, prev: null, time: seq, topic: 'kvs.namespace-primary-setroot', userid: 0, rolemask: 1, flags: ENTRY_KVS,
    payload: { namespace: 'primary', rootseq: seq, rootref: 'sha256-00', names: [], keys: [], ops: [], jobs: items },
  };
}

/** events on a few jobs: mostly a job's life in order (so that jobs get far), with strays and repeats mixed in */
const items = fc.array(
  fc.record({
    id: fc.integer({ min: 1, max: 4 }),
    step: fc.integer({ min: 0, max: 12 }),
    stray: fc.boolean(),
    name: fc.constantFrom(...NAMES),
    sev: fc.constantFrom(0, 0, 3),
  }),
  { maxLength: 80 },
).map((raw) => {
  const life = ['submit', 'validate', 'dependency-add', 'dependency-remove', 'depend', 'priority', 'alloc', 'start', 'finish', 'release', 'free', 'clean'];
  const next = new Map<number, number>();
  return raw.map((r, i) => {
    const k = next.get(r.id) ?? 0;
    let name = r.name;
    if (!r.stray && k < life.length) {
      name = life[k]!;
      next.set(r.id, k + 1);
    }
    return item(r.id, name, 1000 + i, r.sev);
  });
});

/** a JSON round trip, as a snapshot stored and loaded again is */
const viaSnapshot = (t: JobTable): JobTable => jobsProjection.load(JSON.parse(JSON.stringify(jobsProjection.save(t))));

describe('job table projection', () => {
  it('entry by entry with snapshots on the way equals one pass, whatever the grouping of events into entries', () => {
    fc.assert(fc.property(items, fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }), fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }),
      (its, cuts, snaps) => {
        const onePass = jobsProjection.apply(jobsProjection.initial(), entry(1, its), '');
        let t = jobsProjection.initial();
        let group: JobItem[] = [];
        let seq = 1;
        its.forEach((it, i) => {
          group.push(it);
          if (cuts[i] || i === its.length - 1) {
            t = jobsProjection.apply(t, entry(seq++, group), '');
            group = [];
            if (snaps[i]) t = viaSnapshot(t);
          }
        });
        expect(JSON.parse(JSON.stringify(t))).toEqual(JSON.parse(JSON.stringify(onePass)));
      }), { numRuns: 200 });
  });

  it('every job is in exactly one RFC 21 state and moves only along RFC 21 edges', () => {
    fc.assert(fc.property(items, (its) => {
      let t = jobsProjection.initial();
      const seen = new Map<number, number>();
      its.forEach((it, i) => {
        t = jobsProjection.apply(t, entry(i + 1, [it]), '');
        for (const j of allJobs(t)) {
          expect(STATES.has(j.state)).toBe(true);
          const before = seen.get(j.id) ?? 0;
          if (before !== j.state) expect(EDGES.has(`${before}>${j.state}`), `${before}>${j.state} on ${it.event.name}`).toBe(true);
          seen.set(j.id, j.state);
        }
      });
      // a job that reached INACTIVE did so after giving its resources back, with a result
      for (const j of allJobs(t)) if (j.state === STATE_INACTIVE) expect(j.allocated === false && j.result !== undefined).toBe(true);
    }), { numRuns: 300 });
  });

  it('a job waits on the dependencies added in DEPEND and not yet removed, each once, and nothing else changes them', () => {
    fc.assert(fc.property(items, (its) => {
      let t = jobsProjection.initial();
      const waits = new Map<number, string[]>();
      its.forEach((it, i) => {
        const before = jobOf(t, it.id);
        t = jobsProjection.apply(t, entry(i + 1, [it]), '');
        const after = jobOf(t, it.id);
        const appliedHere = after !== undefined && after.events !== (before?.events ?? 0);
        const desc = it.event.context?.description as string;
        let want = waits.get(it.id) ?? [];
        if (appliedHere && it.event.name === 'dependency-add' && !want.includes(desc)) want = [...want, desc];
        if (appliedHere && it.event.name === 'dependency-remove') want = want.filter((d) => d !== desc);
        waits.set(it.id, want);
        if (after !== undefined) expect(after.dependencies ?? []).toEqual(want);
        // only a job in DEPEND takes them
        if (appliedHere && it.event.name.startsWith('dependency-')) expect(before!.state).toBe(STATE_DEPEND);
      });
    }), { numRuns: 300 });
  });
});
