// Real instances for e2e tests: `bin/flux start` as a child process, on this machine, with its output captured.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FLUX = join(ROOT, 'bin', 'flux');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** run as this user (needs root): what another user of the instance sees */
  user?: { name: string; uid: number; gid: number };
}

/** Run `flux ARGS...` to completion (e.g. run(['start', '--size', '4', 'flux', 'getattr', 'size'])). */
export function run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FLUX, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.user && { uid: opts.user.uid, gid: opts.user.gid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`flux ${args.join(' ')}${opts.user ? ` as ${opts.user.name}` : ''} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 25_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A running instance whose initial program waits for stdin to close; tests talk to it through FLUX_URI. */
export interface Instance {
  uri: string;
  rundir: string;
  proc: ChildProcess;
  /** run `flux ARGS...` against this instance */
  flux(args: string[], opts?: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** end the initial program and wait for the instance to exit; resolves with flux start's exit code */
  stop(): Promise<number | null>;
  stderr(): string;
}

export async function startInstance(size: number, extra: string[] = [], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Instance> {
  const rundir = mkdtempSync(join(tmpdir(), 'flux-test-'));
  const proc = spawn(
    process.execPath,
    [FLUX, 'start', '--size', String(size), '--test-rundir', rundir, ...extra, 'sh', '-c', 'echo "$FLUX_URI"; exec cat >/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
  );
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  const uri = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start: ${err}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    void exited.then((code) => reject(new Error(`instance exited (${code}) before starting: ${err}`)));
  });
  return {
    uri,
    rundir,
    proc,
    flux: (args, opts = {}) => run(args, { ...opts, env: { FLUX_URI: uri, ...opts.env } }),
    stop: async () => {
      proc.stdin!.end();
      return exited;
    },
    stderr: () => err,
  };
}

/** `fn`'s first answer that is not undefined, asked every 100 ms; an error naming `what` after `timeoutMs` */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** a flux command left running (a watch) against the instance at `uri`, whose output can be waited for */
export function background(uri: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [FLUX, ...args], { env: { ...process.env, FLUX_URI: uri, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return {
    done,
    /** resolves once stdout holds `text` */
    async saw(text: string, ms = 10_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!stdout.includes(text)) {
        if (Date.now() > deadline) throw new Error(`never saw ${JSON.stringify(text)}; stdout ${JSON.stringify(stdout)} stderr ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
