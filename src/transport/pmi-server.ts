// PMI-1 simple wire protocol server: what `flux start --size N` offers the N brokers it spawns, and what a job
// shell offers its share of a job's tasks (reference §3.2-3.5).
import type { Duplex } from 'node:stream';
import { FluxError, EEXIST, EINVAL, EPROTO } from '../core/errors.js';
import {
  formatLine,
  PmiLineDecoder,
  PMI_ERR_INVALID_KEY,
  PMI_ERR_INVALID_KEY_LENGTH,
  PMI_ERR_INVALID_LENGTH,
  PMI_ERR_INVALID_VAL_LENGTH,
  PMI_FAIL,
  type PmiCommand,
  type PmiMessage,
} from './pmi-wire.js';

/** Limits announced by get_maxes; like C buffer sizes they count a terminating NUL, so usable lengths are one less. */
const KVSNAME_MAX = 64;
const KEYLEN_MAX = 64;
const VALLEN_MAX = 1024;

export interface PmiServerOptions {
  /**
   * PMI_SIZE: the number of tasks in the job, what get_universe_size answers; ranks are below it. flux start
   * serves all of them; a job shell serves its share, `localSize` of them.
   */
  size: number;
  /**
   * How many clients this server serves (default `size`): its barriers complete when that many have entered.
   * Below `size`, the other tasks are served by other servers, joined to this one through `exchange`.
   */
  localSize?: number;
  kvsname?: string;
  appnum?: number;
  /**
   * Keys clients can get from the start (a job shell puts PMI_process_mapping, flux.taskmap, ...); they are never
   * handed to `exchange`. When all `size` clients are local, PMI_process_mapping defaults to one node holding all.
   */
  initialKvs?: Readonly<Record<string, string>>;
  /**
   * Joins this server's barriers to those of the job's other servers. Called once every local client has entered
   * a barrier, with the keys put here since the previous one; resolves with what every server put (ours
   * included), which local gets see from then on. The local clients leave the barrier only after it settles:
   * rc=0 if it resolved, rc=-1 if it rejected. Without it a barrier is local.
   */
  exchange?: (puts: Record<string, string>) => Promise<Record<string, string>>;
  /**
   * No barrier completes before this has settled (its outcome is not looked at): what the clients will read once
   * they are past their first barrier can still be in the making as they start (flux start's shared hardware
   * discovery, which its brokers read after their PMI bootstrap).
   */
  barrierGate?: Promise<unknown>;
  /** trace every line received (C:) and sent (S:) through `log` */
  debug?: boolean;
  /** a client asked to end the job; the server only reports it, ending processes is the caller's business */
  onAbort?: (rank: number, code: number, msg: string) => void;
  /** a client went away without finalizing: it will never finish the job's start-up */
  onLost?: (rank: number) => void;
  /** where traces and protocol errors go; stderr when not given */
  log?: (line: string) => void;
}

interface Conn {
  readonly rank: number;
  readonly sock: Duplex;
  readonly decoder: PmiLineDecoder;
  finalized: boolean;
  closed: boolean;
  /** entered a barrier and not yet let out; stays set while the exchange runs */
  inBarrier: boolean;
}

function protocolError(why: string): FluxError {
  return new FluxError(EPROTO, `PMI protocol error: ${why}`);
}

export class PmiServer {
  private readonly size: number;
  private readonly localSize: number;
  private readonly kvsname: string;
  private readonly appnum: number;
  private readonly debug: boolean;
  private readonly exchange: ((puts: Record<string, string>) => Promise<Record<string, string>>) | undefined;
  private readonly barrierGate: Promise<unknown> | undefined;
  private readonly onAbort: ((rank: number, code: number, msg: string) => void) | undefined;
  private readonly onLost: ((rank: number) => void) | undefined;
  private readonly log: (line: string) => void;
  private readonly kvs = new Map<string, string>();
  /** keys put by local clients since the last exchange began: what the next one hands over */
  private unexchanged = new Map<string, string>();
  private readonly conns = new Map<number, Conn>();
  /** clients of the barrier now filling up; once full they wait on the exchange, out of this set */
  private readonly barrier = new Set<Conn>();
  /** why no barrier can complete any more: a client went away without finalizing */
  private barrierBroken: string | undefined;
  private closed = false;

