// The job client: submit, list, watch and act on jobs, as libflux's job functions do for flux-core's tools.
import { FluxError, EINVAL, EPROTO, ENOENT } from '../core/errors.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { type Jobspec, type SubmitOptions, buildJobspec, encodeJ } from '../core/jobs/jobspec.js';
import { type JobEvent, LOOKUP_CURRENT, OutputStreams, parseEventlog } from '../core/jobs/kvs.js';
import { URGENCY_DEFAULT, resultOf } from '../core/jobs/state.js';
import type { Flux } from './handle.js';
import { iterate } from './iterate.js';

/** job-info.eventlog-watch: wait for an eventlog the job does not have yet */
const EVENTLOG_WAITCREATE = 1;

/** FLUX_JOBID_ANY: job-manager.wait's "whichever ends next" */
export const JOBID_ANY = 18446744073709551615;

/** a job as job-list answers it (flux-core's attribute names; keys absent while they have no value) */
export interface JobListing {
  id: number;
  userid: number;
  urgency: number;
  priority?: number;
  state: number;
  name: string;
  ntasks: number;
  ncores: number;
  nnodes?: number;
  duration: number;
  cwd?: string;
  queue?: string;
  t_submit: number;
  t_depend?: number;
  /** the dependencies a job in DEPEND waits on (RFC 26 descriptions such as `after-success=ƒ2Yp9zE3`) */
  dependencies?: string[];
  t_run?: number;
  t_cleanup?: number;
  t_inactive?: number;
  ranks?: string;
  nodelist?: string;
  expiration?: number;
  waitstatus?: number;
  success?: boolean;
  result?: number;
  exception_occurred?: boolean;
  exception_type?: string;
  exception_severity?: number;
  exception_note?: string;
}

export interface ListOptions {
  userid?: number;
  states?: number;
  results?: number;
  max?: number;
  /** active jobs, and inactive ones only if they became so after this time (seconds since the epoch) */
  since?: number;
  /** flux-core's job-list constraint: {"and"|"or"|"not": [...]} over userid, name, queue, states, results,
   *  hostlist, ranks and t_submit … t_inactive comparisons */
  constraint?: Record<string, unknown>;
  /** the table as it was after this journal entry */
  seq?: number;
  /** the table as it was at this time (seconds since the epoch) */
  time?: number;
  signal?: AbortSignal;
}

export interface WaitResult {
  id: number;
  success: boolean;
  errstr?: string;
}

export async function submit(h: Flux, jobspec: Jobspec, opts: { urgency?: number; flags?: number; signal?: AbortSignal } = {}): Promise<number> {
  const r = await h.call('job-ingest.submit', { J: encodeJ(jobspec, h.userid), urgency: opts.urgency ?? URGENCY_DEFAULT, flags: opts.flags ?? 0 }, { signal: opts.signal });
  if (typeof r.id !== 'number') throw new FluxError(EPROTO, 'job-ingest answered without an id');
  return r.id;
}

/** the jobs, and (with `seq`) the time of that journal entry, the moment the table is seen from */
export async function listAt(h: Flux, opts: ListOptions = {}): Promise<{ jobs: JobListing[]; time?: number }> {
  const body: Record<string, unknown> = {};
  if (opts.userid !== undefined) body.userid = opts.userid;
  if (opts.states !== undefined) body.states = opts.states;
  if (opts.results !== undefined) body.results = opts.results;
  if (opts.max !== undefined) body.max_entries = opts.max;
  if (opts.since !== undefined) body.since = opts.since;
  if (opts.constraint !== undefined) body.constraint = opts.constraint;
  if (opts.seq !== undefined) body.seq = opts.seq;
  if (opts.time !== undefined) body.time = opts.time;
  const r = await h.call('job-list.list', body, { signal: opts.signal });
  return { jobs: r.jobs as JobListing[], ...(typeof r.time === 'number' ? { time: r.time } : {}) };
}

export async function list(h: Flux, opts: ListOptions = {}): Promise<JobListing[]> {
  return (await listAt(h, opts)).jobs;
}

export async function info(h: Flux, id: number, opts: { signal?: AbortSignal } = {}): Promise<JobListing> {
  return (await h.call('job-list.list-id', { id }, opts)).job as JobListing;
}

