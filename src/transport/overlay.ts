// The broker-to-broker transport: parent ROUTER (binds, CURVE server, ZAP allow-list), child DEALER (connects,
// routing id = its uuid). Frames are opaque here; the broker encodes RFC 3 messages itself.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type * as Zmq from 'zeromq';
import { FluxError, EHOSTUNREACH, errnoOf } from '../core/errors.js';
import { encodeLocalList, isLocalList, splitLocalList } from '../core/wire/framing.js';
import { checkKey, type Keypair } from './keys.js';
import { z85Encode } from './z85.js';

// libzmq looks for the ZAP handler at this fixed endpoint in the socket's own context (ZeroMQ RFC 27).
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const ZAP_DOMAIN = 'flux';
// what is still queued at close gets a moment to leave, but close never holds up a broker's exit
const LINGER_MS = 5;

// required, not imported: an ES import of a CommonJS package starts Node's CommonJS export scanner (a
// WebAssembly module), which costs every broker ~4.5 MiB of resident memory (measured) for nothing. The build
// bundles the package's JavaScript with the broker by this very expression (scripts/bundle-cli.mjs)
const { Context, Dealer, Reply, Router } = createRequire(import.meta.url)('zeromq') as typeof Zmq;
type Context = Zmq.Context;
type Dealer = Zmq.Dealer;
type Reply = Zmq.Reply;
type Router = Zmq.Router;

// a message at least this large goes out as its own frames: copying it into a list would cost more than the send
const ALONE = 64 * 1024;
// a list is closed at this size, so that a long burst of messages does not make one buffer of it all
const LIST_MAX = 256 * 1024;

/**
 * A message as sent on its own. The one shape that a received message could be mistaken for a list by (see
 * unpack), a single frame beginning as a list does, goes as a list of one: the overlay carries any frames.
 */
function alone(frames: Buffer[]): Buffer[] {
  return frames.length === 1 && isLocalList(frames[0]!) ? [encodeLocalList([frames])] : frames;
}

/**
 * The messages a turn held for one peer, as the ZeroMQ messages to send: runs of them as one list each
 * (encodeLocalList), a large one alone. A message of no frames is not sent, as ZeroMQ would not send one.
 */
function coalesce(list: Buffer[][]): Buffer[][] {
  const out: Buffer[][] = [];
  let run: Buffer[][] = [];
  let runSize = 0;
  const endRun = (): void => {
    if (run.length === 1) out.push(alone(run[0]!));
    else if (run.length > 1) out.push([encodeLocalList(run)]);
    run = [];
    runSize = 0;
  };
  for (const frames of list) {
    if (frames.length === 0) continue;
    let size = 0;
    for (const f of frames) size += f.length;
    if (size >= ALONE) {
      endRun();
      out.push(alone(frames));
      continue;
    }
    if (runSize + size > LIST_MAX) endRun();
    run.push(frames);
    runSize += size;
  }
  endRun();
  return out;
}

/**
 * ZeroMQ's own heartbeats on a connection (ZMTP PING and PONG), which libzmq's I/O thread sends and answers: a peer
 * whose whole process has stopped, or whose host has gone, is disconnected after `timeoutMs` of silence, while one
 * whose event loop is only busy (a long computation, a heap snapshot, a full collection) still answers and stays.
 */
export interface Liveness {
  intervalMs: number;
  timeoutMs: number;
}

/** a socket's options for `liveness`: none without it (a connection is then never timed out) */
function heartbeats(liveness: Liveness | undefined): { heartbeatInterval?: number; heartbeatTimeout?: number } {
  return liveness ? { heartbeatInterval: liveness.intervalMs, heartbeatTimeout: liveness.timeoutMs } : {};
}

/** the event loop's idle time so far (ms): it grows only while the loop waits for I/O */
function loopIdle(): number {
  return performance.eventLoopUtilization().idle;
}

