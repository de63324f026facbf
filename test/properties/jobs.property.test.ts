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
import { PURGE, allJobs, jobOf, jobsProjection, type JobItem, type JobTable } from '../../src/projections/jobs.js';

const R = { version: 1, execution: { R_lite: [{ rank: '0', children: { core: '0-1' } }], starttime: 1, expiration: 0 } };
const NAMES = ['submit', 'validate', 'depend', 'priority', 'urgency', 'alloc', 'start', 'finish', 'release', 'free', 'clean',
  'exception', 'memo', 'flux-restart', 'invalidate', 'dependency-add', 'dependency-remove', 'bogus', PURGE, PURGE, 'jobspec-update', 'resource-update'];

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
    'resource-update': { expiration: sev === 0 ? 0 : 5000 },
    'jobspec-update': sev === 0 ? { 'attributes.system.duration': 60, 'attributes.system.job.name': 'updated' } : { 'attributes.system.queue': 'q' },
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
        const before = t;
        t = jobsProjection.apply(t, entry(i + 1, [it]), '');
        // a purge takes out an inactive job, and nothing else: every other record is the one before
        if (it.event.name === PURGE) {
          const was = jobOf(before, it.id);
          if (was?.state === STATE_INACTIVE) {
            expect(jobOf(t, it.id)).toBeUndefined();
            seen.delete(it.id);
          } else {
            expect(t).toEqual(before);
          }
          expect(allJobs(t)).toEqual(allJobs(before).filter((j) => j.id !== it.id || j.state !== STATE_INACTIVE));
        }
        // the pages of inactive jobs hold exactly the inactive jobs of the table, each once
        expect(t.inactive.flat().sort()).toEqual(allJobs(t).filter((j) => j.state === STATE_INACTIVE).map((j) => j.id).sort());
        expect(t.inactive.every((page) => page.length > 0)).toBe(true);
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

  it('a purge takes an inactive job out of the table and its pages, leaving every table before it as it was', () => {
    const life = ['submit', 'validate', 'depend', 'priority', 'alloc', 'start', 'finish', 'release', 'free', 'clean'];
    const step = fc.oneof(
      fc.record({ kind: fc.constant('run' as const), ends: fc.boolean() }),
      fc.record({ kind: fc.constant('purge' as const), pick: fc.nat(20), thenEnds: fc.boolean() }),
    );
    // more inactive jobs than a page holds, so that a purge leaves the newest page alone
    const BASE = 300;
    let base = jobsProjection.initial();
    for (let id = 1; id <= BASE; id++) base = jobsProjection.apply(base, entry(id, life.map((n, k) => item(id, n, 500 + id + k / 100, 0))), '');
    fc.assert(fc.property(fc.array(step, { maxLength: 30 }), fc.boolean(), (steps, fromBase) => {
      let t = fromBase ? base : jobsProjection.initial();
      let next = fromBase ? BASE + 1 : 1;
      const history: Array<[JobTable, string]> = [[t, JSON.stringify(t.inactive)]];
      steps.forEach((s, i) => {
        const before = t;
        if (s.kind === 'run') {
          const id = next++;
          const names = s.ends ? life : life.slice(0, 6);
          t = jobsProjection.apply(t, entry(i + 1, names.map((n, k) => item(id, n, 1000 + i + k / 100, 0))), '');
        } else {
          // a job that is there (inactive or not) or one that never was
          // one not yet submitted, one of the oldest (in the first page), or one of the newest
          const id = s.pick % 3 === 0 ? next : s.pick % 3 === 1 ? 1 + s.pick : Math.max(1, next - 1 - (s.pick % Math.min(next, 12)));
          const was = jobOf(before, id);
          // and in the same entry, maybe, another job's whole life: it retires into the pages after the purge
          const fresh = s.thenEnds && id !== next ? next++ : undefined;
          const rest = fresh === undefined ? [] : life.map((n, k) => item(fresh, n, 2000 + i + k / 100, 0));
          t = jobsProjection.apply(t, entry(i + 1, [item(id, PURGE, 2000 + i, 0), ...rest]), '');
          expect(jobOf(t, id)).toEqual(was?.state === STATE_INACTIVE ? undefined : was);
          // the table counts what it no longer holds
          expect(t.gone ?? 0).toBe((before.gone ?? 0) + (was?.state === STATE_INACTIVE ? 1 : 0));
          expect(allJobs(t).filter((j) => j.id !== fresh)).toEqual(allJobs(before).filter((j) => j.id !== id || j.state !== STATE_INACTIVE));
        }
        expect(t.inactive.flat().sort()).toEqual(allJobs(t).filter((j) => j.state === STATE_INACTIVE).map((j) => j.id).sort());
        expect(t.inactive.every((page) => page.length > 0)).toBe(true);
        // copy on write: no later entry changed the pages of a table already made
        for (const [old, text] of history) expect(JSON.stringify(old.inactive)).toBe(text);
        history.push([t, JSON.stringify(t.inactive)]);
      });
    }), { numRuns: 100 });
  });

  it('a job waits on the dependencies added in DEPEND and not yet removed, each once, and nothing else changes them', () => {
    fc.assert(fc.property(items, (its) => {
      let t = jobsProjection.initial();
      const waits = new Map<number, string[]>();
      its.forEach((it, i) => {
        const before = jobOf(t, it.id);
        t = jobsProjection.apply(t, entry(i + 1, [it]), '');
        const after = jobOf(t, it.id);
        if (it.event.name === PURGE && after === undefined) waits.delete(it.id);
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