  constructor(opts: PmiServerOptions) {
    const { size } = opts;
    const localSize = opts.localSize ?? size;
    if (!Number.isInteger(size) || size < 1) throw new FluxError(EINVAL, `PMI server size ${size} is invalid`);
    if (!Number.isInteger(localSize) || localSize < 1 || localSize > size) {
      throw new FluxError(EINVAL, `PMI server local size ${localSize} is not in [1, ${size}]`);
    }
    this.size = size;
    this.localSize = localSize;
    this.kvsname = opts.kvsname ?? '-';
    this.appnum = opts.appnum ?? 0;
    this.debug = opts.debug ?? false;
    this.exchange = opts.exchange;
    this.barrierGate = opts.barrierGate;
    this.onAbort = opts.onAbort;
    this.onLost = opts.onLost;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    // limits count bytes, not characters: a job id in F58 starts with the two-byte 'ƒ'
    if (!/^[^\s=]+$/.test(this.kvsname) || Buffer.byteLength(this.kvsname) >= KVSNAME_MAX) {
      throw new FluxError(EINVAL, `PMI kvsname ${JSON.stringify(this.kvsname)} is invalid`);
    }
    // clients read appnum into a C int: a job id must be cut to 32 bits by the caller, not wrapped by each client
    if (!Number.isInteger(this.appnum) || this.appnum < -(2 ** 31) || this.appnum >= 2 ** 31) {
      throw new FluxError(EINVAL, `PMI appnum ${this.appnum} is not a 32-bit integer`);
    }
    // all clients local means one node; otherwise only the caller knows the job's layout
    if (localSize === size) this.kvs.set('PMI_process_mapping', `(vector,(0,1,${size}))`);
    for (const [key, value] of Object.entries(opts.initialKvs ?? {})) {
      const bad = badEntry(key, value);
      if (bad !== undefined) throw new FluxError(EINVAL, `PMI initial key ${JSON.stringify(key)}: ${bad}`);
      this.kvs.set(key, value);
    }
  }

