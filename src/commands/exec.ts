// flux exec: run a command on ranks of the instance through their rexec services. Output is written as it
// arrives, stdin goes to every rank (within the credit each grants), and the exit status is the worst over ranks.
import { resolve as resolvePath } from 'node:path';
import { Flux } from '../api/handle.js';
import {
  FluxError, strerror, EINVAL, ENOENT, EACCES, EPERM, EHOSTUNREACH, ESRCH, errnoOf,
} from '../core/errors.js';
import { parseIdset, formatIdset } from '../core/resource/idset.js';
import { exitCodeOf } from '../core/jobs/wait-status.js';
import { getAttr } from '../api/attrs.js';
import {
  type ExecCommand, type ExecResponse, execBackground, execKill, execStream, execWrite,
} from '../api/exec.js';
import { program, parse } from './common.js';

const SIGINT = 2;
const SIGTERM = 15;
/** Ctrl-C presses closer together than this count toward leaving */
const CTRL_C_WINDOW_MS = 1000;

/** signal descriptions as strsignal(3) gives them on Linux, for the summary lines */
const SIGNAL_TEXT: Record<number, string> = {
  1: 'Hangup', 2: 'Interrupt', 3: 'Quit', 4: 'Illegal instruction', 5: 'Trace/breakpoint trap', 6: 'Aborted',
  7: 'Bus error', 8: 'Floating point exception', 9: 'Killed', 10: 'User defined signal 1',
  11: 'Segmentation fault', 12: 'User defined signal 2', 13: 'Broken pipe', 14: 'Alarm clock', 15: 'Terminated',
  16: 'Stack fault', 17: 'Child exited', 18: 'Continued', 19: 'Stopped (signal)', 20: 'Stopped',
  21: 'Stopped (tty input)', 22: 'Stopped (tty output)', 23: 'Urgent I/O condition', 24: 'CPU time limit exceeded',
  25: 'File size limit exceeded', 26: 'Virtual timer expired', 27: 'Profiling timer expired',
  28: 'Window changed', 29: 'I/O possible', 30: 'Power failure', 31: 'Bad system call',
};

/** "Exit 3", "Killed": how the summary (and flux ps) describe a wait status */
export function statusText(status: number): string {
  const sig = status & 0x7f;
  if (sig === 0) return `Exit ${(status >> 8) & 0xff}`;
  return SIGNAL_TEXT[sig] ?? `Signal ${sig}`;
}

/** the exit code for a process that could not be started, as flux-core's flux exec chooses it */
export function launchExitCode(errno: number): number {
  if (errno === ENOENT) return 127;
  if (errno === EACCES || errno === EPERM) return 126;
  if (errno === EHOSTUNREACH) return 68;
  return 1;
}

/** the ranks to run on: --rank minus --exclude, each checked against the instance size */
export function selectRanks(rank: string, exclude: string | undefined, size: number): number[] {
  const want = parseIdset(rank, size);
  const bad = want.find((r) => r >= size);
  if (bad !== undefined) throw new FluxError(EINVAL, `--rank=${rank}: rank ${bad} is not in this instance (size ${size})`);
  const drop = new Set(exclude === undefined ? [] : parseIdset(exclude, size));
  const ranks = want.filter((r) => !drop.has(r));
  if (ranks.length === 0) throw new FluxError(EINVAL, 'no ranks left to run on');
  return ranks;
}

/** "[1-2]: Exit 3" lines for the ranks that did not exit 0, one per outcome, ordered by their first rank */
export function summaryLines(statuses: Map<number, number>): string[] {
  const groups = new Map<string, number[]>();
  for (const [rank, status] of [...statuses].sort((a, b) => a[0] - b[0])) {
    if (status === 0) continue;
    const text = statusText(status);
    const g = groups.get(text);
    if (g) g.push(rank);
    else groups.set(text, [rank]);
  }
  return [...groups].map(([text, ranks]) => `${formatIdset(ranks, true)}: ${text}`);
}

/** `RANK: ` before every line of one rank's stream; a line split across messages is printed whole */
export class LineLabeler {
  private partial = '';
  constructor(private readonly prefix: string) {}

  push(text: string): string {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop()!;
    return lines.map((l) => `${this.prefix}${l}\n`).join('');
  }

  /** what is left at eof: the last line, without the newline it never had */
  end(): string {
    const s = this.partial;
    this.partial = '';
    return s.length > 0 ? `${this.prefix}${s}` : '';
  }
}

interface RankState {
  rank: number;
  /** the exec request's matchtag, which rexec.write names */
  tag?: number;
  pid?: number;
  credit: number;
  eofSent: boolean;
  done: boolean;
  status?: number;
  error?: FluxError;
  /** a signal asked for before the process had started */
  pendingSignal?: number;
  labels: Record<string, LineLabeler>;
}