/**
 * Sends to each destination of a socket. Each send wakes libzmq's I/O thread (a cross-CPU wake-up on a virtual
 * machine), which was the largest single cost of rank 0's main thread with commits arriving from the whole tree.
 * An idle socket sends a message at once (a lone request or response waits for nothing) unless its peer has had
 * one since the event loop last waited for I/O: that second one, and any more, wait for the turn's end
 * (setImmediate, after its I/O callbacks), the socket is busy, and every message of the next turn waits for that
 * turn's end too. What a turn held goes to each peer as one ZeroMQ message (coalesce), and the broker at the other
 * end takes it in one turn of its own (a leaf's clients' commits reach rank 0's commit queue together and go into
 * one group commit). A turn with no peer sent to twice makes the socket idle again. An idle socket schedules
 * nothing for a lone message: holding every message to its turn's end instead cost a ping to rank 7 of a size-8
 * fanout-2 tree ~18% (bench/overlay-ab.mjs).
 */
class Turn<P> {
  /** the peers sent a message at once since the event loop last waited for I/O, when loopIdle() was `mark` */
  private readonly sent = new Set<P>();
  private mark = -1;
  private held = new Map<P, Buffer[][]>();
  private busy = false;
  private twice = false;

  constructor(private readonly transmit: (peer: P, frames: Buffer[]) => void) {}

  send(peer: P, frames: Buffer[]): void {
    if (!this.busy) {
      const mark = loopIdle();
      if (mark !== this.mark) {
        this.mark = mark;
        this.sent.clear();
      }
      // a peer with messages held keeps them ahead of this one, whatever the loop did meanwhile
      if (!this.sent.has(peer) && !this.held.has(peer)) {
        this.sent.add(peer);
        this.transmit(peer, alone(frames));
        return;
      }
      this.twice = true;
    }
    // the first message held schedules the end of the turn
    if (this.held.size === 0) setImmediate(this.flush);
    const list = this.held.get(peer);
    if (list === undefined) {
      this.held.set(peer, [frames]);
    } else {
      list.push(frames);
      this.twice = true;
    }
  }

  /** send what is held now: at the turn's end, or before the socket closes */
  readonly flush = (): void => {
    const held = this.held;
    this.held = new Map();
    this.sent.clear();
    this.busy = this.twice;
    this.twice = false;
    for (const [peer, list] of held) for (const frames of coalesce(list)) this.transmit(peer, frames);
  };
}

/**
 * The messages one received ZeroMQ message holds: itself, or those of a list coalesce() made (a message of one
 * frame that begins as a list does is sent as a list of one: see alone).
 */
function unpack(frames: Buffer[]): Buffer[][] {
  return frames.length === 1 && isLocalList(frames[0]!) ? splitLocalList(frames[0]!) : [frames];
}

/** each message of `frames` to `deliver`, in order: one that throws, or a list that cannot be read, to `onError` */
function deliverEach(frames: Buffer[], deliver: (frames: Buffer[]) => void, onError: (err: unknown) => void): void {
  let list: Buffer[][];
  try {
    list = unpack(frames);
  } catch (err) {
    onError(err);
    return;
  }
  for (const one of list) {
    try {
      deliver(one);
    } catch (err) {
      onError(err);
    }
  }
}

function toFluxError(err: unknown): FluxError {
  if (err instanceof FluxError) return err;
  return new FluxError(errnoOf(err), err instanceof Error ? err.message : String(err));
}

function reportUncaught(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : new Error(String(err)));
}

/**
 * Hands each message `sock` receives to `each` until the socket is closed, as zeromq.js's async iterator does
 * (a receive that fails with EAGAIN because the socket closed ends it), without the iterator's async function and
 * result object per message.
 */
async function receiveEach(sock: Router | Dealer, each: (frames: Buffer[]) => void): Promise<void> {
  while (!sock.closed) {
    let frames: Buffer[];
    try {
      frames = await sock.receive();
    } catch (err) {
      if (sock.closed && (err as { code?: unknown }).code === 'EAGAIN') return;
      throw err;
    }
    each(frames);
  }
}