  /** Serve client `rank` (its rank in the job) on `sock`, e.g. the parent end of the socketpair it sees as PMI_FD. */
  attach(rank: number, sock: Duplex): void {
    if (this.closed) throw new FluxError(EINVAL, 'PMI server is closed');
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) {
      throw new FluxError(EINVAL, `PMI rank ${rank} is not in [0, ${this.size})`);
    }
    if (this.conns.has(rank)) throw new FluxError(EEXIST, `PMI rank ${rank} is already attached`);
    if (this.conns.size >= this.localSize) {
      throw new FluxError(EINVAL, `PMI server already serves its ${this.localSize} local clients`);
    }
    const conn: Conn = {
      rank,
      sock,
      decoder: new PmiLineDecoder(),
      finalized: false,
      closed: false,
      inBarrier: false,
    };
    this.conns.set(rank, conn);
    sock.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    sock.on('error', (err) => {
      if (this.debug) this.log(`pmi-server[${rank}]: ${err.message}`);
    });
    sock.on('close', () => this.onClose(conn));
  }

  /** whether client `rank` has finalized: told its launcher it started */
  finalized(rank: number): boolean {
    return this.conns.get(rank)?.finalized === true;
  }

  /** Drop every connection; clients see their PMI connection close. */
  close(): void {
    this.closed = true;
    for (const conn of this.conns.values()) {
      conn.closed = true;
      conn.sock.destroy();
    }
  }

  private onData(conn: Conn, chunk: Buffer): void {
    if (conn.closed) return;
    try {
      for (const msg of conn.decoder.push(chunk)) {
        if (conn.closed) return;
        this.handle(conn, msg);
      }
    } catch (err) {
      if (!(err instanceof FluxError)) throw err;
      // the protocol's answer to a line it cannot accept is to hang up on that client, and only that one;
      // the 'close' event that follows does the bookkeeping
      this.log(`pmi-server[${conn.rank}]: ${err.message}; closing the connection`);
      conn.closed = true;
      conn.sock.destroy();
    }
  }

  private onClose(conn: Conn): void {
    conn.closed = true;
    if (conn.finalized) return;
    if (!this.closed) this.onLost?.(conn.rank);
    if (this.barrierBroken !== undefined) return;
    // the barrier now can never count `localSize` entrants: say so instead of leaving the others hanging
    this.barrierBroken = `rank ${conn.rank} disconnected`;
    this.release([...this.barrier], PMI_FAIL);
    this.barrier.clear();
  }

  private reply(conn: Conn, cmd: string, fields: Record<string, string | number>): void {
    if (conn.closed) return;
    const line = formatLine(cmd, fields);
    if (this.debug) this.log(`pmi-server[${conn.rank}]: S: ${line.trimEnd()}`);
    conn.sock.write(line);
  }

  private handle(conn: Conn, msg: PmiMessage): void {
    if (msg.kind === 'mcmd') {
      if (this.debug) this.log(`pmi-server[${conn.rank}]: C: mcmd=${msg.mcmd} (${msg.lines.length} lines)`);
      if (msg.mcmd !== 'spawn') throw protocolError(`unknown mcmd=${msg.mcmd}`);
      this.reply(conn, 'spawn_result', { rc: PMI_FAIL });
      return;
    }
    if (this.debug) this.log(`pmi-server[${conn.rank}]: C: ${msg.line}`);
    switch (msg.cmd) {
      case 'init':
        return this.init(conn, msg);
      case 'get_maxes':
        return this.reply(conn, 'maxes', {
          rc: 0,
          kvsname_max: KVSNAME_MAX,
          keylen_max: KEYLEN_MAX,
          vallen_max: VALLEN_MAX,
        });
      case 'get_universe_size':
        return this.reply(conn, 'universe_size', { rc: 0, size: this.size });
      case 'get_appnum':
        return this.reply(conn, 'appnum', { rc: 0, appnum: this.appnum });
      case 'get_my_kvsname':
        return this.reply(conn, 'my_kvsname', { rc: 0, kvsname: this.kvsname });
      case 'put':
        return this.reply(conn, 'put_result', { rc: this.put(msg) });
      case 'get': {
        const value = this.kvs.get(required(msg, 'key'));
        return value === undefined
          ? this.reply(conn, 'get_result', { rc: PMI_ERR_INVALID_KEY })
          : this.reply(conn, 'get_result', { rc: 0, value });
      }
      case 'barrier_in':
        return this.enterBarrier(conn);
      case 'finalize':
        conn.finalized = true;
        this.reply(conn, 'finalize_ack', { rc: 0 });
        conn.sock.end();
        return;
      case 'abort':
        return this.abort(conn, msg);
      case 'publish_name':
      case 'unpublish_name':
      case 'lookup_name':
        return this.reply(conn, `${msg.cmd.slice(0, -'_name'.length)}_result`, {
          rc: PMI_FAIL,
          msg: 'command not implemented',
        });
      default:
        throw protocolError(`unknown cmd=${msg.cmd}`);
    }
  }

  private init(conn: Conn, msg: PmiCommand): void {
    const version = Number(msg.fields.get('pmi_version'));
    const subversion = Number(msg.fields.get('pmi_subversion'));
    if (version === 1 && subversion >= 1) {
      this.reply(conn, 'response_to_init', { rc: 0, pmi_version: 1, pmi_subversion: 1 });
      return;
    }
    if (version === 2) {
      this.log(`pmi-server[${conn.rank}]: client wants PMI-2: is application unintentionally using slurm libpmi2.so?`);
    }
    this.reply(conn, 'response_to_init', { rc: PMI_FAIL });
  }

  private put(msg: PmiCommand): number {
    const kvsname = required(msg, 'kvsname');
    const key = required(msg, 'key');
    const value = required(msg, 'value');
    if (Buffer.byteLength(kvsname) >= KVSNAME_MAX) return PMI_ERR_INVALID_LENGTH;
    if (key.length === 0) return PMI_ERR_INVALID_KEY;
    if (Buffer.byteLength(key) >= KEYLEN_MAX) return PMI_ERR_INVALID_KEY_LENGTH;
    if (Buffer.byteLength(value) >= VALLEN_MAX) return PMI_ERR_INVALID_VAL_LENGTH;
    this.kvs.set(key, value);
    this.unexchanged.set(key, value);
    return 0;
  }

  private enterBarrier(conn: Conn): void {
    if (this.barrierBroken !== undefined) {
      this.log(`pmi-server[${conn.rank}]: barrier cannot complete: ${this.barrierBroken}`);
      this.reply(conn, 'barrier_out', { rc: PMI_FAIL });
      return;
    }
    if (conn.inBarrier) throw protocolError('barrier_in while already in the barrier');
    conn.inBarrier = true;
    this.barrier.add(conn);
    if (this.barrier.size < this.localSize) return;
    const entrants = [...this.barrier];
    this.barrier.clear();
    const gate = this.barrierGate;
    if (gate === undefined) this.complete(entrants);
    else void gate.then(() => this.complete(entrants), () => this.complete(entrants));
  }

  /** a full barrier: exchanged with the other servers, if any, and its clients let out */
  private complete(entrants: Conn[]): void {
    if (this.exchange === undefined) {
      this.release(entrants, 0);
      return;
    }
    const puts = this.unexchanged;
    this.unexchanged = new Map();
    const exchange = this.exchange;
    new Promise<Record<string, string>>((resolve) => resolve(exchange(Object.fromEntries(puts)))).then(
      (all) => {
        const bad = badExchange(all);
        if (bad !== undefined) return this.exchangeFailed(entrants, puts, `returned ${bad}`);
        for (const [key, value] of Object.entries(all)) this.kvs.set(key, value);
        this.release(entrants, 0);
      },
      (err: unknown) => this.exchangeFailed(entrants, puts, err instanceof Error ? err.message : String(err)),
    );
  }

  private exchangeFailed(entrants: Conn[], puts: Map<string, string>, why: string): void {
    this.log(`pmi-server: barrier exchange failed: ${why}`);
    // the keys never reached the other servers: offer them again with the next barrier, unless put again since
    for (const [key, value] of puts) if (!this.unexchanged.has(key)) this.unexchanged.set(key, value);
    this.release(entrants, PMI_FAIL);
  }

  private release(entrants: Conn[], rc: number): void {
    for (const conn of entrants) {
      conn.inBarrier = false;
      this.reply(conn, 'barrier_out', { rc });
    }
  }

  private abort(conn: Conn, msg: PmiCommand): void {
    const codeText = msg.fields.get('exitcode') ?? msg.fields.get('exit_code');
    const code = codeText !== undefined && /^-?\d+$/.test(codeText) ? Number(codeText) : 1;
    const text = msg.fields.get('error_msg') || 'aborted';
    if (this.onAbort) this.onAbort(conn.rank, code, text);
    else this.log(`pmi-server[${conn.rank}]: abort (exit code ${code}): ${text}`);
  }
}

