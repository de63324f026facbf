// The cron service (rank 0): runs commands at intervals, on events, and at cron dates, through rexec on the rank an
// entry names. The table it works from is the journal's cron projection (src/projections/cron.ts): every creation,
// stop, start, deletion, deferral and task start and end is a journal entry, and this service only decides when
// to trigger and holds the timers. After a restart from a statedir it re-arms every active entry of the table.
//
//   cron.create {type,name?,command,args,environ?,cwd?,repeat?,rank?,task-history-count?,stop-on-failure?,timeout?}
//               -> entry                      (reference §9 for the entry's JSON)
//   cron.list   {} -> {entries:[entry…]}
//   cron.delete {id,kill?} -> entry           cron.stop {id} -> entry          cron.start {id} -> entry
//   cron.sync   {topic?|disable?,sync_epsilon?} -> {sync_event,sync_epsilon} | {sync_disabled:true}
//
// With a sync event set, a due entry runs at once only if that event came at most sync_epsilon seconds ago;
// otherwise its run is deferred (a journal entry) and made when the event next comes.
// Cron sees the events a live subscriber sees. Published events are journal entries: the projection counts those,
// so the count of an entry waiting for its nth event survives a restart, and the time of the last sync event too.
// heartbeat.pulse, a liveness tick, is multicast without being journaled: this service counts such events itself
// (from the start of the entry) and notes when the sync event last came that way.
// Task output goes to the log as flux-core's cron module writes it: stdout at LOG_INFO, stderr at LOG_ERR, each
// line as `cron-ID[NAME]: rank=R: command="COMMAND": "LINE"`.
import { FluxError, errnoOf, strerror, EINVAL, ENOENT } from '../core/errors.js';
import { type Message, ROLE_OWNER, payloadJson } from '../core/wire/message.js';
import { compile } from '../core/validate.js';
import { durationArg, moduleArgs, textArg } from '../core/config/module-args.js';
import { nextWakeup, parseCronodate, CRONODATE_FIELDS } from '../core/time/cronodate.js';
import {
  CRONTABLE, TOPIC_CREATED, TOPIC_DELETED, TOPIC_STOPPED, TOPIC_STARTED, TOPIC_DEFERRED, TOPIC_TASK_STARTED,
  TOPIC_TASK_FINISHED, TOPIC_SYNC, entries, watching, type CronTable, type CronEntry, type CreatedPayload,
  type TaskFinishedPayload,
} from '../projections/cron.js';
import { entryJson, eventArgsOf, eventFires, intervalOf, nextWakeupOf } from '../projections/cron-json.js';
import type { JournalService } from './journal.js';
import type { ModuleDef, ModuleHost } from './module.js';

/** rexec.exec flags: output back */
const REXEC_OUTPUT = 1 | 2;
const SIGTERM = 15;
const LOG_ERR = 3;
const LOG_INFO = 6;
const LOG_DEBUG = 7;
/** the longest delay setTimeout takes; a later wakeup is reached in steps */
const MAX_TIMER_MS = 2 ** 31 - 1;

const idSchema = (extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1 }, ...extra },
  required: ['id'],
});

const createSchema = {
  type: 'object',
  properties: {
    type: { enum: ['interval', 'event', 'datetime'] },
    name: { type: 'string', minLength: 1 },
    command: { type: 'string', minLength: 1 },
    args: { type: 'object' },
    environ: { type: 'object', additionalProperties: { type: 'string' } },
    cwd: { type: 'string', minLength: 1 },
    repeat: { type: 'integer', minimum: 0 },
    rank: { type: 'integer', minimum: 0 },
    'task-history-count': { type: 'integer', minimum: 1 },
    'stop-on-failure': { type: 'integer', minimum: 0 },
    timeout: { type: 'number', minimum: 0 },
  },
  required: ['type', 'command', 'args'],
};

const intervalArgs = {
  type: 'object',
  // 0, as flux-core's timer takes it: one run, `after` seconds from the start, and no more
  properties: { interval: { type: 'number', minimum: 0 }, after: { type: 'number', minimum: 0 } },
  required: ['interval'],
  additionalProperties: false,
};

const eventArgs = {
  type: 'object',
  properties: {
    topic: { type: 'string', minLength: 1 },
    nth: { type: 'integer', minimum: 1 },
    after: { type: 'integer', minimum: 0 },
    min_interval: { type: 'number', minimum: 0 },
  },
  required: ['topic'],
  additionalProperties: false,
};