interface ExecOpts {
  rank: string;
  exclude?: string;
  dir?: string;
  labelIo?: boolean;
  noinput?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  setopt: string[];
  service: string;
  bg?: boolean;
  waitable?: boolean;
  label?: string;
}

const collect = (v: string, acc: string[]) => [...acc, v];

export async function run(args: string[]): Promise<number> {
  const p = program('exec', 'Execute processes across flux ranks')
    .option('-r, --rank <idset>', 'ranks to run on ("all" by default)', 'all')
    .option('-x, --exclude <idset>', 'ranks not to run on')
    .option('-d, --dir <path>', 'working directory of the processes (default: this one)')
    .option('-l, --label-io', 'prefix each output line with "RANK: "')
    .option('-n, --noinput', 'send no stdin to the processes')
    .option('-v, --verbose', 'say when processes start and end')
    .option('-q, --quiet', 'do not summarize the ranks that failed')
    .option('--setopt <name=value>', 'set a subprocess option (repeatable)', collect, [] as string[])
    .option('--service <name>', 'the service that runs the processes', 'rexec')
    .option('--bg', 'start the processes in the background and exit')
    .option('--waitable', 'with --bg: the processes may be waited for (rexec.wait)')
    .option('--label <label>', 'give the processes this label')
    .passThroughOptions()
    .argument('<command...>', 'the command and its arguments');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<ExecOpts>();
  const cmdline = p.args;
  if (o.waitable && !o.bg) throw new FluxError(EINVAL, '--waitable can only be used with --bg');
  const opts: Record<string, string> = {};
  for (const kv of o.setopt) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new FluxError(EINVAL, `--setopt ${kv}: expected NAME=VALUE`);
    opts[kv.slice(0, eq)] = kv.slice(eq + 1);
  }

  const h = await Flux.open();
  try {
    const size = Number(await getAttr(h, 'size'));
    const ranks = selectRanks(o.rank, o.exclude, size);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    const cmd: ExecCommand = { cmdline, cwd: o.dir === undefined ? process.cwd() : resolvePath(o.dir), env, opts, label: o.label };
    if (o.bg) return await background(h, ranks, cmd, o);
    return await foreground(h, ranks, cmd, o);
  } finally {
    h.close();
  }
}

function errorLine(rank: number, cmd0: string, err: FluxError): string {
  return `flux-exec: Error: rank ${rank}: ${cmd0}: ${strerror(err.errno)}\n`;
}

async function background(
  h: Flux, ranks: number[], cmd: ExecCommand, o: ExecOpts,
): Promise<number> {
  const cmd0 = cmd.cmdline[0]!;
  let worst = 0;
  await Promise.all(ranks.map(async (rank) => {
    try {
      const pid = await execBackground(h, cmd, rank, { waitable: o.waitable, service: o.service });
      if (o.verbose) process.stderr.write(`flux-exec: rank ${rank}: started pid ${pid}\n`);
    } catch (err) {
      const e = err instanceof FluxError ? err : new FluxError(errnoOf(err), (err as Error).message);
      process.stderr.write(errorLine(rank, cmd0, e));
      worst = Math.max(worst, launchExitCode(e.errno));
    }
  }));
  return worst;
}

