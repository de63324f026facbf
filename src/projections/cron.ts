// The cron table: every cron entry, its state, counters and recent tasks, built from the journal's cron.* entries
// (which only the cron service on rank 0 writes: the event service refuses the prefix to publishers). Because the
// table is a projection it survives a restart from a statedir, and replaying the journal up to seq N gives the
// table as it was then (`flux cron list --at-seq N`).
//
// Journal entries:
//   cron.entry-created  {id, name, command, type, args, repeat, rank, task-history-count, stop-on-failure,
//                        timeout?, environ?, cwd?}      a new entry, active at once
//   cron.entry-stopped  {id}        cron.entry-started {id}        cron.entry-deleted {id}
//   cron.task-deferred  {id}        a trigger held until the sync event
//   cron.task-started   {id, rank, pid}
//   cron.task-finished  {id, rank, pid?, status?, errno?, timedout?, lost?}
//                        no pid: the command could not be started (errno); lost: its broker went away
//   cron.sync-set       {topic?, epsilon}                 no topic: sync disabled
// Besides these, every entry whose topic an event entry waits for counts as an event for it, and every entry
// with the sync topic moves the time of the last sync event: both are journal facts, so the counters survive a
// restart too. The time of each change is the journal entry's time.
import { produce } from 'immer';
import type { Entry } from '../core/journal/entry.js';
import { FluxError, EPROTO } from '../core/errors.js';
import { exitCodeOf } from '../core/jobs/wait-status.js';
import type { Projection } from './projection.js';

export const CRONTABLE = 'cron';
export const TOPIC_CREATED = 'cron.entry-created';
export const TOPIC_STOPPED = 'cron.entry-stopped';
export const TOPIC_STARTED = 'cron.entry-started';
export const TOPIC_DELETED = 'cron.entry-deleted';
export const TOPIC_DEFERRED = 'cron.task-deferred';
export const TOPIC_TASK_STARTED = 'cron.task-started';
export const TOPIC_TASK_FINISHED = 'cron.task-finished';
export const TOPIC_SYNC = 'cron.sync-set';

export type CronType = 'interval' | 'event' | 'datetime';
export type TaskState = 'Deferred' | 'Running' | 'Timeout' | 'Failed' | 'Exited';

export interface CronTask {
  rank: number;
  pid?: number;
  state: TaskState;
  'create-time': number;
  'start-time'?: number;
  'end-time'?: number;
  /** wait status */
  status?: number;
  /** exit code, or 128 + signal; 127/126 when the command could not be started */
  code?: number;
  rexec_errno?: number;
  timedout?: boolean;
}

export interface CronStats {
  ctime: number;
  starttime: number;
  lastrun: number;
  /** runs since the last start: the repeat count counts these */
  count: number;
  /** failures since the last start: stop-on-failure counts these */
  failcount: number;
  total: number;
  success: number;
  failure: number;
  deferred: number;
}

export interface CronEntry {
  id: number;
  name: string;
  command: string;
  type: CronType;
  /** the type's arguments as created: interval {interval, after?}; event {topic, nth?, after?, min_interval?};
   *  datetime {second?, minute?, hour?, mday?, month?, weekday?, year?} */
  args: Record<string, unknown>;
  repeat: number;
  rank: number;
  timeout?: number;
  historyCount: number;
  stopOnFailure: number;
  environ?: Record<string, string>;
  cwd?: string;
  stopped: boolean;
  stats: CronStats;
  /** event entries: events seen while active */
  events: number;
  /** a trigger waits for the sync event */
  deferredPending: boolean;
  /** newest first, at most historyCount */
  tasks: CronTask[];
}

export interface CronSync {
  topic: string;
  epsilon: number;
  /** time of the last entry with the sync topic */
  last?: number;
}

export interface CronTable {
  nextId: number;
  entries: Record<string, CronEntry>;
  sync?: CronSync;
  /** watchKey(topic) -> the event entries with that topic: every journal entry is looked up here */
  watch: Record<string, number[]>;
}

/** topics are user text: a prefix keeps one such as "__proto__" an ordinary key */
export const watchKey = (topic: string) => `=${topic}`;

/** the event entries waiting for entries with this topic */
export function watching(state: CronTable, topic: string): number[] {
  return state.watch[watchKey(topic)] ?? [];
}

