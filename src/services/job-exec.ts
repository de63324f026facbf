// job-exec (rank 0): runs an allocated job. It starts a job shell on every rank of the allocation (job-shell.start,
// a streaming RPC each), posts `start` once every shell has started its tasks and `finish` (the highest task wait
// status) once every shell has reported, enforces the time limit, and on a fatal exception sends the tasks
// SIGTERM and, KILL_TIMEOUT later, SIGKILL. What it posts goes through the job manager, which journals it.
import { FluxError, ENOENT } from '../core/errors.js';
import { type Message, payloadJson } from '../core/wire/message.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { type Jobspec, resourceRequest } from '../core/jobs/jobspec.js';
import { parseIdset } from '../core/resource/idset.js';
import { taskCounts } from '../core/jobs/taskmap.js';
import { mappings } from '../core/jobs/rfc34.js';
import { eventlogLine } from '../core/jobs/kvs.js';
import { wallclock } from '../core/kvs/format-eventlog.js';
import type { JobR } from '../projections/jobs.js';
import type { ShellStart } from './job-shell.js';
import type { ModuleHost } from './module.js';

const SIGKILL = 9;
/** after SIGTERM, how long tasks have before SIGKILL (flux-core's kill-timeout) */
export const KILL_TIMEOUT_MS = 5000;

export interface ExecHooks {
  /** every shell has started its tasks, placed as the RFC 34 taskmap says */
  start(id: number, taskmap: string): void;
  /** every shell has reported: the highest status, and the output the shells had not committed yet */
  finish(id: number, status: number, output: string): void;
  /** a fatal exception of the given type */
  raise(id: number, type: string, note: string): void;
}

interface Running {
  id: number;
  taskmap: string;
  shells: number[];
  started: number;
  finished: number;
  status: number;
  /** output the shells handed over with their finish, in the order they reported */
  output: string;
  failed: boolean;
  terminating: boolean;
  timer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
}

/** each rank of R and the cores it gives the job, in rank order */
export function coresByRank(R: JobR): Array<{ rank: number; ncores: number }> {
  const out: Array<{ rank: number; ncores: number }> = [];
  for (const e of R.execution.R_lite) {
    const ncores = e.children.core === undefined ? 0 : parseIdset(e.children.core).length;
    for (const rank of parseIdset(e.rank)) out.push({ rank, ncores });
  }
  return out.sort((a, b) => a.rank - b.rank);
}

/** Which tasks run on which rank: each rank's share (src/core/jobs/taskmap.ts), numbered in rank order. */
export function taskMap(R: JobR, js: Jobspec): number[][] {
  let task = 0;
  return taskCounts(coresByRank(R).map((r) => r.ncores), resourceRequest(js)).map((n) => Array.from({ length: n }, () => task++));
}

/** what the job's output files are called, with the templates flux-core's shell renders */
function renderPath(template: string, id: number): string {
  return template.replace(/\{\{\s*(id|jobid)(?:\.(f58|dec|hex|dothex|words))?\s*\}\}/g, (_m, _k, enc: string | undefined) =>
    encodeFluid(id, (enc ?? 'f58') as 'f58'));
}

function shellOutput(js: Jobspec, id: number): ShellStart['output'] {
  const out = (js.attributes?.system?.shell?.options as { output?: Record<string, { type?: string; path?: string }> } | undefined)?.output;
  const pick = (s: string) => (out?.[s]?.type === 'file' && out[s]!.path !== undefined ? renderPath(out[s]!.path!, id) : undefined);
  const stdout = pick('stdout');
  const stderr = pick('stderr');
  if (stdout === undefined && stderr === undefined) return undefined;
  return { ...(stdout !== undefined ? { stdout } : {}), ...(stderr !== undefined ? { stderr } : {}) };
}

export class JobExec {
  private readonly running = new Map<number, Running>();

  constructor(private readonly host: ModuleHost, private readonly hooks: ExecHooks) {}

  has(id: number): boolean {
    return this.running.has(id);
  }

  /** the jobs whose shells have not all reported */
  ids(): number[] {
    return [...this.running.keys()];
  }

  get size(): number {
    return this.running.size;
  }

