// One broker: routes RFC 3 messages between its local clients, its services, its parent and its children.
// Routing follows flux-core (reference §1.3): every hop that receives a request pushes the sender on the
// route stack; responses pop one route per hop.
import {
  FluxError, errnoOf, EHOSTUNREACH, ENOSYS, EPROTO, ENODATA,
} from '../core/errors.js';
import {
  Message, MSGTYPE_REQUEST, MSGTYPE_RESPONSE, MSGTYPE_EVENT, MSGTYPE_CONTROL, FLAG_NORESPONSE, FLAG_UPSTREAM,
  FLAG_STREAMING, FLAG_PRIVATE, NODEID_ANY, ROLE_OWNER, ROLE_LOCAL, encodeFrames, decodeFrames, makeRequest,
  makeResponse, makeErrorResponse, makeControl, jsonPayload, payloadString, payloadJson, typeName, withBody, withoutRoutes,
} from '../core/wire/message.js';
import { childRoute, subtreeOf } from '../core/overlay/topology.js';
import { formatIdset } from '../core/resource/idset.js';
import { DEFAULT_MAX_MESSAGE } from '../core/wire/framing.js';
import { mayRead } from '../core/access/visibility.js';
import { combineStatus, statusCode, statusName, type SubtreeStatus } from '../core/overlay/subtree-status.js';
import type { Attrs } from '../services/attrs.js';
import { ServiceRegistry } from './registry.js';
import type { EventSink, ModuleHost, ModuleJournal, Payload, RpcOptions } from '../services/module.js';

export const CONTROL_HEARTBEAT = 0;
export const CONTROL_STATUS = 1;
export const CONTROL_DISCONNECT = 2;

/** Where a broker's messages leave it: the connectors and overlay sockets, injected so routing is testable. */
export interface BrokerLinks {
  toParent(frames: Buffer[]): void;
  toChild(uuid: string, frames: Buffer[]): void;
  toClient(connId: string, msg: Message): boolean;
}

interface PendingRpc {
  resolve: (m: Message) => void;
  reject: (e: Error) => void;
  each?: (m: Message) => void;
}

/** the broker's life, in flux-core's state names */
export type BrokerState = 'join' | 'init' | 'quorum' | 'run' | 'cleanup' | 'shutdown' | 'finalize' | 'goodbye' | 'exit';

export interface ChildPeer {
  rank: number;
  uuid?: string;
  /** the uuid the child published with its key at bootstrap: only a connection with that routing id may be it */
  expected?: string;
  state: 'connecting' | 'online' | 'lost' | 'offline';
  lastSeen: number;
  /** online but silent for tbon.torpid_max: flagged until it is heard from again, never taken for lost for it */
  torpid: boolean;
  /** the subtree status it last reported (hello, then CONTROL_STATUS) */
  reported: SubtreeStatus;
  /** the ranks below it it last reported down (overlay.lost); none since its hello until it does */
  lostBelow: readonly number[];
  /** when its status (as its parent sees it) last changed, ms */
  since: number;
  /** why it was lost or went offline */
  error?: string;
  /** requests forwarded to this child that still await a response: failed with EHOSTUNREACH if it is lost */
  tracked: Map<string, Message>;
}

export interface Subscriber {
  userid: number;
  rolemask: number;
  prefixes: string[];
}

export class Broker implements ModuleHost {
  readonly registry: ServiceRegistry;
  /** the journal service, once it is up: what modules loaded at run time reach it through */
  journal?: ModuleJournal;
  private parent: string | undefined;
  /**
   * requests for upstream made while this broker's hello to its parent is on its way: its children, and so the
   * initial program, may already see it online, and a client's request is then held rather than refused
   */
  private untilJoined: Message[] = [];
  /** requests from the parent that came before its answer to our hello (see fromParent) */
  private beforeHello: Message[] = [];
  readonly children = new Map<number, ChildPeer>();
  private readonly childByUuid = new Map<string, ChildPeer>();
  /** children that said goodbye: their last messages are dropped quietly */
  private readonly departed = new Set<string>();
  private readonly pending = new Map<number, PendingRpc>();
  private nextTag = 1;
  private readonly internalSubs = new Set<{ prefix: string; sink: EventSink }>();
  readonly clientSubs = new Map<string, Subscriber>();
  /**
   * Per client: the services on other brokers it sent requests to, by `${service}@${nodeid}`. When the client
   * goes away each is told `<service>.disconnect`, as its own broker's services are, so state kept for the
   * client elsewhere (streams, processes) ends too. It follows the requests' own path, so it arrives after them.
   */
  private readonly clientRemote = new Map<string, Map<string, Message>>();
  links: BrokerLinks;
  ownerUid: number;
  /** set by the log module so broker messages land in the ring; stderr until then */
  logSink: (severity: number, appname: string, text: string) => void = (sev, app, text) => {
    if (sev <= 3) process.stderr.write(`${app}.${sev}[${this.rank}]: ${text}\n`);
  };
  private readonly dropLogged = new Map<string, number>();
  state: BrokerState = 'join';
  /** this broker's subtree status and when it took it, ms */
  status: SubtreeStatus = 'full';
  statusSince = Date.now();
  private readonly statusWatchers = new Set<() => void>();
  /** overlay messages by direction and type, for overlay.stats-get */
  readonly traffic = newTraffic();
  /** messages received, from clients, the parent and children alike: what the journal's sync policy watches */
  arrivals = 0;