export async function raise(h: Flux, id: number, type: string, note = '', severity = 0, opts: { signal?: AbortSignal } = {}): Promise<void> {
  await h.call('job-manager.raise', { id, severity, type, note }, opts);
}

export const cancel = (h: Flux, id: number, note = '', opts: { signal?: AbortSignal } = {}): Promise<void> =>
  raise(h, id, 'cancel', note, 0, opts);

export async function kill(h: Flux, id: number, signum: number): Promise<void> {
  await h.call('job-manager.kill', { id, signum });
}

/** a pending job's urgency; resolves with the one it had */
export async function setUrgency(h: Flux, id: number, urgency: number): Promise<number> {
  return Number((await h.call('job-manager.urgency', { id, urgency })).old_urgency);
}

/** a waitable job's end (JOBID_ANY: the next waitable job to end) */
export async function wait(h: Flux, id: number = JOBID_ANY, opts: { signal?: AbortSignal } = {}): Promise<WaitResult> {
  return (await h.call('job-manager.wait', { id }, opts)) as unknown as WaitResult;
}

/** stdin for a running job's tasks */
export async function writeStdin(h: Flux, id: number, data: Buffer | undefined, eof: boolean): Promise<void> {
  await h.call('job-exec.stdin', { id, ...(data !== undefined ? { data: data.toString('base64') } : {}), eof });
}

/**
 * one of a job's KVS values (J, jobspec, R, eventlog, guest.output, …), through job-info: a guest reads its own
 * job's only (EPERM otherwise); ENOENT when the job has none. current: a jobspec or R with what flux update changed
 * applied (the job's jobspec-update and resource-update events), as JSON text
 */
export async function lookup(h: Flux, id: number, path: string, options: { current?: boolean } = {}): Promise<Buffer> {
  const r = await h.call('job-info.lookup', { id, keys: [path], flags: options.current ? LOOKUP_CURRENT : 0 });
  const v = r[path];
  if (typeof v !== 'string') throw new FluxError(EPROTO, `job-info.lookup response has no ${path}`);
  return Buffer.from(v, 'utf8');
}

export interface EventlogWatch {
  /** resolves when the watch ends (cancel, or an error other than the end of the stream rejects) */
  done: Promise<void>;
  cancel(): void;
}

/**
 * Every entry of one of a job's eventlogs, as it is appended, from the first: `each` gets each entry; it may return
 * false to stop. The eventlog may not exist yet (the output eventlog is made when the job gets its resources).
 */
export function watchEventlog(h: Flux, id: number, path: string, each: (e: JobEvent) => boolean | void): EventlogWatch {
  let tag: number | undefined;
  let ended = false;
  const stop = () => {
    if (ended) return;
    ended = true;
    if (tag !== undefined) h.send('job-info.eventlog-watch-cancel', { matchtag: tag });
  };
  const done = h.stream('job-info.eventlog-watch', { id, path, flags: EVENTLOG_WAITCREATE }, {}, (m) => {
    tag = m.aux2;
    if (ended) return false;
    const body = (m.payload && m.payload.length > 0 ? JSON.parse(m.payload.toString('utf8', 0, m.payload.length - 1)) : {}) as { event?: unknown };
    if (typeof body.event !== 'string') throw new FluxError(EPROTO, `${path}: unexpected watch answer`);
    for (const e of parseEventlog(body.event)) {
      if (each(e) === false) {
        stop();
        return false;
      }
    }
    return true;
  }).catch((err: unknown) => {
    if (err instanceof FluxError && err.errno === ENOENT) throw new FluxError(ENOENT, 'No such job');
    throw err;
  });
  return { done, cancel: stop };
}

/** how a job ended, as flux-core's flux_job_result() tells it (its keys), gathered from the job's eventlog */
export interface JobResult {
  id: number;
  result: number;
  t_submit: number;
  t_run?: number;
  t_cleanup?: number;
  /** the tasks' wait status; absent when the job never ran to a finish */
  waitstatus?: number;
  exception_occurred: boolean;
  /** the most severe exception raised (the first of that severity) */
  exception_severity?: number;
  exception_type?: string;
  exception_note?: string;
}

