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

/**
 * a copy of `obj` with `value` at a period-delimited path, the objects on the way copied (made where missing or
 * not objects); a path through `__proto__` is left alone, as it names no member of a JSON object
 */
function withPath(obj: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined || head === '__proto__') return obj;
  const below = obj[head];
  const inner = typeof below === 'object' && below !== null && !Array.isArray(below) ? below as Record<string, unknown> : {};
  return { ...obj, [head]: rest.length === 0 ? value : withPath(inner, rest, value) };
}

/** a copy of the jobspec with the updates in it: each key a period-delimited path, as a jobspec-update's context */
export function updatedJobspec<T extends object = Jobspec>(js: T, u: Record<string, unknown>): T {
  let out = js as Record<string, unknown>;
  for (const [key, value] of Object.entries(u)) out = withPath(out, key.split('.'), value);
  return out as T;
}

/** a job's event, as much of it as the updates need */
interface Updating {
  name: string;
  context?: Record<string, unknown>;
}

/** the jobspec as it stands after the job's jobspec-update events, flux-core's "current" jobspec */
export function currentJobspec<T extends object>(js: T, events: readonly Updating[]): T {
  return events.reduce((out, e) => (e.name === 'jobspec-update' && e.context ? updatedJobspec(out, e.context) : out), js);
}

/** R as it stands after the job's resource-update events: the one key they carry is the expiration */
export function currentR<T extends object>(R: T, events: readonly Updating[]): T {
  return events.reduce((out, e) => {
    const expiration = e.name === 'resource-update' ? e.context?.expiration : undefined;
    return typeof expiration === 'number' ? withPath(out as Record<string, unknown>, ['execution', 'expiration'], expiration) as T : out;
  }, R);
}
