// RFC 26 job dependencies: the URI form `--dependency` takes, and the schemes the job manager serves: after*
// (on another job) and begin-time (on the clock). A job with dependencies waits in DEPEND, one `dependency-add`
// in its eventlog for each it waits on, until a `dependency-remove` has answered each; one that can never be met
// ends the job with a `dependency` exception.
import { FluxError, EINVAL } from '../errors.js';
import { encodeFluid, parseJobId } from './fluid.js';
import { RESULT_COMPLETED, STATE_INACTIVE } from './state.js';

/** RFC 26's JSON form: what the URI's scheme and value say, and its query's keys beside them */
export interface Dependency {
  scheme: string;
  value: string;
  [key: string]: unknown;
}

/** what of the other job an after* dependency waits for */
export type AfterKind = 'start' | 'finish' | 'success' | 'failure';

const AFTER: Record<string, AfterKind> = { after: 'start', afterany: 'finish', afterok: 'success', afternotok: 'failure' };

/** an after* dependency of a job on job `on` */
export interface After {
  kind: AfterKind;
  on: number;
  /** the text of its dependency-add and dependency-remove events, and of `flux jobs`' `depends:` */
  description: string;
}

/** a begin-time dependency: not before `at` (seconds since the epoch) */
export interface Begin {
  kind: 'begin';
  at: number;
  description: string;
}

export type Dep = After | Begin;

/** what the job manager needs of the job depended on */
export interface Antecedent {
  state: number;
  t_run?: number;
  result?: number;
}

export type Outcome = 'met' | 'waiting' | 'never';

/** `SCHEME:VALUE[?KEY=VAL[&KEY=VAL...]]` as RFC 26's object */
export function parseDependencyUri(uri: string): Dependency {
  const colon = uri.indexOf(':');
  if (colon <= 0) throw new FluxError(EINVAL, `Invalid dependency URI: ${uri}`);
  const scheme = uri.slice(0, colon);
  const rest = uri.slice(colon + 1);
  const q = rest.indexOf('?');
  const out: Dependency = { scheme, value: q < 0 ? rest : rest.slice(0, q) };
  if (q >= 0) {
    for (const pair of new URLSearchParams(rest.slice(q + 1))) {
      if (pair[0] === 'scheme' || pair[0] === 'value') throw new FluxError(EINVAL, `Invalid dependency URI: ${uri}`);
      out[pair[0]] = pair[1];
    }
  }
  return out;
}

/** a dependency as the job manager serves it; a scheme it does not know, or a value that is no job id (after*) or
 * no time (begin-time), is refused */
export function dependencyOf(d: Dependency): Dep {
  if (d.scheme === 'begin-time') {
    const at = Number(d.value);
    if (d.value.trim() === '' || !Number.isFinite(at) || at < 0) throw new FluxError(EINVAL, `begin-time: "${d.value}" is not a time`);
    return { kind: 'begin', at, description: `begin-time=${at.toFixed(3)}` };
  }
  const kind = Object.hasOwn(AFTER, d.scheme) ? AFTER[d.scheme] : undefined;
  if (kind === undefined) throw new FluxError(EINVAL, `dependency scheme "${d.scheme}" is not supported`);
  let on: number;
  try {
    on = parseJobId(d.value);
  } catch {
    throw new FluxError(EINVAL, `"${d.value}" is not a valid jobid`);
  }
  return { kind, on, description: `after-${kind}=${encodeFluid(on, 'f58')}` };
}

/** whether the dependency is met by where job `a` is now, may still be, or never can be (`a` unknown: never) */
export function afterOutcome(kind: AfterKind, a: Antecedent | undefined): Outcome {
  if (a === undefined) return 'never';
  const ended = a.state === STATE_INACTIVE;
  switch (kind) {
    case 'start':
      return a.t_run !== undefined ? 'met' : ended ? 'never' : 'waiting';
    case 'finish':
      return ended ? 'met' : 'waiting';
    case 'success':
      return !ended ? 'waiting' : a.result === RESULT_COMPLETED ? 'met' : 'never';
    case 'failure':
      return !ended ? 'waiting' : a.result === RESULT_COMPLETED ? 'never' : 'met';
  }
}
