// PMI-1 simple wire protocol client: how a broker learns rank, size and its peers' business cards at boot.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { FluxError, ECANCELED, ECONNRESET, EINVAL, EIO, ENOENT, EPROTO } from '../core/errors.js';
import { formatLine, PmiLineDecoder, type PmiCommand } from './pmi-wire.js';

export interface PmiClient {
  readonly rank: number;
  readonly size: number;
  readonly kvsname: string;
  /** the longest value, in bytes, that put() takes */
  readonly maxValue: number;
  /** Store key=value in the job's KVS; other ranks may rely on seeing it only after the next barrier. */
  put(key: string, value: string): Promise<void>;
  /** Fetch a value; FluxError(ENOENT) when the key is missing. */
  get(key: string): Promise<string>;
  barrier(): Promise<void>;
  /** Say goodbye and close the connection, so it no longer keeps the process alive. */
  finalize(): Promise<void>;
  /** Ask the process manager to end the whole job; the connection is closed after the request is written. */
  abort(code: number, msg: string): Promise<void>;
}

export interface PmiClientOptions {
  /** trace every line sent (C:) and received (S:) on stderr; the broker sets it from FLUX_PMI_DEBUG=1 */
  debug?: boolean;
}

/** Parse a numeric env variable strictly: launchers that set garbage must be reported, not misread as 0. */
function envInt(env: NodeJS.ProcessEnv, name: string, min: number): number {
  const text = env[name];
  if (text === undefined) throw new FluxError(EINVAL, `PMI_FD is set but ${name} is not`);
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new FluxError(EINVAL, `${name}=${JSON.stringify(text)} is not an integer >= ${min}`);
  }
  return Number(text);
}

/**
 * The PMI client described by PMI_FD, PMI_RANK and PMI_SIZE, initialized and ready; null when PMI_FD is unset
 * (no process manager: the caller runs as a singleton). Throws FluxError when PMI_FD is set but PMI cannot be
 * used, with a message that names the variable, so a broken launch fails loudly instead of booting singletons.
 */
export async function pmiFromEnv(env: NodeJS.ProcessEnv, opts: PmiClientOptions = {}): Promise<PmiClient | null> {
  if (env.PMI_FD === undefined) return null;
  const fd = envInt(env, 'PMI_FD', 0);
  const rank = envInt(env, 'PMI_RANK', 0);
  const size = envInt(env, 'PMI_SIZE', 1);
  if (rank >= size) throw new FluxError(EINVAL, `PMI_RANK=${rank} is not below PMI_SIZE=${size}`);
  let sock: net.Socket;
  try {
    sock = new net.Socket({ fd, readable: true, writable: true });
  } catch (err) {
    throw new FluxError(EINVAL, `PMI_FD=${fd} cannot be used: ${(err as Error).message}`);
  }
  try {
    return await pmiConnect(sock, rank, size, opts);
  } catch (err) {
    const e = err instanceof FluxError ? err : new FluxError(EIO, (err as Error).message);
    throw new FluxError(e.errno, `PMI_FD=${fd}: ${e.message}`);
  }
}

/** Run the PMI-1 handshake over an already connected stream; the stream is destroyed if it fails. */
export async function pmiConnect(
  sock: Duplex,
  rank: number,
  size: number,
  opts: PmiClientOptions = {},
): Promise<PmiClient> {
  const ch = new Channel(sock, opts.debug ? `pmi[${rank}]` : undefined);
  try {
    const init = await ch.request('init', { pmi_version: 1, pmi_subversion: 1 }, 'response_to_init');
    check(init, 'init', EPROTO);
    const maxes = await ch.request('get_maxes', {}, 'maxes');
    check(maxes, 'get_maxes', EPROTO);
    const limits = {
      key: intField(maxes, 'keylen_max'),
      value: intField(maxes, 'vallen_max'),
    };
    const name = await ch.request('get_my_kvsname', {}, 'my_kvsname');
    check(name, 'get_my_kvsname', EPROTO);
    const kvsname = name.fields.get('kvsname');
    if (kvsname === undefined || !/^[^\s=]+$/.test(kvsname)) throw ch.protocolError(name, 'no usable kvsname');
    return new SimpleClient(ch, rank, size, kvsname, limits);
  } catch (err) {
    ch.close(new FluxError(ECANCELED, 'PMI handshake failed'));
    throw err;
  }
}

/** Throw a FluxError carrying the server's msg= text for a non-zero rc (a missing rc means success: hydra omits it). */
function check(resp: PmiCommand, what: string, errno: number): void {
  const rcText = resp.fields.get('rc') ?? '0';
  const rc = /^-?\d+$/.test(rcText) ? Number(rcText) : NaN;
  if (rc === 0) return;
  const msg = resp.fields.get('msg');
  const why = msg !== undefined && msg.length > 0 ? `${msg} (rc=${rcText})` : `rc=${rcText}`;
  throw new FluxError(errno, `PMI ${what} failed: ${why}`);
}

function intField(resp: PmiCommand, key: string): number {
  const text = resp.fields.get(key);
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < 1) {
    throw new FluxError(EPROTO, `PMI protocol error: ${resp.cmd} lacks a positive ${key}`);
  }
  return Number(text);
}

/**
 * One connection, strictly lock-step: a request is written only after the answer to the previous one has
 * arrived, because the protocol has no request ids to match answers by.
 */
class Channel {
  private readonly decoder = new PmiLineDecoder();
  private tail: Promise<unknown> = Promise.resolve();
  private waiter: { expect: string; resolve: (r: PmiCommand) => void; reject: (e: FluxError) => void } | undefined;
  private failure: FluxError | undefined;

