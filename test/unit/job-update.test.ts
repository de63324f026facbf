// flux update's changes by example: the keys served, each value's kind, the jobspec they make (a copy), and the
// jobspec and R a job's update events leave.
import { describe, it, expect } from 'vitest';
import { checkUpdates, currentJobspec, currentR, updatedJobspec } from '../../src/core/jobs/update.js';
import { buildJobspec } from '../../src/core/jobs/jobspec.js';

describe('job updates', () => {
  it('take a duration of 0 or more seconds and a name, and nothing else', () => {
    expect(checkUpdates({ 'attributes.system.duration': 0, 'attributes.system.job.name': 'n' })).toEqual({ 'attributes.system.duration': 0, 'attributes.system.job.name': 'n' });
    expect(() => checkUpdates({})).toThrow('no updates');
    expect(() => checkUpdates({ 'attributes.system.duration': -1 })).toThrow('the duration must be a number of seconds >= 0');
    expect(() => checkUpdates({ 'attributes.system.duration': '1h' })).toThrow('the duration must be a number of seconds >= 0');
    expect(() => checkUpdates({ 'attributes.system.job.name': '' })).toThrow('the name must be a non-empty string');
    expect(() => checkUpdates({ 'attributes.system.cwd': '/' })).toThrow('update of attributes.system.cwd is not supported');
  });

  it('make a new jobspec, the one given left as it was', () => {
    const js = buildJobspec({ command: ['true'], ntasks: 1, timeLimit: 60 });
    const before = JSON.stringify(js);
    const u = updatedJobspec(js, { 'attributes.system.duration': 120, 'attributes.system.job.name': 'x' });
    expect(u.attributes.system.duration).toBe(120);
    expect(u.attributes.system.job?.name).toBe('x');
    expect(u.tasks).toEqual(js.tasks);
    expect(JSON.stringify(js)).toBe(before);
  });

  it('fold a job\'s events into its jobspec and R, each kind into its own, paths made where missing', () => {
    const js = { attributes: { system: { duration: 60 } }, tasks: [1] };
    const R = { version: 1, execution: { starttime: 10, expiration: 70 } };
    const events = [
      { name: 'jobspec-update', context: { 'attributes.system.duration': 120, 'attributes.user.a.b': 1 } },
      { name: 'resource-update', context: { expiration: 130 } },
      { name: 'jobspec-update', context: { 'attributes.system.duration': 90 } },
      { name: 'exception', context: { type: 'cancel' } },
    ];
    expect(currentJobspec(js, events)).toEqual({ attributes: { system: { duration: 90 }, user: { a: { b: 1 } } }, tasks: [1] });
    expect(currentR(R, events)).toEqual({ version: 1, execution: { starttime: 10, expiration: 130 } });
    expect(js.attributes.system.duration).toBe(60);
    expect(R.execution.expiration).toBe(70);
    // an eventlog written into the KVS by hand cannot reach a prototype
    const odd = currentJobspec(js, [{ name: 'jobspec-update', context: { '__proto__.polluted': 1, 'attributes.__proto__.x': 2 } }]);
    expect(odd).toEqual(js);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