/** waits for the job to end (its `clean` event) and says how it did; ENOENT for a job that is not there */
export async function result(h: Flux, id: number): Promise<JobResult> {
  const out: JobResult = { id, result: 0, t_submit: 0, exception_occurred: false };
  let fatal: { type: string; severity: number } | undefined;
  const w = watchEventlog(h, id, 'eventlog', (e) => {
    const ctx = e.context ?? {};
    if (e.name === 'submit') out.t_submit = e.timestamp;
    else if (e.name === 'alloc') out.t_run = e.timestamp;
    else if (e.name === 'finish' && typeof ctx.status === 'number') out.waitstatus = ctx.status;
    else if (e.name === 'exception' && typeof ctx.severity === 'number' && typeof ctx.type === 'string') {
      if (out.t_cleanup === undefined && ctx.severity === 0) out.t_cleanup = e.timestamp;
      if (!out.exception_occurred || ctx.severity < out.exception_severity!) {
        Object.assign(out, { exception_occurred: true, exception_severity: ctx.severity, exception_type: ctx.type, exception_note: typeof ctx.note === 'string' ? ctx.note : '' });
        if (ctx.severity === 0) fatal = { type: ctx.type, severity: 0 };
      }
    }
    if (e.name === 'finish' && out.t_cleanup === undefined) out.t_cleanup = e.timestamp;
    return e.name !== 'clean';
  });
  await w.done;
  out.result = resultOf(fatal, out.waitstatus);
  return out;
}

/**
 * The URI of the Flux instance a job runs (flux batch, flux alloc, flux run flux start): the `uri` memo its rank 0
 * posts once it is up. ENOENT for no such job; EINVAL when the job is not running one, or not any more.
 */
export async function jobUri(h: Flux, id: number): Promise<string> {
  let uri: string | undefined;
  let ended = false;
  const f58 = encodeFluid(id, 'f58');
  const log = await lookup(h, id, 'eventlog').catch((err: unknown) => {
    throw err instanceof FluxError && err.errno === ENOENT ? new FluxError(ENOENT, `job ${f58} not found`) : err;
  });
  for (const e of parseEventlog(log.toString('utf8'))) {
    if (e.name === 'memo' && typeof e.context?.uri === 'string') uri = e.context.uri;
    if (e.name === 'finish' || e.name === 'clean') ended = true;
  }
  if (ended) throw new FluxError(EINVAL, `job ${f58} is not running`);
  if (uri === undefined) throw new FluxError(EINVAL, `job ${f58} does not have a URI (it runs no Flux instance, or not yet)`);
  return uri;
}

/** the caller's jobs, newest first: `slice` (a Python slice, "[:1]" by default) of them */
export async function last(h: Flux, slice = '[:1]'): Promise<number[]> {
  const r = await h.call('job-manager.history.get', { slice });
  if (!Array.isArray(r.jobs)) throw new FluxError(EPROTO, 'job-manager.history.get response has no jobs');
  return r.jobs as number[];
}

/** change a pending job's jobspec: `updates` maps keys (attributes.system.duration, attributes.system.job.name) to
 *  their new values; journaled as the job's jobspec-update event */
export async function update(h: Flux, id: number, updates: Record<string, unknown>, opts: { signal?: AbortSignal } = {}): Promise<void> {
  await h.call('job-manager.update', { id, updates }, opts);
}

/** the instance's job counts as job-list keeps them (flux-core's job-list.job-stats: job_states, results, inactive_purged) */
export async function stats(h: Flux, opts: { signal?: AbortSignal } = {}): Promise<Record<string, unknown>> {
  return h.call('job-list.job-stats', {}, opts);
}

/** which inactive jobs `purge` takes: older than `ageLimit` seconds, beyond the `numLimit` newest (either; a limit
 *  left out is none), at most `batch` in one request */
export interface PurgeLimits {
  ageLimit?: number;
  numLimit?: number;
  batch?: number;
}

/** inactive jobs out of the job table and the KVS (owner only), batch by batch; how many went (or would, without `force`) */
export async function purge(h: Flux, limits: PurgeLimits, force: boolean): Promise<number> {
  const batch = limits.batch ?? 50;
  const body = { age_limit: limits.ageLimit ?? -1, num_limit: limits.numLimit ?? -1, batch, force: force ? 1 : 0 };
  let total = 0;
  for (;;) {
    const count = (await h.call('job-manager.purge', body)).count as number;
    total += count;
    if (!force || count < batch) return total;
  }
}

