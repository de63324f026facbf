// rexec: the subprocess server on every rank, in the shape of RFC 42 (reference §10). A streaming rexec.exec runs
// a process for a client and streams started, add-credit, output (with eof per stream) and finished back to it,
// then ENODATA; a non-streaming one starts a background process and answers only `started`. Every start and exit
// is also a journal entry (sequenced at rank 0), from which each broker builds the process table that rexec.ps
// serves, so the table covers the whole instance and its past (src/projections/proctable.ts has the entries).
//
//   rexec.exec   {cmd:{cwd?,cmdline,env?,opts?,channels?,label?},flags,local_flags?}  (RFC 42; opts and
//                local_flags are accepted and not used; extra channels are refused with ENOTSUP)
//   rexec.write  {matchtag,io:{stream:"stdin",data?,encoding?,eof?}}  NORESPONSE; credit comes back as add-credit
//   rexec.kill   {pid|label,signum} -> {}       the signal goes to the process group
//   rexec.list   {} -> {rank,procs:[{pid,cmd,label,state:"R"|"Z"}]}
//   rexec.wait   {pid|label} -> {status}        waitable processes only, once the exit is in the journal
//   rexec.ps     {ranks?,all?,seq?} -> {seq,procs:[…]}   the process table of the instance, from this broker's
//                projection, once it has applied journal entry `seq`
//   rexec.record {topic,payload} -> {seq}       rank 0: makes a start or exit seen on another rank an entry
//
// Processes run detached (their own process group and session), with the caller's env and cwd, and with FLUX_URI
// naming this broker.
import { spawn, type ChildProcess } from 'node:child_process';
import { isUtf8 } from 'node:buffer';
import { constants as osConstants } from 'node:os';
import { FluxError, errnoOf, strerror, EINVAL, EEXIST, ENODATA, ESRCH, ECANCELED, ENOTSUP, EPROTO } from '../core/errors.js';
import { type Message, FLAG_STREAMING, FLAG_NORESPONSE, ROLE_OWNER, senderOf } from '../core/wire/message.js';
import { parseIdset } from '../core/resource/idset.js';
import { waitStatus } from '../core/jobs/wait-status.js';
import { compile } from '../core/validate.js';
import {
  PROCTABLE, TOPIC_STARTED, TOPIC_FINISHED, TOPIC_LOST, records, running, type ProcTable, type ProcRecord,
  type StartedPayload, type FinishedPayload,
} from '../projections/proctable.js';
import type { JournalService } from './journal.js';
import type { ModuleDef, ModuleHost } from './module.js';

/** exec flags (RFC 42) */
const REXEC_STDOUT = 1;
const REXEC_STDERR = 2;
const REXEC_CHANNEL = 4;
const REXEC_WRITE_CREDIT = 8;
const REXEC_WAITABLE = 16;

/** stdin credit a client starts with: what flux-core's server grants (its buffer size) */
const STDIN_CREDIT = 4 * 1024 * 1024;
/** how long a stopping broker waits for its processes, then for their journal records */
const STOP_WAIT_MS = 2000;
/** the most of a command line kept in a journal entry: entries go to every broker and subscriber */
const CMD_CLIP = 1024;

interface Proc {
  pid: number;
  child: ChildProcess;
  cmd: string[];
  label?: string;
  /** the streaming exec request responses go to; undefined for a background process or once it has ended */
  req?: Message;
  sender?: string;
  flags: number;
  state: 'R' | 'Z';
  status?: number;
  waiters: Message[];
  /** the journal records of this process, in order; resolves true once the last one is durable */
  recorded: Promise<boolean>;
  closed: Promise<void>;
}

const execSchema = {
  type: 'object',
  properties: {
    cmd: {
      type: 'object',
      properties: {
        cwd: { type: 'string', minLength: 1 },
        cmdline: { type: 'array', items: { type: 'string' }, minItems: 1 },
        env: { type: 'object', additionalProperties: { type: 'string' } },
        opts: { type: 'object' },
        channels: { type: 'array' },
        label: { type: 'string', minLength: 1 },
      },
      required: ['cmdline'],
    },
    flags: { type: 'integer', minimum: 0 },
    local_flags: { type: 'integer' },
  },
  required: ['cmd', 'flags'],
};

