// The client handle: what commands, tests and users' scripts use to talk to a broker.
import { FluxError, ENODATA, EINVAL, ECONNRESET, ECANCELED } from '../core/errors.js';
import {
  Message, MSGTYPE_RESPONSE, MSGTYPE_EVENT, FLAG_NORESPONSE, FLAG_STREAMING, FLAG_UPSTREAM, NODEID_ANY,
  NODEID_UPSTREAM, USERID_UNKNOWN, jsonPayload, stringPayload, makeRequest, makeEvent, payloadJson, payloadString,
} from '../core/wire/message.js';
import { type Credential, credentialFromEnv } from '../core/access/roles.js';
import type { LocalClient } from '../transport/local-client.js';
import { connect } from '../transport/connector.js';

export type Body = Record<string, unknown> | Buffer | undefined;

export interface ConnectOptions {
  /** the credential every message carries instead of the connection's own (the broker honours the owner's only) */
  credential?: Credential;
}

export interface RpcOpts {
  /** a rank, NODEID_ANY (default) or NODEID_UPSTREAM */
  nodeid?: number;
  flags?: number;
  /** abandons the request: its promise rejects (a stream ends) with ECANCELED; the service is not told */
  signal?: AbortSignal;
}

export interface StreamOpts extends RpcOpts {
  /** told the request's matchtag as it is sent: what a service's cancel request names */
  sent?: (matchtag: number) => void;
}

interface Pending {
  onResponse: (m: Message) => void;
}

function encodeBody(body: Body): Buffer | undefined {
  return body === undefined || Buffer.isBuffer(body) ? body : jsonPayload(body);
}

function canceled(signal: AbortSignal): Message {
  const why = signal.reason instanceof Error ? signal.reason.message : 'request canceled';
  return { type: MSGTYPE_RESPONSE, flags: 0, userid: 0, rolemask: 0, aux1: ECANCELED, aux2: 0, payload: stringPayload(why) };
}

function errorOf(m: Message): FluxError {
  const p = m.payload;
  const text = p && p.length > 0 && p[p.length - 1] === 0 ? payloadString(m) : undefined;
  return new FluxError(m.aux1, text);
}

/**
 * A connection to one broker of a Flux instance (flux_t in C): requests, responses and events. The package's
 * handle (client.ts) adds the typed clients; commands use this one, which loads none of them.
 */
export class Flux {
  private readonly pending = new Map<number, Pending>();
  private readonly eventSinks = new Set<(ev: Message) => void>();
  private readonly closeSinks = new Set<(err: Error) => void>();
  private readonly endSinks = new Set<(err: Error) => void>();
  private closed: Error | undefined;
  private rank: number | undefined;
  /**
   * false once the broker may send what nothing awaits: an event subscription, a stream its caller stopped
   * listening to, an abandoned request. close() lets the socket go at once only while it holds.
   */
  private quiet = true;

  protected constructor(
    private readonly conn: LocalClient,
    readonly uri: string,
    /** the credential every message carries instead of the connection's own (the broker honours the owner's only) */
    private readonly cred?: Credential,
  ) {
    conn.onMessage = (m) => this.receive(m);
    conn.onClose = (err) => this.lost(err ?? new FluxError(ECONNRESET, 'broker connection closed'));
  }

  /**
   * Connect to FLUX_URI (or the given local:// or ssh:// URI), presenting the credential FLUX_HANDLE_USERID /
   * FLUX_HANDLE_ROLEMASK ask for, or `opts.credential`.
   */
  static async open(uri = process.env.FLUX_URI, opts: ConnectOptions = {}): Promise<Flux> {
    const u = Flux.uriOf(uri);
    // a bad credential is refused before a connection is left open
    const cred = Flux.credentialOf(opts);
    return new Flux(await connect(u), u, cred);
  }

  protected static uriOf(uri = process.env.FLUX_URI): string {
    if (uri === undefined || uri === '') {
      throw new FluxError(EINVAL, 'FLUX_URI is not set: run inside an instance (flux start) or set FLUX_URI');
    }
    return uri;
  }

