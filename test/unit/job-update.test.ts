// flux update's changes by example: the keys served, each value's kind, and the jobspec they make (a copy).
import { describe, it, expect } from 'vitest';
import { checkUpdates, updatedJobspec } from '../../src/core/jobs/update.js';
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
});
