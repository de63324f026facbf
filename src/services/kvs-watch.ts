// The kvs-watch service (flux-core's kvs-watch module): lookups that wait for a key to appear, follow its
// changes, or stream a value. It keeps no tree of its own: every answer is a kvs.lookup-plus at one root, through
// the kvs service on this broker. The journal hands every broker the namespace setroots in commit order, so each
// watcher answers once per setroot that touches its key, looked up at THAT setroot's root: a watcher never skips
// or repeats a version, however fast commits come, and a watcher below rank 0 sees what rank 0 committed.
import { NAMESPACE_DENIED } from '../core/access/roles.js';
import { FluxError, EINVAL, EISDIR, ENODATA, ENOENT, ENOSYS, ENOTSUP, EPERM, EPROTO } from '../core/errors.js';
import { type Message, FLAG_STREAMING, ROLE_OWNER, ROLE_USER, payloadJson, senderOf } from '../core/wire/message.js';
import { blobrefOf, digestOf } from '../core/content/blobref.js';
import { type TreeObj, checkTreeObj, dirref, normalizeKey } from '../core/kvs/treeobj.js';
import { LOOKUP_READDIR, LOOKUP_READLINK, LOOKUP_TREEOBJ } from '../core/kvs/tree.js';
import { PRIMARY, TOPIC_PREFIX, isKvsEntry, namespaceTopic } from '../projections/kvs.js';
import type { Applied, JournalService } from './journal.js';
import type { ContentAccess } from './content.js';
import type { ModuleDef, ModuleHost } from './module.js';

export const WATCH = 4;
export const WAITCREATE = 8;
export const WATCH_FULL = 64;
export const WATCH_UNIQ = 128;
export const WATCH_APPEND = 256;
/** blobs loaded at once when the pieces of an appended value are sent */
const LOAD_WINDOW = 256;
export const STREAM = 512;
/** the lookup flags kvs itself understands; the rest are ours */
const PASSED_ON = LOOKUP_READDIR | LOOKUP_READLINK | LOOKUP_TREEOBJ;

export interface KvsWatchOptions {
  journal: JournalService;
  /** WATCH_APPEND loads the appended blobs itself: kvs.lookup would join them with all that came before */
  content: ContentAccess;
}

interface Watcher {
  req: Message;
  sender: string | undefined;
  streaming: boolean;
  ns: string;
  key: string;
  /** the key normalized, as setroot keys are */
  path: string;
  flags: number;
  /** setroots up to this one are reflected in what was sent */
  rootseq: number;
  /** every answer is made on this chain, so answers leave in commit order though lookups are async */
  chain: Promise<void>;
  ended: boolean;
  /** the key has had a value: from now on its absence ends the watch rather than being waited out */
  seen: boolean;
  answered: boolean;
  /** WATCH_UNIQ: the last value sent */
  last?: string;
  /** WATCH_APPEND: the blobs the value was made of when last sent */
  refs?: string[];
  /** the version the watch starts at, when it replays the changes since then */
  from?: number;
}

interface KeyVersion {
  rootseq: number;
  rootref: string;
  above?: boolean;
}

const NAMESPACE = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\s/]+$' };
const LOOKUP_SCHEMA = {
  type: 'object',
  properties: {
    key: { type: 'string', minLength: 1 }, namespace: NAMESPACE, flags: { type: 'integer', minimum: 0 },
    // ours: a watch that starts as if made when the namespace was at this version (replayed from the history index)
    from_version: { type: 'integer', minimum: 0 },
  },
  required: ['key', 'flags'],
};
const CANCEL_SCHEMA = {
  type: 'object',
  properties: { matchtag: { type: 'integer', minimum: 0 } },
  required: ['matchtag'],
};

/** a val with its keys in the order flux-core sends them (sorted), so that answers match its bytes */
const valOf = (bytes: Buffer): TreeObj => ({ data: bytes.toString('base64'), type: 'val', ver: 1 });

/**
 * Whether a change to `changed` changes the value at `watched`: the key itself or something under it (a watched
 * directory changes with its contents). A replaced parent directory counts only while the key is awaited: it
 * may have brought the key into being, but a watcher that wants every such replacement asks for WATCH_FULL.
 */
function touches(changed: string, w: Watcher): boolean {
  const watched = w.path;
  // a change of the root itself (a restore) may change every key
  if (watched === '.' || changed === '.' || changed === watched || changed.startsWith(`${watched}.`)) return true;
  return !w.seen && (changed === '.' || watched.startsWith(`${changed}.`));
}

