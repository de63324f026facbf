// Event subscription that can start in the past: the journal holds every sequenced event, so a subscriber may
// replay history from any seq and then continue live without a gap or a duplicate.
import { FluxError, EPROTO } from '../core/errors.js';
import { FLAG_PRIVATE, type Message } from '../core/wire/message.js';
import { type Entry, entryFromJson, entryPayloadBytes } from '../core/journal/entry.js';
import { isRedacted } from '../core/access/visibility.js';
import type { Flux } from './handle.js';
import { iterate } from './iterate.js';

export interface FluxEvent {
  topic: string;
  /** the journal seq; 0 for an unsequenced event (heartbeat.pulse), which exists only live */
  seq: number;
  payload: Buffer | undefined;
  userid: number;
  /** FLAG_PRIVATE or 0 */
  flags: number;
}

/** what subscribeFrom needs of a handle (a Flux, or a stand-in in tests) */
export type EventSource = Pick<Flux, 'call' | 'subscribe' | 'unsubscribe' | 'onEvent'> & Partial<Pick<Flux, 'onClose' | 'onEnd'>>;

/** entries asked for per journal.fetch (the service answers at most 1000) */
const PAGE = 1000;

export function eventOfMessage(m: Message): FluxEvent {
  return { topic: m.topic ?? '', seq: m.aux1, payload: m.payload, userid: m.userid, flags: m.flags & FLAG_PRIVATE };
}

/** The event a journal entry was delivered as, byte for byte (the journal builds live events the same way). */
export function eventOfEntry(e: Entry): FluxEvent {
  return { topic: e.topic, seq: e.seq, payload: entryPayloadBytes(e), userid: e.userid, flags: e.flags & FLAG_PRIVATE };
}

const topicMatches = (prefixes: string[], topic: string) => prefixes.some((p) => topic.startsWith(p));

/**
 * Calls `each` for every event whose topic starts with one of `prefixes` (all events when there are none), in
 * seq order; with `from`, first for the journal's events from that seq on. Resolves once `each` returns false
 * or `stop` aborts (after unsubscribing); rejects if the history cannot be read or `each` throws.
 *
 * Live delivery is subscribed before the head is read, so every event past the head arrives live and is held
 * until the history up to the head is out; the held ones at or below the head are then dropped. Unsequenced
 * events (seq 0) are never in the journal: they are passed on live only, in the order they arrived.
 *
 * The history holds what this client may read and nothing else: the broker applies to journal.fetch the rule
 * it applies to live events (src/core/access/visibility.ts).
 */
export async function subscribeFrom(
  h: EventSource, prefixes: string[], from: number | undefined, each: (ev: FluxEvent) => boolean | void,
  stopWhen?: AbortSignal,
): Promise<void> {
  const subs = prefixes.length > 0 ? [...new Set(prefixes)] : [''];
  /** highest seq passed on or covered by the history: nothing at or below it is passed on again */
  let cursor = 0;
  let held: FluxEvent[] | undefined = from === undefined ? undefined : [];
  let stopped = false;
  let settle!: (err?: unknown) => void;
  const over = new Promise<void>((resolve, reject) => {
    settle = (err) => (err === undefined ? resolve() : reject(err));
  });
  // a connection lost while the history is read fails that read too, and the error is thrown from there: this
  // rejection must not then count as unhandled
  over.catch(() => {});
  const stop = (err?: unknown) => {
    if (stopped) return;
    stopped = true;
    settle(err);
  };

  /** false once the caller has had enough */
  const deliver = (ev: FluxEvent): boolean => {
    if (stopped) return false;
    if (ev.seq !== 0) {
      if (ev.seq <= cursor) return true;
      cursor = ev.seq;
    }
    try {
      if (each(ev) === false) stop();
    } catch (err) {
      stop(err);
    }
    return !stopped;
  };

  const onStop = () => stop();
  stopWhen?.addEventListener('abort', onStop, { once: true });
  if (stopWhen?.aborted) stop();
  // a lost broker ends the subscription with the error rather than leaving the caller waiting forever
  const offClose = h.onEnd ? h.onEnd((err) => stop(err)) : h.onClose?.((err) => stop(err));
  // the handle passes every event on the connection to every sink: other subscriptions' events are ours to skip
  const off = h.onEvent((m) => {
    const ev = eventOfMessage(m);
    if (stopped || !topicMatches(subs, ev.topic)) return;
    if (held) held.push(ev);
    else deliver(ev);
  });
  try {
    for (const p of subs) await h.subscribe(p);
    if (from !== undefined) {
      cursor = Math.max(0, from - 1);
      const head = Number((await h.call('journal.head')).seq);
      await replay(h, cursor + 1, head, subs, deliver);
      cursor = Math.max(cursor, head);
      // the hand-over from history to live happens in this one turn: no event can slip in between
      const waiting = held!;
      held = undefined;
      for (const ev of waiting) if (!deliver(ev)) break;
    }
    await over;
  } finally {
    off();
    offClose?.();
    stopWhen?.removeEventListener('abort', onStop);
  }
  // only after a clean stop: after a failure the caller's close() ends the subscriptions with the connection
  for (const p of subs) await h.unsubscribe(p);
}

