// The broker end of the local connector: a UNIX socket in the instance rundir, flux-core's one-byte
// handshake and framing, and credentials stamped on every message at ingress from SO_PEERCRED.
import * as net from 'node:net';
import { randomUUID } from 'node:crypto';
import { lstatSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { FluxError, EAGAIN, EPERM, EEXIST, EALREADY, errnoOf } from '../core/errors.js';
import { LocalDecoder } from '../core/wire/framing.js';
import { TickWriter } from './tick-writer.js';
import {
  type Message, FLAG_ROUTE, FLAG_NORESPONSE, FLAG_STREAMING, MSGTYPE_REQUEST, MSGTYPE_RESPONSE, USERID_UNKNOWN, ROLE_NONE, ROLE_OWNER, ROLE_USER, ROLE_LOCAL,
  makeErrorResponse,
} from '../core/wire/message.js';
import { peerCred, type PeerCred } from './peercred.js';
import { checkSocketPath } from './local-client.js';
import { type LocalLimits, DEFAULT_LIMITS } from './local-limits.js';

const LOG_ERR = 3;
const LOG_INFO = 6;
const HANDSHAKE_OK = Buffer.from([0]);
const HANDSHAKE_EPERM = Buffer.from([EPERM]);
const HANDSHAKE_EAGAIN = Buffer.from([EAGAIN]);
/** messages of one client handed on before the others get a turn */
const TURN_MESSAGES = 16;

export interface LocalConnection {
  /** A fresh uuid naming this client: the broker pushes it on the route stack of the client's requests. */
  readonly id: string;
  readonly uid: number;
  readonly pid: number;
  readonly rolemask: number;
  /** Queues a message to the client, in order; a no-op once the connection is closed. */
  send(msg: Message): void;
  /** Flushes queued messages, then closes; onDisconnect follows. */
  close(): void;
}

export interface LocalServerOptions {
  path: string;
  /** the instance owner's uid: its connections get OWNER|LOCAL */
  ownerUid: number;
  /** whether other uids may connect (as USER|LOCAL) or are refused with EPERM */
  allowGuest: boolean;
  /** root connects as the owner too (flux-core's access.allow-root-owner) */
  allowRootOwner?: boolean;
  /**
   * The roles the user database gives a uid (0 for none), asked at each connection so that a change applies to
   * the next one: a uid with a role connects with it even when guests are not allowed.
   */
  rolesOf?: (uid: number) => number;
  /** what one client may cost (DEFAULT_LIMITS where not given) */
  limits?: Partial<LocalLimits>;
  /**
   * Leave the credentials of the owner's messages as sent (unknown, usually) for the instance further on to assign:
   * flux proxy, whose clients have its own uid and so can claim nothing its own connection could not.
   */
  delegateCredentials?: boolean;
  onMessage: (conn: LocalConnection, msg: Message) => void;
  /** called exactly once per accepted connection, after its socket is gone */
  onDisconnect: (conn: LocalConnection) => void;
  /** severity as syslog: 3 = err, 6 = info */
  log: (severity: number, text: string) => void;
}

class Connection implements LocalConnection {
  readonly id = randomUUID();
  readonly uid: number;
  readonly pid: number;
  readonly rolemask: number;
  readonly owner: boolean;
  /** resolves when the socket has closed and onDisconnect has run */
  readonly gone: Promise<void>;
  /** set by close() or by bad input: nothing more is sent or delivered */
  closing = false;
  /** matchtags of this client's requests that await their final answer */
  readonly inflight = new Set<number>();
  /** called when the client lets more than this many bytes queue up unread */
  overflow?: { limit: number; then: () => void };
  /** run as the socket closes, before `closing` is set: hands on what was read and not yet delivered */
  beforeGone: () => void = () => {};
  private readonly writer: TickWriter;

  constructor(
    readonly sock: net.Socket,
    cred: PeerCred,
    roles: number,
    onGone: (conn: Connection) => void,
  ) {
    this.writer = new TickWriter(sock);
    this.uid = cred.uid;
    this.pid = cred.pid;
    this.owner = (roles & ROLE_OWNER) !== 0;
    this.rolemask = roles | ROLE_LOCAL;
    this.gone = new Promise((resolve) => {
      sock.once('close', () => {
        if (!this.closing) this.beforeGone();
        this.closing = true;
        onGone(this);
        resolve();
      });
    });
  }

  /** the prefix flux-core puts on connector log lines, so a line names the client process */
  get label(): string {
    return `client=${this.pid} userid=${this.uid}`;
  }

  send(msg: Message): void {
    // A response may race the client's departure; there is nobody left to tell.
    if (this.closing || !this.sock.writable) return;
    if (msg.type === MSGTYPE_RESPONSE && (msg.aux1 !== 0 || !(msg.flags & FLAG_STREAMING))) this.inflight.delete(msg.aux2);
    this.writer.write(msg);
    if (this.overflow && this.sock.writableLength > this.overflow.limit) this.overflow.then();
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    // The fd is released once the queue has drained, without waiting for the client to end its side.
    this.sock.end(() => this.sock.destroy());
  }

  /** Drops the connection now, queued output and all: for bad input and server shutdown. */
  abort(): void {
    this.closing = true;
    this.sock.destroy();
  }
}

export class LocalServer {
  private readonly opts: LocalServerOptions;
  private readonly conns = new Set<Connection>();
  /** open connections per guest uid */
  private readonly perUid = new Map<number, number>();
  private readonly limits: LocalLimits;
  /** when bad input of a uid and kind was last logged */
  private readonly badLogged = new Map<string, number>();
  private server: net.Server | undefined;

  constructor(opts: LocalServerOptions) {
    this.opts = opts;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  get connections(): ReadonlySet<LocalConnection> {
    return this.conns;
  }

  /** Creates the socket file (replacing a stale one) in a directory the caller made private. */
  async listen(): Promise<void> {
    if (this.server) throw new FluxError(EALREADY, `${this.opts.path}: already listening`);
    const path = this.opts.path;
    checkSocketPath(path);
    const dir = dirname(path);
    let st;
    try {
      st = statSync(dir);
    } catch (err) {
      throw new FluxError(errnoOf(err), `socket directory ${dir}: ${(err as Error).message}`);
    }
    if (!st.isDirectory()) throw new FluxError(EPERM, `${dir} is not a directory`);
    // others may pass through (to a socket opened to guests) but never list or add entries
    if ((st.mode & 0o066) !== 0) {
      throw new FluxError(
        EPERM,
        `${dir} has mode ${(st.mode & 0o777).toString(8)}: the socket directory must not be readable or writable by group or other`,
      );
    }
    removeStaleSocket(path);
    // a client's end of input is acted on once its last messages are handed on (see accept)
    const server = net.createServer({ allowHalfOpen: true }, (sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new FluxError(errnoOf(err), `cannot listen on ${path}: ${err.message}`));
      server.once('error', onError);
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    });
    // After listen, errors come from accept (EMFILE and the like): the server stays up and says so.
    server.on('error', (err) => this.opts.log(LOG_ERR, `${path}: ${err.message}`));
    this.server = server;
  }

  /** Stops accepting, drops every connection (each gets its onDisconnect) and removes the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    const conns = [...this.conns];
    for (const c of conns) c.abort();
    await Promise.all([closed, ...conns.map((c) => c.gone)]);
  }

  private accept(sock: net.Socket): void {
    const { log } = this.opts;
    let cred: PeerCred;
    try {
      cred = peerCred(sock);
    } catch (err) {
      log(LOG_ERR, `cannot read the credentials of a new connection: ${(err as Error).message}`);
      sock.destroy();
      return;
    }
    const roles = this.rolesFor(cred.uid);
    if (roles === ROLE_NONE) {
      log(LOG_INFO, `client=${cred.pid} userid=${cred.uid}: connection refused: guest access is not allowed and the user has no role`);
      sock.on('error', (err) => log(LOG_INFO, `client=${cred.pid} userid=${cred.uid}: ${err.message}`));
      sock.end(HANDSHAKE_EPERM, () => sock.destroy());
      return;
    }
    const guest = (roles & ROLE_OWNER) === 0;
    const count = this.perUid.get(cred.uid) ?? 0;
    if (guest && count >= this.limits.maxConnectionsPerUid) {
      log(LOG_INFO, `client=${cred.pid} userid=${cred.uid}: connection refused: ${count} connections open (local.max-connections-per-uid)`);
      sock.on('error', () => {});
      sock.end(HANDSHAKE_EAGAIN, () => sock.destroy());
      return;
    }
    if (guest) this.perUid.set(cred.uid, count + 1);
    const conn = new Connection(sock, cred, roles, (c) => {
      this.conns.delete(c);
      if (guest) {
        const left = (this.perUid.get(c.uid) ?? 1) - 1;
        if (left > 0) this.perUid.set(c.uid, left);
        else this.perUid.delete(c.uid);
      }
      this.opts.onDisconnect(c);
    });
    this.conns.add(conn);
    // a client that stops reading is let go rather than buffered for without end
    conn.overflow = {
      limit: this.limits.maxQueuedBytes,
      then: () => {
        log(LOG_ERR, `${conn.label}: disconnected: more than ${this.limits.maxQueuedBytes} bytes queued unread (local.max-queued-bytes)`);
        conn.abort();
      },
    };
    // A client that exits with our messages unread resets the socket (ECONNRESET on our read, EPIPE on our write):
    // how such a client ends, as a C client exiting does, so nothing is logged for it; other faults are told.
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') log(LOG_INFO, `${conn.label}: ${err.message}`);
    });
    const decoder = new LocalDecoder(this.limits.maxMessageSize);
    const deliver = (msg: Message): void => {
      if (conn.closing) return;
      if (!this.stampCredentials(conn, msg) || !this.admitRequest(conn, msg, guest)) return;
      this.opts.onMessage(conn, msg);
    };
    // A client's messages are handed on TURN_MESSAGES at a time, its socket paused in between, so that one
    // client sending as fast as it can takes turns with the others rather than holding the broker for a whole read.
    let backlog: Message[] = [];
    let next = 0;
    /** what was read and not yet handed on, handed on now (the client will send no more, or sent bad bytes) */
    const deliverRest = (): void => {
      while (next < backlog.length && !conn.closing) deliver(backlog[next++]!);
    };
    const drain = (): void => {
      const end = Math.min(backlog.length, next + TURN_MESSAGES);
      while (next < end && !conn.closing) deliver(backlog[next++]!);
      if (next < backlog.length && !conn.closing) {
        sock.pause();
        setImmediate(drain);
        return;
      }
      backlog = [];
      next = 0;
      if (conn.closing) return;
      if (ended) conn.close();
      else sock.resume();
    };
    // A reset comes after the last bytes the client sent were read: what they held is handed on, as after an end.
    conn.beforeGone = deliverRest;
    // the client will send nothing more: what it sent is handed on first, then the connection closes
    let ended = false;
    sock.on('end', () => {
      ended = true;
      if (next >= backlog.length) conn.close();
    });
    sock.on('data', (chunk: Buffer) => {
      if (conn.closing) return;
      const waiting = next < backlog.length;
      try {
        decoder.push(chunk, (msg) => backlog.push(msg));
      } catch (err) {
        // what came before the bad bytes is delivered, as it would have been had it come in its own read
        deliverRest();
        this.logBadInput(conn, (err as Error).message);
        conn.abort();
        return;
      }
      if (!waiting) drain();
    });
    sock.write(HANDSHAKE_OK);
  }

  /**
   * Bad input is logged once per uid and kind of fault a minute: one user sending garbage as fast as it can must
   * not flood the log, nor hide what others do.
   */
  private logBadInput(conn: Connection, reason: string): void {
    const key = `${conn.uid}:${reason.replace(/\d+/g, 'N')}`;
    const now = Date.now();
    if ((this.badLogged.get(key) ?? 0) > now - 60_000) return;
    if (this.badLogged.size >= 1024) this.badLogged.clear();
    this.badLogged.set(key, now);
    this.opts.log(LOG_ERR, `${conn.label}: ${reason}`);
  }

  /** a guest's request past local.max-inflight is answered EAGAIN at once, without reaching a service */
  private admitRequest(conn: Connection, msg: Message, guest: boolean): boolean {
    if (!guest || msg.type !== MSGTYPE_REQUEST || msg.flags & FLAG_NORESPONSE || msg.aux2 === 0) return true;
    if (conn.inflight.size >= this.limits.maxInflight && !conn.inflight.has(msg.aux2)) {
      conn.send(makeErrorResponse(msg, EAGAIN, `${conn.inflight.size} requests in flight (local.max-inflight): try again`));
      return false;
    }
    conn.inflight.add(msg.aux2);
    return true;
  }

  /** the roles a new connection of `uid` gets (LOCAL aside); none means it is refused */
  private rolesFor(uid: number): number {
    if (uid === this.opts.ownerUid || (uid === 0 && this.opts.allowRootOwner)) return ROLE_OWNER;
    const granted = this.opts.rolesOf?.(uid) ?? ROLE_NONE;
    if (granted !== ROLE_NONE) return granted & (ROLE_OWNER | ROLE_USER);
    return this.opts.allowGuest ? ROLE_USER : ROLE_NONE;
  }

  /**
   * Assigns the message its credential; false (after refusing it) when a guest presented one that is not its own.
   * Only the owner may present a credential of its own choosing (acting as another user, for tests); everyone
   * else is who the kernel says they are.
   */
  private stampCredentials(conn: Connection, msg: Message): boolean {
    // flux-core accepts a request without the route delimiter; give it the empty stack the broker expects.
    if (msg.type === MSGTYPE_REQUEST && msg.routes === undefined) {
      msg.routes = [];
      msg.flags |= FLAG_ROUTE;
    }
    const presented = msg.userid !== USERID_UNKNOWN || msg.rolemask !== ROLE_NONE;
    if (!presented) {
      if (!(conn.owner && this.opts.delegateCredentials)) {
        msg.userid = conn.uid;
        msg.rolemask = conn.rolemask;
      }
      return true;
    }
    if (conn.owner) {
      if (msg.userid === USERID_UNKNOWN) msg.userid = conn.uid;
      if (msg.rolemask === ROLE_NONE) msg.rolemask = msg.userid === conn.uid ? conn.rolemask : ROLE_USER | ROLE_LOCAL;
      return true;
    }
    // a guest may restate its own credential, or a part of its roles; nothing else
    const own = (msg.userid === USERID_UNKNOWN || msg.userid === conn.uid) && (msg.rolemask & ~conn.rolemask) === 0;
    if (own) {
      msg.userid = conn.uid;
      msg.rolemask = msg.rolemask === ROLE_NONE ? conn.rolemask : msg.rolemask;
      return true;
    }
    const why = `acting as userid ${msg.userid} rolemask 0x${msg.rolemask.toString(16)} requires the owner role`;
    if (msg.type === MSGTYPE_REQUEST && !(msg.flags & FLAG_NORESPONSE) && msg.aux2 !== 0) {
      conn.send(makeErrorResponse(msg, EPERM, why));
    } else {
      this.opts.log(LOG_INFO, `${conn.label}: message dropped: ${why}`);
    }
    return false;
  }
}

function removeStaleSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  // Only a socket left by an earlier broker is ours to replace; anything else is somebody's file.
  if (!st.isSocket()) throw new FluxError(EEXIST, `${path} exists and is not a socket`);
  unlinkSync(path);
}
