// Attaching to a job, as `flux job attach` and `flux run` do: the job's output as it is written (labelled with the
// task rank under -l), its exceptions on stderr, stdin forwarded to its tasks, SIGTERM/SIGHUP/SIGALRM/SIGUSR1/
// SIGUSR2 forwarded, Ctrl-C twice within 2 s cancels, and flux-core's exit code: the highest task exit code (128 +
// the signal for a task a signal ended), or 1 for a job that failed without one.
import { constants as osConstants } from 'node:os';
import { FluxError, ENOENT, EPERM } from '../core/errors.js';
import { exitCodeOf } from '../core/jobs/wait-status.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { type JobEvent, OutputStreams } from '../core/jobs/kvs.js';
import type { Flux } from '../api/handle.js';
import { cancel, kill, watchEventlog, writeStdin } from '../api/jobs.js';

/** the shell's log levels as flux-core's attach prints them */
const LOG_LEVELS = ['FATAL', 'FATAL', 'FATAL', 'ERROR', ' WARN', '', 'DEBUG', 'TRACE'];
const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGALRM', 'SIGUSR1', 'SIGUSR2'];
const CTRL_C_WINDOW_MS = 2000;

export interface AttachOptions {
  /** prefix each line of output with its task rank */
  label: boolean;
  /** forward this process's stdin to the tasks */
  stdin: boolean;
  /** how the job id is printed in messages (as the user typed it) */
  idText: string;
  /** -E: job events on stderr as they come */
  showEvents?: boolean;
  /** forward signals to the job and take Ctrl-C (true unless said): false where several jobs are followed at once */
  signals?: boolean;
}

/** strsignal(3)'s names for the signals a task usually dies of */
const SIGNAL_TEXT: Record<number, string> = {
  1: 'Hangup', 2: 'Interrupt', 3: 'Quit', 4: 'Illegal instruction', 5: 'Trace/breakpoint trap', 6: 'Aborted',
  7: 'Bus error', 8: 'Floating point exception', 9: 'Killed', 10: 'User defined signal 1', 11: 'Segmentation fault',
  12: 'User defined signal 2', 13: 'Broken pipe', 14: 'Alarm clock', 15: 'Terminated',
};

export const signalText = (sig: number): string => SIGNAL_TEXT[sig] ?? `Unknown signal ${sig}`;

/** flux-core's words for how the job's tasks ended (undefined for success) */
export function finishMessage(status: number): string | undefined {
  const code = exitCodeOf(status);
  if (code === 0) return undefined;
  if (code > 128) return `task(s) ${signalText(code - 128)}`;
  return `task(s) exited with exit code ${code}`;
}

function ctxText(ev: JobEvent): string {
  return Object.entries(ev.context ?? {}).map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join('');
}