const ioSchema = {
  type: 'object',
  properties: {
    stream: { type: 'string' },
    rank: { type: 'string' },
    data: { type: 'string' },
    encoding: { enum: ['UTF-8', 'utf-8', 'base64'] },
    eof: { type: 'boolean' },
  },
  required: ['stream'],
};

/** a process named by pid or by label, as kill and wait take it (target() requires one of them) */
const targetSchema = (extra: Record<string, unknown> = {}, required: string[] = []) => ({
  type: 'object',
  properties: { pid: { type: 'integer', minimum: 1 }, label: { type: 'string', minLength: 1 }, ...extra },
  required,
});

const startedSchema = {
  type: 'object',
  properties: {
    rank: { type: 'integer', minimum: 0 },
    pid: { type: 'integer', minimum: 1 },
    cmd: { type: 'array', items: { type: 'string' } },
    label: { type: 'string' },
    userid: { type: 'integer', minimum: 0 },
    cwd: { type: 'string' },
    sender: { type: 'string' },
  },
  required: ['rank', 'pid', 'cmd', 'userid', 'cwd'],
  additionalProperties: false,
};

const finishedSchema = {
  type: 'object',
  properties: {
    rank: { type: 'integer', minimum: 0 },
    pid: { type: 'integer', minimum: 1 },
    status: { type: 'integer', minimum: 0 },
  },
  required: ['rank', 'pid', 'status'],
  additionalProperties: false,
};

const validateStarted = compile(startedSchema);
const validateFinished = compile(finishedSchema);

/** command lines as a journal entry keeps them: the leading words, up to CMD_CLIP characters, "..." if cut */
function clipCmd(cmd: string[]): string[] {
  const out: string[] = [];
  let n = 0;
  for (const a of cmd) {
    if (n + a.length > CMD_CLIP) {
      out.push(a.slice(0, Math.max(0, CMD_CLIP - n)), '...');
      return out;
    }
    out.push(a);
    n += a.length;
  }
  return out;
}

function ioData(data: Buffer, stream: string, rank: number, pid: number): Record<string, unknown> {
  const io: Record<string, unknown> = { stream, rank: String(rank) };
  // RFC 24: data is UTF-8 text unless it says otherwise
  if (isUtf8(data)) io.data = data.toString('utf8');
  else {
    io.data = data.toString('base64');
    io.encoding = 'base64';
  }
  return { type: 'output', pid, io };
}

/** a record as rexec.ps answers it: without the bookkeeping (ord, sender) */
function publicRecord(r: ProcRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    rank: r.rank, pid: r.pid, userid: r.userid, state: r.state, cmd: r.cmd, cwd: r.cwd, started: r.started,
  };
  if (r.label !== undefined) out.label = r.label;
  if (r.ended !== undefined) out.ended = r.ended;
  if (r.status !== undefined) out.status = r.status;
  return out;
}