export interface CreatedPayload {
  id: number;
  name: string;
  command: string;
  type: CronType;
  args: Record<string, unknown>;
  repeat: number;
  rank: number;
  'task-history-count': number;
  'stop-on-failure': number;
  timeout?: number;
  environ?: Record<string, string>;
  cwd?: string;
}

export interface TaskFinishedPayload {
  id: number;
  rank: number;
  pid?: number;
  status?: number;
  errno?: number;
  timedout?: boolean;
  lost?: boolean;
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function asCreated(p: unknown): CreatedPayload | undefined {
  if (!isObj(p) || !isId(p.id) || typeof p.name !== 'string' || typeof p.command !== 'string') return undefined;
  if (!['interval', 'event', 'datetime'].includes(p.type as string) || !isObj(p.args)) return undefined;
  if (!isId(p.repeat) || !isId(p.rank) || !isId(p['task-history-count']) || !isId(p['stop-on-failure'])) return undefined;
  if (p.timeout !== undefined && typeof p.timeout !== 'number') return undefined;
  return p as unknown as CreatedPayload;
}

/** the id an entry of ours names, when it names an entry the table holds */
function target(state: CronTable, p: unknown): number | undefined {
  return isObj(p) && isId(p.id) && state.entries[p.id] !== undefined ? p.id : undefined;
}

/** the exit code a shell gives a command it could not start */
const execErrorCode = (errno: number) => (errno === 2 ? 127 : 126);

function keepHistory(e: CronEntry): void {
  if (e.tasks.length > e.historyCount) e.tasks.length = e.historyCount;
}

function ran(e: CronEntry, time: number): void {
  e.stats.count++;
  e.stats.lastrun = time;
  e.deferredPending = false;
  if (e.repeat > 0 && e.stats.count >= e.repeat) e.stopped = true;
}

function finishTask(e: CronEntry, p: TaskFinishedPayload, time: number): void {
  let task = p.pid === undefined ? undefined : e.tasks.find((t) => t.pid === p.pid && t.rank === p.rank && t.state === 'Running');
  if (!task) {
    // a command that never started, or one whose record has left the history: counted all the same
    task = { rank: p.rank, state: 'Failed', 'create-time': time };
    if (p.pid !== undefined) task.pid = p.pid;
    e.tasks.unshift(task);
  }
  task['end-time'] = time;
  let success = false;
  if (p.errno !== undefined) {
    task.state = 'Failed';
    task.rexec_errno = p.errno;
    task.code = execErrorCode(p.errno);
  } else if (p.status !== undefined) {
    task.status = p.status;
    task.code = exitCodeOf(p.status);
    // flux-core's states: a timeout first, then any status but 0 is a failure (127: the shell found no command)
    task.state = p.timedout ? 'Timeout' : p.status === 0 ? 'Exited' : 'Failed';
    success = p.status === 0 && !p.timedout;
  } else {
    task.state = 'Failed';
  }
  if (p.timedout) task.timedout = true;
  e.stats.total++;
  if (success) {
    e.stats.success++;
  } else {
    e.stats.failure++;
    e.stats.failcount++;
    if (e.stopOnFailure > 0 && e.stats.failcount >= e.stopOnFailure) e.stopped = true;
  }
  keepHistory(e);
}

export function applyEntry(state: CronTable, entry: Entry): CronTable {
  const p = entry.payload;
  const time = entry.time;
  switch (entry.topic) {
    case TOPIC_CREATED: {
      const c = asCreated(p);
      if (!c || state.entries[c.id] !== undefined) return state;
      return produce(state, (d) => {
        const e: CronEntry = {
          id: c.id, name: c.name, command: c.command, type: c.type, args: c.args, repeat: c.repeat, rank: c.rank,
          historyCount: Math.max(1, c['task-history-count']), stopOnFailure: c['stop-on-failure'], stopped: false,
          stats: { ctime: time, starttime: time, lastrun: 0, count: 0, failcount: 0, total: 0, success: 0, failure: 0, deferred: 0 },
          events: 0, deferredPending: false, tasks: [],
        };
        if (c.timeout !== undefined) e.timeout = c.timeout;
        if (c.environ !== undefined) e.environ = c.environ;
        if (c.cwd !== undefined) e.cwd = c.cwd;
        d.entries[c.id] = e;
        d.nextId = Math.max(d.nextId, c.id + 1);
        if (c.type === 'event') (d.watch[watchKey(String(c.args.topic))] ??= []).push(c.id);
      });
    }
    case TOPIC_DELETED: {
      const id = target(state, p);
      if (id === undefined) return state;
      return produce(state, (d) => {
        const e = d.entries[id]!;
        delete d.entries[id];
        if (e.type !== 'event') return;
        const key = watchKey(String(e.args.topic));
        const ids = d.watch[key]!.filter((x) => x !== id);
        if (ids.length > 0) d.watch[key] = ids;
        else delete d.watch[key];
      });
    }
    case TOPIC_STOPPED:
    case TOPIC_STARTED: {
      const id = target(state, p);
      if (id === undefined) return state;
      const stop = entry.topic === TOPIC_STOPPED;
      return produce(state, (d) => {
        const e = d.entries[id]!;
        e.stopped = stop;
        if (stop) return;
        // a start begins the repeat and stop-on-failure counts anew, as flux-core's does
        e.stats.starttime = time;
        e.stats.count = 0;
        e.stats.failcount = 0;
      });
    }
    case TOPIC_DEFERRED: {
      const id = target(state, p);
      if (id === undefined) return state;
      return produce(state, (d) => {
        const e = d.entries[id]!;
        e.stats.deferred++;
        e.deferredPending = true;
      });
    }
    case TOPIC_TASK_STARTED: {
      const id = target(state, p);
      const o = p as { rank?: unknown; pid?: unknown };
      if (id === undefined || !isId(o.rank) || !isId(o.pid)) return state;
      return produce(state, (d) => {
        const e = d.entries[id]!;
        ran(e, time);
        e.tasks.unshift({ rank: o.rank as number, pid: o.pid as number, state: 'Running', 'create-time': time, 'start-time': time });
        keepHistory(e);
      });
    }
    case TOPIC_TASK_FINISHED: {
      const id = target(state, p);
      const f = p as TaskFinishedPayload;
      if (id === undefined || !isId(f.rank) || (f.pid !== undefined && !isId(f.pid))) return state;
      if ((f.status !== undefined && !isId(f.status)) || (f.errno !== undefined && !isId(f.errno))) return state;
      return produce(state, (d) => {
        const e = d.entries[id]!;
        // a command that could not be started still counts as a run
        if (f.pid === undefined) ran(e, time);
        finishTask(e, f, time);
      });
    }
    case TOPIC_SYNC: {
      const o = p as { topic?: unknown; epsilon?: unknown };
      if (!isObj(o) || typeof o.epsilon !== 'number' || (o.topic !== undefined && typeof o.topic !== 'string')) return state;
      return produce(state, (d) => {
        if (o.topic === undefined) delete d.sync;
        else d.sync = { topic: o.topic as string, epsilon: o.epsilon as number };
      });
    }
    default:
      return observe(state, entry.topic, time);
  }
}

/** any other entry: an event some event entry counts, or the sync event */
function observe(state: CronTable, topic: string, time: number): CronTable {
  const counted = watching(state, topic).filter((id) => !state.entries[id]!.stopped);
  const sync = state.sync?.topic === topic;
  if (counted.length === 0 && !sync) return state;
  return produce(state, (d) => {
    for (const id of counted) d.entries[id]!.events++;
    if (sync) d.sync!.last = time;
  });
}

export function initialTable(): CronTable {
  return { nextId: 1, entries: {}, watch: {} };
}

/** the entries, by id */
export function entries(state: CronTable): CronEntry[] {
  return Object.values(state.entries).sort((a, b) => a.id - b.id);
}

function loadTable(saved: unknown): CronTable {
  if (!isObj(saved) || !isId(saved.nextId) || !isObj(saved.entries) || !isObj(saved.watch)) {
    throw new FluxError(EPROTO, 'cron table snapshot is malformed');
  }
  return saved as unknown as CronTable;
}

export const cronProjection: Projection<CronTable> = {
  name: CRONTABLE,
  initial: initialTable,
  apply: (state, entry) => applyEntry(state, entry),
  save: (state) => state,
  load: loadTable,
};
