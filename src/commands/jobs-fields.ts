// The fields `flux jobs -o` knows, with flux-core's headings and values, over a job as job-list answers it.
import { encodeFluid, type FluidEncoding } from '../core/jobs/fluid.js';
import {
  STATE_DEPEND, STATE_PRIORITY, STATE_SCHED, STATE_RUN, STATE_CLEANUP, STATE_INACTIVE, STATE_PENDING,
  RESULT_COMPLETED, RESULT_FAILED, RESULT_CANCELED, RESULT_TIMEOUT, resultName, stateName,
} from '../core/jobs/state.js';
import { exitCodeOf } from '../core/jobs/wait-status.js';
import type { Field } from '../core/format/output.js';
import type { JobListing } from '../api/jobs.js';
import { signalText } from './job-attach.js';

/** a job and what the listing needs beside it: the user names, and the time the listing is made at */
export interface JobRow {
  job: JobListing;
  username: (uid: number) => string;
  now: number;
}

export const DEFAULT_FORMAT =
  '{id.f58:>12} ?:{queue:<8.8} +:{username:<8.8} {name:<10.10+} {status_abbrev:>2.2} {ntasks:>6} {nnodes:>6h} {contextual_time!F:>8h} {contextual_info}';

const STATE_LETTER: Record<number, string> = {
  [STATE_DEPEND]: 'D', [STATE_PRIORITY]: 'P', [STATE_SCHED]: 'S', [STATE_RUN]: 'R', [STATE_CLEANUP]: 'C', [STATE_INACTIVE]: 'I', 1: 'N',
};
const RESULT_ABBREV: Record<number, string> = {
  [RESULT_COMPLETED]: 'CD', [RESULT_FAILED]: 'F', [RESULT_CANCELED]: 'CA', [RESULT_TIMEOUT]: 'TO',
};

export function runtime(j: JobListing, now: number): number {
  if (j.t_run === undefined || j.t_run === 0) return 0;
  return (j.t_cleanup ?? now) - j.t_run;
}

export const status = (j: JobListing): string => (j.state === STATE_INACTIVE ? resultName(j.result ?? 0) : stateName(j.state));

export function statusAbbrev(j: JobListing): string {
  return j.state === STATE_INACTIVE ? RESULT_ABBREV[j.result ?? 0] ?? '' : STATE_LETTER[j.state] ?? '';
}

/** the job's exit code (minus the signal if its shell was ended by one); '' while there is none */
export function returncode(j: JobListing): number | string {
  if (j.waitstatus !== undefined) {
    const sig = j.waitstatus & 0x7f;
    return sig !== 0 ? -sig : exitCodeOf(j.waitstatus);
  }
  if (j.result === RESULT_CANCELED) return -128;
  if (j.result === RESULT_FAILED) return 1;
  return '';
}

function contextualInfo(j: JobListing): string {
  if (j.state === STATE_PRIORITY) return 'priority-wait';
  if (j.state === STATE_DEPEND) return `depends:${(j.dependencies ?? []).join(',')}`;
  if (j.state === STATE_SCHED) return j.urgency === 0 ? 'held' : j.priority === 0 ? 'priority-hold' : '';
  return j.nodelist ?? '';
}

export function inactiveReason(j: JobListing): string {
  if (j.state !== STATE_INACTIVE) return '';
  if (j.result === RESULT_CANCELED) return j.exception_note ? `Canceled: ${j.exception_note}` : 'Canceled';
  if (j.result === RESULT_TIMEOUT) return 'Timeout';
  if (j.result === RESULT_COMPLETED) return 'Exit 0';
  if (j.exception_occurred && j.exception_severity === 0 && j.exception_type !== 'exec') {
    return `Exception: type=${j.exception_type}${j.exception_note ? ` note=${j.exception_note}` : ''}`;
  }
  const rc = j.waitstatus === undefined ? 1 : exitCodeOf(j.waitstatus);
  if (rc > 128) return signalText(rc - 128);
  if (rc === 126) return 'Command invoked cannot execute';
  if (rc === 127) return 'command not found';
  if (rc === 128) return 'Invalid argument to exit';
  return `Exit ${rc}`;
}

