// A job of the job table as flux-core's job-list answers it, and the order it lists jobs in: what job-list serves
// and what `flux replay --show jobs` prints from a stopped instance's journal.
import {
  RESULT_CANCELED, RESULT_COMPLETED, RESULT_FAILED, RESULT_TIMEOUT, STATE_CLEANUP, STATE_DEPEND, STATE_INACTIVE,
  STATE_PENDING, STATE_PRIORITY, STATE_RUN, STATE_RUNNING, STATE_SCHED,
} from '../core/jobs/state.js';
import { countCores, decodeR, nodelist, ranksOf } from '../core/resource/rset.js';
import { formatIdset } from '../core/resource/idset.js';
import { type JobRecord, type JobTable, allJobs } from './jobs.js';

interface Placement { ranks: string; nnodes: number; ncores: number; nodelist?: string }

// A job's R never changes once set, and the table's records share it from version to version, so what it says is
// worked out once per R: a listing of 1,000 jobs otherwise validated and decoded every R again.
const placements = new WeakMap<object, Placement>();

/** where a job ran, as its listing says it */
function placement(R: object): Placement {
  let p = placements.get(R);
  if (p === undefined) {
    const set = decodeR(R);
    const ranks = ranksOf(set);
    p = { ranks: formatIdset(ranks, true), nnodes: ranks.length, ncores: countCores(set) };
    const hosts = nodelist(set);
    if (hosts !== undefined) p.nodelist = hosts;
    placements.set(R, p);
  }
  return p;
}

/** a job as job-list answers it: flux-core's attribute names, a key left out while it has no value */
export function listing(j: JobRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: j.id, userid: j.userid, urgency: j.urgency, t_submit: j.t_submit, state: j.state, name: j.name,
    ntasks: j.ntasks, ncores: j.ncores, duration: j.duration,
  };
  if (j.priority !== undefined) out.priority = j.priority;
  for (const k of ['t_depend', 't_run', 't_cleanup', 't_inactive', 'cwd', 'queue', 'expiration', 'waitstatus'] as const) {
    if (j[k] !== undefined) out[k] = j[k];
  }
  if (j.nnodes > 0) out.nnodes = j.nnodes;
  if (j.dependencies !== undefined) out.dependencies = j.dependencies;
  if (j.R) Object.assign(out, placement(j.R));
  if (j.state === STATE_INACTIVE) {
    out.success = j.result === 1;
    out.result = j.result;
    out.exception_occurred = j.exception !== undefined;
    if (j.exception) {
      out.exception_type = j.exception.type;
      out.exception_severity = j.exception.severity;
      out.exception_note = j.exception.note;
    }
  }
  return out;
}

/** pending by priority then id, running newest first, inactive most recently ended first (flux-core's order) */
export function listOrder(a: JobRecord, b: JobRecord): number {
  const group = (j: JobRecord) => (j.state & STATE_PENDING ? 0 : j.state & STATE_RUNNING ? 1 : j.state === STATE_INACTIVE ? 2 : 0);
  const ga = group(a);
  const gb = group(b);
  if (ga !== gb) return ga - gb;
  if (ga === 0) return (b.priority ?? 0) - (a.priority ?? 0) || a.id - b.id;
  if (ga === 1) return (b.t_run ?? 0) - (a.t_run ?? 0) || b.id - a.id;
  return (b.t_inactive ?? 0) - (a.t_inactive ?? 0) || b.id - a.id;
}

/**
 * The table's counts as flux-core's job-list.job-stats answers them: jobs in each state (a job not yet validated
 * counts as depend), inactive ones by result, and those the table no longer holds (purged, or past its bound).
 */
export function jobStats(t: JobTable): Record<string, unknown> {
  const states = { depend: 0, priority: 0, sched: 0, run: 0, cleanup: 0, inactive: 0, total: 0 };
  const results = { successful: 0, failed: 0, timeout: 0, canceled: 0 };
  for (const j of allJobs(t)) {
    states.total++;
    if (j.state === STATE_INACTIVE) {
      states.inactive++;
      if (j.result === RESULT_COMPLETED) results.successful++;
      else if (j.result === RESULT_FAILED) results.failed++;
      else if (j.result === RESULT_TIMEOUT) results.timeout++;
      else if (j.result === RESULT_CANCELED) results.canceled++;
    } else if (j.state === STATE_PRIORITY) states.priority++;
    else if (j.state === STATE_SCHED) states.sched++;
    else if (j.state === STATE_RUN) states.run++;
    else if (j.state === STATE_CLEANUP) states.cleanup++;
    else if (j.state <= STATE_DEPEND) states.depend++;
  }
  return { job_states: states, ...results, inactive_purged: t.gone ?? 0, queues: [] };
}
