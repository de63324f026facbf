// The job manager (rank 0): it gives jobs their ids, moves them through RFC 21's states, schedules them on the
// instance's cores (sched-simple's rules: priority order, first fit, strict FIFO), has job-exec run them, and
// answers cancel, kill, urgency and wait. Every job event it makes is journaled with the KVS commit that appends
// it to the job's eventlog (src/projections/jobs.ts); the job table it works from is that projection, so after a
// restart it picks up where the journal left off: pending jobs are scheduled again, and jobs that were running
// end with an exception, since their processes went with the brokers.
//
//   job-manager.submit  {jobs:[{J, jobspec, urgency, flags, userid}]} -> {ids}    (from job-ingest; owner only)
//                       ids[i] is {errnum, errstr} for a job refused (a dependency on a job that is not there)
//   job-manager.raise   {id, severity, type, note?} -> {}
//   job-manager.kill    {id, signum} -> {}
//   job-manager.urgency {id, urgency} -> {old_urgency}
//   job-manager.update  {id, updates:{key: value…}} -> {}         a pending job's duration or name, a running job's
//                                                                  duration (the owner's): flux update
//   job-manager.wait    {id} -> {id, success, errstr?}            id ANY (any id above 2^53): the next one
//   job-manager.history.get {slice?} -> {jobs:[id…]}              the caller's jobs, newest first, a Python slice of them
//   job-manager.memo    {id, memo:{key:value…}} -> {}             a memo event (an instance run as a job posts its uri)
//   job-exec.stdin      {id, data?, eof?} -> {}                    data base64, to every task of the job
//   sched.resource-status {} -> {all, allocated, down}            RFC 20 R each
//   job-manager.queue-*, drain, idle                              the queue's administration (queue-admin.ts)
//   job-manager.purge, purge-id                                   inactive jobs out of the table and the KVS (job-purge.ts)
import { FluxError, EINVAL, ENOENT, EPERM, EPROTO, ECHILD } from '../core/errors.js';
import { type Message, ROLE_OWNER, ROLE_USER, payloadJson, senderOf } from '../core/wire/message.js';
import { FluidGenerator, encodeFluid, fluidTimestamp } from '../core/jobs/fluid.js';
import { DURATION_KEY, NAME_KEY, type JobUpdates, checkUpdates, updatedJobspec } from '../core/jobs/update.js';
import { type Jobspec, type ResourceRequest, jobName, resourceRequest, validateJobspec } from '../core/jobs/jobspec.js';
import { eventlogLine, jobKey, EVENTLOG, EXEC_EVENTLOG, OUTPUT_EVENTLOG } from '../core/jobs/kvs.js';
import { appendOp, putOp } from '../core/jobs/ops.js';
import type { Op } from '../core/kvs/tree.js';
import { wallclock } from '../core/kvs/format-eventlog.js';
import {
  STATE_NEW, STATE_DEPEND, STATE_PRIORITY, STATE_SCHED, STATE_RUN, STATE_CLEANUP, STATE_INACTIVE,
  STATE_PENDING, STATE_RUNNING, SUBMIT_WAITABLE, priorityOf, URGENCY_DEFAULT,
} from '../core/jobs/state.js';
import { exitCodeOf } from '../core/jobs/wait-status.js';
import { type ResourceSet, countCores, decodeR, encodeR, emptySet, union, difference, selectRanks, withWindow } from '../core/resource/rset.js';
import { allocate, allocationWindow } from '../core/resource/sched-alloc.js';
import { taskCounts } from '../core/jobs/taskmap.js';
import { type Dep, afterOutcome, dependencyOf } from '../core/jobs/dependency.js';
import { parseSlice } from '../core/jobs/slice.js';
import {
  JOBTABLE, allJobs, jobItems, jobOf, nextState, type JobEvent, type JobItem, type JobR, type JobRecord,
  type JobSummary, type JobTable,
} from '../projections/jobs.js';
import type { JournalService } from './journal.js';
import { JobPurge } from './job-purge.js';
import { JobExec } from './job-exec.js';
import { JobQueue } from './job-queue.js';
import { QueueAdmin } from './queue-admin.js';
import type { ModuleDef, ModuleHost } from './module.js';

const SIGTERM = 15;
const SIGALRM = 14;
const SIGKILL = 9;
/** how long a stopping job manager waits for the jobs it ends to be recorded as ended */
const STOP_WAIT_MS = 3000;
/** job-manager.wait's FLUX_JOBID_ANY (0xffffffffffffffff) reads as a number above any id we issue */
const ID_ANY_ABOVE = Number.MAX_SAFE_INTEGER;

/** the ranks of the instance that are down (not joined, lost or gone), as rank 0's broker sees them */
export interface DownRanks {
  ranks(): number[];
  /** `fn` runs after any change in the tree; the result stops it */
  watch(fn: () => void): () => void;
}

export interface JobManagerOptions {
  journal: JournalService;
  /** the instance's resources, once every rank has discovered its own */
  resources: () => Promise<ResourceSet>;
  /** whether resources() holds every rank's answer (until then it is asked again when the tree changes) */
  gathered: () => boolean;
  /** the scheduler allocates nothing on these; none when not given */
  down?: DownRanks;
}

