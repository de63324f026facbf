// flux update's changes to a job (flux-core's job-manager.update {id, updates}): jobspec keys and their new values,
// journaled as a `jobspec-update` event whose context is those keys. The ones served: the duration (seconds, 0 for
// none) and the name; of a running job only the duration, which moves its expiration (a `resource-update` event).
import { FluxError, EINVAL } from '../errors.js';
import type { Jobspec } from './jobspec.js';

export const DURATION_KEY = 'attributes.system.duration';
export const NAME_KEY = 'attributes.system.job.name';

export type JobUpdates = Partial<Record<typeof DURATION_KEY, number> & Record<typeof NAME_KEY, string>>;

/** what is wrong with the updates, if anything: each key must be one served, with a value of its kind */
export function updatesProblem(u: Record<string, unknown>): string | undefined {
  const keys = Object.keys(u);
  if (keys.length === 0) return 'no updates';
  for (const k of keys) {
    const v = u[k];
    if (k === DURATION_KEY) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return `${k}: the duration must be a number of seconds >= 0`;
    } else if (k === NAME_KEY) {
      if (typeof v !== 'string' || v.length === 0) return `${k}: the name must be a non-empty string`;
    } else {
      return `update of ${k} is not supported (duration and name are)`;
    }
  }
  return undefined;
}

/** the updates, checked */
export function checkUpdates(u: Record<string, unknown>): JobUpdates {
  const problem = updatesProblem(u);
  if (problem !== undefined) throw new FluxError(EINVAL, problem);
  return u as JobUpdates;
}

/** a copy of the jobspec with the updates in it */
export function updatedJobspec(js: Jobspec, u: JobUpdates): Jobspec {
  const system = { ...js.attributes.system };
  if (u[DURATION_KEY] !== undefined) system.duration = u[DURATION_KEY];
  if (u[NAME_KEY] !== undefined) system.job = { ...system.job, name: u[NAME_KEY] };
  return { ...js, attributes: { ...js.attributes, system } };
}
