// The remote execution client (RFC 42 subprocesses, flux_rexec in C): processes on any rank, their output
// streamed back and their stdin fed under credit; and the instance's process table (rexec.ps).
import { isUtf8 } from 'node:buffer';
import { FluxError, EPROTO } from '../core/errors.js';
import { type Message, payloadJson } from '../core/wire/message.js';
import type { Flux } from './handle.js';
import type { CallOpts } from './kvs.js';
import { iterate } from './iterate.js';
import { head } from './journal.js';

/** rexec.exec flags (RFC 42) */
export const REXEC_STDOUT = 1;
export const REXEC_STDERR = 2;
export const REXEC_WRITE_CREDIT = 8;
export const REXEC_WAITABLE = 16;
/** the flags of a foreground exec: output back, stdin under credit (flux-core's 11) */
export const FOREGROUND_FLAGS = REXEC_STDOUT | REXEC_STDERR | REXEC_WRITE_CREDIT;

export interface ExecCommand {
  cmdline: string[];
  cwd: string;
  env: Record<string, string>;
  /** subprocess options (--setopt) */
  opts?: Record<string, string>;
  label?: string;
}

/** the `cmd` of a rexec.exec request, its keys in the order flux-core 0.88's flux exec sends them */
export function execCmd(c: ExecCommand): Record<string, unknown> {
  const cmd: Record<string, unknown> = { cwd: c.cwd, cmdline: c.cmdline, env: c.env, opts: c.opts ?? {}, channels: [], msgchan: [] };
  if (c.label !== undefined) cmd.label = c.label;
  return cmd;
}

/** the topic of `method` at `service` (rexec, or another subprocess server) */
const topicOf = (service: string, method: string) => `${service}.${method}`;

/** a process started in the background: its pid */
export async function execBackground(
  h: Flux, c: ExecCommand, rank: number, opts: CallOpts & { waitable?: boolean; service?: string } = {},
): Promise<number> {
  const r = await h.call(topicOf(opts.service ?? 'rexec', 'exec'), { cmd: execCmd(c), flags: opts.waitable ? REXEC_WAITABLE : 0, local_flags: 0 },
    { ...opts, nodeid: rank });
  return Number(r.pid);
}

/** one response of a streaming exec, as RFC 42 names them */
export type ExecResponse =
  | { type: 'started'; pid: number }
  | { type: 'add-credit'; stdin: number }
  | { type: 'output'; stream: 'stdout' | 'stderr'; data?: Buffer; eof: boolean }
  | { type: 'finished'; status: number }
  | { type: 'other'; body: Record<string, unknown> };

function decodeData(io: Record<string, unknown>): Buffer | undefined {
  if (typeof io.data !== 'string') return undefined;
  return Buffer.from(io.data, io.encoding === 'base64' ? 'base64' : 'utf8');
}

export function execResponse(m: Message): ExecResponse {
  const r = payloadJson(m);
  switch (r.type) {
    case 'started':
      return { type: 'started', pid: Number(r.pid) };
    case 'add-credit':
      return { type: 'add-credit', stdin: Number((r.channels as Record<string, unknown> | undefined)?.stdin ?? 0) };
    case 'output': {
      const io = (r.io ?? {}) as Record<string, unknown>;
      return { type: 'output', stream: io.stream === 'stderr' ? 'stderr' : 'stdout', data: decodeData(io), eof: io.eof === true };
    }
    case 'finished':
      return { type: 'finished', status: Number(r.status) };
    default:
      return { type: 'other', body: r };
  }
}

/**
 * A foreground process on `rank`: `each` gets every response with the request's matchtag (which stdin writes
 * name); resolves when the service ends the stream, rejects with its error.
 */
export function execStream(
  h: Flux, c: ExecCommand, rank: number, each: (r: ExecResponse, tag: number) => void,
  opts: CallOpts & { service?: string; flags?: number } = {},
): Promise<void> {
  const body = { cmd: execCmd(c), flags: opts.flags ?? FOREGROUND_FLAGS, local_flags: 0 };
  return h.stream(topicOf(opts.service ?? 'rexec', 'exec'), body, { signal: opts.signal, nodeid: rank }, (m) => {
    each(execResponse(m), m.aux2);
  });
}

