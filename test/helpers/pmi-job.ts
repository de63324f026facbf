// Jobs over PMI in tests: tasks spawned the way a job shell spawns them (fd 3 one end of a socketpair, PMI_FD=3,
// PMI_RANK, PMI_SIZE), one PmiServer per shell, the shells joined by an in-test exchange that stands in for the
// one between brokers; and C programs compiled for the tests.
import { spawn, spawnSync } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { PmiServer, type PmiServerOptions } from '../../src/transport/pmi-server.js';

type Kvs = Record<string, string>;
type Exchange = (puts: Kvs) => Promise<Kvs>;

/**
 * One exchange function per shell: a shell's n-th call waits for every shell's n-th call, then all of them get
 * the union of the puts.
 */
export function exchangeGroup(shells: number): Exchange[] {
  const rounds: Array<{ puts: Kvs; arrived: number; done: Promise<Kvs>; resolve: (all: Kvs) => void }> = [];
  const round = (n: number) => {
    if (rounds[n] === undefined) {
      let resolve!: (all: Kvs) => void;
      const done = new Promise<Kvs>((r) => (resolve = r));
      rounds[n] = { puts: {}, arrived: 0, done, resolve };
    }
    return rounds[n]!;
  };
  return Array.from({ length: shells }, () => {
    let calls = 0;
    return (puts) => {
      const r = round(calls++);
      Object.assign(r.puts, puts);
      if (++r.arrived === shells) r.resolve({ ...r.puts });
      return r.done;
    };
  });
}

export interface Task {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface JobOptions {
  command: string[];
  /** the job ranks each shell serves; together 0..size-1 */
  shells: number[][];
  env?: NodeJS.ProcessEnv;
  /** passed to every shell's server */
  server?: Pick<PmiServerOptions, 'kvsname' | 'appnum' | 'initialKvs' | 'debug' | 'log'>;
  /** after this long every task still running is killed; the test then fails on its signal */
  timeoutMs?: number;
}

export interface JobResult {
  /** by rank */
  tasks: Task[];
  aborts: Array<[rank: number, code: number, msg: string]>;
}

/** Run a job to completion; a PMI abort kills every task, as a job shell does. */
export async function runJob(opts: JobOptions): Promise<JobResult> {
  const size = opts.shells.reduce((n, ranks) => n + ranks.length, 0);
  const exchanges = exchangeGroup(opts.shells.length);
  const aborts: JobResult['aborts'] = [];
  const kills: Array<() => void> = [];
  const killAll = () => kills.forEach((kill) => kill());
  const servers = opts.shells.map(
    (ranks, i) =>
      new PmiServer({
        size,
        localSize: ranks.length,
        exchange: exchanges[i],
        onAbort: (rank, code, msg) => {
          aborts.push([rank, code, msg]);
          killAll();
        },
        ...opts.server,
      }),
  );
  const timer = setTimeout(killAll, opts.timeoutMs ?? 20000);
  const [file, ...args] = opts.command as [string, ...string[]];
  const running = opts.shells.flatMap((ranks, i) =>
    ranks.map((rank) => {
      const child = spawn(file, args, {
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
        env: { ...process.env, ...opts.env, PMI_FD: '3', PMI_RANK: String(rank), PMI_SIZE: String(size) },
      });
      kills.push(() => child.kill('SIGKILL'));
      servers[i]!.attach(rank, child.stdio[3] as Duplex);
      const task: Task = { rank, code: null, signal: null, stdout: '', stderr: '' };
      child.stdout!.on('data', (d: Buffer) => (task.stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (task.stderr += d.toString()));
      return new Promise<Task>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, signal) => resolve({ ...task, code, signal }));
      });
    }),
  );
  try {
    const tasks = await Promise.all(running);
    return { tasks: tasks.sort((a, b) => a.rank - b.rank), aborts };
  } finally {
    clearTimeout(timer);
    for (const server of servers) server.close();
  }
}

/**
 * `make` run at most once; every call returns its result or throws its error again. For builds that tests need:
 * done inside each test, a failure fails (and is counted against) every test that needed it, where a failing
 * beforeAll would only mark them skipped.
 */
export function once<T>(make: () => T): () => T {
  let result: { value: T } | { error: unknown } | undefined;
  return () => {
    if (result === undefined) {
      try {
        result = { value: make() };
      } catch (error) {
        result = { error };
      }
    }
    if ('error' in result) throw result.error;
    return result.value;
  };
}

/**
 * Compile C with `compiler` and return what it printed (warnings). A missing compiler fails the test with what to
 * install: CI installs them, so their absence is a broken machine, not a reason to skip.
 */
export function compileC(compiler: string, args: string[], debianPackage: string): string {
  const run = spawnSync(compiler, args, { encoding: 'utf8' });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(`${compiler} is not installed (Debian: apt-get install ${debianPackage})`);
  }
  if (run.error !== undefined) throw run.error;
  if (run.status !== 0) throw new Error(`${compiler} ${args.join(' ')} failed:\n${run.stderr}`);
  return run.stderr;
}