const datetimeArgs = {
  type: 'object',
  properties: Object.fromEntries(CRONODATE_FIELDS.map((f) => [f, { anyOf: [{ type: 'string' }, { type: 'integer' }] }])),
  additionalProperties: false,
};

const validateArgs = { interval: compile(intervalArgs), event: compile(eventArgs), datetime: compile(datetimeArgs) };

interface Task {
  rank: number;
  pid?: number;
  timedout: boolean;
  timer?: NodeJS.Timeout;
}

interface Armed {
  timer?: NodeJS.Timeout;
  /** when the timer is for (seconds since the epoch) */
  at?: number;
}

/** whole lines of a task's output stream, the last partial one held until more comes or the stream ends */
class Lines {
  private partial = '';
  push(text: string): string[] {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    return lines;
  }

  end(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest.length > 0 ? [rest] : [];
  }
}

export interface CronOptions {
  /** put first on the PATH of commands that run in the broker's environment, so they find `flux` */
  binDir?: string;
  /** flux module load's arguments: sync=TOPIC and sync_epsilon=FSD set the sync event, as cron.sync does */
  args?: string[];
}

export function cronModule(host: ModuleHost, journal: JournalService, opts: CronOptions = {}): ModuleDef {
  const given = moduleArgs(opts.args ?? [], { sync: textArg, sync_epsilon: durationArg(0) });
  const table = () => journal.state<CronTable>(CRONTABLE);
  const now = () => Date.now() / 1000;
  const armed = new Map<number, Armed>();
  const tasks = new Map<number, Set<Task>>();
  /** triggers whose task start is not in the table yet, per entry: repeat counts include them */
  const launching = new Map<number, number>();
  const deferring = new Set<number>();
  /** when each event entry last triggered: min_interval is measured from it */
  const lastTrigger = new Map<number, number>();
  /** events that are not journal entries, counted per event entry since it was started */
  const liveEvents = new Map<number, number>();
  /** the last sync event that was not a journal entry: its topic and when it came */
  let liveSync: { topic: string; at: number } | undefined;
  let offEvents: (() => void) | undefined;
  let nextId = 1;
  let offApply: (() => void) | undefined;
  let stopping = false;

  const cred = () => ({ userid: Number(host.attrs.get('security.owner')), rolemask: ROLE_OWNER });
  const append = (topic: string, payload: unknown) => journal.append(topic, payload, cred());

  function logFailure(what: string) {
    return (err: unknown) => {
      if (!stopping) host.log(LOG_ERR, 'cron', `${what}: ${(err as Error).message}`);
    };
  }

  function entryOf(id: number): CronEntry {
    const e = table().entries[id];
    if (!e) throw new FluxError(ENOENT, `cron-${id}: no such entry`);
    return e;
  }

  // ---- running tasks ----

  function launch(e: CronEntry): void {
    const { id, rank } = e;
    launching.set(id, (launching.get(id) ?? 0) + 1);
    let counted = false;
    const uncount = () => {
      if (counted) return;
      counted = true;
      const n = (launching.get(id) ?? 1) - 1;
      if (n > 0) launching.set(id, n);
      else launching.delete(id);
    };
    const task: Task = { rank, timedout: false };
    const cmd: Record<string, unknown> = { cmdline: ['/bin/sh', '-c', e.command] };
    if (e.cwd !== undefined) cmd.cwd = e.cwd;
    if (e.environ !== undefined) cmd.env = e.environ;
    else if (opts.binDir !== undefined) cmd.env = { ...process.env, PATH: `${opts.binDir}:${process.env.PATH ?? ''}` };
    const lines = { stdout: new Lines(), stderr: new Lines() };
    const log = (stream: 'stdout' | 'stderr', text: string[]) => {
      for (const l of text) {
        host.log(stream === 'stdout' ? LOG_INFO : LOG_ERR, 'cron', `cron-${id}[${e.name}]: rank=${rank}: command="${e.command}": "${l}"`);
      }
    };
    let recorded: Promise<unknown> = Promise.resolve();
    let status: number | undefined;
    const each = (msg: Message) => {
      let r: Record<string, unknown>;
      try {
        r = payloadJson(msg);
      } catch (err) {
        host.log(LOG_ERR, 'cron', `cron-${id}: rank ${rank}: ${(err as Error).message}`);
        return;
      }
      if (r.type === 'started' && typeof r.pid === 'number') {
        task.pid = r.pid;
        let set = tasks.get(id);
        if (!set) tasks.set(id, (set = new Set()));
        set.add(task);
        recorded = append(TOPIC_TASK_STARTED, { id, rank, pid: r.pid }).finally(uncount);
        if (e.timeout !== undefined && e.timeout > 0) {
          task.timer = setTimeout(() => {
            task.timedout = true;
            host.rpc('rexec.kill', { pid: task.pid!, signum: SIGTERM }, { nodeid: rank }).catch(logFailure(`cron-${id}: timeout kill`));
          }, Math.min(e.timeout * 1000, MAX_TIMER_MS));
        }
      } else if (r.type === 'output') {
        const io = r.io as { stream?: string; data?: string; encoding?: string; eof?: boolean } | undefined;
        if (io?.stream !== 'stdout' && io?.stream !== 'stderr') return;
        if (typeof io.data === 'string') {
          log(io.stream, lines[io.stream].push(io.encoding === 'base64' ? Buffer.from(io.data, 'base64').toString() : io.data));
        }
        if (io.eof) log(io.stream, lines[io.stream].end());
      } else if (r.type === 'finished' && typeof r.status === 'number') {
        status = r.status;
      }
    };
    void host.rpcStream('rexec.exec', { cmd, flags: REXEC_OUTPUT }, { nodeid: rank }, each).then(
      () => undefined,
      (err: unknown) => errnoOf(err),
    ).then(async (errno) => {
      clearTimeout(task.timer);
      tasks.get(id)?.delete(task);
      await recorded.catch(logFailure(`cron-${id}: task start not recorded`));
      const fin: TaskFinishedPayload = { id, rank };
      if (task.pid !== undefined) fin.pid = task.pid;
      if (task.timedout) fin.timedout = true;
      if (status !== undefined) fin.status = status;
      else if (task.pid === undefined && errno !== undefined) fin.errno = errno;
      else fin.lost = true;
      if (errno !== undefined && task.pid === undefined) host.log(LOG_ERR, 'cron', `cron-${id}: rank ${rank}: ${e.command}: ${strerror(errno)}`);
      await append(TOPIC_TASK_FINISHED, fin).catch(logFailure(`cron-${id}: task end not recorded`));
      uncount();
    });
  }

  function killTasks(id: number): void {
    for (const t of tasks.get(id) ?? []) {
      if (t.pid === undefined) continue;
      host.rpc('rexec.kill', { pid: t.pid, signum: SIGTERM }, { nodeid: t.rank }).catch(logFailure(`cron-${id}: kill`));
    }
  }

  // ---- triggers ----

  /** the entry is due: run it now, or defer it to the sync event */
  function trigger(id: number): void {
    const e = table().entries[id];
    if (!e || e.stopped || stopping) return;
    if (e.repeat > 0 && e.stats.count + (launching.get(id) ?? 0) >= e.repeat) return;
    const sync = table().sync;
    const lastSync = Math.max(sync?.last ?? -Infinity, liveSync !== undefined && liveSync.topic === sync?.topic ? liveSync.at : -Infinity);
    if (sync && !(now() - lastSync <= sync.epsilon)) {
      if (e.deferredPending || deferring.has(id)) return;
      deferring.add(id);
      append(TOPIC_DEFERRED, { id }).catch(logFailure(`cron-${id}: deferral not recorded`)).finally(() => deferring.delete(id));
      return;
    }
    launch(e);
  }

  /** the sync event: every deferred entry runs now */
  function releaseDeferred(): void {
    for (const e of entries(table())) {
      if (e.deferredPending && !e.stopped && !launching.has(e.id)) launch(e);
    }
  }

  function disarm(id: number): void {
    const a = armed.get(id);
    if (a) clearTimeout(a.timer);
    armed.delete(id);
  }

  function arm(id: number, at: number | undefined): void {
    disarm(id);
    const a: Armed = { at };
    if (at !== undefined) a.timer = setTimeout(() => wake(id), Math.min(Math.max(0, at - now()) * 1000, MAX_TIMER_MS));
    armed.set(id, a);
  }

  function wake(id: number): void {
    const a = armed.get(id);
    const e = table().entries[id];
    if (!a || a.at === undefined || !e || e.stopped) return;
    // a wakeup beyond the longest timer is reached in steps
    if (a.at - now() > 0.001) {
      arm(id, a.at);
      return;
    }
    if (e.type === 'event') {
      // the end of a min_interval wait, measured from the last run the journal holds once it holds it
      const due = e.stats.count > 0 ? e.stats.lastrun + eventArgsOf(e).minInterval : 0;
      if (due - now() > 0.001) {
        arm(id, due);
        return;
      }
      armed.set(id, {});
      lastTrigger.set(id, now());
      trigger(id);
      return;
    }
    trigger(id);
    let next: number | undefined;
    if (e.type === 'interval') {
      const { interval } = intervalOf(e);
      if (interval > 0) {
        next = a.at + interval;
        // after a long absence (a restart, a stopped clock) the missed runs are not all made up
        if (next <= now()) next = now() + interval;
      }
    } else {
      next = nextWakeup(parseCronodate(e.args as Record<string, string>), a.at);
    }
    arm(id, next);
  }

  /** make the timers agree with the table after entry `id` changed */
  function reconcile(id: number): void {
    const e = table().entries[id];
    if (!e || e.stopped) {
      disarm(id);
      return;
    }
    if (armed.has(id) || e.type === 'event') return;
    arm(id, nextWakeupOf(e, now()));
  }

  /** an event: a journal entry (`live` false: the projection has counted it already) or a live one */
  function onEvent(topic: string, live: boolean): void {
    const t = table();
    if (t.sync?.topic === topic) {
      if (live) liveSync = { topic, at: now() };
      releaseDeferred();
    }
    for (const id of watching(t, topic)) {
      const e = t.entries[id]!;
      if (e.stopped) continue;
      if (live) liveEvents.set(id, (liveEvents.get(id) ?? 0) + 1);
      const ev = eventArgsOf(e);
      if (!eventFires(e.events + (liveEvents.get(id) ?? 0), ev.nth, ev.after)) continue;
      const last = lastTrigger.get(e.id) ?? (e.stats.count > 0 ? e.stats.lastrun : undefined);
      if (ev.minInterval > 0 && last !== undefined && now() - last < ev.minInterval) {
        // too soon: the run waits for the end of the interval (one run for any number of events meanwhile)
        if (armed.get(e.id)?.at === undefined) {
          const due = last + ev.minInterval;
          host.log(LOG_DEBUG, 'cron', `cron-${e.id}: delaying ${(due - now()).toFixed(3).padStart(4)}s due to min interval`);
          arm(e.id, due);
        }
        continue;
      }
      lastTrigger.set(e.id, now());
      trigger(e.id);
    }
  }

  // ---- requests ----

  function create(msg: Message, body: Record<string, unknown>): Promise<void> {
    const type = body.type as CreatedPayload['type'];
    const args = body.args as Record<string, unknown>;
    validateArgs[type](args);
    if (type === 'datetime') {
      const when = parseCronodate(args as Record<string, string>);
      if (nextWakeup(when, now()) === undefined) throw new FluxError(EINVAL, 'the date never comes');
    }
    const rank = (body.rank as number | undefined) ?? 0;
    if (rank >= host.size) throw new FluxError(EINVAL, `rank ${rank} is not in this instance (size ${host.size})`);
    const command = body.command as string;
    const id = Math.max(nextId, table().nextId);
    nextId = id + 1;
    const p: CreatedPayload = {
      id, name: (body.name as string | undefined) ?? command.trim().split(/\s+/)[0]!, command, type, args,
      repeat: (body.repeat as number | undefined) ?? 0, rank,
      'task-history-count': (body['task-history-count'] as number | undefined) ?? 1,
      'stop-on-failure': (body['stop-on-failure'] as number | undefined) ?? 0,
    };
    if (body.timeout !== undefined) p.timeout = body.timeout as number;
    if (body.environ !== undefined) p.environ = body.environ as Record<string, string>;
    if (body.cwd !== undefined) p.cwd = body.cwd as string;
    return append(TOPIC_CREATED, p).then(() => host.respond(msg, entryJson(entryOf(id), now())));
  }

  async function setStopped(msg: Message, id: number, stop: boolean): Promise<void> {
    if (entryOf(id).stopped !== stop) await append(stop ? TOPIC_STOPPED : TOPIC_STARTED, { id });
    host.respond(msg, entryJson(entryOf(id), now()));
  }

  async function remove(msg: Message, id: number, kill: boolean): Promise<void> {
    const before = entryJson(entryOf(id), now());
    if (kill) killTasks(id);
    await append(TOPIC_DELETED, { id });
    host.respond(msg, before);
  }

  function syncAnswer(): Record<string, unknown> {
    const s = table().sync;
    return s ? { sync_event: s.topic, sync_epsilon: s.epsilon } : { sync_disabled: true };
  }

  /** cron.sync's change, as a request or the module's arguments ask it */
  async function setSync(body: Record<string, unknown>): Promise<void> {
    if (body.disable === true) await append(TOPIC_SYNC, { epsilon: 0 });
    else if (typeof body.topic === 'string') {
      await append(TOPIC_SYNC, { topic: body.topic, epsilon: (body.sync_epsilon as number | undefined) ?? 0 });
    } else if (body.sync_epsilon !== undefined) {
      const s = table().sync;
      if (!s) throw new FluxError(EINVAL, 'sync is not enabled');
      await append(TOPIC_SYNC, { topic: s.topic, epsilon: body.sync_epsilon });
    }
  }

  async function sync(msg: Message, body: Record<string, unknown>): Promise<void> {
    await setSync(body);
    host.respond(msg, syncAnswer());
  }

  /** sync=/sync_epsilon= at load: journaled only when they change what the table holds */
  async function syncFromArgs(): Promise<void> {
    if (given.sync === undefined && given.sync_epsilon === undefined) return;
    const s = table().sync;
    const topic = given.sync ?? s?.topic;
    const epsilon = given.sync_epsilon ?? (given.sync !== undefined ? 0 : s?.epsilon);
    if (s !== undefined && s.topic === topic && s.epsilon === epsilon) return;
    await setSync({ topic: given.sync, sync_epsilon: given.sync_epsilon });
  }

  return {
    name: 'cron',
    start: async () => {
      offApply = journal.onApply((a) => {
        const topic = a.entry.topic;
        if (topic.startsWith('cron.')) {
          const id = (a.entry.payload as { id?: unknown } | null)?.id;
          if (typeof id !== 'number') return;
          // a start counts events anew, as flux-core's does
          if (topic === TOPIC_STARTED) liveEvents.delete(id);
          reconcile(id);
          return;
        }
        onEvent(topic, false);
      });
      // journal entries come through onApply; what is multicast without one (heartbeat.pulse) has no sequence
      offEvents = host.subscribe('', (ev) => {
        if (ev.aux1 === 0 && ev.topic !== undefined) onEvent(ev.topic, true);
      });
      const t = table();
      nextId = t.nextId;
      // an instance serving a past state shows its cron table and runs nothing
      if (journal.readOnly) return;
      await syncFromArgs();
      // tasks that were running when the instance stopped went with it
      const lost: Promise<unknown>[] = [];
      for (const e of entries(t)) {
        for (const task of e.tasks) {
          if (task.state !== 'Running') continue;
          lost.push(append(TOPIC_TASK_FINISHED, { id: e.id, rank: task.rank, pid: task.pid, lost: true }));
        }
      }
      await Promise.all(lost);
      for (const e of entries(table())) reconcile(e.id);
    },
    stop: () => {
      stopping = true;
      offApply?.();
      offEvents?.();
      for (const id of [...armed.keys()]) disarm(id);
      for (const set of tasks.values()) for (const t of set) clearTimeout(t.timer);
    },
    handlers: [
      { topic: 'cron.create', schema: createSchema, handler: (msg, body) => create(msg, body!) },
      {
        topic: 'cron.list',
        handler: (msg) => host.respond(msg, { entries: entries(table()).map((e) => entryJson(e, now())) }),
      },
      {
        topic: 'cron.delete',
        schema: idSchema({ kill: { type: 'boolean' } }),
        handler: (msg, body) => remove(msg, body!.id as number, body!.kill === true),
      },
      { topic: 'cron.stop', schema: idSchema(), handler: (msg, body) => setStopped(msg, body!.id as number, true) },
      { topic: 'cron.start', schema: idSchema(), handler: (msg, body) => setStopped(msg, body!.id as number, false) },
      {
        topic: 'cron.sync',
        schema: {
          type: 'object',
          properties: { topic: { type: 'string', minLength: 1 }, disable: { type: 'boolean' }, sync_epsilon: { type: 'number', minimum: 0 } },
        },
        handler: (msg, body) => sync(msg, body!),
      },
    ],
    stats: () => ({ entries: entries(table()).length, armed: armed.size, running: [...tasks.values()].reduce((n, s) => n + s.size, 0) }),
  };
}
