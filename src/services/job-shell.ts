// The job shell: on every broker of a job's allocation it starts that broker's share of the job's tasks, serves
// them PMI-1 (the job's key exchange and barriers span all its shells), writes their output to the job's RFC 24
// output eventlog in the KVS, forwards stdin and signals to them, and reports their wait statuses. It lives in
// the broker (one module, many jobs) rather than in a process per job: starting Node for every job would cost
// more than most jobs do.
//
//   job-shell.start   (streaming, from job-exec on rank 0) -> {type:"started", pids} ... {type:"finished", status}
//                     then ENODATA; {type:"failed", rank, errno, note} when a task cannot be started or calls PMI_Abort
//   job-shell.kill    {id, signum}                 every local task's process group
//   job-shell.stdin   {id, data?, eof?}            data base64; to every local task's stdin
//   job-shell.pmi-exchange {id, barrier, kvs}      on the job's first shell: answered with every shell's puts
//                                                  once all shells entered that barrier
import { mkdir, mkdirSync, openSync, closeSync, rm, statSync, writeFile } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isUtf8 } from 'node:buffer';
import type { Writable } from 'node:stream';
import { FluxError, errnoOf, strerror, EACCES, ECANCELED, EEXIST, ENODATA, ENOENT, EPERM, EPROTO } from '../core/errors.js';
import { formatIdset } from '../core/resource/idset.js';
import { type Message, payloadJson } from '../core/wire/message.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { exitCodeOf } from '../core/jobs/wait-status.js';
import { eventlogLine, jobKey, OUTPUT_EVENTLOG } from '../core/jobs/kvs.js';
import { appendOp } from '../core/jobs/ops.js';
import { type FileEntry, checkArchivePath, fileArchiveSchema, fileContent } from '../core/jobs/file-archive.js';
import { wallclock } from '../core/kvs/format-eventlog.js';
import { pmiLibraryPath } from '../core/pmi-library.js';
import { PmiServer } from '../transport/pmi-server.js';
import { type SpawnedTask, spawnTask } from '../transport/task-spawn.js';
import type { ModuleDef, ModuleHost } from './module.js';

const SIGKILL = 9;
/** how long output is gathered before it is committed */
const OUTPUT_BATCH_MS = 20;

export interface ShellStart {
  id: number;
  /** this shell's index among the job's shells; shell 0 leads the PMI exchange */
  index: number;
  /** broker rank of each shell, in shell order */
  shells: number[];
  /** global task ranks started here */
  tasks: number[];
  ntasks: number;
  command: string[];
  cwd?: string;
  env: Record<string, string>;
  /** files the tasks' stdout/stderr go to instead of the KVS ({{id}} already rendered) */
  output?: { stdout?: string; stderr?: string };
  /** a file the tasks read as stdin, instead of what `flux job attach` sends */
  input?: string;
  /** the jobspec's file archive, written into the job's temporary directory before the tasks start */
  files?: Record<string, FileEntry>;
  pmi: { kvsname: string; appnum: number; initial: Record<string, string> };
}

export const startSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 0 },
    index: { type: 'integer', minimum: 0 },
    shells: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 },
    tasks: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 },
    ntasks: { type: 'integer', minimum: 1 },
    command: { type: 'array', items: { type: 'string' }, minItems: 1 },
    cwd: { type: 'string' },
    env: { type: 'object', additionalProperties: { type: 'string' } },
    input: { type: 'string', minLength: 1 },
    files: fileArchiveSchema,
    output: {
      type: 'object',
      properties: { stdout: { type: 'string' }, stderr: { type: 'string' } },
      additionalProperties: false,
    },
    pmi: {
      type: 'object',
      properties: {
        kvsname: { type: 'string', minLength: 1 },
        appnum: { type: 'integer' },
        initial: { type: 'object', additionalProperties: { type: 'string' } },
      },
      required: ['kvsname', 'appnum', 'initial'],
    },
  },
  required: ['id', 'index', 'shells', 'tasks', 'ntasks', 'command', 'env', 'pmi'],
};

interface Task {
  rank: number;
  localId: number;
  /** the pipe to its stdin, unless it reads a file */
  stdin?: Writable;
  pid?: number;
  status?: number;
  done: Promise<void>;
}