export function rexecModule(host: ModuleHost, journal: JournalService): ModuleDef {
  const byPid = new Map<number, Proc>();
  const byLabel = new Map<string, Proc>();
  /** streaming processes by `${sender}#${matchtag}`: what rexec.write names */
  const byTag = new Map<string, Proc>();
  const psWaiters: Array<{ seq: number; run: () => void; sender: string | undefined }> = [];
  let started = 0;
  let finished = 0;
  let offApply: (() => void) | undefined;

  const tagKey = (sender: string | undefined, matchtag: number) => `${sender ?? ''}#${matchtag}`;
  const table = () => journal.state<ProcTable>(PROCTABLE);

  /** a journal entry, made at rank 0; resolves once it is durable */
  async function record(topic: string, payload: StartedPayload | FinishedPayload): Promise<void> {
    if (host.rank === 0) await journal.append(topic, payload, { userid: Number(host.attrs.get('security.owner')), rolemask: ROLE_OWNER });
    else await host.rpc('rexec.record', { topic, payload: payload as unknown as Record<string, unknown> }, { nodeid: 0 });
  }

  function recordAfter(prev: Promise<boolean>, topic: string, payload: StartedPayload | FinishedPayload): Promise<boolean> {
    return prev.then(async (ok) => {
      // a finish whose start is not in the journal would be dropped by the table anyway
      if (!ok) return false;
      try {
        await record(topic, payload);
        return true;
      } catch (err) {
        host.log(3, 'rexec', `${topic} of pid ${payload.pid} not recorded: ${(err as Error).message}`);
        return false;
      }
    });
  }

  function respondStream(p: Proc, payload: Record<string, unknown>): void {
    if (p.req) host.respond(p.req, payload);
  }

  function signalGroup(p: Proc, signum: number): void {
    // processes lead their own group (spawned detached), so a shell's children get the signal too
    try {
      process.kill(-p.pid, signum);
    } catch (err) {
      // an empty group: the process moved itself to another one (setsid), and is signalled there
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      process.kill(p.pid, signum);
    }
  }

  /** for the paths where a process that is already gone is not an error to report to anyone */
  function killLogged(p: Proc, signum: number, why: string): void {
    try {
      signalGroup(p, signum);
    } catch (err) {
      host.log(4, 'rexec', `kill of pid ${p.pid} (${why}): ${(err as Error).message}`);
    }
  }

  function forget(p: Proc): void {
    byPid.delete(p.pid);
    if (p.label !== undefined && byLabel.get(p.label) === p) byLabel.delete(p.label);
  }

  function exec(msg: Message, body: Record<string, unknown>): void {
    const cmd = body.cmd as { cwd?: string; cmdline: string[]; env?: Record<string, string>; channels?: unknown[]; label?: string };
    const flags = body.flags as number;
    const streaming = (msg.flags & FLAG_STREAMING) !== 0;
    if ((cmd.channels?.length ?? 0) > 0 || flags & REXEC_CHANNEL) throw new FluxError(ENOTSUP, 'extra channels are not supported');
    if (cmd.label !== undefined && byLabel.has(cmd.label)) throw new FluxError(EEXIST, `label ${cmd.label} is in use`);
    const cwd = cmd.cwd ?? process.cwd();
    const env = { ...(cmd.env ?? process.env) };
    // a process talks to the broker it runs under, as flux-core's server arranges
    const uri = host.attrs.get('local-uri');
    if (uri !== undefined) env.FLUX_URI = uri;
    const out = streaming && flags & REXEC_STDOUT ? 'pipe' : 'ignore';
    const errOut = streaming && flags & REXEC_STDERR ? 'pipe' : 'ignore';
    let child: ChildProcess;
    try {
      child = spawn(cmd.cmdline[0]!, cmd.cmdline.slice(1), {
        cwd, env, detached: true, stdio: [streaming ? 'pipe' : 'ignore', out, errOut],
      });
    } catch (err) {
      throw new FluxError(EINVAL, `${cmd.cmdline[0]}: ${(err as Error).message}`);
    }
    const sender = senderOf(msg);
    let closedResolve!: () => void;
    const p: Proc = {
      pid: 0, child, cmd: cmd.cmdline, label: cmd.label, req: streaming ? msg : undefined, sender, flags,
      state: 'R', waiters: [], recorded: Promise.resolve(true), closed: new Promise((r) => (closedResolve = r)),
    };
    if (p.label !== undefined) byLabel.set(p.label, p);
    const key = tagKey(sender, msg.aux2);
    if (streaming) byTag.set(key, p);
    child.stdin?.on('error', (err) => host.log(7, 'rexec', `pid ${p.pid} stdin: ${err.message}`));

    child.once('error', (err) => {
      if (p.pid !== 0) {
        host.log(3, 'rexec', `pid ${p.pid}: ${err.message}`);
        return;
      }
      // execvp failed: an error response, not `finished` (RFC 42)
      if (p.label !== undefined && byLabel.get(p.label) === p) byLabel.delete(p.label);
      byTag.delete(key);
      const errno = errnoOf(err);
      host.respondError(msg, new FluxError(errno, `${cmd.cmdline[0]}: ${strerror(errno)}`));
      closedResolve();
    });
    child.once('spawn', () => {
      p.pid = child.pid!;
      byPid.set(p.pid, p);
      started++;
      p.recorded = recordAfter(p.recorded, TOPIC_STARTED, {
        rank: host.rank, pid: p.pid, cmd: clipCmd(cmd.cmdline), ...(cmd.label !== undefined ? { label: cmd.label } : {}),
        userid: msg.userid, cwd, ...(sender !== undefined ? { sender } : {}),
      });
      if (!streaming) {
        // the caller is about to go: once it has heard `started`, the start is in the process table
        void p.recorded.then(() => host.respond(msg, { type: 'started', pid: p.pid }));
        return;
      }
      host.respond(msg, { type: 'started', pid: p.pid });
      if (flags & REXEC_WRITE_CREDIT) respondStream(p, { type: 'add-credit', channels: { stdin: STDIN_CREDIT } });
      for (const [stream, s] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
        if (!s) continue;
        s.on('data', (d: Buffer) => respondStream(p, ioData(d, stream, host.rank, p.pid)));
        s.on('end', () => respondStream(p, { type: 'output', pid: p.pid, io: { stream, rank: String(host.rank), eof: true } }));
      }
    });
    // 'close' comes after the exit and the end of every output stream: finished goes after the last eof
    child.once('close', (code, signal) => {
      if (p.pid === 0) return;
      const status = waitStatus(code, signal);
      p.status = status;
      finished++;
      p.recorded = recordAfter(p.recorded, TOPIC_FINISHED, { rank: host.rank, pid: p.pid, status });
      if (p.flags & REXEC_WAITABLE) p.state = 'Z';
      else forget(p);
      // the answer waits for the record: whoever saw `finished` then finds the exit in the process table
      void p.recorded.then(() => {
        byTag.delete(key);
        if (p.req) {
          respondStream(p, { type: 'finished', status });
          host.respondError(p.req, new FluxError(ENODATA));
          p.req = undefined;
        }
        if (p.flags & REXEC_WAITABLE && p.waiters.length > 0) {
          for (const w of p.waiters.splice(0)) host.respond(w, { status });
          forget(p);
        }
        closedResolve();
      });
    });
  }

  function write(msg: Message, body: Record<string, unknown>): void {
    const p = byTag.get(tagKey(senderOf(msg), body.matchtag as number));
    const io = body.io as { stream: string; data?: string; encoding?: string; eof?: boolean };
    if (!p) throw new FluxError(ESRCH, `no process for matchtag ${body.matchtag as number}`);
    if (io.stream !== 'stdin') throw new FluxError(EINVAL, `cannot write to ${io.stream}`);
    const stdin = p.child.stdin;
    if (!stdin || stdin.writableEnded) return;
    if (io.data !== undefined && io.data.length > 0) {
      const data = Buffer.from(io.data, io.encoding === 'base64' ? 'base64' : 'utf8');
      stdin.write(data, (err) => {
        // credit comes back once the bytes are with the process, which is the flow control RFC 42 asks for
        if (!err && p.flags & REXEC_WRITE_CREDIT) respondStream(p, { type: 'add-credit', channels: { stdin: data.length } });
      });
    }
    if (io.eof) stdin.end();
  }

  function target(body: Record<string, unknown>): Proc {
    if (body.pid === undefined && body.label === undefined) throw new FluxError(EPROTO, 'malformed payload: pid or label is required');
    const p = body.pid !== undefined ? byPid.get(body.pid as number) : byLabel.get(body.label as string);
    if (!p) throw new FluxError(ESRCH, `no such process on rank ${host.rank}`);
    return p;
  }

  /** a client went away: the processes it is streaming from here end (background ones go on) */
  function dropClient(sender: string): void {
    for (const p of byPid.values()) {
      if (p.sender !== sender || p.state !== 'R' || !p.req) continue;
      // the brokers between here and the client track the open request until its last response: end it
      if ((p.req.routes?.length ?? 0) > 1) host.respondError(p.req, new FluxError(ECANCELED));
      p.req = undefined;
      killLogged(p, osConstants.signals.SIGKILL, 'its client went away');
    }
    for (const p of byPid.values()) p.waiters = p.waiters.filter((w) => senderOf(w) !== sender);
    for (let i = psWaiters.length - 1; i >= 0; i--) if (psWaiters[i]!.sender === sender) psWaiters.splice(i, 1);
  }

  function onApplied(seq: number): void {
    for (let i = psWaiters.length - 1; i >= 0; i--) {
      const w = psWaiters[i]!;
      if (w.seq <= seq) {
        psWaiters.splice(i, 1);
        w.run();
      }
    }
  }

  function ps(msg: Message, body: Record<string, unknown>): void {
    const ranks = body.ranks !== undefined ? new Set(parseIdset(body.ranks as string, host.size)) : undefined;
    const all = body.all === true;
    const answer = () => {
      const procs = records(table()).filter((r) => (all || r.state === 'running') && (!ranks || ranks.has(r.rank)));
      host.respond(msg, { seq: journal.head().seq, procs: procs.map(publicRecord) });
    };
    const seq = body.seq as number | undefined;
    if (seq === undefined || journal.head().seq >= seq) answer();
    else psWaiters.push({ seq, run: answer, sender: senderOf(msg) });
  }

  return {
    name: 'rexec',
    start: async () => {
      offApply = journal.onApply((a) => onApplied(a.entry.seq));
      // rank 0 starting on a journal from an earlier run: what that run left running is gone with its brokers
      // (an instance serving a past state changes nothing: there they are still running)
      if (host.rank === 0 && !journal.readOnly && running(table()).length > 0) {
        await journal.append(TOPIC_LOST, {}, { userid: Number(host.attrs.get('security.owner')), rolemask: ROLE_OWNER });
      }
    },
    stop: async () => {
      offApply?.();
      const procs = [...byPid.values()].filter((p) => p.state === 'R');
      for (const p of procs) killLogged(p, osConstants.signals.SIGKILL, 'the broker is stopping');
      const all = Promise.all(procs.map((p) => p.closed));
      await Promise.race([all, new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    },
    handlers: [
      {
        topic: 'rexec.exec',
        schema: execSchema,
        handler: (msg, body) => exec(msg, body!),
      },
      {
        topic: 'rexec.write',
        schema: {
          type: 'object',
          properties: { matchtag: { type: 'integer', minimum: 0 }, io: ioSchema },
          required: ['matchtag', 'io'],
        },
        handler: (msg, body) => write(msg, body!),
      },
      {
        topic: 'rexec.kill',
        schema: targetSchema({ signum: { type: 'integer', minimum: 0, maximum: 64 } }, ['signum']),
        handler: (msg, body) => {
          const p = target(body!);
          if (p.state !== 'R') throw new FluxError(ESRCH, `pid ${p.pid} has exited`);
          signalGroup(p, body!.signum as number);
          host.respond(msg, {});
        },
      },
      {
        topic: 'rexec.list',
        handler: (msg) => {
          const procs = [...byPid.values()].map((p) => ({ pid: p.pid, cmd: p.cmd[0], label: p.label ?? '', state: p.state }));
          host.respond(msg, { rank: host.rank, procs });
        },
      },
      {
        topic: 'rexec.wait',
        schema: targetSchema(),
        handler: (msg, body) => {
          const p = target(body!);
          if (!(p.flags & REXEC_WAITABLE)) throw new FluxError(EINVAL, `pid ${p.pid} is not waitable`);
          // the status is given once the exit is in the journal, as `finished` is
          if (p.state === 'Z') {
            void p.recorded.then(() => {
              host.respond(msg, { status: p.status });
              forget(p);
            });
          } else {
            p.waiters.push(msg);
          }
        },
      },
      {
        topic: 'rexec.ps',
        schema: {
          type: 'object',
          properties: { ranks: { type: 'string' }, all: { type: 'boolean' }, seq: { type: 'integer', minimum: 0 } },
        },
        handler: (msg, body) => ps(msg, body!),
      },
      {
        // rank 0: a start or exit seen on another rank becomes a journal entry
        topic: 'rexec.record',
        schema: {
          type: 'object',
          properties: { topic: { enum: [TOPIC_STARTED, TOPIC_FINISHED] }, payload: { type: 'object' } },
          required: ['topic', 'payload'],
        },
        handler: async (msg, body) => {
          if (host.rank !== 0) throw new FluxError(EPROTO, 'rexec.record is served by rank 0');
          const payload = body!.payload as Record<string, unknown>;
          (body!.topic === TOPIC_STARTED ? validateStarted : validateFinished)(payload);
          const a = await journal.append(body!.topic as string, payload, { userid: msg.userid, rolemask: msg.rolemask });
          host.respond(msg, { seq: a.entry.seq });
        },
      },
    ],
    disconnect: dropClient,
    stats: () => ({ running: [...byPid.values()].filter((p) => p.state === 'R').length, started, finished }),
  };
}