export class OverlayServer {
  readonly uuid: string;
  onMessage: (peer: string, frames: Buffer[]) => void = () => {};
  onSendError: (peer: string, err: FluxError) => void = () => {};
  /** A peer failed the CURVE handshake or was not on the allow-list (another instance's certificate, say). */
  onRefused: (address: string, why: string) => void = () => {};
  /** A callback threw; the receive loop goes on regardless. */
  onError: (err: unknown) => void = reportUncaught;

  // a private context gives this server a private ZAP endpoint, so several servers in one process
  // (tests, or a broker embedding another) each enforce their own allow-list
  private readonly context = new Context();
  private readonly router: Router;
  private readonly zap: Reply;
  private readonly allowed = new Map<string, string>();
  private readonly loops: Promise<void>[] = [];
  private closed = false;
  /** peers sent to in this turn of the event loop, and what waits to go to each when it ends (see Turn) */
  private readonly turn = new Turn<string>((peer, frames) => this.transmit(peer, frames));

  constructor(opts: { uuid: string; keypair: Keypair; liveness?: Liveness }) {
    this.uuid = opts.uuid;
    this.zap = new Reply({ context: this.context, linger: 0 });
    // bound before the router exists: with no handler present libzmq lets every CURVE client in
    this.zap.bindSync(ZAP_ENDPOINT);
    this.router = new Router({
      context: this.context,
      routingId: opts.uuid,
      mandatory: true,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
      linger: LINGER_MS,
      // a ROUTER never waits for room: with timeout 0 every send() completes synchronously, so calls
      // can be issued back to back without zeromq.js's one-send-in-progress EBUSY, and a peer that is
      // gone fails at once instead of parking the socket in a poll that would block all other peers
      sendTimeout: 0,
      curveServer: true,
      curveSecretKey: checkKey(opts.keypair.secretKey, 'secret key'),
      zapDomain: ZAP_DOMAIN,
      ...heartbeats(opts.liveness),
    });
    this.loops.push(this.receiveLoop(), this.zapLoop());
    const refused = (why: string) => (e: { address: string; error: Error }) => {
      if (!this.closed) this.onRefused(e.address, `${why}: ${e.error.message}`);
    };
    this.router.events.on('handshake:error:protocol', refused('CURVE handshake failed'));
    this.router.events.on('handshake:error:auth', refused('not authorized'));
  }

  allow(publicKey: string, name: string): void {
    this.allowed.set(checkKey(publicKey, 'public key'), name);
  }

  async bind(uri: string): Promise<string> {
    try {
      await this.router.bind(uri);
    } catch (err) {
      throw toFluxError(err);
    }
    return this.router.lastEndpoint ?? uri;
  }

  send(peer: string, frames: Buffer[]): void {
    this.turn.send(peer, frames);
  }

  private transmit(peer: string, frames: Buffer[]): void {
    // after close() the owner has stopped listening: reporting failures to it would only surprise it
    if (this.closed) return;
    const msg: (Buffer | string)[] = new Array(frames.length + 1);
    msg[0] = peer;
    for (let i = 0; i < frames.length; i++) msg[i + 1] = frames[i]!;
    this.router.send(msg).then(undefined, (err: unknown) => this.sendFailed(peer, err));
  }

  private sendFailed(peer: string, err: unknown): void {
    if (this.closed) return;
    // EAGAIN with unlimited HWM only means the peer's pipe is being torn down: it is as gone as EHOSTUNREACH
    const code = (err as { code?: unknown }).code;
    const fe = code === 'EHOSTUNREACH' || code === 'EAGAIN'
      ? new FluxError(EHOSTUNREACH, `overlay: peer ${peer} is unreachable`)
      : toFluxError(err);
    try {
      this.onSendError(peer, fe);
    } catch (e) {
      this.onError(e);
    }
  }

  private async receiveLoop(): Promise<void> {
    try {
      await receiveEach(this.router, (frames) => {
        // ROUTER puts the sender's routing id first; a message always has at least one frame after it
        const peer = frames.shift()!.toString();
        deliverEach(frames, (one) => this.onMessage(peer, one), (e) => this.onError(e));
      });
    } catch (err) {
      if (!this.closed) this.onError(err);
    }
  }