interface Shell {
  req: Message;
  spec: ShellStart;
  /** where the tasks start: the job's cwd, or /tmp when that is not there (as flux-core's shell does) */
  cwd: string;
  tasks: Task[];
  pmi: PmiServer;
  tmpdir: string;
  /** output events not yet committed, the batch timer that will commit them, and the commit in flight */
  pending: string[];
  timer?: NodeJS.Timeout;
  flushing?: Promise<void>;
  /** barrier number -> what each shell put (leader only) */
  exchanges: Map<number, Exchange>;
  barrier: number;
  stdinClosed: boolean;
  /** the tasks are done: output is no longer committed here */
  done: boolean;
}

interface Exchange {
  puts: Record<string, string>;
  waiting: Message[];
  arrived: number;
}

/** whole lines of one stream; a partial line is held until the rest comes or the stream ends */
class LineBuffer {
  private held: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer | undefined {
    const all = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    const nl = all.lastIndexOf(0x0a);
    if (nl < 0) {
      this.held = all;
      return undefined;
    }
    this.held = all.subarray(nl + 1);
    return all.subarray(0, nl + 1);
  }

  end(): Buffer | undefined {
    const rest = this.held;
    this.held = Buffer.alloc(0);
    return rest.length > 0 ? rest : undefined;
  }
}

/** RFC 24 data: UTF-8 text as is, anything else base64 */
function dataContext(stream: string, rank: number, data: Buffer): Record<string, unknown> {
  if (isUtf8(data)) return { stream, rank: String(rank), data: data.toString('utf8') };
  return { stream, rank: String(rank), data: data.toString('base64'), encoding: 'base64' };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    // missing or unreadable: the tasks cannot start there either way
    return false;
  }
}

