// The job table: every job's state, times, resources and outcome, built from the job events in the journal. A
// job event rides in the same entry as the KVS commit that appends it to the job's eventlog (job.<dothex>.eventlog,
// RFC 16/18): the primary namespace's setroot entry carries the events of the commit in `jobs`, so the table and the
// eventlogs flux-core's tools read agree at every journal position, and replaying the journal to seq N gives the
// table as it was then (`flux jobs --at-seq N`).
//
// An item of `jobs`: {id, event: {timestamp, name, context?}, submit?: JobSummary, R?: <RFC 20 R>, ntasks?}
//   submit carries what the table shows of the jobspec (the jobspec itself is in the KVS); alloc carries R, and
//   the tasks the job runs on it (a request per core or per node has its count only once it has its resources).
//
// States move as RFC 21 says and only so: an event that is not allowed in the job's state changes nothing (the
// same way on every broker), so a job is always in exactly one state and never skips one.
import type { Entry } from '../core/journal/entry.js';
import type { JobEvent } from '../core/jobs/kvs.js';
import { DURATION_KEY, NAME_KEY, type JobUpdates, updatesProblem } from '../core/jobs/update.js';
import { FluxError, EPROTO } from '../core/errors.js';
import {
  STATE_NEW, STATE_DEPEND, STATE_PRIORITY, STATE_SCHED, STATE_RUN, STATE_CLEANUP, STATE_INACTIVE, STATE_ACTIVE,
  resultOf,
} from '../core/jobs/state.js';
import { isKvsEntry, PRIMARY } from './kvs.js';
import type { Projection } from './projection.js';

export type { JobEvent };
export const JOBTABLE = 'jobs';
/** not an event of the job's eventlog: the item that takes an inactive job out of the table, with its KVS directory */
export const PURGE = 'purge';
/** inactive jobs the table keeps (the oldest go first); their eventlogs stay in the KVS until purged */
export const INACTIVE_MAX = 10_000;
/** inactive jobs are kept in pages of this many, so that dropping the oldest copies a short list */
const PAGE = 256;
/** jobs spread over FANOUT groups of FANOUT shards: an update copies the objects on the way to a job, so each stays small */
const FANOUT = 64;

/** what the table holds of a job's jobspec, from its submission */
export interface JobSummary {
  name: string;
  ntasks: number;
  /** nodes asked for; 0 when the request names none */
  nnodes: number;
  /** cores asked for */
  ncores: number;
  /** seconds; 0 = unlimited */
  duration: number;
  cwd?: string;
  queue?: string;
}

export interface JobItem {
  id: number;
  event: JobEvent;
  submit?: JobSummary;
  R?: JobR;
  ntasks?: number;
}

/** the parts of RFC 20 R the table reads */
export interface JobR {
  version: number;
  execution: {
    R_lite: Array<{ rank: string; children: Record<string, string> }>;
    nodelist?: string[];
    starttime?: number;
    expiration?: number;
  };
}

export interface JobException {
  type: string;
  severity: number;
  note: string;
  userid?: number;
}

export interface JobRecord extends JobSummary {
  id: number;
  userid: number;
  urgency: number;
  /** set by the priority event */
  priority?: number;
  state: number;
  flags: number;
  t_submit: number;
  t_depend?: number;
  t_sched?: number;
  t_run?: number;
  t_cleanup?: number;
  t_inactive?: number;
  /** from the alloc event on */
  R?: JobR;
  /** resources are held from alloc until free */
  allocated: boolean;
  expiration?: number;
  /** the finish event's wait status */
  waitstatus?: number;
  /** the first fatal exception, or else the latest one */
  exception?: JobException;
  result?: number;
  /** events applied, the eventlog's length */
  events: number;
  /** the dependencies it waits on (RFC 26 descriptions), from dependency-add until dependency-remove */
  dependencies?: string[];
}