/**
 * journal entries [from, head] whose topic matches, through deliver. The owner gets every entry asked for; anyone
 * else the ones it may read, and `last`, the seq the answer covers up to.
 */
async function replay(
  h: EventSource, from: number, head: number, subs: string[], deliver: (ev: FluxEvent) => boolean,
): Promise<void> {
  for (let next = from; next <= head; ) {
    const r = await h.call('journal.fetch', { from: next, count: Math.min(PAGE, head - next + 1) });
    const entries = Array.isArray(r.entries) ? (r.entries as unknown[]) : [];
    const last = typeof r.last === 'number' ? r.last : undefined;
    if (entries.length === 0 && (last === undefined || last < next)) {
      throw new FluxError(EPROTO, `journal.fetch returned no entries at seq ${next} (head ${head})`);
    }
    for (const raw of entries) {
      const e = entryFromJson(raw);
      if (e.seq < next) continue;
      if (last === undefined && e.seq > next) throw new FluxError(EPROTO, `journal.fetch skipped from seq ${next} to ${e.seq}`);
      next = e.seq + 1;
      // a redacted view of an entry (a guest's own jobs' events) is no event anyone received live
      if (e.seq > head || isRedacted(e) || !topicMatches(subs, e.topic)) continue;
      if (!deliver(eventOfEntry(e))) return;
    }
    if (last !== undefined) next = Math.max(next, last + 1);
  }
}

/** event.publish at rank 0: the event is sequenced into the journal; its seq */
export async function publish(
  h: Pick<Flux, 'call'>, topic: string, payload: Buffer | undefined, flags: number, opts: { signal?: AbortSignal } = {},
): Promise<number> {
  const body: Record<string, unknown> = { topic, flags };
  if (payload !== undefined) body.payload = payload.toString('base64');
  const seq = (await h.call('event.publish', body, { ...opts, nodeid: 0 })).seq;
  if (typeof seq !== 'number') throw new FluxError(EPROTO, 'event.publish response has no seq');
  return seq;
}

export interface PublishOptions {
  /** only the instance owner and the publisher see it */
  private?: boolean;
  signal?: AbortSignal;
}

export interface SubscribeOptions {
  /** replay the journal's matching events from this seq on, then go on live without a gap */
  from?: number;
  signal?: AbortSignal;
}

/** An event as a program sees it: its payload decoded as JSON when it is JSON. */
export interface Event extends FluxEvent {
  /** the payload as JSON, undefined when there is none or it is not JSON */
  data: unknown;
}

function withData(ev: FluxEvent): Event {
  let data: unknown;
  if (ev.payload && ev.payload.length > 0) {
    const p = ev.payload[ev.payload.length - 1] === 0 ? ev.payload.subarray(0, -1) : ev.payload;
    try {
      data = JSON.parse(p.toString('utf8'));
    } catch {
      data = undefined;
    }
  }
  return { ...ev, data };
}

/** Events of the instance (flux_event_publish, flux_event_subscribe), bound to a handle. */
export class Events {
  constructor(private readonly h: Flux) {}

  /** publish `data` (JSON, a string, or raw bytes) under `topic`; the seq it was given */
  publish(topic: string, data?: unknown, opts: PublishOptions = {}): Promise<number> {
    const payload = data === undefined ? undefined
      : Buffer.isBuffer(data) ? data
        : Buffer.from(`${typeof data === 'string' ? data : JSON.stringify(data)}\0`);
    return publish(this.h, topic, payload, opts.private ? FLAG_PRIVATE : 0, opts);
  }

  /**
   * Events whose topic starts with `topics` (one prefix or several; every event for ''), in seq order, until the
   * loop is left, the signal aborts or the handle closes.
   */
  subscribe(topics: string | string[], opts: SubscribeOptions = {}): AsyncIterableIterator<Event> {
    const prefixes = typeof topics === 'string' ? [topics] : topics;
    return iterate<Event>(({ push, end }) => {
      const stop = new AbortController();
      subscribeFrom(this.h, prefixes, opts.from, (ev) => {
        push(withData(ev));
      }, stop.signal).then(() => end(), end);
      return () => stop.abort();
    }, { signal: opts.signal, closed: () => this.h.isClosed });
  }
}