/** stdin for a foreground process: RFC 24's text as is, anything else (a character cut in two, binary) in base64 */
export function execWrite(h: Flux, rank: number, tag: number, io: { data?: Buffer; eof?: boolean }, service = 'rexec'): void {
  const data = io.data === undefined ? {} : isUtf8(io.data) ? { data: io.data.toString('utf8') } : { data: io.data.toString('base64'), encoding: 'base64' };
  h.send(topicOf(service, 'write'), { matchtag: tag, io: { stream: 'stdin', rank: String(rank), ...data, ...(io.eof ? { eof: true } : {}) } }, { nodeid: rank });
}

/** signal `pid` (its process group) on `rank` */
export async function execKill(h: Flux, rank: number, pid: number, signum: number, opts: CallOpts & { service?: string } = {}): Promise<void> {
  await h.rpc(topicOf(opts.service ?? 'rexec', 'kill'), { pid, signum }, { ...opts, nodeid: rank });
}

/** a process of the instance's process table */
export interface ProcRow {
  rank: number;
  pid: number;
  state: string;
  userid: number;
  cmdline?: string[];
  [k: string]: unknown;
}

/**
 * rexec.ps: the process table (running processes, or all with `all`), on `ranks` (an idset) or everywhere. It is
 * asked as of rank 0's head, so whatever was acknowledged before the call is in the answer on any rank.
 */
export async function ps(h: Flux, o: CallOpts & { all?: boolean; ranks?: string } = {}): Promise<ProcRow[]> {
  const seq = (await head(h, { ...o, nodeid: 0 })).seq;
  const body: Record<string, unknown> = { seq, all: o.all === true };
  if (o.ranks !== undefined) body.ranks = o.ranks;
  const r = await h.call('rexec.ps', body, o);
  if (!Array.isArray(r.procs)) throw new FluxError(EPROTO, 'rexec.ps response has no procs');
  return r.procs as ProcRow[];
}

export interface RunOptions extends CallOpts {
  rank?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** bytes for the process's stdin (then end of file); none: stdin is closed at once */
  stdin?: Buffer | string;
}

/** Processes of the instance (flux exec, flux ps), bound to a handle. */
export class Exec {
  constructor(private readonly h: Flux) {}

  /** Run `cmdline` on a rank (default 0): its output as it comes, then its wait status. */
  run(cmdline: string[], opts: RunOptions = {}): AsyncIterableIterator<ExecResponse> {
    const rank = opts.rank ?? 0;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.env ?? process.env)) if (v !== undefined) env[k] = v;
    const c: ExecCommand = { cmdline, cwd: opts.cwd ?? process.cwd(), env };
    return iterate<ExecResponse>(({ push, end }) => {
      const done = new AbortController();
      const signal = opts.signal ? AbortSignal.any([opts.signal, done.signal]) : done.signal;
      let pid: number | undefined;
      let fed = false;
      execStream(this.h, c, rank, (r, tag) => {
        if (r.type === 'started') pid = r.pid;
        if (!fed && r.type === 'started') {
          fed = true;
          const data = opts.stdin === undefined ? undefined : Buffer.from(opts.stdin);
          execWrite(this.h, rank, tag, { data, eof: true });
        }
        if (r.type !== 'add-credit' && r.type !== 'other') push(r);
      }, { signal }).then(() => end(), end);
      return () => {
        if (pid !== undefined && !this.h.isClosed) execKill(this.h, rank, pid, 9).catch(() => undefined);
        done.abort();
      };
    }, { signal: opts.signal, closed: () => this.h.isClosed });
  }

  ps(opts: CallOpts & { all?: boolean; ranks?: string } = {}): Promise<ProcRow[]> {
    return ps(this.h, opts);
  }
}
