// job-list constraints by example: each attribute, the placement ones read from R, and the errors a malformed
// constraint gets before any job is looked at.
import { describe, it, expect } from 'vitest';
import { compileConstraint } from '../../src/projections/job-constraint.js';
import type { JobRecord } from '../../src/projections/jobs.js';
import { STATE_INACTIVE, STATE_RUN, STATE_SCHED } from '../../src/core/jobs/state.js';

const job = (id: number, state: number, more: Partial<JobRecord> = {}): JobRecord => ({
  id, userid: 5, urgency: 16, state, flags: 0, t_submit: 1, allocated: false, events: 1,
  name: 'j', ntasks: 1, nnodes: 0, ncores: 1, duration: 0, ...more,
});
const R = (ranks: string, hosts: string) => ({
  version: 1, execution: { R_lite: [{ rank: ranks, children: { core: '0' } }], nodelist: [hosts], starttime: 1, expiration: 0 },
}) as unknown as JobRecord['R'];

const jobs = [
  job(1, STATE_SCHED, { name: 'sleep', queue: 'batch' }),
  job(2, STATE_RUN, { userid: 6, R: R('0-1', 'node[0-1]') }),
  job(3, STATE_INACTIVE, { result: 2, t_inactive: 50, R: R('2', 'node2') }),
  job(4, STATE_INACTIVE, { result: 1, t_inactive: 60, name: 'sleep' }),
];
const ids = (c: unknown) => jobs.filter(compileConstraint(c)).map((j) => j.id);

describe('compileConstraint', () => {
  it('matches each attribute against any of its values', () => {
    expect(ids({ userid: [6, 9] })).toEqual([2]);
    expect(ids({ name: ['sleep'] })).toEqual([1, 4]);
    expect(ids({ queue: ['batch', 'debug'] })).toEqual([1]);
    expect(ids({ states: ['pending', 'run'] })).toEqual([1, 2]);
    expect(ids({ results: ['FAILED'] })).toEqual([3]);
    expect(ids({ results: [1] })).toEqual([4]);
    expect(ids({ ranks: ['1,7'] })).toEqual([2]);
    expect(ids({ hostlist: ['node[2-3]'] })).toEqual([3]);
    expect(ids({ t_inactive: ['>55'] })).toEqual([4]);
    expect(ids({ and: [{ name: ['sleep'] }, { not: [{ states: ['inactive'] }] }] })).toEqual([1]);
    expect(ids({ or: [] })).toEqual([]);
  });

  it('refuses what it cannot read, naming it', () => {
    expect(() => compileConstraint({ bogus: [] })).toThrow('unknown constraint operator: bogus');
    expect(() => compileConstraint({ name: ['a'], userid: [1] })).toThrow('exactly one operator');
    expect(() => compileConstraint({ userid: 5 })).toThrow('userid: values must be an array');
    expect(() => compileConstraint({ userid: ['root'] })).toThrow('userid: "root" is not an integer');
    expect(() => compileConstraint({ states: ['asleep'] })).toThrow('states: invalid value "asleep"');
    expect(() => compileConstraint({ t_run: ['=5'] })).toThrow("t_run: invalid comparison '=5'");
    expect(() => compileConstraint({ and: [{ or: [7] }] })).toThrow('a constraint must be an object');
    expect(() => compileConstraint([])).toThrow('a constraint must be an object');
    let deep: unknown = { name: ['j'] };
    for (let i = 0; i < 64; i++) deep = { and: [deep] };
    expect(ids(deep)).toEqual([2, 3]);
    expect(() => compileConstraint({ not: [deep] })).toThrow('a constraint may nest at most 64 deep');
  });
});