  constructor(
    readonly uuid: string,
    readonly rank: number,
    readonly size: number,
    readonly k: number,
    readonly attrs: Attrs,
    ownerUid: number,
    links: BrokerLinks,
  ) {
    this.ownerUid = ownerUid;
    this.links = {
      toParent: (frames) => {
        countFrames(this.traffic['parent-tx'], frames);
        links.toParent(frames);
      },
      toChild: (peer, frames) => {
        countFrames(this.traffic['child-tx'], frames);
        links.toChild(peer, frames);
      },
      toClient: links.toClient,
    };
    this.registry = new ServiceRegistry(this);
  }

  // ---- ModuleHost ---------------------------------------------------------------------------------

  respond(req: Message, payload?: Payload): void {
    if (req.flags & FLAG_NORESPONSE) return;
    if (payload === undefined || Buffer.isBuffer(payload)) this.sendResponse(makeResponse(req, payload));
    else this.sendResponse(withBody(makeResponse(req), payload));
  }

  respondError(req: Message, err: unknown): void {
    if (req.flags & FLAG_NORESPONSE) return;
    const errno = errnoOf(err);
    if (!(err instanceof FluxError) && errno !== ENODATA) {
      this.log(3, 'broker', `${req.topic}: ${(err as Error)?.stack ?? String(err)}`);
    }
    const text = err instanceof FluxError && err.explicit ? err.message : undefined;
    this.sendResponse(makeErrorResponse(req, errno, text));
  }

  rpc(topic: string, payload: Payload, opts: RpcOptions = {}): Promise<Message> {
    return new Promise((resolve, reject) => {
      const tag = this.sendRpc(topic, payload, opts, { resolve, reject });
      if (tag === 0) resolve(makeResponse(makeRequest(topic)));
    });
  }

