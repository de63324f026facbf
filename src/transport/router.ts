// Many local clients over one upstream connection (flux proxy): each client's requests get its connection id
// pushed on the route stack, as a broker does for its own clients, so the responses find their way back by
// route and the services upstream tell the clients apart (each is a distinct sender). What a broker would do
// per connection, the router does per client: it hands each the events it subscribed to, and when a client
// goes it says `<service>.disconnect` on its behalf and drops its subscriptions upstream.
import { FluxError, ECONNRESET } from '../core/errors.js';
import {
  type Message, MSGTYPE_REQUEST, MSGTYPE_RESPONSE, MSGTYPE_EVENT, FLAG_NORESPONSE, FLAG_UPSTREAM, jsonPayload,
  makeRequest, payloadJson, serviceOf,
} from '../core/wire/message.js';

export interface Upstream {
  send(msg: Message): void;
}

export interface RoutedClient {
  readonly id: string;
  send(msg: Message): void;
}

interface ClientState {
  conn: RoutedClient;
  /** one entry per subscription, as the upstream broker counts them */
  prefixes: string[];
  /** its event.subscribe/unsubscribe requests awaiting their answer, by matchtag: applied when they succeed */
  pendingSubs: Map<number, { subscribe: boolean; topic: string }>;
  /** a `<service>.disconnect` for each place its requests went (service, node, upstream flag) */
  byes: Map<string, Message>;
}

export class Router {
  private readonly clients = new Map<string, ClientState>();
  /** the router's own requests (routes empty upstream of it), by matchtag */
  private readonly own = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  private nextTag = 1;
  private gone: Error | undefined;

  constructor(private readonly upstream: Upstream) {}

  fromClient(conn: RoutedClient, msg: Message): void {
    if (msg.type === MSGTYPE_EVENT) {
      // a raw event to publish: the upstream broker publishes it for this connection
      this.toUpstream(msg);
      return;
    }
    // nothing upstream sends requests to a proxied client, so nothing it answers is expected
    if (msg.type !== MSGTYPE_REQUEST) return;
    const st = this.state(conn);
    const topic = msg.topic ?? '';
    if (topic === 'event.subscribe' || topic === 'event.unsubscribe') this.noteSubscription(st, msg);
    const key = `${serviceOf(topic)}@${msg.aux1}@${msg.flags & FLAG_UPSTREAM}`;
    if (!st.byes.has(key)) {
      const bye = makeRequest(`${serviceOf(topic)}.disconnect`, undefined, {
        nodeid: msg.aux1, flags: FLAG_NORESPONSE | (msg.flags & FLAG_UPSTREAM),
      });
      bye.routes = [conn.id];
      st.byes.set(key, bye);
    }
    msg.routes = [conn.id, ...(msg.routes ?? [])];
    this.toUpstream(msg);
  }

  fromUpstream(msg: Message): void {
    if (msg.type === MSGTYPE_RESPONSE) {
      const routes = msg.routes ?? [];
      const id = routes.shift();
      if (id === undefined) {
        this.ownResponse(msg);
        return;
      }
      const st = this.clients.get(id);
      if (!st) return;
      const sub = st.pendingSubs.get(msg.aux2);
      if (sub) {
        st.pendingSubs.delete(msg.aux2);
        if (msg.aux1 === 0) this.applySubscription(st, sub.subscribe, sub.topic);
      }
      st.conn.send(msg);
    } else if (msg.type === MSGTYPE_EVENT) {
      const topic = msg.topic ?? '';
      for (const st of this.clients.values()) {
        if (st.prefixes.some((p) => topic.startsWith(p))) st.conn.send(msg);
      }
    }
  }

  clientGone(conn: RoutedClient): void {
    const st = this.clients.get(conn.id);
    if (!st) return;
    this.clients.delete(conn.id);
    for (const bye of st.byes.values()) this.toUpstream(bye);
    for (const topic of st.prefixes) {
      this.toUpstream(makeRequest('event.unsubscribe', jsonPayload({ topic }), { flags: FLAG_NORESPONSE }));
    }
  }

  /** The router's own RPC upstream (flux proxy's version check). */
  rpc(topic: string, body: Record<string, unknown>): Promise<Message> {
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => {
      const tag = this.nextTag++;
      this.own.set(tag, { resolve, reject });
      this.toUpstream(makeRequest(topic, jsonPayload(body), { matchtag: tag }));
    });
  }

  /** The upstream connection is gone: the router's own requests fail, and nothing more is sent. */
  upstreamLost(err: Error): void {
    this.gone ??= err;
    const own = [...this.own.values()];
    this.own.clear();
    for (const p of own) p.reject(err);
  }

  private state(conn: RoutedClient): ClientState {
    let st = this.clients.get(conn.id);
    if (!st) {
      st = { conn, prefixes: [], pendingSubs: new Map(), byes: new Map() };
      this.clients.set(conn.id, st);
    }
    return st;
  }

  private noteSubscription(st: ClientState, msg: Message): void {
    let topic: unknown;
    try {
      topic = payloadJson(msg).topic;
    } catch {
      return; // the upstream answers a malformed request with its error
    }
    if (typeof topic !== 'string') return;
    const subscribe = msg.topic === 'event.subscribe';
    if (msg.flags & FLAG_NORESPONSE || msg.aux2 === 0) this.applySubscription(st, subscribe, topic);
    else st.pendingSubs.set(msg.aux2, { subscribe, topic });
  }

  private applySubscription(st: ClientState, subscribe: boolean, topic: string): void {
    if (subscribe) {
      st.prefixes.push(topic);
      return;
    }
    const i = st.prefixes.indexOf(topic);
    if (i >= 0) st.prefixes.splice(i, 1);
  }

  private ownResponse(msg: Message): void {
    const p = this.own.get(msg.aux2);
    if (!p) return;
    this.own.delete(msg.aux2);
    if (msg.aux1 !== 0) p.reject(new FluxError(msg.aux1));
    else p.resolve(msg);
  }

  private toUpstream(msg: Message): void {
    if (this.gone) return;
    try {
      this.upstream.send(msg);
    } catch (err) {
      // the connection closed under us: its onClose says so and the proxy winds down
      if (!(err instanceof FluxError && err.errno === ECONNRESET)) throw err;
    }
  }
}