/** Attach to job `id` until it is done; resolves with the exit code `flux run` exits with. */
export async function attach(h: Flux, id: number, o: AttachOptions): Promise<number> {
  let t0: number | undefined;
  let code: number | undefined;
  let fatal = false;
  let allocated = false;
  let clean = false;
  const streams = new OutputStreams();
  let stdinQueue: Array<{ data?: Buffer; eof: boolean }> | undefined = o.stdin ? [] : undefined;
  let finished!: () => void;
  const over = new Promise<void>((r) => (finished = r));
  const stamp = (t: number) => `${(t - (t0 ?? t)).toFixed(3)}s`;
  const maybeDone = () => {
    if (clean && (!allocated || streams.done)) finished();
  };

  let detached = false;
  const sendStdin = (chunk: { data?: Buffer; eof: boolean }) => {
    writeStdin(h, id, chunk.data, chunk.eof).catch((err: unknown) => {
      // the tasks may be gone already (or this command, once the job is done): stdin has nowhere to go then
      if (!detached && !(err instanceof FluxError && err.errno === ENOENT)) process.stderr.write(`flux-job: stdin: ${(err as Error).message}\n`);
    });
  };
  const onStdinData = (d: Buffer) => (stdinQueue ? stdinQueue.push({ data: d, eof: false }) : sendStdin({ data: d, eof: false }));
  const onStdinEnd = () => (stdinQueue ? stdinQueue.push({ eof: true }) : sendStdin({ eof: true }));
  if (o.stdin) {
    process.stdin.on('data', onStdinData);
    process.stdin.on('end', onStdinEnd);
  }

  const events = watchEventlog(h, id, 'eventlog', (ev) => {
    t0 ??= ev.timestamp;
    if (o.showEvents) process.stderr.write(`${stamp(ev.timestamp)}: job.${ev.name}${ctxText(ev)}\n`);
    switch (ev.name) {
      case 'alloc':
        allocated = true;
        break;
      case 'start':
        if (stdinQueue) {
          for (const c of stdinQueue) sendStdin(c);
          stdinQueue = undefined;
        }
        break;
      case 'exception': {
        const c = ev.context ?? {};
        if (c.severity === 0) fatal = true;
        process.stderr.write(`${stamp(ev.timestamp)}: job.exception ${o.idText} type=${String(c.type)} severity=${String(c.severity)} ${String(c.note ?? '')}\n`);
        break;
      }
      case 'finish': {
        const status = Number(ev.context?.status ?? 0);
        code = exitCodeOf(status);
        const msg = finishMessage(status);
        if (msg !== undefined) process.stderr.write(`flux-job: ${msg}\n`);
        break;
      }
      case 'clean':
        clean = true;
        maybeDone();
        return false;
      default:
    }
    return true;
  });
  const output = watchEventlog(h, id, 'guest.output', (ev) => {
    const c = ev.context ?? {};
    streams.take(ev);
    if (ev.name === 'data' && typeof c.data === 'string') {
      const bytes = c.encoding === 'base64' ? Buffer.from(c.data, 'base64') : Buffer.from(c.data, 'utf8');
      const out = c.stream === 'stderr' ? process.stderr : process.stdout;
      out.write(o.label ? labelled(String(c.rank), bytes) : bytes);
    } else if (ev.name === 'log') {
      process.stderr.write(`${stamp(ev.timestamp)}: flux-shell[${String(c.rank)}]: ${LOG_LEVELS[Number(c.level)] ?? 'INFO'}: ${String(c.message)}\n`);
    } else if (ev.name === 'redirect') {
      process.stderr.write(`${String(c.rank)}: ${String(c.stream)} redirected to ${String(c.path)}\n`);
    }
    maybeDone();
    if (clean && streams.done) return false;
    return true;
  });

  let lastInt = 0;
  const onInt = () => {
    const now = Date.now();
    if (now - lastInt <= CTRL_C_WINDOW_MS) {
      cancel(h, id, 'interrupted by ctrl-C').catch((err: unknown) => process.stderr.write(`flux-job: cancel: ${(err as Error).message}\n`));
    } else {
      process.stderr.write('flux-job: one more ctrl-C within 2s to cancel or ctrl-Z to detach\n');
    }
    lastInt = now;
  };
  const forward = (sig: NodeJS.Signals) => () => {
    kill(h, id, osConstants.signals[sig]).catch((err: unknown) => process.stderr.write(`flux-job: kill: ${(err as Error).message}\n`));
  };
  const handlers = o.signals === false ? [] : [['SIGINT', onInt] as const, ...FORWARDED.map((sig) => [sig, forward(sig)] as const)];
  for (const [sig, fn] of handlers) process.on(sig, fn);
  try {
    const failed = new Promise<never>((_r, reject) => {
      const fail = (err: unknown) => reject(attachError(err, o.idText));
      events.done.catch(fail);
      output.done.catch(fail);
    });
    await Promise.race([over, failed]);
  } finally {
    detached = true;
    events.cancel();
    output.cancel();
    for (const [sig, fn] of handlers) process.off(sig, fn);
    if (o.stdin) {
      process.stdin.off('data', onStdinData);
      process.stdin.off('end', onStdinEnd);
      process.stdin.destroy();
    }
  }
  if (code === undefined) return 1;
  return fatal && code === 0 ? 1 : code;
}

/** one of several jobs followed at once (flux watch, flux submit --watch): its output and exceptions, no stdin, no signals */
export function watchJob(h: Flux, id: number): Promise<number> {
  return attach(h, id, { label: false, stdin: false, idText: encodeFluid(id, 'f58'), showEvents: false, signals: false });
}

/** each line of a chunk of one task's output, prefixed with its rank */
function labelled(rank: string, bytes: Buffer): string {
  const text = bytes.toString('utf8');
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  return `${lines.map((l) => `${rank}: ${l}`).join('\n')}${text.endsWith('\n') ? '\n' : ''}`;
}

function attachError(err: unknown, idText: string): FluxError {
  const errno = err instanceof FluxError ? err.errno : 0;
  if (errno === ENOENT) return new FluxError(ENOENT, `Failed to attach to ${idText}: No such job`);
  if (errno === EPERM) return new FluxError(EPERM, `Failed to attach to ${idText}: that is not your job`);
  return err instanceof FluxError ? err : new FluxError(errno, (err as Error).message);
}