function signalGroup(pid: number, signum: number): void {
  try {
    process.kill(-pid, signum);
  } catch (err) {
    // the group is already empty
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export function jobShellModule(host: ModuleHost): ModuleDef {
  const shells = new Map<number, Shell>();
  /** exchanges that arrived at the leader before its own shell started */
  const early = new Map<number, Message[]>();
  const uri = host.attrs.get('local-uri');
  const rundir = host.attrs.get('rundir') ?? '/tmp';
  const hostname = host.attrs.get('hostname') ?? '';
  let started = 0;

  function respond(sh: Shell, payload: Record<string, unknown>): void {
    host.respond(sh.req, payload);
  }

  /**
   * Output events go to the KVS in order, one commit at a time, as many events per commit as OUTPUT_BATCH_MS
   * gathers (flux-core's shell batches for 0.5 s). What is left when the tasks are done goes to job-exec with the
   * shell's finish instead, and is journaled with the job's finish: a short job costs one commit less.
   */
  function scheduleFlush(sh: Shell): void {
    if (sh.timer !== undefined || sh.flushing !== undefined) return;
    sh.timer = setTimeout(() => {
      sh.timer = undefined;
      flush(sh);
    }, OUTPUT_BATCH_MS);
  }

  function flush(sh: Shell): void {
    if (sh.pending.length === 0) return;
    const text = sh.pending.join('');
    sh.pending = [];
    sh.flushing = host.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: [appendOp(jobKey(sh.spec.id, OUTPUT_EVENTLOG), text)] })
      .then(() => undefined, (err: unknown) => {
        host.log(3, 'job-shell', `${encodeFluid(sh.spec.id, 'f58')}: output lost: ${(err as Error).message}`);
      })
      .finally(() => {
        sh.flushing = undefined;
        if (sh.pending.length > 0 && !sh.done) scheduleFlush(sh);
      });
  }

  function output(sh: Shell, name: string, context: Record<string, unknown>): void {
    sh.pending.push(eventlogLine(wallclock(), name, context));
    if (!sh.done) scheduleFlush(sh);
  }

  function taskEnv(sh: Shell, t: Task): NodeJS.ProcessEnv {
    const s = sh.spec;
    const env: NodeJS.ProcessEnv = { ...s.env };
    // what a launcher (or the broker that started us) set for us is not the task's
    for (const k of Object.keys(env)) if (k.startsWith('PMI_') || k === 'FLUX_KVS_NAMESPACE') delete env[k];
    Object.assign(env, {
      FLUX_JOB_ID: encodeFluid(s.id, 'f58'),
      FLUX_JOB_SIZE: String(s.ntasks),
      FLUX_JOB_NNODES: String(s.shells.length),
      FLUX_TASK_RANK: String(t.rank),
      FLUX_TASK_LOCAL_ID: String(t.localId),
      FLUX_JOB_TMPDIR: sh.tmpdir,
      PMI_FD: '3',
      PMI_RANK: String(t.rank),
      PMI_SIZE: String(s.ntasks),
    });
    if (uri !== undefined) env.FLUX_URI = uri;
    const lib = pmiLibraryPath();
    if (lib !== undefined) env.FLUX_PMI_LIBRARY_PATH = lib;
    return env;
  }

  /** a relative path is the job's working directory's, as for its tasks */
  function openOutput(path: string | undefined, cwd: string): number | undefined {
    return path === undefined ? undefined : openSync(resolve(cwd, path), 'a', 0o644);
  }

  async function startTask(sh: Shell, t: Task, files: { stdin?: number; stdout?: number; stderr?: number }): Promise<void> {
    const s = sh.spec;
    let task: SpawnedTask;
    try {
      // {{tmpdir}}: where the jobspec's files are (flux batch's script)
      const [command, ...args] = s.command.map((a) => a.replaceAll('{{tmpdir}}', sh.tmpdir));
      task = await spawnTask(command!, args, taskEnv(sh, t), sh.cwd, files);
    } catch (err) {
      failed(sh, t, err);
      return;
    }
    t.pid = task.pid;
    t.stdin = task.stdin;
    task.stdin?.on('error', (err) => host.log(7, 'job-shell', `task ${t.rank} stdin: ${err.message}`));
    if (sh.stdinClosed) task.stdin?.end();
    sh.pmi.attach(t.rank, task.channel);
    const streams: Array<Promise<void>> = [];
    for (const [stream, s2] of [['stdout', task.stdout], ['stderr', task.stderr]] as const) {
      if (!s2) continue;
      const lines = new LineBuffer();
      streams.push(new Promise((r) => {
        s2.on('data', (d: Buffer) => {
          const whole = lines.push(d);
          if (whole) output(sh, 'data', dataContext(stream, t.rank, whole));
        });
        s2.on('error', (err) => host.log(4, 'job-shell', `task ${t.rank} ${stream}: ${err.message}`));
        s2.on('close', () => {
          const rest = lines.end();
          if (rest) output(sh, 'data', dataContext(stream, t.rank, rest));
          output(sh, 'data', { stream, rank: String(t.rank), eof: true });
          r();
        });
      }));
    }
    t.done = Promise.all([task.exited.then((status) => (t.status = status)), ...streams]).then(() => undefined);
  }

  /** a task that could not be started: the job fails as a shell would exit for a command not found */
  function failed(sh: Shell, t: Task, err: unknown): void {
    const errno = errnoOf(err);
    t.status = (errno === ENOENT ? 127 : errno === EPERM || errno === EACCES ? 126 : 1) << 8;
    const note = `task ${t.rank} (host ${hostname}): start failed: ${sh.spec.command[0]}: ${strerror(errno)}`;
    // its streams end without ever having carried anything, so that a reader waiting for every eof is not left waiting
    for (const stream of ['stdout', 'stderr']) output(sh, 'data', { stream, rank: String(t.rank), eof: true });
    respond(sh, { type: 'failed', rank: t.rank, errno, note });
  }

  async function run(sh: Shell): Promise<void> {
    const s = sh.spec;
    for (const [path, entry] of Object.entries(s.files ?? {})) {
      const { bytes, perms } = fileContent(entry);
      const to = join(sh.tmpdir, checkArchivePath(path));
      // fs's callbacks: a broker does not load node:fs/promises for this alone
      await new Promise<void>((done, fail) => mkdir(dirname(to), { recursive: true, mode: 0o700 }, (err) => (err ? fail(err) : done())));
      await new Promise<void>((done, fail) => writeFile(to, bytes, { mode: perms }, (err) => (err ? fail(err) : done())));
    }
    const files = {
      stdin: s.input === undefined ? undefined : openSync(s.input, 'r'),
      stdout: openOutput(s.output?.stdout, sh.cwd),
      stderr: openOutput(s.output?.stderr ?? s.output?.stdout, sh.cwd),
    };
    const ranks = formatIdset(s.tasks, true);
    if (s.output?.stdout !== undefined) output(sh, 'redirect', { stream: 'stdout', rank: ranks, path: s.output.stdout });
    if (s.output?.stdout !== undefined || s.output?.stderr !== undefined) {
      output(sh, 'redirect', { stream: 'stderr', rank: ranks, path: s.output.stderr ?? s.output.stdout! });
    }
    try {
      await Promise.all(sh.tasks.map((t) => startTask(sh, t, files)));
    } finally {
      // the tasks hold their own copies
      if (files.stdin !== undefined) closeSync(files.stdin);
      if (files.stdout !== undefined) closeSync(files.stdout);
      if (files.stderr !== undefined && files.stderr !== files.stdout) closeSync(files.stderr);
    }
    respond(sh, { type: 'started', pids: sh.tasks.flatMap((t) => (t.pid === undefined ? [] : [t.pid])) });
    await Promise.all(sh.tasks.map((t) => t.done));
    // whatever the tasks left behind in their process groups goes with them
    for (const t of sh.tasks) if (t.pid !== undefined) signalGroup(t.pid, SIGKILL);
    // a task's stdin pipe never tells its writer that the reader has gone: left open, it kept its descriptor, and the
    // whole shell through its handlers, for the broker's life (one descriptor and ~80 KiB a job, measured)
    for (const t of sh.tasks) t.stdin?.destroy();
    sh.done = true;
    clearTimeout(sh.timer);
    // what was committed stays ahead of what goes with the finish
    while (sh.flushing) await sh.flushing;
    // as a shell exits with its highest task exit code, a task killed by a signal counting as 128 + the signal
    const status = Math.max(...sh.tasks.map((t) => exitCodeOf(t.status ?? 0))) << 8;
    sh.pmi.close();
    // shells still in a barrier this one led will never see it complete
    for (const ex of sh.exchanges.values()) for (const w of ex.waiting) host.respondError(w, new FluxError(ECANCELED, 'the job\'s first shell has finished'));
    rm(sh.tmpdir, { recursive: true, force: true }, (err) => {
      if (err) host.log(4, 'job-shell', `${sh.tmpdir}: ${err.message}`);
    });
    shells.delete(s.id);
    respond(sh, { type: 'finished', status, ...(sh.pending.length > 0 ? { output: sh.pending.join('') } : {}) });
    host.respondError(sh.req, new FluxError(ENODATA));
  }

  function start(msg: Message, spec: ShellStart): void {
    if (shells.has(spec.id)) throw new FluxError(EEXIST, `job ${encodeFluid(spec.id, 'f58')} already has a shell here`);
    const tmpdir = join(rundir, `jobtmp-${spec.index}-${encodeFluid(spec.id, 'f58')}`);
    mkdirSync(tmpdir, { recursive: true, mode: 0o700 });
    let sh!: Shell;
    const pmi = new PmiServer({
      size: spec.ntasks,
      localSize: spec.tasks.length,
      kvsname: spec.pmi.kvsname,
      appnum: spec.pmi.appnum,
      initialKvs: spec.pmi.initial,
      exchange: spec.shells.length > 1 ? (puts) => exchange(sh, puts) : undefined,
      // the whole job ends: job-exec raises the exception and has every shell signal its tasks
      onAbort: (rank, code, text) => respond(sh, { type: 'failed', rank, errno: code, note: `PMI_Abort: ${text}` }),
      log: (line) => host.log(7, 'job-shell', line),
    });
    sh = {
      req: msg, spec, pmi, tmpdir, pending: [], exchanges: new Map(), barrier: 0, stdinClosed: false, cwd: spec.cwd ?? '/tmp', done: false,
      tasks: spec.tasks.map((rank, localId) => ({ rank, localId, done: Promise.resolve() })),
    };
    shells.set(spec.id, sh);
    started++;
    if (!isDirectory(sh.cwd)) {
      output(sh, 'log', { rank: spec.index, level: 3, message: `host ${hostname}: Could not change dir to ${sh.cwd}: No such file or directory. Going to /tmp instead` });
      sh.cwd = '/tmp';
    }
    for (const m of early.get(spec.id) ?? []) exchangeArrived(sh, m);
    early.delete(spec.id);
    run(sh).catch((err: unknown) => {
      shells.delete(spec.id);
      host.respondError(msg, err);
    });
  }

  /** this shell's puts go to the leader; the answer is every shell's */
  async function exchange(sh: Shell, puts: Record<string, string>): Promise<Record<string, string>> {
    const r = await host.rpc('job-shell.pmi-exchange', { id: sh.spec.id, barrier: sh.barrier++, kvs: puts }, { nodeid: sh.spec.shells[0]! });
    return payloadJson(r).kvs as Record<string, string>;
  }

  function exchangeArrived(sh: Shell, msg: Message): void {
    const body = payloadJson(msg) as { barrier: number; kvs: Record<string, string> };
    let ex = sh.exchanges.get(body.barrier);
    if (!ex) sh.exchanges.set(body.barrier, (ex = { puts: {}, waiting: [], arrived: 0 }));
    Object.assign(ex.puts, body.kvs);
    ex.waiting.push(msg);
    if (++ex.arrived < sh.spec.shells.length) return;
    sh.exchanges.delete(body.barrier);
    for (const w of ex.waiting) host.respond(w, { kvs: ex.puts });
  }

  return {
    name: 'job-shell',
    stop: async () => {
      for (const sh of shells.values()) for (const t of sh.tasks) if (t.pid !== undefined) signalGroup(t.pid, SIGKILL);
      await Promise.race([
        Promise.all([...shells.values()].flatMap((sh) => sh.tasks.map((t) => t.done))),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
    },
    handlers: [
      {
        topic: 'job-shell.start',
        streaming: true,
        schema: startSchema,
        handler: (msg, body) => start(msg, body as unknown as ShellStart),
      },
      {
        topic: 'job-shell.kill',
        schema: {
          type: 'object',
          properties: { id: { type: 'integer', minimum: 0 }, signum: { type: 'integer', minimum: 1, maximum: 64 } },
          required: ['id', 'signum'],
        },
        handler: (msg, body) => {
          const sh = shells.get(body!.id as number);
          if (sh) for (const t of sh.tasks) if (t.pid !== undefined && t.status === undefined) signalGroup(t.pid, body!.signum as number);
          host.respond(msg, {});
        },
      },
      {
        topic: 'job-shell.stdin',
        schema: {
          type: 'object',
          properties: { id: { type: 'integer', minimum: 0 }, data: { type: 'string' }, eof: { type: 'boolean' } },
          required: ['id'],
        },
        handler: (msg, body) => {
          const sh = shells.get(body!.id as number);
          if (!sh) throw new FluxError(ENOENT, 'the job has no running tasks here');
          const data = body!.data === undefined ? undefined : Buffer.from(body!.data as string, 'base64');
          for (const t of sh.tasks) {
            const stdin = t.stdin;
            if (!stdin || stdin.writableEnded) continue;
            if (data !== undefined && data.length > 0) stdin.write(data);
            if (body!.eof === true) stdin.end();
          }
          if (body!.eof === true) sh.stdinClosed = true;
          host.respond(msg, {});
        },
      },
      {
        topic: 'job-shell.pmi-exchange',
        schema: {
          type: 'object',
          properties: {
            id: { type: 'integer', minimum: 0 },
            barrier: { type: 'integer', minimum: 0 },
            kvs: { type: 'object', additionalProperties: { type: 'string' } },
          },
          required: ['id', 'barrier', 'kvs'],
        },
        handler: (msg, body) => {
          const id = body!.id as number;
          const sh = shells.get(id);
          if (sh) {
            if (sh.spec.index !== 0) throw new FluxError(EPROTO, 'the exchange is led by the job\'s first shell');
            exchangeArrived(sh, msg);
          } else {
            // another shell may be quicker than this one's own start
            const list = early.get(id) ?? [];
            list.push(msg);
            early.set(id, list);
          }
        },
      },
    ],
    stats: () => ({ jobs: shells.size, started }),
  };
}