function required(msg: PmiCommand, key: string): string {
  const value = msg.fields.get(key);
  if (value === undefined) throw protocolError(`cmd=${msg.cmd} without ${key}=`);
  return value;
}

/** Why a key and value could not have come through a put, or undefined when they could. */
function badEntry(key: string, value: unknown): string | undefined {
  if (!/^[^\s\0]+$/.test(key)) return 'key is empty or has spaces';
  if (Buffer.byteLength(key) >= KEYLEN_MAX) return `key longer than ${KEYLEN_MAX - 1} bytes`;
  if (typeof value !== 'string') return 'value is not a string';
  if (/[\n\0]/.test(value)) return 'value contains a newline or NUL';
  if (Buffer.byteLength(value) >= VALLEN_MAX) return `value longer than ${VALLEN_MAX - 1} bytes`;
  return undefined;
}

/** The exchange result comes from other processes: check it as strictly as a put before any client can get it. */
function badExchange(all: unknown): string | undefined {
  if (typeof all !== 'object' || all === null || Array.isArray(all)) return 'no key-value object';
  for (const [key, value] of Object.entries(all)) {
    const bad = badEntry(key, value);
    if (bad !== undefined) return `key ${JSON.stringify(key.slice(0, 64))}: ${bad}`;
  }
  return undefined;
}