async function foreground(
  h: Flux, ranks: number[], cmd: ExecCommand, o: ExecOpts,
): Promise<number> {
  const cmd0 = cmd.cmdline[0]!;
  const states = ranks.map((rank): RankState => ({ rank, credit: 0, eofSent: false, done: false, labels: {} }));
  const live = () => states.filter((s) => !s.done);
  /** set on the third Ctrl-C: the handle is about to close, and nothing more is sent or reported */
  let leaving = false;

  // ---- stdin: read only while every live rank has credit for what is queued ----
  const queue: Buffer[] = [];
  let stdinEnded = o.noinput === true;
  const stdin = o.noinput ? undefined : process.stdin;

  const write = (s: RankState, io: { data?: Buffer; eof?: boolean }) => execWrite(h, s.rank, s.tag!, io, o.service);
  const pump = () => {
    if (leaving) return;
    while (queue.length > 0) {
      const targets = live();
      if (targets.length === 0) {
        queue.length = 0;
        break;
      }
      // a rank that has not started has no credit yet: everyone waits for it, as the data is for all
      const credit = Math.min(...targets.map((s) => (s.tag === undefined ? 0 : s.credit)));
      if (credit <= 0) break;
      let chunk = queue[0]!;
      if (chunk.length > credit) {
        queue[0] = chunk.subarray(credit);
        chunk = chunk.subarray(0, credit);
      } else {
        queue.shift();
      }
      for (const s of targets) {
        s.credit -= chunk.length;
        write(s, { data: chunk });
      }
    }
    if (queue.length === 0 && stdinEnded) {
      for (const s of live()) {
        if (s.tag === undefined || s.eofSent) continue;
        s.eofSent = true;
        write(s, { eof: true });
      }
    }
    if (stdin) {
      if (queue.length > 0 || stdinEnded) stdin.pause();
      else stdin.resume();
    }
  };
  if (stdin) {
    stdin.on('data', (d: Buffer) => {
      queue.push(d);
      pump();
    });
    stdin.on('end', () => {
      stdinEnded = true;
      pump();
    });
    stdin.on('error', (err) => {
      process.stderr.write(`flux-exec: stdin: ${err.message}\n`);
      stdinEnded = true;
      pump();
    });
  }

  // ---- signals: forwarded to every process; Ctrl-C three times within a second leaves ----
  let leave!: (code: number) => void;
  const left = new Promise<number>((r) => (leave = (code) => {
    leaving = true;
    r(code);
  }));
  const kill = (s: RankState, signum: number) => {
    if (leaving) return;
    if (s.pid === undefined) {
      s.pendingSignal = signum;
      return;
    }
    execKill(h, s.rank, s.pid, signum, { service: o.service }).catch((err: unknown) => {
      // a process that ended meanwhile is not an error worth a line
      if (!leaving && errnoOf(err) !== ESRCH) process.stderr.write(`flux-exec: Error: rank ${s.rank}: kill: ${(err as Error).message}\n`);
    });
  };
  const forward = (signum: number) => {
    for (const s of live()) kill(s, signum);
  };
  let presses = 0;
  let lastPress = 0;
  const onSigint = () => {
    const now = Date.now();
    if (now - lastPress > CTRL_C_WINDOW_MS) presses = 0;
    lastPress = now;
    presses++;
    if (presses === 1) forward(SIGINT);
    else if (presses === 2) process.stderr.write('interrupt (Ctrl+C) one more time within 1.00 sec to exit\n');
    else {
      process.stderr.write(`${formatIdset(live().map((s) => s.rank), true)}: command still running at exit\n`);
      leave(1);
    }
  };
  const onSigterm = () => forward(SIGTERM);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  const onResponse = (s: RankState, r: ExecResponse, tag: number) => {
    s.tag = tag;
    switch (r.type) {
      case 'started':
        s.pid = r.pid;
        if (o.verbose) process.stderr.write(`flux-exec: rank ${s.rank}: started pid ${s.pid}\n`);
        if (s.pendingSignal !== undefined) kill(s, s.pendingSignal);
        break;
      case 'add-credit':
        s.credit += r.stdin;
        break;
      case 'output': {
        const stream = r.stream;
        const out = stream === 'stderr' ? process.stderr : process.stdout;
        if (!o.labelIo) {
          if (r.data !== undefined) out.write(r.data);
          break;
        }
        const lab = (s.labels[stream] ??= new LineLabeler(`${s.rank}: `));
        const text = r.data !== undefined ? lab.push(r.data.toString('utf8')) : '';
        const tail = r.eof ? lab.end() : '';
        if (text.length + tail.length > 0) out.write(text + tail);
        break;
      }
      case 'finished':
        s.status = r.status;
        if (o.verbose) process.stderr.write(`flux-exec: rank ${s.rank}: pid ${s.pid} ${statusText(s.status)}\n`);
        break;
      default:
        break;
    }
    pump();
  };

  const all = Promise.all(states.map((s) => execStream(h, cmd, s.rank, (r, tag) => onResponse(s, r, tag), { service: o.service })
    .catch((err: unknown) => {
      // leaving on the third Ctrl-C closes the handle, which ends every stream still open: no news
      if (leaving) return;
      s.error = err instanceof FluxError ? err : new FluxError(errnoOf(err), (err as Error).message);
      process.stderr.write(errorLine(s.rank, cmd0, s.error));
    })
    .finally(() => {
      s.done = true;
      pump();
    })));
  try {
    const forced = await Promise.race([all.then(() => undefined), left]);
    if (forced !== undefined) return forced;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    if (stdin) {
      stdin.removeAllListeners('data');
      stdin.pause();
      stdin.destroy();
    }
  }

  let worst = 0;
  const statuses = new Map<number, number>();
  for (const s of states) {
    if (s.error) worst = Math.max(worst, launchExitCode(s.error.errno));
    else if (s.status !== undefined) {
      statuses.set(s.rank, s.status);
      worst = Math.max(worst, exitCodeOf(s.status));
    }
  }
  if (!o.quiet) for (const line of summaryLines(statuses)) process.stderr.write(`${line}\n`);
  return worst;
}