export interface JobTable {
  /** group -> shard -> id -> record */
  shards: Record<string, Record<string, Record<string, JobRecord>>>;
  /** the highest id ever submitted: new ids start above it after a restart */
  maxId: number;
  /** ids of inactive jobs in the order they became inactive, in pages of PAGE */
  inactive: number[][];
  /** inactive jobs the table no longer holds: purged, or gone past INACTIVE_MAX (absent: none) */
  gone?: number;
  /**
   * ids of the jobs gone past INACTIVE_MAX whose KVS directories have not been purged, oldest first, in the pages
   * they left in: what flux job purge can still reach of them (absent: none)
   */
  dropped?: number[][];
}

/** a job's group and shard: its id's milliseconds plus its sequence, which spreads the jobs of one millisecond too */
function placeOf(id: number): [string, string] {
  const h = Math.floor(id / 2 ** 24) + (id % 1024);
  return [String(h % FANOUT), String(Math.floor(h / FANOUT) % FANOUT)];
}

export function jobOf(t: JobTable, id: number): JobRecord | undefined {
  const [g, s] = placeOf(id);
  const shard = t.shards[g]?.[s];
  return shard !== undefined && Object.hasOwn(shard, String(id)) ? shard[String(id)] : undefined;
}

export function allJobs(t: JobTable): JobRecord[] {
  const out: JobRecord[] = [];
  for (const group of Object.values(t.shards)) for (const shard of Object.values(group)) out.push(...Object.values(shard));
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function asSummary(v: unknown): JobSummary | undefined {
  if (!isObj(v) || typeof v.name !== 'string' || !isCount(v.ntasks) || !isCount(v.nnodes) || !isCount(v.ncores) || !isTime(v.duration)) {
    return undefined;
  }
  if ((v.cwd !== undefined && typeof v.cwd !== 'string') || (v.queue !== undefined && typeof v.queue !== 'string')) return undefined;
  const s: JobSummary = { name: v.name, ntasks: v.ntasks, nnodes: v.nnodes, ncores: v.ncores, duration: v.duration };
  if (v.cwd !== undefined) s.cwd = v.cwd as string;
  if (v.queue !== undefined) s.queue = v.queue as string;
  return s;
}

function asR(v: unknown): JobR | undefined {
  if (!isObj(v) || v.version !== 1 || !isObj(v.execution) || !Array.isArray(v.execution.R_lite)) return undefined;
  for (const r of v.execution.R_lite) {
    if (!isObj(r) || typeof r.rank !== 'string' || !isObj(r.children)) return undefined;
  }
  return v as unknown as JobR;
}

/** the items of an entry: a primary setroot of the KVS master that carries job events */
export function jobItems(entry: Entry): JobItem[] {
  if (!isKvsEntry(entry)) return [];
  const p = entry.payload as { namespace?: unknown; jobs?: unknown } | null;
  if (!isObj(p) || p.namespace !== PRIMARY || !Array.isArray(p.jobs)) return [];
  const out: JobItem[] = [];
  for (const it of p.jobs) {
    if (!isObj(it) || !isCount(it.id) || !isObj(it.event)) continue;
    const ev = it.event;
    if (typeof ev.name !== 'string' || !isTime(ev.timestamp) || (ev.context !== undefined && !isObj(ev.context))) continue;
    const item: JobItem = { id: it.id, event: ev as unknown as JobEvent };
    if (it.submit !== undefined) item.submit = asSummary(it.submit);
    if (it.R !== undefined) item.R = asR(it.R);
    if (isCount(it.ntasks)) item.ntasks = it.ntasks;
    out.push(item);
  }
  return out;
}

/** the states each event may arrive in (RFC 21); the state it moves to, if it moves */
const RULES: Record<string, { from: number; to?: number }> = {
  validate: { from: STATE_NEW, to: STATE_DEPEND },
  invalidate: { from: STATE_NEW, to: STATE_INACTIVE },
  'dependency-add': { from: STATE_DEPEND },
  'dependency-remove': { from: STATE_DEPEND },
  depend: { from: STATE_DEPEND, to: STATE_PRIORITY },
  priority: { from: STATE_PRIORITY | STATE_SCHED | STATE_RUN },
  urgency: { from: STATE_ACTIVE | STATE_NEW },
  alloc: { from: STATE_SCHED, to: STATE_RUN },
  start: { from: STATE_RUN },
  finish: { from: STATE_RUN | STATE_CLEANUP },
  release: { from: STATE_RUN | STATE_CLEANUP },
  free: { from: STATE_CLEANUP },
  clean: { from: STATE_CLEANUP, to: STATE_INACTIVE },
  exception: { from: STATE_ACTIVE | STATE_NEW },
  memo: { from: STATE_ACTIVE | STATE_NEW | STATE_INACTIVE },
  'flux-restart': { from: STATE_ACTIVE | STATE_NEW },
  'jobspec-update': { from: STATE_DEPEND | STATE_PRIORITY | STATE_SCHED | STATE_RUN },
  'resource-update': { from: STATE_RUN },
};

/** whether `name` may be applied to a job in `state` (submit: only to a job that does not exist) */
export function allowed(state: number | undefined, name: string): boolean {
  if (name === 'submit') return state === undefined;
  const rule = RULES[name];
  return state !== undefined && rule !== undefined && (rule.from & state) !== 0;
}

/** the state a job in `state` is in after `ev`; undefined when RFC 21 does not allow the event there */
export function nextState(state: number | undefined, ev: JobEvent): number | undefined {
  if (!allowed(state, ev.name)) return undefined;
  if (ev.name === 'submit') return STATE_NEW;
  const s = state!;
  if (ev.name === 'priority') return s === STATE_PRIORITY ? STATE_SCHED : s;
  if (ev.name === 'finish') return s === STATE_RUN ? STATE_CLEANUP : s;
  if (ev.name === 'exception') return ev.context?.severity === 0 ? STATE_CLEANUP : s;
  return RULES[ev.name]!.to ?? s;
}

function enter(j: JobRecord, state: number, t: number): void {
  j.state = state;
  if (state === STATE_DEPEND) j.t_depend = t;
  else if (state === STATE_SCHED) j.t_sched = t;
  else if (state === STATE_RUN) j.t_run = t;
  else if (state === STATE_CLEANUP) j.t_cleanup = t;
  else if (state === STATE_INACTIVE) {
    j.t_inactive = t;
    j.result = resultOf(j.exception, j.waitstatus);
  }
}

/**
 * One entry's changes, copy on write: the table, each shard, each record and the inactive pages are copied the first
 * time the entry changes them, and shared with the table before otherwise. (immer did the same at ~7x the cost,
 * most of it reading through its drafts: measured on 3,000 jobs' lives, 382 us a job against 53.)
 */
class Writer {
  readonly table: JobTable;
  private readonly groups = new Set<string>();
  private readonly shards = new Set<string>();
  private readonly records = new Set<JobRecord>();
  private pages = false;

  constructor(base: JobTable) {
    this.table = { shards: { ...base.shards }, maxId: base.maxId, inactive: base.inactive };
    if (base.gone !== undefined) this.table.gone = base.gone;
    if (base.dropped !== undefined) this.table.dropped = base.dropped;
  }

  get(id: number): JobRecord | undefined {
    return jobOf(this.table, id);
  }

  private shard(id: number): Record<string, JobRecord> {
    const [g, s] = placeOf(id);
    if (!this.groups.has(g)) {
      this.groups.add(g);
      this.table.shards[g] = { ...this.table.shards[g] };
    }
    const group = this.table.shards[g]!;
    if (!this.shards.has(`${g}/${s}`)) {
      this.shards.add(`${g}/${s}`);
      group[s] = { ...group[s] };
    }
    return group[s]!;
  }

  /** the record, writable */
  edit(id: number): JobRecord {
    const cur = this.get(id)!;
    if (this.records.has(cur)) return cur;
    const copy = { ...cur };
    this.records.add(copy);
    this.shard(id)[String(id)] = copy;
    return copy;
  }

  add(rec: JobRecord): void {
    this.records.add(rec);
    this.shard(rec.id)[String(rec.id)] = rec;
  }

  /** an inactive job joins the newest page; once the rest hold INACTIVE_MAX the oldest page and its jobs go */
  retire(id: number): void {
    if (!this.pages) {
      this.pages = true;
      this.table.inactive = this.table.inactive.map((page, i, all) => (i === all.length - 1 ? [...page] : page));
    }
    const pages = this.table.inactive;
    const last = pages[pages.length - 1];
    if (last && last.length < PAGE) last.push(id);
    else pages.push([id]);
    // purges leave pages short: the count is the pages' own
    if (pages.reduce((n, page) => n + page.length, 0) - pages[0]!.length >= INACTIVE_MAX) {
      const dropped = pages.shift()!;
      for (const old of dropped) delete this.shard(old)[String(old)];
      this.table.gone = (this.table.gone ?? 0) + dropped.length;
      this.table.dropped = [...(this.table.dropped ?? []), dropped];
    }
  }

  /** a job gone past INACTIVE_MAX is purged: its id leaves the dropped pages (it was counted gone as it went) */
  purgeDropped(id: number): boolean {
    const pages = this.table.dropped ?? [];
    const at = pages.findIndex((page) => page.includes(id));
    if (at < 0) return false;
    const left = pages.map((page, i) => (i === at ? page.filter((x) => x !== id) : page)).filter((page) => page.length > 0);
    if (left.length > 0) this.table.dropped = left;
    else delete this.table.dropped;
    return true;
  }

  /** an inactive job leaves the table (flux job purge): its record, and its place in the pages */
  purge(id: number): void {
    delete this.shard(id)[String(id)];
    const pages = this.table.inactive.map((page) => (page.includes(id) ? page.filter((x) => x !== id) : page)).filter((page) => page.length > 0);
    // retire() writes the newest page in place: it must be this entry's own
    if (pages.length > 0) pages[pages.length - 1] = [...pages[pages.length - 1]!];
    this.table.inactive = pages;
    this.pages = true;
    this.table.gone = (this.table.gone ?? 0) + 1;
  }
}

/** one item on the entry's writer; false if it changes nothing */
function applyItem(w: Writer, it: JobItem): boolean {
  const { id, event: ev } = it;
  const j = w.get(id);
  if (ev.name === PURGE) {
    if (j === undefined) return w.purgeDropped(id);
    if (j.state !== STATE_INACTIVE) return false;
    w.purge(id);
    return true;
  }
  if (!allowed(j?.state, ev.name)) return false;
  const t = ev.timestamp;
  const ctx = ev.context ?? {};
  if (ev.name === 'submit') {
    if (it.submit === undefined || !isCount(ctx.userid) || !isCount(ctx.urgency)) return false;
    const rec: JobRecord = {
      ...it.submit, id, userid: ctx.userid, urgency: ctx.urgency, flags: isCount(ctx.flags) ? ctx.flags : 0,
      state: STATE_NEW, t_submit: t, allocated: false, events: 1,
    };
    w.add(rec);
    w.table.maxId = Math.max(w.table.maxId, id);
    return true;
  }
  // resources are given back before a job may end
  if (ev.name === 'clean' && j!.allocated) return false;
  const to = nextState(j!.state, ev)!;
  // what the event carries is checked before the record is copied: a malformed one changes nothing
  if (!wellFormed(ev.name, ctx, it)) return false;
  const rec = w.edit(id);
  switch (ev.name) {
    case 'priority':
      rec.priority = ctx.priority as number;
      break;
    case 'urgency':
      rec.urgency = ctx.urgency as number;
      break;
    case 'alloc':
      rec.R = it.R!;
      rec.allocated = true;
      if (it.ntasks !== undefined) rec.ntasks = it.ntasks;
      if (isTime(it.R!.execution.expiration) && it.R!.execution.expiration > 0) rec.expiration = it.R!.execution.expiration;
      break;
    case 'finish':
      rec.waitstatus = ctx.status as number;
      break;
    case 'free':
      rec.allocated = false;
      break;
    case 'jobspec-update': {
      const u = ctx as JobUpdates;
      if (u[DURATION_KEY] !== undefined) rec.duration = u[DURATION_KEY];
      if (u[NAME_KEY] !== undefined) rec.name = u[NAME_KEY];
      break;
    }
    case 'resource-update':
      if (ctx.expiration as number > 0) rec.expiration = ctx.expiration as number;
      else delete rec.expiration;
      break;
    case 'dependency-add':
      if (!rec.dependencies?.includes(ctx.description as string)) rec.dependencies = [...(rec.dependencies ?? []), ctx.description as string];
      break;
    case 'dependency-remove': {
      const left = rec.dependencies?.filter((d) => d !== ctx.description);
      if (left !== undefined && left.length > 0) rec.dependencies = left;
      else delete rec.dependencies;
      break;
    }
    case 'exception': {
      const e: JobException = { type: ctx.type as string, severity: ctx.severity as number, note: typeof ctx.note === 'string' ? ctx.note : '' };
      if (isCount(ctx.userid)) e.userid = ctx.userid;
      // the first fatal exception is what ended the job; a later one does not hide it
      if (rec.exception === undefined || rec.exception.severity !== 0) rec.exception = e;
      break;
    }
    default:
      break;
  }
  rec.events++;
  if (to !== rec.state) {
    enter(rec, to, t);
    if (to === STATE_INACTIVE) w.retire(id);
  }
  return true;
}

/** the context (or R) an event needs is there and of the right types */
function wellFormed(name: string, ctx: Record<string, unknown>, it: JobItem): boolean {
  switch (name) {
    case 'priority':
      return isCount(ctx.priority);
    case 'urgency':
      return isCount(ctx.urgency);
    case 'alloc':
      return it.R !== undefined;
    case 'finish':
      return isCount(ctx.status);
    case 'dependency-add':
    case 'dependency-remove':
      return typeof ctx.description === 'string';
    case 'exception':
      return typeof ctx.type === 'string' && isCount(ctx.severity) && ctx.severity <= 7;
    case 'jobspec-update':
      return updatesProblem(ctx) === undefined;
    case 'resource-update':
      return typeof ctx.expiration === 'number' && Number.isFinite(ctx.expiration) && ctx.expiration >= 0;
    default:
      return true;
  }
}

export function applyEntry(state: JobTable, entry: Entry): JobTable {
  const items = jobItems(entry);
  if (items.length === 0) return state;
  const w = new Writer(state);
  for (const it of items) applyItem(w, it);
  return w.table;
}

export function initialTable(): JobTable {
  return { shards: {}, maxId: 0, inactive: [] };
}

function loadTable(saved: unknown): JobTable {
  const bad = (): never => {
    throw new FluxError(EPROTO, 'job table snapshot is malformed');
  };
  const t = saved as JobTable | null;
  if (!isObj(t) || !isObj(t.shards) || !isCount(t.maxId) || !Array.isArray(t.inactive) || !t.inactive.every(Array.isArray)) bad();
  if (t!.gone !== undefined && !isCount(t!.gone)) bad();
  if (t!.dropped !== undefined && !(Array.isArray(t!.dropped) && t!.dropped.every((page) => Array.isArray(page) && page.every(isCount)))) bad();
  for (const [g, group] of Object.entries(t!.shards)) {
    if (!isObj(group)) bad();
    for (const [s, shard] of Object.entries(group)) {
      if (!isObj(shard)) bad();
      for (const [id, j] of Object.entries(shard)) {
        // a job kept in another shard would never be found
        if (!isObj(j) || String(j.id) !== id || placeOf(j.id).join('/') !== `${g}/${s}` || !isCount(j.state) || !isCount(j.userid)) bad();
      }
    }
  }
  return t!;
}

export const jobsProjection: Projection<JobTable> = {
  name: JOBTABLE,
  initial: initialTable,
  apply: (state, entry) => applyEntry(state, entry),
  save: (state) => state,
  load: loadTable,
};