  protected static credentialOf(opts: ConnectOptions): Credential | undefined {
    return opts.credential ?? credentialFromEnv(process.env);
  }

  /** the connection a handle for `uri` is made on */
  protected static connection(uri: string): Promise<LocalClient> {
    return connect(uri);
  }

  /** whom this handle's requests speak for: the credential it presents, else this process's user */
  get userid(): number {
    return this.cred !== undefined && this.cred.userid !== USERID_UNKNOWN ? this.cred.userid : process.getuid?.() ?? 0;
  }

  /** One request, one response. Rejects with the response's FluxError. */
  rpc(topic: string, body?: Body, opts: RpcOpts = {}): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.request(topic, body, opts, 0, (m) => (m.aux1 !== 0 ? reject(errorOf(m)) : resolve(m)), true);
    });
  }

  /** rpc() and the response payload as a JSON object */
  async call(topic: string, body?: Body, opts: RpcOpts = {}): Promise<Record<string, unknown>> {
    const m = await this.rpc(topic, body, opts);
    return m.payload && m.payload.length > 0 ? payloadJson(m) : {};
  }

  /**
   * A streaming RPC: every response until the terminating error; ENODATA ends it normally, any other error
   * rejects. `each` may return false to stop listening (the caller then cancels as the service requires).
   */
  stream(topic: string, body: Body, opts: StreamOpts, each: (m: Message) => boolean | void): Promise<void> {
    return new Promise((resolve, reject) => {
      const tag = this.request(topic, body, opts, FLAG_STREAMING, (m) => {
        if (m.aux1 !== 0) {
          this.pending.delete(tag);
          if (m.aux1 === ENODATA) resolve();
          else reject(errorOf(m));
          return;
        }
        if (each(m) === false) {
          this.pending.delete(tag);
          this.quiet = false;
          resolve();
        }
      }, false);
      if (tag !== 0) opts.sent?.(tag);
    });
  }

  /** A request that expects no response (NORESPONSE). */
  send(topic: string, body?: Body, opts: RpcOpts = {}): void {
    this.request(topic, body, opts, FLAG_NORESPONSE, () => {}, true);
  }

  /**
   * A request with matchtag 0 and no NORESPONSE flag: what flux-core's flux_log() sends as log.append. A service
   * answers only requests whose matchtag is set, so nothing comes back.
   */
  post(topic: string, body?: Body, opts: RpcOpts = {}): void {
    if (this.closed) throw this.closed;
    this.sendMsg(makeRequest(topic, encodeBody(body), { nodeid: opts.nodeid ?? NODEID_ANY, matchtag: 0, flags: opts.flags ?? 0 }));
  }

  /** Publish a raw event, as flux event pub does (the broker sequences it at rank 0). */
  publishRaw(topic: string, payload?: Buffer, flags = 0): void {
    this.sendMsg({ ...makeEvent(topic, payload, 0, flags), routes: [] });
  }

  async subscribe(prefix: string): Promise<void> {
    await this.rpc('event.subscribe', { topic: prefix });
  }

  async unsubscribe(prefix: string): Promise<void> {
    await this.rpc('event.unsubscribe', { topic: prefix });
  }

  /** called once if the broker connection is lost (not after close()) */
  onClose(fn: (err: Error) => void): () => void {
    this.closeSinks.add(fn);
    return () => this.closeSinks.delete(fn);
  }

  /** called once when the handle ends, by close() or a lost connection: streams end here */
  onEnd(fn: (err: Error) => void): () => void {
    this.endSinks.add(fn);
    return () => this.endSinks.delete(fn);
  }

  onEvent(sink: (ev: Message) => void): () => void {
    this.eventSinks.add(sink);
    return () => this.eventSinks.delete(sink);
  }

  /** The rank of the broker this handle is connected to (attr.get, cached). */
  async getRank(): Promise<number> {
    if (this.rank === undefined) {
      const r = await this.call('attr.get', { name: 'rank' });
      this.rank = Number(r.value);
    }
    return this.rank;
  }

  /** true once close() was called or the connection was lost: no request can be sent any more */
  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /**
   * Close the connection. Each service the handle used is told `<service>.disconnect` by what holds the other end
   * (the broker, or flux proxy for its clients), as flux-core's connector does; a handle says nothing itself, as
   * flux-core's clients say nothing.
   */
  close(): void {
    if (this.closed) return;
    this.closed = new FluxError(ECONNRESET, 'handle closed');
    this.conn.close(this.quiet && this.pending.size === 0);
    this.fail(this.closed);
  }

  private request(
    topic: string, body: Body, opts: RpcOpts, flags: number, onResponse: (m: Message) => void, once: boolean,
  ): number {
    if (this.closed) throw this.closed;
    if (opts.signal?.aborted) {
      onResponse(canceled(opts.signal));
      return 0;
    }
    let nodeid = opts.nodeid ?? NODEID_ANY;
    let allFlags = flags | (opts.flags ?? 0);
    if (nodeid === NODEID_UPSTREAM) {
      // on the wire "upstream" is the UPSTREAM flag with the sender's own rank, which the broker fills in
      allFlags |= FLAG_UPSTREAM;
      nodeid = this.rank ?? NODEID_ANY;
    }
    const noresponse = (allFlags & FLAG_NORESPONSE) !== 0;
    const tag = noresponse ? 0 : this.allocTag();
    if (!noresponse) {
      const signal = opts.signal;
      const abort = signal && (() => {
        if (this.pending.get(tag) !== entry) return;
        this.pending.delete(tag);
        this.quiet = false;
        onResponse(canceled(signal));
      });
      const settled = () => signal?.removeEventListener('abort', abort!);
      const entry: Pending = {
        onResponse: once || signal ? (m) => {
          if (once || m.aux1 !== 0) {
            this.pending.delete(tag);
            settled();
          }
          onResponse(m);
        } : onResponse,
      };
      this.pending.set(tag, entry);
      signal?.addEventListener('abort', abort!, { once: true });
    }
    if (topic === 'event.subscribe') this.quiet = false;
    this.sendMsg(makeRequest(topic, encodeBody(body), { nodeid, matchtag: tag, flags: allFlags }));
    return tag;
  }

  private sendMsg(m: Message): void {
    if (this.cred) {
      m.userid = this.cred.userid;
      m.rolemask = this.cred.rolemask;
    }
    this.conn.send(m);
  }

  private nextTag = 1;

  private allocTag(): number {
    for (;;) {
      const t = this.nextTag;
      this.nextTag = t >= 0xffffff ? 1 : t + 1;
      if (!this.pending.has(t)) return t;
    }
  }

  private receive(m: Message): void {
    if (m.type === MSGTYPE_RESPONSE) {
      this.pending.get(m.aux2)?.onResponse(m);
    } else if (m.type === MSGTYPE_EVENT) {
      for (const s of this.eventSinks) s(m);
    }
  }

  private lost(err: Error): void {
    const unexpected = !this.closed;
    if (unexpected) this.closed = err;
    this.fail(err);
    if (unexpected) for (const fn of this.closeSinks) fn(err);
  }

  /** every request still waiting gets `err`; the end sinks are told, once */
  private fail(err: Error): void {
    const pend = [...this.pending.values()];
    this.pending.clear();
    for (const p of pend) {
      p.onResponse({
        type: MSGTYPE_RESPONSE, flags: 0, userid: 0, rolemask: 0, aux1: ECONNRESET, aux2: 0,
        payload: stringPayload(err.message),
      });
    }
    const sinks = [...this.endSinks];
    this.endSinks.clear();
    for (const fn of sinks) fn(err);
  }
}

/** `fn` with a handle on FLUX_URI, closed once it is done */
export async function withHandle<T>(fn: (h: Flux) => Promise<T>): Promise<T> {
  const h = await Flux.open();
  try {
    return await fn(h);
  } finally {
    h.close();
  }
}
