// The clients of a run: each connected to one rank, doing random KVS operations and publishes, recording every
// invocation and completion with wall-clock times; subscribers and watchers recording what they were sent. A
// request that timed out or whose connection was lost is recorded with no outcome ("maybe applied"). Plain gets
// go to rank 0 (they are checked for linearizability) or are served by the client's own broker (replica reads,
// checked for what a replica promises); replica readers reconnect every few reads, so that many reads are the
// first of their connection.
import { Flux } from '../api/handle.js';
import { subscribeFrom } from '../api/events.js';
import { FluxError, ENOENT, ENOSPC, EPROTO, EINVAL, EPERM, ENOTSUP, errnoOf } from '../core/errors.js';
import type { Cluster } from './cluster.js';
import type { Random } from './random.js';
import type { KvsInput, KvsOutput } from './kvs-model.js';
import type { Subscription } from './event-log.js';

export const KEYS = ['lin.k0', 'lin.k1', 'lin.k2', 'lin.k3', 'lin.k4'];
export const EVENT_PREFIX = 'lin.ev.';
export const END_TOPIC = `${EVENT_PREFIX}end`;
const WATCH = 4;
const WAITCREATE = 8;
/** what a request may take before its outcome counts as unknown */
const TIMEOUT_MS = 4000;
/** errors the service gives before applying anything: such a write did not happen */
const REFUSED = new Set([ENOSPC, EPROTO, EINVAL, EPERM, ENOTSUP]);

export const now = () => performance.timeOrigin + performance.now();

export type Record =
  | { kind: 'kvs'; id: number; client: number; rank: number; session: number; input: KvsInput; call: number; ret: number; output?: KvsOutput; error?: string; refused?: boolean }
  | { kind: 'replica'; id: number; client: number; rank: number; session: number; key: string; call: number; ret: number; value?: string | null; error?: string }
  | { kind: 'publish'; id: number; client: number; rank: number; topic: string; call: number; ret: number; seq?: number; error?: string; refused?: boolean };

export interface WatchSegment {
  client: number;
  rank: number;
  key: string;
  seen: Array<string | null>;
  end?: string;
}

export class Recorder {
  readonly records: Record[] = [];
  readonly subs: Array<Subscription & { rank: number }> = [];
  readonly watches: WatchSegment[] = [];
  /** the highest version any write has been acknowledged with */
  maxVersion = 0;
  private nextId = 0;
  private nextSession = 0;
  id(): number {
    return this.nextId++;
  }

  /** a new connection's number */
  session(): number {
    return this.nextSession++;
  }
}

class Timeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Timeout(`no answer in ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function decodeVal(val: unknown): string | null {
  const v = val as { type?: string; data?: unknown };
  if (v?.type === 'val' && typeof v.data === 'string') return Buffer.from(v.data, 'base64').toString();
  throw new FluxError(EPROTO, `unexpected value ${JSON.stringify(val)}`);
}

const val = (s: string) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const dirref = (ref: string) => ({ data: [ref], type: 'dirref', ver: 1 });

/** a connection to this client's rank, or to rank 0 while its own is dead; remade after a restart or a loss */
class Conn {
  private h: Flux | undefined;
  private gen = -1;
  rank = 0;
  /** the connection's number (a new one after every reconnection) */
  session = -1;

  constructor(private readonly cluster: Cluster, private readonly want: number, private readonly rec: Recorder) {}

  async get(stopped: () => boolean): Promise<Flux | undefined> {
    while (!stopped()) {
      await this.cluster.ready().catch(() => {});
      if (this.h && this.gen === this.cluster.generation) return this.h;
      this.drop();
      this.rank = this.cluster.dead.has(this.want) ? 0 : this.want;
      try {
        const h = await withTimeout(Flux.open(this.cluster.uri(this.rank)), TIMEOUT_MS);
        h.onClose(() => {
          if (this.h === h) this.h = undefined;
        });
        this.h = h;
        this.gen = this.cluster.generation;
        this.session = this.rec.session();
        return h;
      } catch {
        await sleep(100);
      }
    }
    return undefined;
  }

  drop(): void {
    const h = this.h;
    this.h = undefined;
    try {
      h?.close();
    } catch {
      // already closed
    }
  }
}

export interface ClientOptions {
  cluster: Cluster;
  rec: Recorder;
  rng: Random;
  client: number;
  stopped: () => boolean;
}

/** one client's loop of random operations until the run stops */
export async function runClient({ cluster, rec, rng, client, stopped }: ClientOptions): Promise<void> {
  const conn = new Conn(cluster, client % cluster.opts.size, rec);
  for (let n = 0; !stopped(); n++) {
    const h = await conn.get(stopped);
    if (!h) return;
    const roll = rng.next();
    const key = rng.pick(KEYS);
    const id = rec.id();
    const rank = conn.rank;
    if (roll < 0.12) {
      const topic = `${EVENT_PREFIX}c${client}.${n}`;
      const call = now();
      const r: Record = { kind: 'publish', id, client, rank, topic, call, ret: Infinity };
      rec.records.push(r);
      try {
        r.seq = Number((await withTimeout(h.call('event.publish', { topic, flags: 0 }, { nodeid: 0 }), TIMEOUT_MS)).seq);
        r.ret = now();
      } catch (err) {
        settleError(r, err, conn);
      }
      continue;
    }
    if (roll >= 0.7 && roll < 0.8) {
      await replicaRead(h, rec, { id, client, rank, session: conn.session, key }, conn);
      continue;
    }
    let input: KvsInput;
    if (roll < 0.42) input = { f: 'put', key, value: `c${client}.${n}` };
    else if (roll < 0.52) input = { f: 'append', key, value: `[c${client}.${n}]` };
    else if (roll < 0.58) input = { f: 'unlink', key };
    else if (roll < 0.7) input = { f: 'get', key };
    else input = { f: 'get-at', key, version: rng.int(0, rec.maxVersion) };
    const r: Record = { kind: 'kvs', id, client, rank, session: conn.session, input, call: now(), ret: Infinity };
    rec.records.push(r);
    try {
      r.output = await withTimeout(perform(h, input), TIMEOUT_MS);
      r.ret = now();
      if ('version' in r.output) rec.maxVersion = Math.max(rec.maxVersion, r.output.version);
    } catch (err) {
      settleError(r, err, conn);
    }
  }
  conn.drop();
}

/** a plain get served by the client's own broker, from its projection */
async function replicaRead(h: Flux, rec: Recorder, at: { id: number; client: number; rank: number; session: number; key: string }, conn: Conn): Promise<void> {
  const r: Record = { kind: 'replica', ...at, call: now(), ret: Infinity };
  rec.records.push(r);
  try {
    r.value = await withTimeout(lookup(h, { key: at.key, namespace: 'primary', flags: 0 }), TIMEOUT_MS);
    r.ret = now();
  } catch (err) {
    r.error = err instanceof Error ? err.message : String(err);
    conn.drop();
  }
}

/** a client that only reads from its own broker, on a new connection every few reads */
export async function runReplicaReader({ cluster, rec, rng, client, stopped }: ClientOptions): Promise<void> {
  const conn = new Conn(cluster, client % cluster.opts.size, rec);
  while (!stopped()) {
    const h = await conn.get(stopped);
    if (!h) return;
    for (let n = rng.int(1, 4); n > 0 && !stopped(); n--) {
      await replicaRead(h, rec, { id: rec.id(), client, rank: conn.rank, session: conn.session, key: rng.pick(KEYS) }, conn);
      await sleep(rng.int(0, 20));
    }
    conn.drop();
  }
}

function settleError(r: Exclude<Record, { kind: 'replica' }>, err: unknown, conn: Conn): void {
  r.error = err instanceof Error ? err.message : String(err);
  if (err instanceof Timeout) {
    // a late answer on this connection would be ignored: start afresh
    conn.drop();
    return;
  }
  const errno = errnoOf(err);
  const isRead = r.kind === 'kvs' && (r.input.f === 'get' || r.input.f === 'get-at');
  if (REFUSED.has(errno) || isRead) {
    r.ret = now();
    r.refused = true;
    return;
  }
  // any other failure of a write leaves its outcome open
  conn.drop();
}

async function perform(h: Flux, input: KvsInput): Promise<KvsOutput> {
  const key = input.key;
  switch (input.f) {
    case 'put':
    case 'append':
    case 'unlink': {
      const op = input.f === 'unlink' ? { key, flags: 0, dirent: null }
        : { key, flags: input.f === 'append' ? 32 : 0, dirent: val(input.value) };
      const r = await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [op] });
      return { version: Number(r.rootseq) };
    }
    case 'get':
      return { value: await lookup(h, { key, namespace: 'primary', flags: 0 }, 0) };
    case 'get-at': {
      // the version is known to exist: this rank may still be catching up to it
      await h.call('kvs.wait-version', { namespace: 'primary', rootseq: input.version });
      const v = await h.call('kvs.version-root', { namespace: 'primary', rootseq: input.version });
      return { value: await lookup(h, { key, namespace: 'primary', flags: 0, rootdir: dirref(String(v.rootref)) }) };
    }
  }
}

export async function lookup(h: Flux, body: { [k: string]: unknown }, nodeid?: number): Promise<string | null> {
  try {
    return decodeVal((await h.call('kvs.lookup', body, nodeid === undefined ? {} : { nodeid })).val);
  } catch (err) {
    if (errnoOf(err) === ENOENT) return null;
    throw err;
  }
}

/** a subscriber: segment after segment (a lost connection ends one), each resuming where the last stopped */
export async function runSubscriber({ cluster, rec, client }: Omit<ClientOptions, 'rng' | 'stopped'>): Promise<void> {
  const conn = new Conn(cluster, client % cluster.opts.size, rec);
  let from = 1;
  for (let ended = false; !ended; ) {
    const h = await conn.get(() => false);
    if (!h) return;
    const seg = { id: rec.subs.length, client, rank: conn.rank, from, seen: [] as Array<{ seq: number; topic: string }> };
    rec.subs.push(seg);
    try {
      await subscribeFrom(h, [EVENT_PREFIX], from, (ev) => {
        seg.seen.push({ seq: ev.seq, topic: ev.topic });
        from = ev.seq + 1;
        if (ev.topic === END_TOPIC) ended = true;
        return !ended;
      });
    } catch {
      conn.drop();
      await sleep(50);
    }
  }
  conn.drop();
}

/** a watcher: watches a key until it is unlinked or the connection is lost, then another */
export async function runWatcher({ cluster, rec, rng, client, stopped }: ClientOptions, over: Promise<void>): Promise<void> {
  const conn = new Conn(cluster, client % cluster.opts.size, rec);
  while (!stopped()) {
    const h = await conn.get(stopped);
    if (!h) return;
    const seg: WatchSegment = { client, rank: conn.rank, key: rng.pick(KEYS), seen: [] };
    rec.watches.push(seg);
    const watching = h.stream('kvs-watch.lookup', { key: seg.key, namespace: 'primary', flags: WATCH | WAITCREATE }, {}, (m) => {
      const body = m.payload && m.payload.length > 0 ? (JSON.parse(m.payload.toString().replace(/\0$/, '')) as { val: unknown }) : undefined;
      seg.seen.push(decodeVal(body?.val));
    }).then(() => (seg.end = 'ended'), (err: unknown) => (seg.end = err instanceof Error ? err.message : String(err)));
    // a watch lasts a while, then the next key
    await Promise.race([watching, over, sleep(rng.int(1000, 5000))]);
    conn.drop();
    await Promise.race([watching, sleep(200)]);
  }
}