/** these inactive jobs out of the job table and the KVS (owner only); ENOENT or EINVAL if one is not there or active */
export async function purgeIds(h: Flux, ids: number[], force: boolean): Promise<number> {
  return (await h.call('job-manager.purge-id', { ids, force: force ? 1 : 0 })).count as number;
}

/** what `jobs.submit` takes: flux submit's options, or a jobspec made elsewhere */
export type JobRequest = (SubmitOptions | { jobspec: Jobspec }) & { urgency?: number; flags?: number; signal?: AbortSignal };

/** a piece of a job's output, as its shells put it in the output eventlog */
export interface JobOutput {
  stream: 'stdout' | 'stderr';
  rank: string;
  data: Buffer;
}

/** Jobs of the instance (flux_job_submit, flux_job_wait, flux_job_list…), bound to a handle. */
export class Jobs {
  constructor(private readonly h: Flux) {}

  /**
   * Submit a job: `{ command: ['hostname'], ntasks: 2 }` (flux submit's options; the job runs in this process's
   * working directory and environment unless told otherwise) or `{ jobspec }`. Its id.
   */
  submit(req: JobRequest): Promise<number> {
    const spec = 'jobspec' in req ? req.jobspec
      : buildJobspec({ cwd: process.cwd(), environment: envOf(process.env), ...req });
    return submit(this.h, spec, { urgency: req.urgency, flags: req.flags, signal: req.signal });
  }

  /** the end of a waitable job (submitted with flags: SUBMIT_WAITABLE), or of the next one to end */
  wait(id: number = JOBID_ANY, opts: { signal?: AbortSignal } = {}): Promise<WaitResult> {
    return wait(this.h, id, opts);
  }

  list(opts: ListOptions = {}): Promise<JobListing[]> {
    return list(this.h, opts);
  }

  /** how the job ended, once it has (`flux job status`) */
  result(id: number): Promise<JobResult> {
    return result(this.h, id);
  }

  /** the ids of the caller's jobs, newest first, a Python slice of them (`flux job last`) */
  last(slice = '[:1]'): Promise<number[]> {
    return last(this.h, slice);
  }

  info(id: number, opts: { signal?: AbortSignal } = {}): Promise<JobListing> {
    return info(this.h, id, opts);
  }

  cancel(id: number, note = '', opts: { signal?: AbortSignal } = {}): Promise<void> {
    return cancel(this.h, id, note, opts);
  }

  /** the entries of one of the job's eventlogs ('eventlog', 'guest.exec.eventlog', 'guest.output'), as appended */
  eventlog(id: number, path = 'eventlog', opts: { signal?: AbortSignal } = {}): AsyncIterableIterator<JobEvent> {
    return iterate<JobEvent>(({ push, end }) => {
      const w = watchEventlog(this.h, id, path, (e) => {
        push(e);
      });
      w.done.then(() => end(), end);
      return () => w.cancel();
    }, { signal: opts.signal, closed: () => this.h.isClosed });
  }

  /**
   * The job's output as its tasks write it, until every stream has ended (or, for a job that never ran, until it
   * is cleaned up).
   */
  attach(id: number, opts: { signal?: AbortSignal } = {}): AsyncIterableIterator<JobOutput> {
    return iterate<JobOutput>(({ push, end }) => {
      const streams = new OutputStreams();
      let allocated = false;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        output.cancel();
        events.cancel();
        end();
      };
      const output = watchEventlog(this.h, id, 'guest.output', (e) => {
        const c = e.context ?? {};
        if (e.name === 'data' && typeof c.data === 'string') {
          const data = c.encoding === 'base64' ? Buffer.from(c.data, 'base64') : Buffer.from(c.data, 'utf8');
          push({ stream: c.stream === 'stderr' ? 'stderr' : 'stdout', rank: String(c.rank), data });
        }
        if (streams.take(e)) finish();
      });
      const events = watchEventlog(this.h, id, 'eventlog', (e) => {
        if (e.name === 'alloc') allocated = true;
        if (e.name === 'clean' && !allocated) finish();
      });
      output.done.catch((err: unknown) => (finished ? undefined : end(err)));
      events.done.catch((err: unknown) => (finished ? undefined : end(err)));
      return () => {
        finished = true;
        output.cancel();
        events.cancel();
      };
    }, { signal: opts.signal, closed: () => this.h.isClosed });
  }
}

function envOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}