export function kvsWatchModule(host: ModuleHost, opts: KvsWatchOptions): ModuleDef {
  const { journal, content } = opts;
  const byNamespace = new Map<string, Set<Watcher>>();
  let unsubscribe: (() => void) | undefined;
  let started = 0;

  /** the watch is over; `err` is its last answer (none when its requester is gone) */
  function end(w: Watcher, err: FluxError | undefined): void {
    if (w.ended) return;
    w.ended = true;
    const set = byNamespace.get(w.ns);
    set?.delete(w);
    if (set?.size === 0) byNamespace.delete(w.ns);
    // a plain request has had its one answer
    if (err !== undefined && (w.streaming || !w.answered)) host.respondError(w.req, err);
  }

  function enqueue(w: Watcher, step: () => Promise<void>): void {
    w.chain = w.chain
      .then(() => (w.ended ? undefined : step()))
      .catch((err: unknown) => end(w, err instanceof FluxError ? err : new FluxError(EPROTO, String(err))));
  }

  /** the value at the watcher's key under one root of its namespace; undefined when the key is not there */
  async function lookupAt(w: Watcher, rootref: string, rootseq: number): Promise<TreeObj | undefined> {
    const flags = (w.flags & PASSED_ON) | (w.flags & WATCH_APPEND ? LOOKUP_TREEOBJ : 0);
    const r = payloadJson(await host.rpc('kvs.lookup-plus', { key: w.key, flags, namespace: w.ns, rootdir: dirref(rootref), rootseq }));
    if (r.errno === ENOENT) return undefined;
    if (r.errno !== undefined) throw new FluxError(Number(r.errno));
    return checkTreeObj(r.val);
  }

  /** each blob, in order, a window of loads at a time (a long value has tens of thousands) */
  async function loadEach(refs: string[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (let i = 0; i < refs.length; i += LOAD_WINDOW) {
      out.push(...await Promise.all(refs.slice(i, i + LOAD_WINDOW).map((r) => content.load(digestOf(content.hash, r)))));
    }
    return out;
  }

  /**
   * WATCH_APPEND: one value per piece appended, as flux-core answers: every piece the value holds the first time,
   * then only those appended since (none: nothing to say)
   */
  async function appendedParts(w: Watcher, t: TreeObj): Promise<TreeObj[]> {
    let refs: string[];
    // appending to a val stores its bytes as the first blob of the valref it becomes
    if (t.type === 'val') refs = [blobrefOf(content.hash, Buffer.from(t.data, 'base64'))];
    else if (t.type === 'valref') refs = t.data;
    else if (t.type === 'dir' || t.type === 'dirref') throw new FluxError(EISDIR);
    else throw new FluxError(EINVAL, `${w.key}: only values can be watched for appends`);
    const prev = w.refs;
    w.refs = refs;
    if (prev === undefined) return t.type === 'val' ? [t] : (await loadEach(refs)).map(valOf);
    if (refs.length < prev.length || prev.some((r, i) => refs[i] !== r)) {
      throw new FluxError(EINVAL, `${w.key}: the value was replaced, not appended to`);
    }
    return (await loadEach(refs.slice(prev.length))).map(valOf);
  }

  async function deliver(w: Watcher, t: TreeObj | undefined): Promise<void> {
    if (t === undefined) {
      if (w.seen || !(w.flags & WAITCREATE)) throw new FluxError(ENOENT);
      return;
    }
    w.seen = true;
    const out = w.flags & WATCH_APPEND ? await appendedParts(w, t) : [t];
    for (const piece of out) {
      if (w.ended) return;
      const text = JSON.stringify(piece);
      if (!(w.flags & WATCH_UNIQ) || text !== w.last) {
        host.respond(w.req, { val: piece });
        w.answered = true;
        w.last = text;
      }
    }
    if (!(w.flags & WATCH)) end(w, new FluxError(ENODATA));
  }

  /** the first answer: the value at the namespace's current root, once the requester is known to may read it */
  async function first(w: Watcher): Promise<void> {
    const root = payloadJson(await host.rpc('kvs.getroot', { namespace: w.ns }));
    // kvs answers this broker with the owner's rights: the requester's are checked here
    if (!(w.req.rolemask & ROLE_OWNER) && w.req.userid !== root.owner) throw new FluxError(EPERM, NAMESPACE_DENIED);
    if (w.from !== undefined) return replay(w, w.from);
    const rootseq = Number(root.rootseq);
    w.rootseq = rootseq;
    await deliver(w, await lookupAt(w, String(root.rootref), rootseq));
  }

  /**
   * The value at version `from`, then at each later version the history index lists for the key, as the live
   * watch would have answered them. The watcher was registered before the index was asked, so every setroot
   * after what the index holds is queued behind this, and is dropped there if the replay already covered it.
   */
  async function replay(w: Watcher, from: number): Promise<void> {
    const start = payloadJson(await host.rpc('kvs.version-root', { namespace: w.ns, rootseq: from }));
    const history = payloadJson(await host.rpc('kvs-history.key', { namespace: w.ns, key: w.key, after: from }));
    w.rootseq = from;
    await deliver(w, await lookupAt(w, String(start.rootref), from));
    for (const v of history.versions as KeyVersion[]) {
      if (w.ended) return;
      // the live watch skips a directory above a key it has seen being written (unless WATCH_FULL): so does this
      if (v.above && w.seen && !(w.flags & WATCH_FULL)) continue;
      w.rootseq = v.rootseq;
      await deliver(w, await lookupAt(w, v.rootref, v.rootseq));
    }
  }

  function applied(a: Applied): void {
    const { topic } = a.entry;
    // only the KVS service's own entries move roots: an event published under a kvs topic does not
    if (!topic.startsWith(TOPIC_PREFIX) || !isKvsEntry(a.entry) || byNamespace.size === 0) return;
    const p = a.entry.payload as { namespace?: unknown; rootseq?: unknown; rootref?: unknown; keys?: unknown } | null;
    const ns = p?.namespace;
    if (typeof ns !== 'string') return;
    const set = byNamespace.get(ns);
    if (set === undefined) return;
    if (topic === namespaceTopic(ns, 'setroot')) {
      const rootseq = p!.rootseq as number;
      const rootref = p!.rootref as string;
      const keys = Array.isArray(p!.keys) ? (p!.keys as unknown[]).filter((k): k is string => typeof k === 'string') : [];
      for (const w of set) {
        if (!(w.flags & WATCH_FULL) && !keys.some((k) => touches(k, w))) continue;
        enqueue(w, async () => {
          // the first answer may already have been made at this root or a later one
          if (rootseq <= w.rootseq) return;
          w.rootseq = rootseq;
          await deliver(w, await lookupAt(w, rootref, rootseq));
        });
      }
    } else if (topic === namespaceTopic(ns, 'removed')) {
      for (const w of set) enqueue(w, async () => end(w, new FluxError(ENOTSUP)));
    }
  }

  function lookupHandler(msg: Message, body: Record<string, unknown> | undefined): void {
    const flags = body!.flags as number;
    const key = body!.key as string;
    const streaming = (msg.flags & FLAG_STREAMING) !== 0;
    if ((flags & WATCH) && (flags & STREAM)) throw new FluxError(EINVAL, 'WATCH and STREAM exclude each other');
    // more than one answer needs a streaming request; WAITCREATE alone answers once, and libkvs sends it plain
    if (!streaming && flags & (WATCH | STREAM)) throw new FluxError(EPROTO, `${msg.topic} requires a streaming request`);
    const from = body!.from_version as number | undefined;
    if (from !== undefined && !(flags & WATCH)) throw new FluxError(EINVAL, 'from_version needs WATCH');
    const w: Watcher = {
      req: msg, sender: senderOf(msg), streaming, ns: (body!.namespace as string | undefined) ?? PRIMARY, key,
      path: normalizeKey(key), flags, rootseq: -1, chain: Promise.resolve(), ended: false, seen: false, answered: false,
      from,
    };
    // registered before the current root is asked for, so that no setroot after it goes unseen
    let set = byNamespace.get(w.ns);
    if (!set) {
      set = new Set();
      byNamespace.set(w.ns, set);
    }
    set.add(w);
    started++;
    enqueue(w, () => first(w));
  }

  function each(fn: (w: Watcher) => void): void {
    for (const set of [...byNamespace.values()]) for (const w of [...set]) fn(w);
  }

  return {
    name: 'kvs-watch',
    start: () => {
      unsubscribe = journal.onApply(applied);
    },
    stop: () => {
      unsubscribe?.();
      each((w) => end(w, new FluxError(ENOSYS, 'the kvs-watch module is unloading')));
    },
    handlers: [
      { topic: 'kvs-watch.lookup', allow: ROLE_USER, schema: LOOKUP_SCHEMA, handler: lookupHandler },
      {
        topic: 'kvs-watch.cancel',
        allow: ROLE_USER,
        schema: CANCEL_SCHEMA,
        handler: (msg, body) => {
          const sender = senderOf(msg);
          const tag = body!.matchtag as number;
          each((w) => {
            if (w.sender === sender && w.req.aux2 === tag) end(w, new FluxError(ENODATA));
          });
        },
      },
    ],
    disconnect: (sender) => {
      each((w) => {
        if (w.sender === sender) end(w, undefined);
      });
    },
    // flux-core's fields: namespaces with watchers (their count, and each one's watchers)
    stats: () => {
      let watchers = 0;
      for (const set of byNamespace.values()) watchers += set.size;
      const namespaces = Object.fromEntries([...byNamespace].map(([ns, set]) => [ns, { watchers: set.size }]));
      return { watchers, started, 'namespace-count': byNamespace.size, namespaces };
    },
  };
}