  start(id: number, R: JobR, js: Jobspec, instanceLevel: number): void {
    const ranks = coresByRank(R).map((r) => r.rank);
    const map = taskMap(R, js);
    const { taskmap, processMapping } = mappings(map.map((t) => t.length));
    const ntasks = map.reduce((a, t) => a + t.length, 0);
    const run: Running = { id, taskmap, shells: ranks, started: 0, finished: 0, status: 0, output: '', failed: false, terminating: false };
    this.running.set(id, run);
    const kvsname = encodeFluid(id, 'f58');
    const sys = js.attributes?.system;
    const task = js.tasks[0]!;
    this.expireAt(run, R.execution.expiration ?? 0);
    ranks.forEach((rank, index) => {
      const spec: ShellStart = {
        id, index, shells: ranks, tasks: map[index]!, ntasks, command: task.command,
        env: (sys?.environment ?? {}) as Record<string, string>,
        pmi: {
          kvsname,
          // the job id cut to a C int, as flux-core's shell gives it
          appnum: Number(BigInt.asIntN(32, BigInt(id))),
          initial: {
            PMI_process_mapping: processMapping,
            'flux.taskmap': taskmap,
            'flux.instance-level': String(instanceLevel + 1),
          },
        },
      };
      if (typeof sys?.cwd === 'string') spec.cwd = sys.cwd;
      const output = shellOutput(js, id);
      if (output !== undefined) spec.output = output;
      const input = (sys?.shell?.options as { input?: { stdin?: { type?: string; path?: string } } } | undefined)?.input?.stdin;
      if (input?.type === 'file' && typeof input.path === 'string') spec.input = input.path;
      if (sys?.files !== undefined) spec.files = sys.files;
      this.host.rpcStream('job-shell.start', spec as unknown as Record<string, unknown>, { nodeid: rank }, (m) => this.fromShell(run, m))
        .catch((err: unknown) => {
          // a shell that cannot be reached, or failed, counts as finished; the job fails
          this.fail(run, `rank ${rank}: ${(err as Error).message}`);
          // and its tasks' streams end, so that a reader waiting for every eof is not left waiting
          for (const t of map[index]!) {
            for (const stream of ['stdout', 'stderr']) run.output += eventlogLine(wallclock(), 'data', { stream, rank: String(t), eof: true });
          }
          this.shellDone(run, 1 << 8);
        });
    });
  }

  private fromShell(run: Running, m: Message): void {
    const r = payloadJson(m) as { type: string; status?: number; note?: string; output?: string };
    if (r.type === 'started') {
      if (++run.started === run.shells.length && !run.failed) this.hooks.start(run.id, run.taskmap);
    } else if (r.type === 'failed') {
      this.fail(run, r.note ?? 'a task could not be started');
    } else if (r.type === 'finished') {
      run.output += r.output ?? '';
      this.shellDone(run, r.status ?? 0);
    }
  }

  private fail(run: Running, note: string): void {
    if (run.failed) return;
    run.failed = true;
    this.hooks.raise(run.id, 'exec', note);
  }

  private shellDone(run: Running, status: number): void {
    // tasks that exited 0 while the job was being ended did not complete it
    run.status = Math.max(run.status, status === 0 && run.terminating ? 1 << 8 : status);
    if (++run.finished < run.shells.length) return;
    clearTimeout(run.timer);
    clearTimeout(run.killTimer);
    this.running.delete(run.id);
    this.hooks.finish(run.id, run.status, run.output);
  }

  /** the job's allocation expires at `expiration` (seconds since the epoch; 0: never) */
  private expireAt(run: Running, expiration: number): void {
    clearTimeout(run.timer);
    run.timer = undefined;
    if (expiration <= 0) return;
    run.timer = setTimeout(() => this.expire(run), Math.max(0, expiration * 1000 - Date.now()));
    run.timer.unref();
  }

  /** a running job's new expiration (flux update of its duration) */
  setExpiration(id: number, expiration: number): void {
    const run = this.running.get(id);
    if (run) this.expireAt(run, expiration);
  }

  private expire(run: Running): void {
    this.hooks.raise(run.id, 'timeout', 'resource allocation expired');
  }

  /** a fatal exception: `signum` now, SIGKILL if the tasks are still there after KILL_TIMEOUT */
  terminate(id: number, signum: number): void {
    const run = this.running.get(id);
    if (!run || run.terminating) return;
    run.terminating = true;
    this.signal(id, signum);
    run.killTimer = setTimeout(() => this.signal(id, SIGKILL), KILL_TIMEOUT_MS);
    run.killTimer.unref();
  }

  signal(id: number, signum: number): void {
    const run = this.running.get(id);
    if (!run) throw new FluxError(ENOENT, `job ${encodeFluid(id, 'f58')} is not running`);
    for (const rank of run.shells) {
      this.host.rpc('job-shell.kill', { id, signum }, { nodeid: rank }).catch((err: unknown) => {
        this.host.log(4, 'job-exec', `${encodeFluid(id, 'f58')}: kill on rank ${rank}: ${(err as Error).message}`);
      });
    }
  }

  /** stdin from `flux job attach`, to every shell of the job */
  async stdin(id: number, data: string | undefined, eof: boolean): Promise<void> {
    const run = this.running.get(id);
    if (!run) throw new FluxError(ENOENT, `job ${encodeFluid(id, 'f58')} is not running`);
    await Promise.all(run.shells.map((rank) => this.host.rpc('job-shell.stdin', { id, ...(data !== undefined ? { data } : {}), eof }, { nodeid: rank })));
  }

  /** resolves once no job is running (or after `ms`) */
  async idle(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.running.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  /** the broker is stopping: what shells report from now on no longer matters */
  stop(): void {
    for (const run of this.running.values()) {
      clearTimeout(run.timer);
      clearTimeout(run.killTimer);
    }
    this.running.clear();
  }
}