  private async zapLoop(): Promise<void> {
    try {
      for await (const request of this.zap) await this.zap.send(this.authorize(request));
    } catch (err) {
      if (!this.closed) this.onError(err);
    }
  }

  /** Answer one ZAP request (RFC 27): version, request id, domain, address, identity, mechanism, credentials. */
  private authorize(request: Buffer[]): (Buffer | string)[] {
    const requestId = request[1] ?? '';
    let name: string | undefined;
    if (request.length === 7 && request[0]!.toString() === '1.0' && request[5]!.toString() === 'CURVE'
      && request[6]!.length === 32) {
      name = this.allowed.get(z85Encode(request[6]!));
    }
    if (name === undefined) return ['1.0', requestId, '400', 'No access', '', ''];
    return ['1.0', requestId, '200', 'OK', name, ''];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.turn.flush();
    this.closed = true;
    this.router.close();
    this.zap.close();
    await Promise.all(this.loops);
  }
}

export class OverlayClient {
  readonly uuid: string;
  onMessage: (frames: Buffer[]) => void = () => {};
  onSendError: (err: FluxError) => void = () => {};
  /**
   * The connection to the parent is gone once it was made: the parent's process ended, or (with `liveness`) it
   * or its host answered no heartbeat in time. ZeroMQ would connect again; the caller decides.
   */
  onDisconnect: () => void = () => {};
  /** A callback threw; the receive loop goes on regardless. */
  onError: (err: unknown) => void = reportUncaught;

  private readonly dealer: Dealer;
  private readonly loop: Promise<void>;
  // zeromq.js allows one send() in progress per socket and a DEALER may have to wait (no pipe yet): frames
  // wait here, in order, while one send is outstanding
  private queue: (Buffer[] | undefined)[] = [];
  private head = 0;
  private sending = false;
  private closed = false;
  /** whether the parent was sent to in this turn of the event loop, and what waits to go when it ends (see Turn) */
  private readonly turn = new Turn<undefined>((_, frames) => {
    if (this.closed) return;
    if (this.sending) this.queue.push(frames);
    else this.transmit(frames);
  });

  constructor(opts: { uuid: string; keypair: Keypair; serverKey: string; liveness?: Liveness }) {
    this.uuid = opts.uuid;
    this.dealer = new Dealer({
      routingId: opts.uuid,
      sendHighWaterMark: 0,
      receiveHighWaterMark: 0,
      linger: LINGER_MS,
      curvePublicKey: checkKey(opts.keypair.publicKey, 'public key'),
      curveSecretKey: checkKey(opts.keypair.secretKey, 'secret key'),
      curveServerKey: checkKey(opts.serverKey, 'server key'),
      ...heartbeats(opts.liveness),
    });
    this.dealer.events.on('disconnect', () => {
      if (!this.closed) this.onDisconnect();
    });
    this.loop = this.receiveLoop();
  }

  connect(uri: string): void {
    try {
      this.dealer.connect(uri);
    } catch (err) {
      throw toFluxError(err);
    }
  }

  send(frames: Buffer[]): void {
    if (this.closed) return;
    this.turn.send(undefined, frames);
  }

  private transmit(frames: Buffer[]): void {
    this.sending = true;
    this.dealer.send(frames).then(this.sent, this.failed);
  }

  private readonly sent = (): void => {
    if (this.closed) return;
    if (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      // release the frames now rather than when the whole backlog has drained
      this.queue[this.head++] = undefined;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      this.transmit(next);
    } else {
      this.sending = false;
    }
  };

  private readonly failed = (err: unknown): void => {
    if (this.closed) return;
    try {
      this.onSendError(toFluxError(err));
    } catch (e) {
      this.onError(e);
    }
    this.sent();
  };

  private async receiveLoop(): Promise<void> {
    try {
      await receiveEach(this.dealer, (frames) => {
        deliverEach(frames, (one) => this.onMessage(one), (e) => this.onError(e));
      });
    } catch (err) {
      if (!this.closed) this.onError(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.turn.flush();
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.dealer.close();
    await this.loop;
  }
}