  rpcStream(topic: string, payload: Payload, opts: RpcOptions, each: (m: Message) => void, sent?: (matchtag: number) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const tag = this.sendRpc(topic, payload, { ...opts, streaming: true }, {
        resolve: () => resolve(),
        reject: (e) => (e instanceof FluxError && e.errno === ENODATA ? resolve() : reject(e)),
        each,
      });
      sent?.(tag);
    });
  }

  subscribe(prefix: string, sink: EventSink): () => void {
    const sub = { prefix, sink };
    this.internalSubs.add(sub);
    return () => this.internalSubs.delete(sub);
  }

  log(severity: number, appname: string, text: string): void {
    this.logSink(severity, appname, text);
  }

  // ---- ingress ------------------------------------------------------------------------------------

  /** A message from a local client, credentials already assigned by the connector. */
  fromClient(connId: string, msg: Message): void {
    this.arrivals++;
    switch (msg.type) {
      case MSGTYPE_REQUEST:
        msg.routes = msg.routes ?? [];
        msg.routes.unshift(connId);
        if (msg.topic === 'event.subscribe' || msg.topic === 'event.unsubscribe') {
          this.clientSubscription(connId, msg);
          return;
        }
        this.routeRequest(msg, connId);
        return;
      case MSGTYPE_EVENT:
        // flux event pub sends a raw event; the instance publishes it on the client's behalf
        this.publishFromClient(connId, msg);
        return;
      default:
        this.logDrop(`client ${connId.substring(0, 8)}`, `unexpected ${typeName(msg.type)} from a client`);
    }
  }

  clientGone(connId: string): void {
    this.clientSubs.delete(connId);
    this.registry.disconnect(connId);
    const remote = this.clientRemote.get(connId);
    this.clientRemote.delete(connId);
    for (const req of remote?.values() ?? []) this.routeRequest(req);
  }

  /** a request of a local client's leaves this broker: remember to tell that service when the client goes */
  private noteRemote(connId: string, msg: Message): void {
    const topic = msg.topic;
    if (topic === undefined) return;
    const dot = topic.indexOf('.');
    const service = dot > 0 ? topic.substring(0, dot) : topic;
    const key = `${service}@${msg.aux1}@${msg.flags & FLAG_UPSTREAM}`;
    let remote = this.clientRemote.get(connId);
    if (!remote) this.clientRemote.set(connId, (remote = new Map()));
    if (remote.has(key)) return;
    const bye = makeRequest(`${service}.disconnect`, undefined, {
      nodeid: msg.aux1, flags: FLAG_NORESPONSE | (msg.flags & FLAG_UPSTREAM),
    });
    bye.userid = msg.userid;
    bye.rolemask = msg.rolemask;
    bye.routes = [connId];
    remote.set(key, bye);
  }

  fromParent(frames: Buffer[]): void {
    this.arrivals++;
    let msg: Message;
    try {
      msg = decodeFrames(frames);
    } catch (err) {
      this.logDrop('parent', `undecodable message: ${(err as Error).message}`);
      return;
    }
    msg.rolemask = msg.rolemask & ~ROLE_LOCAL;
    countType(this.traffic['parent-rx'], msg.type);
    switch (msg.type) {
      case MSGTYPE_REQUEST:
        // the parent may ask before this broker has read its answer to our hello (it asks as soon as it has taken
        // us in): the request waits for that answer, which names the route its response goes back by
        if (this.parentUuid === undefined) this.beforeHello.push(msg);
        else this.fromParentRequest(msg, this.parentUuid);
        return;
      case MSGTYPE_RESPONSE:
        this.sendResponse(msg);
        return;
      case MSGTYPE_EVENT: {
        const hook = this.parentEventHooks.get(msg.topic ?? '');
        if (hook) hook(msg);
        else this.multicast(msg);
        return;
      }
      case MSGTYPE_CONTROL:
        this.onParentControl?.(msg);
        return;
    }
  }

  /**
   * A peer past CURVE (it holds a key this broker allowed) that sends what no child would: bad frames, a message
   * of the wrong type, an oversized one, a hello for a rank that is not its own. It is logged, told to disconnect,
   * and no longer taken for a child: nothing more it sends is served.
   */
  disconnectPeer(peer: string, why: string): void {
    const child = this.childByUuid.get(peer);
    this.logDrop(child ? `child ${child.rank}` : `peer ${peer.substring(0, 8)}`, `${why}: told to disconnect`);
    if (child) this.childLost(child.rank, why);
    this.links.toChild(peer, encodeFrames(makeControl(CONTROL_DISCONNECT, 0)));
  }

  /** the largest message a child may send (tbon.max-message-size): a content blob at its limit, and its envelope */
  private maxChildMessage(): number {
    return Number(this.attrs.get('tbon.max-message-size') ?? DEFAULT_MAX_MESSAGE);
  }

  fromChild(peer: string, frames: Buffer[]): void {
    this.arrivals++;
    if (this.departed.has(peer)) return;
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    if (bytes > this.maxChildMessage()) {
      this.disconnectPeer(peer, `oversized message (${bytes} bytes, at most ${this.maxChildMessage()})`);
      return;
    }
    let msg: Message;
    try {
      msg = decodeFrames(frames);
    } catch (err) {
      this.disconnectPeer(peer, `undecodable message: ${(err as Error).message}`);
      return;
    }
    msg.rolemask = msg.rolemask & ~ROLE_LOCAL;
    const child = this.childByUuid.get(peer);
    if (!child) {
      if (msg.type === MSGTYPE_REQUEST && msg.topic === 'overlay.hello') {
        // the handshake is between these two brokers only: never routed elsewhere
        msg.routes = msg.routes ?? [];
        msg.routes.unshift(peer);
        this.registry.dispatch(msg);
      } else {
        this.disconnectPeer(peer, `${typeName(msg.type)} from a peer that has not said hello`);
      }
      return;
    }
    child.lastSeen = Date.now();
    if (child.torpid) {
      child.torpid = false;
      this.log(5, 'overlay', `rank ${child.rank} is no longer torpid`);
    }
    countType(this.traffic['child-rx'], msg.type);
    switch (msg.type) {
      case MSGTYPE_REQUEST:
        msg.routes = msg.routes ?? [];
        msg.routes.unshift(peer);
        this.routeRequest(msg);
        return;
      case MSGTYPE_RESPONSE: {
        // only an answer to a request sent to this child goes on: it cannot address anyone else's
        const key = trackKey(msg);
        if (!child.tracked.has(key)) {
          this.logDrop(`child ${child.rank}`, 'response to no request it was sent: dropped');
          return;
        }
        // a streaming request's answers go on until its last (an error, ENODATA included)
        if (!(msg.flags & FLAG_STREAMING) || msg.aux1 !== 0) child.tracked.delete(key);
        this.sendResponse(msg);
        return;
      }
      case MSGTYPE_CONTROL:
        if (msg.aux1 === CONTROL_STATUS) this.childReported(child, statusName(msg.aux2));
        this.onChildControl?.(child, msg);
        return;
      default:
        this.disconnectPeer(peer, `unexpected ${typeName(msg.type)} from a child`);
    }
  }

  /** hooks the overlay module installs */
  onParentControl?: (msg: Message) => void;
  onChildControl?: (child: ChildPeer, msg: Message) => void;

  // ---- routing ------------------------------------------------------------------------------------

  /** `client`: the local client the request comes from, when it does */
  routeRequest(msg: Message, client?: string): void {
    const nodeid = msg.aux1;
    const upstream = (msg.flags & FLAG_UPSTREAM) !== 0;
    const topic = msg.topic ?? '';
    if (upstream && nodeid === this.rank) {
      if (client !== undefined) this.noteRemote(client, msg);
      this.toParentOr(msg, EHOSTUNREACH);
    } else if (nodeid === NODEID_ANY || upstream) {
      if (this.registry.hasService(topic)) {
        this.registry.dispatch(msg);
      } else {
        if (client !== undefined) this.noteRemote(client, msg);
        this.toParentOr(msg, ENOSYS);
      }
    } else if (nodeid === this.rank) {
      if (this.registry.hasService(topic)) this.registry.dispatch(msg);
      else this.noService(msg);
    } else if (nodeid >= this.size) {
      this.respondError(msg, new FluxError(EHOSTUNREACH));
    } else {
      if (client !== undefined) this.noteRemote(client, msg);
      const c = childRoute(this.rank, nodeid, this.k);
      if (c !== undefined) this.toChild(c, msg);
      else this.toParentOr(msg, EHOSTUNREACH);
    }
  }

  private noService(msg: Message): void {
    this.respondError(msg, new FluxError(ENOSYS, `No service matching ${msg.topic} is registered`));
  }

  /** the parent's uuid, once it has answered this broker's hello */
  get parentUuid(): string | undefined {
    return this.parent;
  }

  set parentUuid(uuid: string | undefined) {
    this.parent = uuid;
    if (uuid === undefined) return;
    const held = this.untilJoined;
    this.untilJoined = [];
    for (const msg of held) this.links.toParent(encodeFrames(msg));
    const asked = this.beforeHello;
    this.beforeHello = [];
    for (const msg of asked) this.fromParentRequest(msg, uuid);
  }

  private fromParentRequest(msg: Message, parent: string): void {
    msg.routes = msg.routes ?? [];
    msg.routes.unshift(parent);
    this.routeRequest(msg);
  }

  private toParentOr(msg: Message, errno: number): void {
    if (this.rank > 0 && this.parentUuid !== undefined) {
      this.links.toParent(encodeFrames(msg));
    } else if (this.rank > 0 && this.state === 'join') {
      this.untilJoined.push(msg);
    } else if (errno === ENOSYS) {
      this.noService(msg);
    } else {
      this.respondError(msg, new FluxError(errno));
    }
  }

  private toChild(rank: number, msg: Message): void {
    const child = this.children.get(rank);
    if (!child || child.state !== 'online' || child.uuid === undefined) {
      this.respondError(msg, new FluxError(EHOSTUNREACH));
      return;
    }
    if (!(msg.flags & FLAG_NORESPONSE)) child.tracked.set(trackKey(msg), msg);
    this.links.toChild(child.uuid, encodeFrames(msg));
  }

  /** A response pops one route and goes to that peer; an empty stack means it answers the broker's own RPC. */
  sendResponse(msg: Message): void {
    msg.userid = this.ownerUid;
    if (msg.rolemask === 0) msg.rolemask = ROLE_OWNER | ROLE_LOCAL;
    const routes = msg.routes ?? [];
    if (routes.length === 0) {
      this.completeRpc(msg);
      return;
    }
    const top = routes.shift()!;
    if (top === this.parentUuid) {
      this.links.toParent(encodeFrames(msg));
      return;
    }
    const child = this.childByUuid.get(top);
    if (child) {
      this.links.toChild(top, encodeFrames(msg));
      return;
    }
    // a client that went away before its answer came is routine (Ctrl-C on a streaming command), not an error
    if (!this.links.toClient(top, msg)) this.log(7, 'broker', `no route to ${top.substring(0, 8)} for ${msg.topic}`);
  }

  private sendRpc(topic: string, payload: Payload, opts: RpcOptions, p: PendingRpc): number {
    const noresponse = ((opts.flags ?? 0) & FLAG_NORESPONSE) !== 0;
    const tag = noresponse ? 0 : this.allocTag();
    let flags = opts.flags ?? 0;
    if (opts.streaming) flags |= FLAG_STREAMING;
    let nodeid = opts.nodeid ?? NODEID_ANY;
    if (opts.upstream) {
      flags |= FLAG_UPSTREAM;
      nodeid = this.rank;
    }
    const bytes = payload === undefined || Buffer.isBuffer(payload) ? payload : undefined;
    const req = makeRequest(topic, bytes, { nodeid, matchtag: tag, flags });
    const msg = bytes === undefined && payload !== undefined ? withBody(req, payload as Record<string, unknown>) : req;
    msg.userid = this.ownerUid;
    msg.rolemask = ROLE_OWNER | ROLE_LOCAL;
    if (tag !== 0) this.pending.set(tag, p);
    this.routeRequest(msg);
    return tag;
  }

  /** A request sent straight to a link, bypassing routing (the hello, before the parent's uuid is known). */
  sendDirect(req: Message, send: (frames: Buffer[]) => void): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const tag = this.allocTag();
      req.aux2 = tag;
      req.userid = this.ownerUid;
      req.rolemask = ROLE_OWNER;
      this.pending.set(tag, { resolve: (m) => resolve(payloadJson(m)), reject });
      send(encodeFrames(req));
    });
  }

  private allocTag(): number {
    for (;;) {
      const t = this.nextTag;
      this.nextTag = this.nextTag >= 0x7fffffff ? 1 : this.nextTag + 1;
      if (!this.pending.has(t)) return t;
    }
  }

  private completeRpc(msg: Message): void {
    const p = this.pending.get(msg.aux2);
    if (!p) return;
    if (msg.aux1 !== 0) {
      this.pending.delete(msg.aux2);
      p.reject(new FluxError(msg.aux1, safeString(msg)));
    } else if (p.each) {
      p.each(msg);
      if (!(msg.flags & FLAG_STREAMING)) {
        this.pending.delete(msg.aux2);
        p.resolve(msg);
      }
    } else {
      this.pending.delete(msg.aux2);
      p.resolve(msg);
    }
  }

  // ---- children -----------------------------------------------------------------------------------

  addChildSlot(rank: number, expected?: string): void {
    this.children.set(rank, {
      rank, state: 'connecting', lastSeen: 0, torpid: false, reported: 'full', lostBelow: [], since: Date.now(), tracked: new Map(),
      ...(expected ? { expected } : {}),
    });
    this.noteStatus();
  }

  /** a child said hello: a known rank saying it again means its old incarnation is gone */
  childOnline(rank: number, uuid: string, reported: SubtreeStatus = 'full'): void {
    const child = this.children.get(rank)!;
    if (child.uuid !== undefined && child.uuid !== uuid) this.childLost(rank, 'reconnected after crash');
    child.uuid = uuid;
    child.state = 'online';
    child.lastSeen = Date.now();
    child.torpid = false;
    child.reported = reported;
    child.lostBelow = [];
    child.since = Date.now();
    child.error = undefined;
    this.childByUuid.set(uuid, child);
    this.noteStatus();
  }

  /** a child's status as this broker sees it: what it reports while online, its link state otherwise */
  childStatus(child: ChildPeer): SubtreeStatus {
    if (child.state === 'online') return child.reported;
    return child.state === 'lost' ? 'lost' : 'offline';
  }

  private childReported(child: ChildPeer, status: SubtreeStatus): void {
    if (child.reported === status) return;
    child.reported = status;
    child.since = Date.now();
    this.noteStatus();
  }

  /** a child's report of the ranks below it that are down, kept to its own subtree */
  childLostBelow(child: ChildPeer, ranks: readonly number[]): void {
    const mine = new Set(subtreeOf(child.rank, this.size, this.k));
    child.lostBelow = ranks.filter((r) => mine.has(r) && r !== child.rank);
    this.noteStatus();
  }

  /**
   * The ranks below this broker that are down: the whole subtree of a child that is not online (not yet joined,
   * lost, or gone offline), and what an online child reports of its own. Rank 0's is the instance's: the
   * scheduler allocates none of them.
   */
  downRanks(): number[] {
    const down: number[] = [];
    for (const c of this.children.values()) down.push(...(c.state === 'online' ? c.lostBelow : subtreeOf(c.rank, this.size, this.k)));
    return down.sort((a, b) => a - b);
  }

  /** called on every change below: recompute this broker's status and tell the parent and the watchers */
  private noteStatus(): void {
    const status = combineStatus([...this.children.values()].map((c) => this.childStatus(c)));
    if (status !== this.status) {
      this.status = status;
      this.statusSince = Date.now();
      this.reportStatus();
    }
    this.reportLost();
    for (const w of this.statusWatchers) w();
  }

  /** tell the parent this broker's status (a hello carries it first; this follows every change) */
  reportStatus(): void {
    if (this.parentUuid !== undefined) this.links.toParent(encodeFrames(makeControl(CONTROL_STATUS, statusCode(this.status))));
  }

  /** the down ranks the parent was last told of (it knows of none after our hello) */
  private lostTold = '';

  /** tell the parent which ranks below are down when that changes; `afterHello`: the parent knows of none yet */
  reportLost(afterHello = false): void {
    if (this.parentUuid === undefined) return;
    if (afterHello) this.lostTold = '';
    const ranks = formatIdset(this.downRanks());
    if (ranks === this.lostTold) return;
    this.lostTold = ranks;
    this.rpc('overlay.lost', { ranks }, { upstream: true }).catch((err: unknown) => {
      this.log(4, 'overlay', `the parent was not told of the ranks down below: ${(err as Error).message}`);
    });
  }

  /** `fn` runs after any status change in this broker's subtree; the result stops it */
  watchStatus(fn: () => void): () => void {
    this.statusWatchers.add(fn);
    return () => this.statusWatchers.delete(fn);
  }

  /**
   * An online child silent for tbon.torpid_max (`silence`): flagged and logged once. Torpid is not lost (flux-core's
   * meaning): a child whose event loop was only busy is back when next heard from, with what was on its way to it
   * still awaited. A child whose process or host is gone is lost when its connection is (a send to it fails), which
   * the overlay's own heartbeats bound for a stopped process or an unreachable host.
   */
  childTorpid(child: ChildPeer, silence: string): void {
    if (child.torpid) return;
    child.torpid = true;
    this.log(3, 'overlay', `rank ${child.rank} torpid: silent for more than ${silence}`);
  }

  childLost(rank: number, why: string, state: 'lost' | 'offline' = 'lost'): void {
    const child = this.children.get(rank);
    if (!child || child.state === 'lost' || child.state === 'offline') return;
    child.state = state;
    child.since = Date.now();
    child.error = why;
    if (child.uuid !== undefined) {
      this.childByUuid.delete(child.uuid);
      // what a child that said goodbye still had in flight is expected, not a stranger's traffic
      if (state === 'offline') this.departed.add(child.uuid);
    }
    if (state === 'lost') this.log(3, 'overlay', `rank ${rank} lost: ${why}`);
    const tracked = [...child.tracked.values()];
    child.tracked.clear();
    for (const req of tracked) this.sendResponse(makeErrorResponse(req, EHOSTUNREACH, 'overlay disconnect'));
    this.noteStatus();
  }

  childByPeer(uuid: string): ChildPeer | undefined {
    return this.childByUuid.get(uuid);
  }

  // ---- events -------------------------------------------------------------------------------------

  private readonly parentEventHooks = new Map<string, (msg: Message) => void>();

  interceptFromParent(topic: string, fn: (msg: Message) => void): void {
    this.parentEventHooks.set(topic, fn);
  }

  multicast(ev: Message): void {
    this.sendDown(ev);
    this.deliverEvent(ev);
  }

  sendDown(msg: Message): void {
    if (this.children.size === 0) return;
    let frames: Buffer[] | undefined;
    for (const c of this.children.values()) {
      if (c.state !== 'online' || c.uuid === undefined) continue;
      frames ??= encodeFrames(withoutRoutes(msg));
      this.links.toChild(c.uuid, frames);
    }
  }

  /** Deliver an event to this broker's subscribers (services and local clients). */
  deliverEvent(ev: Message): void {
    const topic = ev.topic ?? '';
    for (const s of this.internalSubs) if (topic.startsWith(s.prefix)) s.sink(ev);
    for (const [connId, sub] of this.clientSubs) {
      if (!sub.prefixes.some((p) => topic.startsWith(p))) continue;
      if (!mayRead(sub, { topic, userid: ev.userid, flags: ev.flags })) continue;
      this.links.toClient(connId, withoutRoutes(ev));
    }
  }

  private clientSubscription(connId: string, msg: Message): void {
    let topic: string;
    try {
      const body = payloadJson(msg);
      if (typeof body.topic !== 'string') throw new FluxError(EPROTO, 'malformed payload: topic must be a string');
      topic = body.topic;
    } catch (err) {
      this.respondError(msg, err);
      return;
    }
    let sub = this.clientSubs.get(connId);
    if (!sub) {
      sub = { userid: msg.userid, rolemask: msg.rolemask, prefixes: [] };
      this.clientSubs.set(connId, sub);
    }
    if (msg.topic === 'event.subscribe') sub.prefixes.push(topic);
    else {
      const i = sub.prefixes.indexOf(topic);
      if (i >= 0) sub.prefixes.splice(i, 1);
    }
    this.respond(msg);
  }

  private publishFromClient(connId: string, ev: Message): void {
    const body: Record<string, unknown> = { topic: ev.topic ?? '', flags: ev.flags & FLAG_PRIVATE };
    if (ev.payload !== undefined && ev.payload.length > 0) body.payload = ev.payload.toString('base64');
    const req = makeRequest('event.publish', jsonPayload(body), { nodeid: 0, flags: FLAG_NORESPONSE });
    req.userid = ev.userid;
    req.rolemask = ev.rolemask;
    req.routes = [connId];
    this.routeRequest(req);
  }

  // ---- misc ---------------------------------------------------------------------------------------

  /** one log line per peer and reason per minute: a flood of bad input must not flood the log */
  logDrop(peer: string, reason: string): void {
    const key = `${peer}:${reason}`;
    const now = Date.now();
    if ((this.dropLogged.get(key) ?? 0) > now - 60_000) return;
    this.dropLogged.set(key, now);
    this.log(3, 'broker', `${peer}: ${reason}`);
  }

  failAllPending(why: string): void {
    for (const [tag, p] of this.pending) {
      this.pending.delete(tag);
      p.reject(new FluxError(EHOSTUNREACH, why));
    }
  }
}

type TrafficCounts = Record<string, number>;

function newTraffic(): Record<'parent-rx' | 'parent-tx' | 'child-rx' | 'child-tx', TrafficCounts> {
  const counts = (): TrafficCounts => ({ request: 0, response: 0, event: 0, control: 0 });
  return { 'parent-rx': counts(), 'parent-tx': counts(), 'child-rx': counts(), 'child-tx': counts() };
}

/** the message type is the PROTO frame's third byte (RFC 3), the last frame of every message */
function countFrames(counts: TrafficCounts, frames: Buffer[]): void {
  const type = frames[frames.length - 1]?.[2];
  if (type !== undefined) countType(counts, type);
}

function countType(counts: TrafficCounts, type: number): void {
  const name = typeName(type);
  counts[name] = (counts[name] ?? 0) + 1;
}

function trackKey(msg: Message): string {
  return `${(msg.routes ?? []).join('!')}#${msg.aux2}`;
}

/** an error response's text, if it carries a proper NUL-terminated one */
function safeString(msg: Message): string | undefined {
  const p = msg.payload;
  return p && p.length > 0 && p[p.length - 1] === 0 ? payloadString(msg) : undefined;
}

