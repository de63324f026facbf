// The job client: submit, list, watch and act on jobs, as libflux's job functions do for flux-core's tools.
import { FluxError, EPROTO, ENOENT } from '../core/errors.js';
import { type Jobspec, encodeJ } from '../core/jobspec.js';
import { type JobEvent, jobKey, parseEventlog } from '../core/job-kvs.js';
import { URGENCY_DEFAULT } from '../core/job-state.js';
import type { Flux } from './handle.js';

/** kvs-watch lookup flags */
const WATCH = 4;
const WAITCREATE = 8;
const WATCH_APPEND = 256;

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
  /** the table as it was after this journal entry */
  seq?: number;
  /** the table as it was at this time (seconds since the epoch) */
  time?: number;
}

export interface WaitResult {
  id: number;
  success: boolean;
  errstr?: string;
}

export async function submit(h: Flux, jobspec: Jobspec, opts: { urgency?: number; flags?: number } = {}): Promise<number> {
  const r = await h.call('job-ingest.submit', { J: encodeJ(jobspec, h.userid), urgency: opts.urgency ?? URGENCY_DEFAULT, flags: opts.flags ?? 0 });
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
  if (opts.seq !== undefined) body.seq = opts.seq;
  if (opts.time !== undefined) body.time = opts.time;
  const r = await h.call('job-list.list', body);
  return { jobs: r.jobs as JobListing[], ...(typeof r.time === 'number' ? { time: r.time } : {}) };
}

export async function list(h: Flux, opts: ListOptions = {}): Promise<JobListing[]> {
  return (await listAt(h, opts)).jobs;
}

export async function info(h: Flux, id: number): Promise<JobListing> {
  return (await h.call('job-list.list-id', { id })).job as JobListing;
}

export async function raise(h: Flux, id: number, type: string, note = '', severity = 0): Promise<void> {
  await h.call('job-manager.raise', { id, severity, type, note });
}

export const cancel = (h: Flux, id: number, note = ''): Promise<void> => raise(h, id, 'cancel', note);

export async function kill(h: Flux, id: number, signum: number): Promise<void> {
  await h.call('job-manager.kill', { id, signum });
}

/** a pending job's urgency; resolves with the one it had */
export async function setUrgency(h: Flux, id: number, urgency: number): Promise<number> {
  return Number((await h.call('job-manager.urgency', { id, urgency })).old_urgency);
}

/** a waitable job's end (JOBID_ANY: the next waitable job to end) */
export async function wait(h: Flux, id: number = JOBID_ANY): Promise<WaitResult> {
  return (await h.call('job-manager.wait', { id })) as unknown as WaitResult;
}

/** stdin for a running job's tasks */
export async function writeStdin(h: Flux, id: number, data: Buffer | undefined, eof: boolean): Promise<void> {
  await h.call('job-exec.stdin', { id, ...(data !== undefined ? { data: data.toString('base64') } : {}), eof });
}

/** one of a job's KVS values (J, jobspec, R, eventlog, guest.output, …); ENOENT when the job has none */
export async function lookup(h: Flux, id: number, path: string): Promise<Buffer> {
  const r = await h.call('kvs.lookup', { namespace: 'primary', key: jobKey(id, path), flags: 0 });
  const v = r.val as { type?: string; data?: unknown };
  if (v?.type !== 'val' || typeof v.data !== 'string') throw new FluxError(EPROTO, `${path} is not a value`);
  return Buffer.from(v.data, 'base64');
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
  let held = Buffer.alloc(0);
  const stop = () => {
    if (ended) return;
    ended = true;
    if (tag !== undefined) h.send('kvs-watch.cancel', { matchtag: tag });
  };
  const done = h.stream('kvs-watch.lookup', { namespace: 'primary', key: jobKey(id, path), flags: WATCH | WAITCREATE | WATCH_APPEND }, {}, (m) => {
    tag = m.aux2;
    if (ended) return false;
    const v = (m.payload && m.payload.length > 0 ? JSON.parse(m.payload.toString('utf8', 0, m.payload.length - 1)) : {}) as { val?: { type?: string; data?: string } };
    if (v.val?.type !== 'val' || typeof v.val.data !== 'string') throw new FluxError(EPROTO, `${path}: unexpected watch answer`);
    // appends arrive whole, but nothing promises an entry never spans two of them
    const bytes = Buffer.concat([held, Buffer.from(v.val.data, 'base64')]);
    const end = bytes.lastIndexOf(0x0a) + 1;
    held = bytes.subarray(end);
    for (const e of parseEventlog(bytes.toString('utf8', 0, end))) {
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
