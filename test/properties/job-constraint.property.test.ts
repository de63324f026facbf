// job-list's constraints over random job tables: "and", "or" and "not" are the intersection, union and
// complement of what their parts select; the request fields flux-ts's own clients send (userid, states, results)
// select what flux-core's clients' constraint for the same listing selects; a comparison of a timestamp selects the
// jobs an explicit filter does.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { compileConstraint } from '../../src/projections/job-constraint.js';
import type { JobRecord } from '../../src/projections/jobs.js';
import { STATE_DEPEND, STATE_INACTIVE, STATE_RUN, STATE_SCHED } from '../../src/core/jobs/state.js';

const job: fc.Arbitrary<JobRecord> = fc.record({
  id: fc.nat(1000),
  userid: fc.constantFrom(0, 5, 1000),
  state: fc.constantFrom(STATE_DEPEND, STATE_SCHED, STATE_RUN, STATE_INACTIVE),
  result: fc.constantFrom(1, 2, 4, 8),
  name: fc.constantFrom('a', 'b', 'sleep'),
  t_submit: fc.integer({ min: 100, max: 200 }),
  t_inactive: fc.option(fc.integer({ min: 100, max: 200 }), { nil: undefined }),
}).map((r) => ({
  ...r, urgency: 16, flags: 0, allocated: false, events: 1, ntasks: 1, nnodes: 0, ncores: 1, duration: 0,
  result: r.state === STATE_INACTIVE ? r.result : undefined,
  t_inactive: r.state === STATE_INACTIVE ? r.t_inactive ?? 150 : undefined,
}));

/** ids are the jobs' positions, so that each is one job */
const table = fc.array(job, { maxLength: 12 }).map((js) => js.map((j, id) => ({ ...j, id })));

const leaf: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ userid: fc.array(fc.constantFrom(0, 5, 1000, 7), { maxLength: 2 }) }),
  fc.record({ name: fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 2 }) }),
  fc.record({ states: fc.array(fc.constantFrom(2, 8, 16, 64, 6, 'pending', 'run', 'inactive'), { maxLength: 2 }) }),
  fc.record({ results: fc.array(fc.constantFrom(1, 2, 'failed', 'timeout'), { maxLength: 2 }) }),
  fc.record({ t_submit: fc.array(fc.tuple(fc.constantFrom('<', '<=', '>', '>='), fc.integer({ min: 90, max: 210 })).map(([o, t]) => `${o}${t}`), { maxLength: 2 }) }),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.record({ and: fc.array(tie('tree'), { maxLength: 3 }) }),
    fc.record({ or: fc.array(tie('tree'), { maxLength: 3 }) }), fc.record({ not: fc.array(tie('tree'), { maxLength: 2 }) })),
}));

const pick = (c: unknown, jobs: JobRecord[]) => jobs.filter(compileConstraint(c)).map((j) => j.id);

describe('job-list constraints', () => {
  it('combine as sets: and intersects, or unites, not complements', () => {
    fc.assert(fc.property(table, tree, tree, (jobs, a, b) => {
      const ids = jobs.map((j) => j.id);
      const A = new Set(pick(a, jobs));
      const B = new Set(pick(b, jobs));
      expect(pick({ and: [a, b] }, jobs)).toEqual(ids.filter((i) => A.has(i) && B.has(i)));
      expect(pick({ or: [a, b] }, jobs)).toEqual(ids.filter((i) => A.has(i) || B.has(i)));
      expect(pick({ not: [a] }, jobs)).toEqual(jobs.filter((j) => !compileConstraint(a)(j)).map((j) => j.id));
      expect(pick({ and: [] }, jobs)).toEqual(ids);
    }), { numRuns: 200 });
  });

  it('select for flux-core\'s listing constraint what the plain fields select', () => {
    const masks = fc.record({ userid: fc.constantFrom(0, 5, 1000), states: fc.constantFrom(0, 2, 8, 24, 64, 126), results: fc.constantFrom(0, 1, 2, 6) });
    fc.assert(fc.property(table, masks, (jobs, { userid, states, results }) => {
      const and: unknown[] = [{ userid: [userid] }];
      if (states && results) and.push({ or: [{ states: [states] }, { results: [results] }] });
      else if (states) and.push({ states: [states] });
      else if (results) and.push({ results: [results] });
      const plain = jobs.filter((j) => j.userid === userid && (states === 0 && results === 0
        || (j.state & states) !== 0 || (j.state === STATE_INACTIVE && ((j.result ?? 0) & results) !== 0)));
      expect(pick({ and }, jobs)).toEqual(plain.map((j) => j.id));
    }), { numRuns: 200 });
  });

  it('compare a timestamp as the operator says, a job without it matching none', () => {
    fc.assert(fc.property(table, fc.integer({ min: 90, max: 210 }), (jobs, t) => {
      expect(pick({ t_inactive: [`>=${t}`] }, jobs)).toEqual(jobs.filter((j) => j.t_inactive !== undefined && j.t_inactive >= t).map((j) => j.id));
      expect(pick({ t_inactive: [`< ${t}`] }, jobs)).toEqual(jobs.filter((j) => j.t_inactive !== undefined && j.t_inactive < t).map((j) => j.id));
    }), { numRuns: 100 });
  });
});