export interface SubmittedJob {
  J: string;
  jobspec: Jobspec;
  urgency: number;
  flags: number;
  userid: number;
}

interface Batch {
  items: JobItem[];
  ops: Op[];
  done: Array<{ resolve: () => void; reject: (e: unknown) => void }>;
}

interface Shadow {
  state: number;
  inflight: number;
}

interface Waiter {
  msg: Message;
  id: number | undefined;
}

/** what the job table keeps of a jobspec */
function summaryOf(js: Jobspec): JobSummary {
  const req = resourceRequest(js);
  const s: JobSummary = {
    name: jobName(js), ntasks: req.ntasks, nnodes: req.nnodes, ncores: req.nslots * req.coresPerSlot, duration: req.duration,
  };
  const cwd = js.attributes?.system?.cwd;
  if (typeof cwd === 'string') s.cwd = cwd;
  return s;
}

export function jobManagerModule(host: ModuleHost, opts: JobManagerOptions): ModuleDef {
  const { journal } = opts;
  const table = () => journal.state<JobTable>(JOBTABLE);
  const owner = Number(host.attrs.get('security.owner'));
  const level = Number(host.attrs.get('instance-level') ?? 0);
  let gen: FluidGenerator;
  /** jobspecs and requests of jobs not yet ended, kept from their submission (or loaded from the KVS) */
  const jobspecs = new Map<number, Jobspec>();
  const requests = new Map<number, ResourceRequest>();
  /** the state each job will be in once what was posted for it is applied */
  const shadow = new Map<number, Shadow>();
  /** allocations decided and posted, not yet applied */
  const allocating = new Map<number, ResourceSet>();
  /** the jobs in SCHED in the table and not held, in the order they are served */
  const waiting = new JobQueue();
  /** jobs whose finish is posted and whose resources the scheduler already counts as free */
  const freedEarly = new Set<number>();
  let all: ResourceSet | undefined;
  let free: ResourceSet | undefined;
  let batch: Batch | undefined;
  let scheduleQueued = false;
  /** set as the module stops: jobs that wait keep waiting (a restart from the statedir runs them), none starts */
  let stopping = false;
  const waiters: Waiter[] = [];
  /** waitable inactive jobs nobody has waited for yet */
  const zombies = new Set<number>();
  /** jobs in DEPEND and the dependencies they still wait on; the jobs waited on, and who waits on each */
  const awaiting = new Map<number, Dep[]>();
  const dependents = new Map<number, Set<number>>();
  /** the timer of a job waiting for its begin-time */
  const beginTimers = new Map<number, NodeJS.Timeout>();
  /** the urgency last asked for a job still in DEPEND, which its priority is made from once it leaves */
  const urgencies = new Map<number, number>();
  const exec = new JobExec(host, {
    // the exec eventlog says where the tasks went, as flux-core's shell.start does (flux job taskmap reads it)
    start: (id, taskmap) => void post(id, [event('start')], {}, [
      appendOp(jobKey(id, EXEC_EVENTLOG), eventlogLine(wallclock(), 'shell.start', { taskmap: JSON.parse(taskmap) as unknown })),
    ]).catch(logFailure(id, 'start')),
    finish: (id, status, output) => finish(id, status, output),
    raise: (id, type, note) => void raise(id, 0, type, note, owner).catch(logFailure(id, 'exception')),
  });
  let offApply: (() => void) | undefined;
  let offDown: (() => void) | undefined;
  let submitted = 0;
  /** journaling not yet acknowledged, which a stopping job manager waits for */
  const posting = new Set<Promise<void>>();

  const stateOf = (id: number): number | undefined => shadow.get(id)?.state ?? jobOf(table(), id)?.state;
  /** jobs whose state (or the state they will be in once what was posted for them is applied) is in `mask` */
  function count(mask: number): number {
    let n = 0;
    for (const j of allJobs(table())) if ((stateOf(j.id) ?? 0) & mask) n++;
    for (const [id, sh] of shadow) if (!jobOf(table(), id) && sh.state & mask) n++;
    return n;
  }
  const purger = new JobPurge(host, table);
  const queue = new QueueAdmin(host, {
    active: () => count(STATE_NEW | STATE_PENDING | STATE_RUNNING),
    running: () => count(STATE_RUNNING) + allocating.size,
    pending: () => count(STATE_PENDING),
  }, () => queueSchedule());
  const f58 = (id: number) => encodeFluid(id, 'f58');
  const logFailure = (id: number, what: string) => (err: unknown) =>
    host.log(3, 'job-manager', `${f58(id)}: ${what} not recorded: ${(err as Error).message}`);

  function event(name: string, context?: Record<string, unknown>): JobEvent {
    return context === undefined ? { timestamp: wallclock(), name } : { timestamp: wallclock(), name, context };
  }

  // ---- journaling ----------------------------------------------------------------------------------------------

  /**
   * Job events (and the KVS ops that go with them) for one job, journaled in the next commit; every post made in
   * one turn of the event loop goes in one commit. Events RFC 21 does not allow where the job will be are dropped.
   */
  function post(id: number, events: JobEvent[], extra: Partial<Pick<JobItem, 'submit' | 'R' | 'ntasks'>> = {}, ops: Op[] = []): Promise<void> {
    let state = stateOf(id);
    const ok: JobEvent[] = [];
    for (const ev of events) {
      const next = nextState(state, ev);
      if (next === undefined) {
        host.log(7, 'job-manager', `${f58(id)}: ${ev.name} dropped in state ${state ?? 'none'}`);
        continue;
      }
      state = next;
      ok.push(ev);
    }
    if (ok.length === 0) return Promise.resolve();
    const sh = shadow.get(id) ?? { state: state!, inflight: 0 };
    sh.state = state!;
    sh.inflight += ok.length;
    shadow.set(id, sh);
    if (!batch) {
      batch = { items: [], ops: [], done: [] };
      setImmediate(flush);
    }
    for (const ev of ok) {
      batch.items.push({ id, event: ev, ...(ev.name === 'submit' ? { submit: extra.submit } : {}), ...(ev.name === 'alloc' ? { R: extra.R, ntasks: extra.ntasks } : {}) });
    }
    batch.ops.push(...ops, appendOp(jobKey(id, EVENTLOG), ok.map((e) => eventlogLine(e.timestamp, e.name, e.context)).join('')));
    const p = new Promise<void>((resolve, reject) => batch!.done.push({ resolve, reject }));
    const tracked = p.then(() => undefined, () => undefined).finally(() => posting.delete(tracked));
    posting.add(tracked);
    return p;
  }

  function flush(): void {
    const b = batch!;
    batch = undefined;
    host.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: b.ops, jobs: b.items as unknown as Record<string, unknown>[] }).then(
      () => b.done.forEach((d) => d.resolve()),
      (err: unknown) => {
        // the shadow of what was not journaled goes: the table is the truth again for those jobs
        for (const it of b.items) shadow.delete(it.id);
        b.done.forEach((d) => d.reject(err));
      },
    );
  }

  /** what a job's entry applied on this broker means for the work here */
  function applied(items: JobItem[]): void {
    let reschedule = false;
    for (const it of items) {
      const sh = shadow.get(it.id);
      if (sh && --sh.inflight <= 0) shadow.delete(it.id);
      if (dependents.has(it.id)) antecedentMoved(it.id);
      const job = jobOf(table(), it.id);
      if (job?.state === STATE_SCHED && (job.priority ?? 0) > 0) waiting.set(it.id, job.priority!);
      else waiting.delete(it.id);
      switch (it.event.name) {
        case 'alloc':
          allocating.delete(it.id);
          if (job?.R) startJob(job);
          break;
        case 'exception':
          if (it.event.context?.severity === 0 && job) {
            // a job out of time is told so first (SIGALRM), as flux-core's job-exec does; anything else is asked to end
            if (exec.has(it.id)) exec.terminate(it.id, it.event.context.type === 'timeout' ? SIGALRM : SIGTERM);
            else if (job.state === STATE_CLEANUP && !job.allocated) void post(it.id, [event('clean')]).catch(logFailure(it.id, 'clean'));
          }
          reschedule = true;
          break;
        case 'free':
          if (job?.R && free && all && !freedEarly.delete(it.id)) free = union(free, decodeR(job.R));
          reschedule = true;
          break;
        case 'clean':
          jobspecs.delete(it.id);
          requests.delete(it.id);
          forgetDependencies(it.id);
          urgencies.delete(it.id);
          if (job && job.flags & SUBMIT_WAITABLE) {
            zombies.add(it.id);
            wakeWaiters();
          }
          break;
        case 'priority':
        case 'urgency':
          reschedule = true;
          break;
        default:
      }
    }
    if (reschedule) queueSchedule();
    queue.changed();
  }

  // ---- submission ----------------------------------------------------------------------------------------------

  /** each job's id, or why it was refused */
  function submit(jobs: SubmittedJob[]): Promise<Array<number | FluxError>> {
    const ids: Array<number | FluxError> = [];
    const posts: Array<Promise<void>> = [];
    for (const j of jobs) {
      const refused = queue.refusal();
      if (refused) {
        ids.push(refused);
        continue;
      }
      let deps: Dep[];
      try {
        deps = dependenciesOf(j);
      } catch (err) {
        ids.push(err as FluxError);
        continue;
      }
      const id = gen.next();
      ids.push(id);
      const summary = summaryOf(j.jobspec);
      jobspecs.set(id, j.jobspec);
      requests.set(id, resourceRequest(j.jobspec));
      const events = [event('submit', { userid: j.userid, urgency: j.urgency, flags: j.flags, version: 1 }), event('validate')];
      urgencies.set(id, j.urgency);
      events.push(...settle(id, deps, []));
      posts.push(post(id, events, { submit: summary }, [putOp(jobKey(id, 'J'), j.J), putOp(jobKey(id, 'jobspec'), JSON.stringify(j.jobspec))]));
      submitted++;
    }
    return Promise.all(posts).then(() => ids);
  }

  // ---- dependencies (RFC 26's after* schemes) --------------------------------------------------------------------

  /** a submitted job's dependencies; one naming a job that is not there, or another user's, refuses the job */
  function dependenciesOf(j: SubmittedJob): Dep[] {
    const deps = dependenciesIn(j.jobspec);
    for (const d of deps) {
      if (d.kind === 'begin') continue;
      const on = jobOf(table(), d.on);
      if (on === undefined) throw new FluxError(ENOENT, `dependency ${d.description}: job not found`);
      if (j.userid !== owner && on.userid !== j.userid) throw new FluxError(EPERM, `dependency ${d.description}: Permission denied`);
    }
    return deps;
  }

  const dependenciesIn = (js: Jobspec): Dep[] => (js.attributes.system.dependencies ?? []).map(dependencyOf);

  /**
   * The events that take a job in DEPEND as far as its dependencies let it: each one met is removed (if `added`,
   * the descriptions already journaled, has it), each still waited on is added (if not there yet) and watched, and
   * the job goes on to PRIORITY and SCHED once none is left; a dependency that can never be met ends the job.
   */
  function settle(id: number, deps: Dep[], added: readonly string[]): JobEvent[] {
    const events: JobEvent[] = [];
    const left: Dep[] = [];
    const now = Date.now() / 1000;
    for (const d of deps) {
      const outcome = d.kind === 'begin' ? (now >= d.at ? 'met' : 'waiting') : afterOutcome(d.kind, jobOf(table(), d.on));
      if (outcome === 'never') {
        forgetDependencies(id);
        urgencies.delete(id);
        const note = `dependency ${d.description} can never be satisfied`;
        return [...events, event('exception', { type: 'dependency', severity: 0, userid: owner, note }), event('clean')];
      }
      if (outcome === 'met') {
        if (added.includes(d.description)) events.push(event('dependency-remove', { description: d.description }));
        continue;
      }
      left.push(d);
      if (!added.includes(d.description)) events.push(event('dependency-add', { description: d.description }));
    }
    forgetDependencies(id);
    if (left.length > 0) {
      awaiting.set(id, left);
      for (const d of left) {
        if (d.kind === 'begin') {
          // the clock is looked at again when the time comes (a long wait in steps setTimeout can hold)
          const timer = setTimeout(() => dependencyMoved(id), Math.min(2 ** 31 - 1, Math.max(0, d.at * 1000 - Date.now()) + 1));
          timer.unref();
          beginTimers.set(id, timer);
          continue;
        }
        const set = dependents.get(d.on) ?? new Set<number>();
        set.add(id);
        dependents.set(d.on, set);
      }
      return events;
    }
    const urgency = urgencies.get(id) ?? jobOf(table(), id)?.urgency ?? URGENCY_DEFAULT;
    urgencies.delete(id);
    return [...events, event('depend'), event('priority', { priority: priorityOf(urgency) })];
  }

  function forgetDependencies(id: number): void {
    clearTimeout(beginTimers.get(id));
    beginTimers.delete(id);
    for (const d of awaiting.get(id) ?? []) {
      if (d.kind === 'begin') continue;
      const set = dependents.get(d.on);
      set?.delete(id);
      if (set?.size === 0) dependents.delete(d.on);
    }
    awaiting.delete(id);
  }

  /** a job others wait on changed: each of them moves on as far as its dependencies now let it */
  function antecedentMoved(on: number): void {
    for (const id of [...dependents.get(on) ?? []]) dependencyMoved(id);
  }

  /** something a job in DEPEND waits on may have come: it moves on as far as its dependencies now let it */
  function dependencyMoved(id: number): void {
    const deps = awaiting.get(id);
    if (deps === undefined) return;
    if (stateOf(id) !== STATE_DEPEND) {
      forgetDependencies(id);
      return;
    }
    const events = settle(id, deps, deps.map((d) => d.description));
    if (events.length > 0) void post(id, events).catch(logFailure(id, 'dependency'));
  }

  // ---- scheduling ----------------------------------------------------------------------------------------------

  function queueSchedule(): void {
    if (scheduleQueued) return;
    scheduleQueued = true;
    setImmediate(() => {
      scheduleQueued = false;
      schedule().catch((err: unknown) => host.log(3, 'job-manager', `scheduling: ${(err as Error).message}`));
    });
  }

  /**
   * Strict FIFO: jobs get resources in queue order until one has to wait; nothing passes it. The jobs that have not
   * been looked at yet are checked for requests the instance could never meet, which end at once; while some ranks'
   * resources are not known (not up when gathered), a request the known ones could not meet waits for them.
   */
  async function schedule(): Promise<void> {
    // a stopped queue gives no job resources: they wait where they are, as do those behind them
    if (!all || !free || stopping || !queue.started) return;
    if (countCores(usable()) > 0) {
      for (const id of waiting.ids()) {
        const req = await requestOf(id);
        if (stopping) return;
        if (stateOf(id) !== STATE_SCHED || allocating.has(id) || !waiting.has(id)) continue;
        // a job that needs a rank that is down waits for it, as one that needs busy cores does
        const got = allocate(usable(), all, req);
        if (got === 'unsatisfiable' && opts.gathered()) {
          deny(id);
          continue;
        }
        waiting.checked(id);
        if (got === 'busy' || got === 'unsatisfiable') break;
        grant(id, req, got);
      }
    }
    for (const id of waiting.uncheckedIds()) await checkFeasible(id);
  }

  /**
   * The tree changed: schedule again, and when the resources gathered at the start lack ranks that were not up to
   * answer (a configured host that comes later than the gather waits, a rank lost before it answered), ask again.
   */
  let regathering = false;
  function treeChanged(): void {
    queueSchedule();
    if (!all || stopping || regathering || opts.gathered()) return;
    regathering = true;
    opts.resources().then((set) => {
      if (stopping) return;
      all = set;
      recount();
      queueSchedule();
    }).catch((err: unknown) => host.log(3, 'job-manager', `resources: ${(err as Error).message}`))
      .finally(() => (regathering = false));
  }

  /** what is free on the ranks that are up */
  function usable(): ResourceSet {
    const down = opts.down?.ranks() ?? [];
    return down.length === 0 ? free! : difference(free!, selectRanks(free!, down));
  }

  /** a waiting job behind one that waits: ended at once if the instance could never run it */
  async function checkFeasible(id: number): Promise<void> {
    if (!waiting.has(id) || !all) return;
    const req = await requestOf(id);
    if (stateOf(id) !== STATE_SCHED || !waiting.has(id)) return;
    waiting.checked(id);
    if (opts.gathered() && allocate(emptySet(), all, req) === 'unsatisfiable') deny(id);
  }

  function deny(id: number): void {
    void post(id, [event('exception', { type: 'alloc', severity: 0, userid: owner, note: 'unsatisfiable request' }), event('clean')])
      .catch(logFailure(id, 'exception'));
  }

  /** the job gets `got`: journaled with its R, and the headers of its exec and output eventlogs */
  function grant(id: number, req: ResourceRequest, got: ResourceSet): void {
    free = difference(free!, got);
    allocating.set(id, got);
    const now = wallclock();
    const window = allocationWindow(req, now, all!);
    const R = encodeR(withWindow(got, window.starttime, window.expiration)) as unknown as JobR;
    // the tasks job-exec will start on `got`, whose streams a reader of the output waits for
    const ntasks = taskCounts(got.nodes.map((n) => n.cores.length), req).reduce((a, b) => a + b, 0);
    const header = { version: 1, encoding: { stdout: 'UTF-8', stderr: 'UTF-8' }, count: { stdout: ntasks, stderr: ntasks }, options: {} };
    void post(id, [event('alloc')], { R, ntasks }, [
      putOp(jobKey(id, 'R'), JSON.stringify(R)),
      appendOp(jobKey(id, EXEC_EVENTLOG), eventlogLine(now, 'init')),
      appendOp(jobKey(id, OUTPUT_EVENTLOG), eventlogLine(now, 'header', header)),
    ]).catch((err: unknown) => {
      allocating.delete(id);
      free = union(free!, got);
      logFailure(id, 'alloc')(err);
    });
  }

  /** a pending job's request: kept from its submission, or after a restart read back from its jobspec in the KVS */
  async function requestOf(id: number): Promise<ResourceRequest> {
    const known = requests.get(id);
    if (known) return known;
    const js = await jobspecOf(id);
    const req = resourceRequest(js);
    requests.set(id, req);
    return req;
  }

  async function jobspecOf(id: number): Promise<Jobspec> {
    const known = jobspecs.get(id);
    if (known) return known;
    const r = payloadJson(await host.rpc('kvs.lookup', { namespace: 'primary', key: jobKey(id, 'jobspec'), flags: 0 }));
    const v = r.val as { type?: string; data?: string };
    if (v.type !== 'val' || typeof v.data !== 'string') throw new FluxError(EPROTO, `${f58(id)}: jobspec is not a value`);
    const submitted = validateJobspec(JSON.parse(Buffer.from(v.data, 'base64').toString('utf8')));
    // the KVS keeps the jobspec as submitted: flux update's changes are the table's, from its jobspec-update events
    const rec = jobOf(table(), id);
    const js = rec === undefined ? submitted : updatedJobspec(submitted, {
      [DURATION_KEY]: rec.duration, ...(rec.name !== jobName(submitted) ? { [NAME_KEY]: rec.name } : {}),
    });
    jobspecs.set(id, js);
    return js;
  }

  function startJob(job: JobRecord): void {
    jobspecOf(job.id).then(
      (js) => {
        // an exception may have ended the job while its jobspec was read: its resources go back unused
        if (stateOf(job.id) !== STATE_RUN) {
          void post(job.id, [event('release', { ranks: 'all', final: true }), event('free'), event('clean')]).catch(logFailure(job.id, 'release'));
          return;
        }
        exec.start(job.id, job.R!, js, level);
      },
      (err: unknown) => void raise(job.id, 0, 'exec', `cannot read the jobspec: ${(err as Error).message}`, owner).catch(logFailure(job.id, 'exception')),
    );
  }

  /**
   * The tasks are done: their last output is written, the job ends, and its resources go back. They are counted
   * free at once, so that the next job's allocation goes in the same commit as this job's end (it is journaled
   * after it, and if this commit fails, so does that one).
   */
  function finish(id: number, status: number, output: string): void {
    const now = wallclock();
    const ops = [appendOp(jobKey(id, EXEC_EVENTLOG), eventlogLine(now, 'complete', { status }) + eventlogLine(now, 'done'))];
    if (output.length > 0) ops.unshift(appendOp(jobKey(id, OUTPUT_EVENTLOG), output));
    void post(id, [event('finish', { status }), event('release', { ranks: 'all', final: true }), event('free'), event('clean')], {}, ops)
      .catch((err: unknown) => {
        // what the scheduler counts free is worked out again from the table, which still holds this job's resources
        freedEarly.delete(id);
        recount();
        logFailure(id, 'finish')(err);
      });
    const R = jobOf(table(), id)?.R;
    if (R && free) {
      free = union(free, decodeR(R));
      freedEarly.add(id);
      schedule().catch((err: unknown) => host.log(3, 'job-manager', `scheduling: ${(err as Error).message}`));
    }
  }

  /** free = all - what the table's jobs hold - what is being allocated */
  function recount(): void {
    if (!all) return;
    let held = emptySet();
    for (const j of allJobs(table())) if (j.allocated && j.R && !freedEarly.has(j.id)) held = union(held, decodeR(j.R));
    for (const got of allocating.values()) held = union(held, got);
    free = difference(all, held);
  }

  // ---- requests on a job ---------------------------------------------------------------------------------------

  /** the job a request names; a guest may act on its own jobs only (`denied` says what it may not do) */
  /**
   * A running job's duration (the instance owner's to change): its allocation now expires that long after it
   * started, journaled as a resource-update event with the jobspec-update, and job-exec's timer moves with it.
   */
  async function updateRunning(msg: Message, job: JobRecord, updates: JobUpdates): Promise<void> {
    if (!(msg.rolemask & ROLE_OWNER)) throw new FluxError(EPERM, 'only the instance owner can update a running job');
    const duration = updates[DURATION_KEY];
    if (duration === undefined || Object.keys(updates).length > 1) throw new FluxError(EINVAL, 'only the duration of a running job can be updated');
    const expiration = duration === 0 ? 0 : (job.R!.execution.starttime ?? job.t_run ?? 0) + duration;
    if (expiration !== 0 && expiration <= Date.now() / 1000) throw new FluxError(EINVAL, 'the job would have expired already');
    await post(job.id, [event('jobspec-update', updates), event('resource-update', { expiration })]);
    exec.setExpiration(job.id, expiration);
    host.respond(msg, {});
  }

  function jobFor(msg: Message, id: number, denied: string): JobRecord {
    const job = jobOf(table(), id);
    if (!job) throw new FluxError(EINVAL, 'unknown job id');
    if (!(msg.rolemask & ROLE_OWNER) && msg.userid !== job.userid) throw new FluxError(EPERM, denied);
    return job;
  }

  async function raise(id: number, severity: number, type: string, note: string, userid: number): Promise<void> {
    const state = stateOf(id);
    if (state === undefined || state === STATE_INACTIVE) throw new FluxError(EINVAL, 'unknown job id');
    const events = [event('exception', { type, severity, userid, note })];
    // a pending job that can no longer run is done with at once
    if (severity === 0 && state !== STATE_RUN && state !== STATE_CLEANUP && !allocating.has(id)) events.push(event('clean'));
    await post(id, events);
  }

  function waitAnswer(id: number): Record<string, unknown> {
    const job = jobOf(table(), id)!;
    const out: Record<string, unknown> = { id, success: job.result === 1 };
    if (job.result !== 1) {
      const e = job.exception;
      out.errstr = e !== undefined && e.severity === 0
        ? `Fatal exception type=${e.type} ${e.note}`.trimEnd()
        : `task(s) exited with exit code ${exitCodeOf(job.waitstatus ?? 0)}`;
    }
    return out;
  }

  function wakeWaiters(): void {
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      const id = w.id ?? zombies.values().next().value;
      if (id === undefined || !zombies.has(id)) continue;
      zombies.delete(id);
      waiters.splice(i--, 1);
      host.respond(w.msg, waitAnswer(id));
    }
  }

  /** a waitable job the owner may still wait for: active, or inactive and not yet waited for */
  const waitableLeft = () => zombies.size > 0 || allJobs(table()).some((j) => j.flags & SUBMIT_WAITABLE && j.state !== STATE_INACTIVE);

  // ---- start and restart ---------------------------------------------------------------------------------------

  async function resume(): Promise<void> {
    const t = table();
    gen = new FluidGenerator(0, t.maxId > 0 ? fluidTimestamp(t.maxId) + 1 : 0);
    for (const job of allJobs(t)) {
      if (job.state === STATE_SCHED && (job.priority ?? 0) > 0) waiting.set(job.id, job.priority!);
      if (job.state === STATE_INACTIVE) continue;
      const events = [event('flux-restart')];
      if (job.state === STATE_NEW) events.push(event('validate'));
      if (job.state <= STATE_DEPEND) {
        const deps = await jobspecOf(job.id).then((js) => dependenciesIn(js), (err: unknown) => err as Error);
        if (deps instanceof Error) {
          events.push(event('exception', { type: 'dependency', severity: 0, userid: owner, note: deps.message }), event('clean'));
        } else {
          events.push(...settle(job.id, deps, job.dependencies ?? []));
        }
      } else if (job.state === STATE_PRIORITY) events.push(event('priority', { priority: priorityOf(job.urgency) }));
      if (job.state === STATE_RUN || job.state === STATE_CLEANUP) {
        if (job.state === STATE_RUN) events.push(event('exception', { type: 'exec', severity: 0, note: 'job was lost in a restart of the instance', userid: owner }));
        if (job.allocated) events.push(event('release', { ranks: 'all', final: true }), event('free'));
        events.push(event('clean'));
      }
      await post(job.id, events).catch(logFailure(job.id, 'restart'));
    }
    await queue.load();
    all = await opts.resources();
    free = all;
    queueSchedule();
  }

  const idSchema = { id: { type: 'integer', minimum: 0 } };

  return {
    name: 'job-manager',
    services: ['job-exec', 'sched'],
    start: () => {
      offApply = journal.onApply((a) => {
        const items = jobItems(a.entry);
        if (items.length > 0) applied(items);
      });
      // an instance serving a past state shows its jobs as they were, and does nothing about them
      if (journal.readOnly) return;
      // a rank back up may be what a waiting job needs
      offDown = opts.down?.watch(treeChanged);
      purger.start();
      // the table is the journal's: what to do about the jobs it holds is decided once the broker is up
      resume().catch((err: unknown) => host.log(2, 'job-manager', `cannot resume: ${(err as Error).message}`));
    },
    stop: async () => {
      stopping = true;
      for (const t of beginTimers.values()) clearTimeout(t);
      // jobs still running end now, and are recorded as ended: a restart finds nothing it has to call lost
      for (const id of exec.ids()) {
        void raise(id, 0, 'cancel', 'the instance is shutting down', owner).catch(logFailure(id, 'exception'));
        exec.signal(id, SIGKILL);
      }
      await exec.idle(STOP_WAIT_MS);
      await Promise.race([Promise.all(posting), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
      offApply?.();
      offDown?.();
      purger.stop();
      exec.stop();
      for (const w of waiters.splice(0)) host.respondError(w.msg, new FluxError(ECHILD, 'the job manager is unloading'));
      queue.stop();
    },
    handlers: [
      ...queue.handlers(),
      ...purger.handlers(),
      {
        topic: 'job-manager.submit',
        schema: {
          type: 'object',
          properties: {
            jobs: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                properties: {
                  J: { type: 'string' }, jobspec: { type: 'object' }, urgency: { type: 'integer', minimum: 0, maximum: 31 },
                  flags: { type: 'integer', minimum: 0 }, userid: { type: 'integer', minimum: 0 },
                },
                required: ['J', 'jobspec', 'urgency', 'flags', 'userid'],
              },
            },
          },
          required: ['jobs'],
        },
        handler: async (msg, body) => {
          // job-ingest validated them where they were submitted
          const ids = await submit(body!.jobs as SubmittedJob[]);
          host.respond(msg, { ids: ids.map((r) => (typeof r === 'number' ? r : { errnum: r.errno, errstr: r.message })) });
        },
      },
      {
        topic: 'job-manager.raise',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: {
            ...idSchema, severity: { type: 'integer', minimum: 0, maximum: 7 }, type: { type: 'string', pattern: '^[^\\s=]+$' },
            note: { type: 'string' },
          },
          required: ['id', 'severity', 'type'],
        },
        handler: async (msg, body) => {
          const job = jobFor(msg, body!.id as number, 'guests can only raise exceptions on their own jobs');
          await raise(job.id, body!.severity as number, body!.type as string, (body!.note as string | undefined) ?? '', msg.userid);
          host.respond(msg, {});
        },
      },
      {
        topic: 'job-manager.kill',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { ...idSchema, signum: { type: 'integer', minimum: 1, maximum: 64 } }, required: ['id', 'signum'] },
        handler: (msg, body) => {
          const job = jobFor(msg, body!.id as number, 'guests may only send signals to their own jobs');
          if (!exec.has(job.id)) throw new FluxError(EINVAL, 'job is not running');
          exec.signal(job.id, body!.signum as number);
          host.respond(msg, {});
        },
      },
      {
        topic: 'job-manager.urgency',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { ...idSchema, urgency: { type: 'integer', minimum: 0, maximum: 31 } }, required: ['id', 'urgency'] },
        handler: async (msg, body) => {
          const job = jobFor(msg, body!.id as number, 'guests can only reprioritize their own jobs');
          const urgency = body!.urgency as number;
          if (!(msg.rolemask & ROLE_OWNER) && urgency > Math.max(URGENCY_DEFAULT, job.urgency)) {
            throw new FluxError(EPERM, 'guests can only adjust urgency <= default');
          }
          const state = stateOf(job.id)!;
          if (state === STATE_INACTIVE) throw new FluxError(EINVAL, 'job is inactive');
          if (!(state & (STATE_NEW | STATE_DEPEND | STATE_PRIORITY | STATE_SCHED)) || allocating.has(job.id)) {
            throw new FluxError(EINVAL, 'urgency cannot be changed once resources are allocated');
          }
          const events = [event('urgency', { userid: msg.userid, urgency })];
          if (state === STATE_SCHED) events.push(event('priority', { priority: priorityOf(urgency) }));
          if (awaiting.has(job.id)) urgencies.set(job.id, urgency);
          await post(job.id, events);
          host.respond(msg, { old_urgency: job.urgency });
        },
      },
      {
        topic: 'job-manager.update',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { ...idSchema, updates: { type: 'object' } }, required: ['id', 'updates'] },
        handler: async (msg, body) => {
          const job = jobFor(msg, body!.id as number, 'guests can only update their own jobs');
          const updates = checkUpdates(body!.updates as Record<string, unknown>);
          if (stateOf(job.id) === STATE_RUN && job.R !== undefined && exec.has(job.id)) {
            await updateRunning(msg, job, updates);
            return;
          }
          const pending = () => (stateOf(job.id)! & (STATE_DEPEND | STATE_PRIORITY | STATE_SCHED)) !== 0 && !allocating.has(job.id);
          if (!pending()) throw new FluxError(EINVAL, 'only a pending or running job can be updated');
          const js = updatedJobspec(await jobspecOf(job.id), updates);
          // given resources while its jobspec was read
          if (!pending()) throw new FluxError(EINVAL, 'only a pending job can be updated');
          jobspecs.set(job.id, js);
          requests.set(job.id, resourceRequest(js));
          await post(job.id, [event('jobspec-update', updates)]);
          host.respond(msg, {});
        },
      },
      {
        topic: 'job-manager.wait',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { id: { type: 'number', minimum: 0 } }, required: ['id'] },
        handler: (msg, body) => {
          const asked = body!.id as number;
          const any = asked > ID_ANY_ABOVE;
          if (!any) {
            const job = jobOf(table(), asked);
            if (job && !(job.flags & SUBMIT_WAITABLE)) throw new FluxError(ECHILD, 'job was not submitted with FLUX_JOB_WAITABLE');
            if (!job || (job.state === STATE_INACTIVE && !zombies.has(job.id))) {
              throw new FluxError(ECHILD, 'invalid job id, or job may be inactive and not waitable');
            }
            if (waiters.some((w) => w.id === job.id)) throw new FluxError(ECHILD, 'job id already has a waiter');
          } else if (!waitableLeft()) {
            throw new FluxError(ECHILD, 'there are no more waitable jobs');
          }
          waiters.push({ msg, id: any ? undefined : asked });
          wakeWaiters();
        },
      },
      {
        topic: 'job-manager.memo',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { ...idSchema, memo: { type: 'object', minProperties: 1 }, volatile: { type: 'boolean' } }, required: ['id', 'memo'] },
        handler: async (msg, body) => {
          const job = jobFor(msg, body!.id as number, 'guests can only add memos to their own jobs');
          await post(job.id, [event('memo', body!.memo as Record<string, unknown>)]);
          host.respond(msg, {});
        },
      },
      {
        topic: 'job-manager.history.get',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { slice: { type: 'string', maxLength: 64 } } },
        handler: (msg, body) => {
          const slice = parseSlice((body!.slice as string | undefined) ?? '[:]');
          // ids grow with submission time: newest first is highest first
          const mine = allJobs(table()).filter((j) => j.userid === msg.userid).map((j) => j.id).sort((a, b) => b - a);
          host.respond(msg, { jobs: slice(mine) });
        },
      },
      {
        topic: 'job-exec.stdin',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { ...idSchema, data: { type: 'string' }, eof: { type: 'boolean' } }, required: ['id'] },
        handler: async (msg, body) => {
          const job = jobFor(msg, body!.id as number, 'that is not your job');
          await exec.stdin(job.id, body!.data as string | undefined, body!.eof === true);
          host.respond(msg, {});
        },
      },
      {
        topic: 'sched.resource-status',
        allow: ROLE_USER,
        handler: async (msg) => {
          const everything = await opts.resources();
          let allocated = emptySet();
          for (const j of allJobs(table())) if (j.allocated && j.R) allocated = union(allocated, decodeR(j.R));
          for (const got of allocating.values()) allocated = union(allocated, got);
          host.respond(msg, { all: encodeR(everything), allocated: encodeR(allocated), down: encodeR(selectRanks(everything, opts.down?.ranks() ?? [])) });
        },
      },
    ],
    disconnect: (sender) => {
      for (let i = waiters.length - 1; i >= 0; i--) if (senderOf(waiters[i]!.msg) === sender) waiters.splice(i, 1);
      queue.disconnect(sender);
    },
    stats: () => {
      const t = table();
      const inactive = t.inactive.reduce((n, page) => n + page.length, 0);
      return {
        submitted, running: exec.size, waiting: waiting.size, waiters: waiters.length,
        // flux-core's names for the table's size
        active_jobs: allJobs(t).length - inactive, inactive_jobs: inactive, max_jobid: t.maxId,
      };
    },
  };
}
