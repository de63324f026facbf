// RFC 26 dependencies: the URI form, the after* schemes' descriptions, and when each is met, waited on, or never met.
import { describe, it, expect } from 'vitest';
import { dependencyOf, afterOutcome, parseDependencyUri } from '../../src/core/jobs/dependency.js';
import { encodeFluid } from '../../src/core/jobs/fluid.js';
import { EINVAL } from '../../src/core/errors.js';
import {
  STATE_DEPEND, STATE_SCHED, STATE_RUN, STATE_CLEANUP, STATE_INACTIVE, RESULT_COMPLETED, RESULT_FAILED, RESULT_CANCELED,
  RESULT_TIMEOUT,
} from '../../src/core/jobs/state.js';

describe('dependency URIs', () => {
  it('splits scheme and value at the first colon, and makes the query keys of the object', () => {
    expect(parseDependencyUri('afterok:ƒ2a')).toEqual({ scheme: 'afterok', value: 'ƒ2a' });
    expect(parseDependencyUri('after:job.0000.0001.0000.0000?a=1&b=x%20y')).toEqual({ scheme: 'after', value: 'job.0000.0001.0000.0000', a: '1', b: 'x y' });
    expect(parseDependencyUri('begin-time:1:2')).toEqual({ scheme: 'begin-time', value: '1:2' });
  });

  it('refuses a URI with no scheme, and a query that would overwrite the scheme or value', () => {
    for (const bad of ['afterok', ':12', 'afterok:1?scheme=x', 'afterok:1?value=2']) {
      expect(() => parseDependencyUri(bad)).toThrow(expect.objectContaining({ errno: EINVAL }));
    }
  });
});

describe('after* dependencies', () => {
  it('names what each scheme waits for in its description, the job id in F58', () => {
    const id = 2 ** 40 + 5;
    const f58 = encodeFluid(id, 'f58');
    expect(dependencyOf({ scheme: 'after', value: String(id) })).toEqual({ kind: 'start', on: id, description: `after-start=${f58}` });
    expect(dependencyOf({ scheme: 'afterany', value: f58 }).description).toBe(`after-finish=${f58}`);
    expect(dependencyOf({ scheme: 'afterok', value: encodeFluid(id, 'dothex') }).description).toBe(`after-success=${f58}`);
    expect(dependencyOf({ scheme: 'afternotok', value: encodeFluid(id, 'words') }).description).toBe(`after-failure=${f58}`);
  });

  it('refuses a scheme it does not serve and a value that is no job id', () => {
    expect(() => dependencyOf({ scheme: 'beginning', value: '1' })).toThrow('dependency scheme "beginning" is not supported');
    expect(() => dependencyOf({ scheme: 'toString', value: '1' })).toThrow('is not supported');
    expect(() => dependencyOf({ scheme: 'afterok', value: 'bar' })).toThrow('"bar" is not a valid jobid');
    expect(() => dependencyOf({ scheme: 'afterok', value: '-1' })).toThrow('"-1" is not a valid jobid');
  });

  it('takes begin-time as a time, its description to the millisecond', () => {
    expect(dependencyOf({ scheme: 'begin-time', value: '1700000000.5' })).toEqual({ kind: 'begin', at: 1700000000.5, description: 'begin-time=1700000000.500' });
    for (const bad of ['', 'soon', '-5', 'Infinity']) expect(() => dependencyOf({ scheme: 'begin-time', value: bad }), bad).toThrow('is not a time');
  });

  it('is met, waited on or never met by where the job it names is', () => {
    const pending = { state: STATE_SCHED };
    const running = { state: STATE_RUN, t_run: 5 };
    const cleaning = { state: STATE_CLEANUP, t_run: 5 };
    const ended = (result: number, ran = true) => ({ state: STATE_INACTIVE, result, ...(ran ? { t_run: 5 } : {}) });
    const table: Array<[string, Parameters<typeof afterOutcome>[1], string, string, string, string]> = [
      // job                       start      finish     success    failure
      ['pending', pending, 'waiting', 'waiting', 'waiting', 'waiting'],
      ['in DEPEND', { state: STATE_DEPEND }, 'waiting', 'waiting', 'waiting', 'waiting'],
      ['running', running, 'met', 'waiting', 'waiting', 'waiting'],
      ['in CLEANUP', cleaning, 'met', 'waiting', 'waiting', 'waiting'],
      ['completed', ended(RESULT_COMPLETED), 'met', 'met', 'met', 'never'],
      ['failed', ended(RESULT_FAILED), 'met', 'met', 'never', 'met'],
      ['timed out', ended(RESULT_TIMEOUT), 'met', 'met', 'never', 'met'],
      ['canceled after it ran', ended(RESULT_CANCELED), 'met', 'met', 'never', 'met'],
      ['canceled before it ran', ended(RESULT_CANCELED, false), 'never', 'met', 'never', 'met'],
      ['not there', undefined, 'never', 'never', 'never', 'never'],
    ];
    for (const [what, job, start, finish, success, failure] of table) {
      expect([afterOutcome('start', job), afterOutcome('finish', job), afterOutcome('success', job), afterOutcome('failure', job)], what)
        .toEqual([start, finish, success, failure]);
    }
  });
});