  constructor(
    private readonly sock: Duplex,
    private readonly tracePrefix: string | undefined,
  ) {
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('error', (err) => this.close(new FluxError(ECONNRESET, `PMI connection failed: ${err.message}`)));
    sock.on('close', () => this.close(new FluxError(ECONNRESET, 'PMI server closed the connection')));
  }

  request(cmd: string, fields: Record<string, string | number>, expect: string): Promise<PmiCommand> {
    const line = formatLine(cmd, fields);
    const run = () => this.exchange(line, expect);
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Write a line that gets no answer, without waiting for the request in flight. */
  async send(cmd: string, fields: Record<string, string | number>): Promise<void> {
    const line = formatLine(cmd, fields);
    if (this.failure) throw this.failure;
    this.trace('C', line);
    await new Promise<void>((resolve, reject) =>
      this.sock.write(line, (err) => (err ? reject(new FluxError(ECONNRESET, err.message)) : resolve())),
    );
  }

  /** Fail what is pending and all later requests with `why`, and drop the connection; first reason wins. */
  close(why: FluxError): void {
    if (this.failure) return;
    this.failure = why;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(why);
    this.sock.destroy();
  }

  /** Closing the connection is the protocol's answer to a line it cannot accept. */
  protocolError(resp: PmiCommand, why: string): FluxError {
    const err = new FluxError(EPROTO, `PMI protocol error: ${why}: ${JSON.stringify(resp.line)}`);
    this.close(err);
    return err;
  }

  private exchange(line: string, expect: string): Promise<PmiCommand> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<PmiCommand>((resolve, reject) => {
      this.waiter = { expect, resolve, reject };
      this.trace('C', line);
      this.sock.write(line);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    let msgs;
    try {
      msgs = this.decoder.push(chunk);
    } catch (err) {
      this.close(err as FluxError);
      return;
    }
    for (const msg of msgs) {
      if (msg.kind === 'mcmd') {
        this.close(new FluxError(EPROTO, `PMI protocol error: unexpected mcmd=${msg.mcmd} from server`));
        return;
      }
      this.trace('S', msg.line);
      const w = this.waiter;
      if (w === undefined) {
        this.protocolError(msg, 'answer to no request');
        return;
      }
      if (msg.cmd !== w.expect) {
        this.protocolError(msg, `expected cmd=${w.expect}`);
        return;
      }
      this.waiter = undefined;
      w.resolve(msg);
    }
  }

  private trace(dir: 'C' | 'S', line: string): void {
    if (this.tracePrefix !== undefined) process.stderr.write(`${this.tracePrefix}: ${dir}: ${line.trimEnd()}\n`);
  }
}

class SimpleClient implements PmiClient {
  constructor(
    private readonly ch: Channel,
    readonly rank: number,
    readonly size: number,
    readonly kvsname: string,
    private readonly limits: { readonly key: number; readonly value: number },
  ) {}

  get maxValue(): number {
    return this.limits.value - 1;
  }

  async put(key: string, value: string): Promise<void> {
    this.checkKey(key);
    // The server's vallen_max counts a C string's NUL: hydra silently truncates a value of vallen_max bytes.
    const len = Buffer.byteLength(value);
    if (len > this.maxValue) {
      throw new FluxError(EINVAL, `PMI put ${key}: value is ${len} bytes, the server takes at most ${this.maxValue}`);
    }
    if (/[\n\0]/.test(value)) throw new FluxError(EINVAL, `PMI put ${key}: value contains a newline or NUL`);
    const resp = await this.ch.request('put', { kvsname: this.kvsname, key, value }, 'put_result');
    check(resp, `put ${key}`, EINVAL);
  }

  async get(key: string): Promise<string> {
    this.checkKey(key);
    const resp = await this.ch.request('get', { kvsname: this.kvsname, key }, 'get_result');
    // Servers disagree on the code for a missing key (flux: 4, hydra: -1 with msg=key_K_not_found), and a get
    // has no other failure a caller could act on differently.
    check(resp, `get ${key}`, ENOENT);
    const value = resp.fields.get('value');
    if (value === undefined) throw this.ch.protocolError(resp, 'get_result without value');
    return value;
  }

  async barrier(): Promise<void> {
    check(await this.ch.request('barrier_in', {}, 'barrier_out'), 'barrier', EIO);
  }

  async finalize(): Promise<void> {
    const resp = await this.ch.request('finalize', {}, 'finalize_ack');
    this.ch.close(new FluxError(EINVAL, 'PMI already finalized'));
    check(resp, 'finalize', EIO);
  }

  async abort(code: number, msg: string): Promise<void> {
    if (!Number.isInteger(code)) throw new FluxError(EINVAL, `PMI abort: exit code ${code} is not an integer`);
    // Sent at once rather than queued: abort gets no answer, so it cannot be taken for the reply a pending
    // request awaits, and it must not wait behind a barrier that the failure it reports may never let finish.
    await this.ch.send('abort', { exitcode: code, error_msg: msg.replace(/[\r\n\0]/g, ' ') });
    this.ch.close(new FluxError(ECANCELED, 'PMI aborted'));
  }

  private checkKey(key: string): void {
    if (!/^[^\s=]+$/.test(key)) {
      throw new FluxError(EINVAL, `PMI key ${JSON.stringify(key)} is empty or has spaces or '='`);
    }
    const len = Buffer.byteLength(key);
    if (len >= this.limits.key) {
      const most = this.limits.key - 1;
      throw new FluxError(EINVAL, `PMI key ${key.slice(0, 16)}...: ${len} bytes, the server takes at most ${most}`);
    }
  }
}