const f = (heading: string, get: (r: JobRow) => unknown, float = false): Field<JobRow> => ({ heading, get, float });
const of = (get: (j: JobListing) => unknown, heading: string, float = false) => f(heading, (r) => get(r.job), float);

const ID_ENCODINGS: FluidEncoding[] = ['dec', 'hex', 'f58', 'f58plain', 'dothex', 'words', 'kvs', 'emoji'];

export const JOB_FIELDS: Record<string, Field<JobRow>> = {
  id: of((j) => encodeFluid(j.id, 'f58'), 'JOBID'),
  ...Object.fromEntries(ID_ENCODINGS.map((e) => [`id.${e}`, of((j) => (e === 'dec' ? j.id : encodeFluid(j.id, e)), 'JOBID')])),
  userid: of((j) => j.userid, 'UID'),
  username: f('USER', (r) => r.username(r.job.userid)),
  urgency: of((j) => j.urgency, 'URG'),
  priority: of((j) => j.priority, 'PRI'),
  state: of((j) => stateName(j.state), 'STATE'),
  state_single: of((j) => STATE_LETTER[j.state] ?? '', 'S'),
  name: of((j) => j.name, 'NAME'),
  cwd: of((j) => j.cwd, 'CWD'),
  queue: of((j) => j.queue, 'QUEUE'),
  dependencies: of((j) => (j.dependencies ?? []).join(','), 'DEPENDENCIES'),
  ntasks: of((j) => j.ntasks, 'NTASKS'),
  ncores: of((j) => j.ncores, 'NCORES'),
  duration: of((j) => j.duration, 'DURATION', true),
  nnodes: of((j) => j.nnodes, 'NNODES'),
  ranks: of((j) => j.ranks, 'RANKS'),
  nodelist: of((j) => j.nodelist, 'NODELIST'),
  expiration: of((j) => j.expiration ?? 0, 'EXPIRATION', true),
  t_remaining: f('T_REMAINING', (r) => (r.job.state === STATE_RUN && r.job.expiration ? Math.max(0, r.job.expiration - r.now) : 0), true),
  success: of((j) => j.success, 'SUCCESS'),
  result: of((j) => (j.result === undefined ? '' : resultName(j.result)), 'RESULT'),
  result_abbrev: of((j) => (j.result === undefined ? '' : RESULT_ABBREV[j.result]), 'RS'),
  t_submit: of((j) => j.t_submit, 'T_SUBMIT', true),
  t_depend: of((j) => j.t_depend ?? 0, 'T_DEPEND', true),
  t_run: of((j) => j.t_run ?? 0, 'T_RUN', true),
  t_cleanup: of((j) => j.t_cleanup ?? 0, 'T_CLEANUP', true),
  t_inactive: of((j) => j.t_inactive ?? 0, 'T_INACTIVE', true),
  runtime: f('RUNTIME', (r) => runtime(r.job, r.now), true),
  status: of(status, 'STATUS'),
  status_abbrev: of(statusAbbrev, 'ST'),
  waitstatus: of((j) => j.waitstatus, 'WSTATUS'),
  returncode: of(returncode, 'RC'),
  'exception.occurred': of((j) => j.exception_occurred, 'EXCEPTION-OCCURRED'),
  'exception.severity': of((j) => j.exception_severity, 'EXCEPTION-SEVERITY'),
  'exception.type': of((j) => j.exception_type, 'EXCEPTION-TYPE'),
  'exception.note': of((j) => j.exception_note, 'EXCEPTION-NOTE'),
  contextual_info: of(contextualInfo, 'INFO'),
  contextual_time: f('TIME', (r) => (r.job.state & STATE_PENDING ? r.job.duration : runtime(r.job, r.now)), true),
  inactive_reason: of(inactiveReason, 'INACTIVE-REASON'),
};
