// The KVS service (flux-core's kvs module) as a projection of the journal. Rank 0 is the only writer: commits to
// a namespace are queued, adjacent mergeable ones applied as one batch to the current root, the new objects
// stored, and ONE journal entry kvs.namespace-<ns>-setroot made per batch; committers are answered once that
// entry is durable. Every broker serves reads from its own copy of the kvs projection (the namespace roots),
// loading objects through its content cache; a broker answers a commit only once its own projection holds it,
// so a client reads its own writes on whichever rank it is connected to.
import { NAMESPACE_DENIED } from '../core/roles.js';
import {
  FluxError, EEXIST, EINVAL, ENOENT, ENOSYS, ENOTSUP, EPERM, EPROTO,
} from '../core/errors.js';
import {
  type Message, FLAG_PRIVATE, ROLE_OWNER, ROLE_USER, payloadJson, senderOf, USERID_UNKNOWN,
} from '../core/message.js';
import { blobref, blobrefOf, checkHashName, digestOf } from '../core/blobref.js';
import { type TreeObj, checkTreeObj, decodeTreeObj, dirref } from '../core/treeobj.js';
import { parseFSD } from '../core/fsd.js';
import {
  type AppliedOps, type Op, type ReadAccess, type WriteAccess, applyOps, isStoredDirectory, lookup, TreeCache, EMPTY_DIR_BLOB,
  TXN_FLAGS, TXN_NO_MERGE, TXN_SYNC,
} from '../core/kvs-tree.js';
import { type JournalStore, compactedError } from '../core/journal-store.js';
import type { Entry } from '../core/journal-entry.js';
import {
  type KvsState, type NamespaceRoot, ENTRY_KVS, KVS, PRIMARY, isKvsEntry, kvsProjection, namespaceList, namespaceRoot,
  namespaceTopic,
} from '../projections/kvs.js';
import type { Applied, Credential, JournalService } from './journal.js';
import type { ContentAccess, ContentService } from './content.js';
import type { ModuleDef, ModuleHost } from './module.js';
import { ATTR_RUNTIME } from './attrs.js';

/** blobs stored per transaction while an archive is restored at start */
const RESTORE_BATCH = 4096;
/** ops one batch may hold: applying a batch is synchronous, and must not hold the event loop for long */
const BATCH_OPS_MAX = 10_000;
/**
 * how often a broker that waits for its projection to reach a seq looks again without an entry arriving: only
 * the jump to the parent's snapshot at startup moves the head that way
 */
const RECHECK_MS = 100;

export interface KvsOptions {
  journal: JournalService;
  content: ContentAccess & Pick<ContentService, 'backing'>;
  /** rank 0: the journal's store, whose append transactions also write the history indexes */
  store?: JournalStore;
  /**
   * rank 0: what primary starts from (-S content.restore: a checkpoint's index or an archive's path); given to the
   * KVS the broker starts with, not to one loaded again later
   */
  restore?: string;
}

interface Cred {
  userid: number;
  rolemask: number;
}

interface CommitResult {
  rootref: string;
  rootseq: number;
  /** the journal seq of the setroot entry: a broker below answers once its projection has it */
  seq: number;
}

interface Deferred<T> {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

type Work =
  | {
    kind: 'commit'; flags: number; ops: Op[]; name: string; cred: Cred; done: Deferred<CommitResult>; alone: boolean;
    /** job events that ride in the setroot entry beside these ops (src/projections/jobs.ts) */
    jobs?: unknown[];
  }
  | { kind: 'create'; root: NamespaceRoot; done: Deferred<number> }
  | { kind: 'remove'; done: Deferred<number> };

type CommitWork = Extract<Work, { kind: 'commit' }>;

interface VersionWaiter {
  msg: Message;
  rootseq: number;
  sender: string | undefined;
}

const NAMESPACE = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\s/]+$' };
const OPS = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      key: { type: 'string' },
      flags: { type: 'integer', minimum: 0 },
      dirent: { anyOf: [{ type: 'object' }, { type: 'null' }] },
    },
    required: ['key', 'flags', 'dirent'],
  },
};
const COMMIT_SCHEMA = {
  type: 'object',
  properties: {
    namespace: NAMESPACE, flags: { type: 'integer', minimum: 0 }, ops: OPS,
    jobs: { type: 'array', items: { type: 'object' } },
  },
  required: ['namespace', 'flags', 'ops'],
};
const RELAY_SCHEMA = {
  type: 'object',
  properties: {
    namespace: NAMESPACE, flags: { type: 'integer', minimum: 0 }, ops: OPS, name: { type: 'string' },
    userid: { type: 'integer', minimum: 0 }, rolemask: { type: 'integer', minimum: 0 },
  },
  required: ['namespace', 'flags', 'ops', 'name', 'userid', 'rolemask'],
};
const LOOKUP_SCHEMA = {
  type: 'object',
  properties: {
    key: { type: 'string' },
    flags: { type: 'integer', minimum: 0 },
    namespace: NAMESPACE,
    rootdir: { type: 'object' },
    rootseq: { type: 'integer', minimum: 0 },
  },
  required: ['key', 'flags'],
};
const NAMESPACE_SCHEMA = {
  type: 'object', properties: { namespace: NAMESPACE, flags: { type: 'integer', minimum: 0 } }, required: ['namespace'],
};
const VERSION_SCHEMA = {
  type: 'object',
  properties: { namespace: NAMESPACE, rootseq: { type: 'integer', minimum: 0 } },
  required: ['namespace', 'rootseq'],
};
const CREATE_SCHEMA = {
  type: 'object',
  properties: {
    namespace: NAMESPACE,
    rootref: { type: 'string' },
    // a C int on the wire: -1 (FLUX_USERID_UNKNOWN) means the instance owner
    owner: { type: 'integer', minimum: -0x80000000, maximum: 0xffffffff },
    flags: { type: 'integer', minimum: 0 },
  },
  required: ['namespace', 'rootref', 'owner', 'flags'],
};

function deferred<T>(): { promise: Promise<T>; done: Deferred<T> } {
  let done!: Deferred<T>;
  const promise = new Promise<T>((resolve, reject) => (done = { resolve, reject }));
  return { promise, done };
}

const credOf = (msg: Message): Cred => ({ userid: msg.userid, rolemask: msg.rolemask });

/** the instance owner may use every namespace; anyone else only the namespaces they own */
function mayUse(cred: Cred, root: NamespaceRoot): boolean {
  return (cred.rolemask & ROLE_OWNER) !== 0 || cred.userid === root.owner;
}

function checkAccess(cred: Cred, root: NamespaceRoot): void {
  if (!mayUse(cred, root)) throw new FluxError(EPERM, NAMESPACE_DENIED);
}

/** a guest may store values, unlink and make empty directories: nothing that names objects it did not write */
function checkGuestOps(cred: Cred, ops: Op[]): void {
  if (cred.rolemask & ROLE_OWNER) return;
  for (const op of ops) {
    const d = op.dirent as { type?: unknown; data?: unknown } | null;
    if (d === null || d.type === 'val') continue;
    if (d.type === 'dir' && typeof d.data === 'object' && d.data !== null && Object.keys(d.data).length === 0) continue;
    throw new FluxError(EPERM, `guests may not commit ${String(d.type)} objects`);
  }
}

export function kvsModule(host: ModuleHost, opts: KvsOptions): ModuleDef {
  const { journal, content, store } = opts;
  const hash = checkHashName(content.hash);
  const backing = content.backing;
  if (host.rank === 0 && (!backing || !store)) throw new FluxError(ENOSYS, 'the KVS master on rank 0 needs the content and journal stores');
  const instanceOwner = Number(host.attrs.get('security.owner') ?? USERID_UNKNOWN);
  const cache = new TreeCache();
  const state = () => journal.state<KvsState>(KVS);
  const primaryAtStart: NamespaceRoot = { rootseq: 0, rootref: blobrefOf(hash, EMPTY_DIR_BLOB), owner: instanceOwner, flags: 0 };
  /** a namespace's root in this broker's projection (primary is there from the start) */
  const rootOf = (ns: string): NamespaceRoot | undefined => namespaceRoot(state(), ns) ?? (ns === PRIMARY ? primaryAtStart : undefined);
  const listNamespaces = () => {
    const list = namespaceList(state());
    return list.some((r) => r.namespace === PRIMARY) ? list : [{ namespace: PRIMARY, ...primaryAtStart }, ...list];
  };
  let commitCount = 0;
  let batchCount = 0;
  let unsubscribe: (() => void) | undefined;

  // ---- waiting for this broker's projection --------------------------------------------------------------------

  let seqWaiters: Array<{ seq: number; resolve: () => void }> = [];
  const versionWaiters = new Map<string, VersionWaiter[]>();
  let recheck: NodeJS.Timeout | undefined;

  /** resolves once this broker has applied the journal up to `seq` */
  function waitSeq(seq: number): Promise<void> {
    if (journal.head().seq >= seq) return Promise.resolve();
    return new Promise((resolve) => {
      seqWaiters.push({ seq, resolve });
      watchHead();
    });
  }

  function watchHead(): void {
    if (recheck !== undefined) return;
    recheck = setInterval(() => {
      wakeSeq(journal.head().seq);
      for (const ns of [...versionWaiters.keys()]) wakeVersions(ns);
      if (seqWaiters.length === 0 && versionWaiters.size === 0) {
        clearInterval(recheck);
        recheck = undefined;
      }
    }, RECHECK_MS);
    recheck.unref();
  }

  function wakeSeq(head: number): void {
    if (seqWaiters.length === 0) return;
    const ready = seqWaiters.filter((w) => w.seq <= head);
    if (ready.length === 0) return;
    seqWaiters = seqWaiters.filter((w) => w.seq > head);
    for (const w of ready) w.resolve();
  }

  function wakeVersions(ns: string): void {
    const list = versionWaiters.get(ns);
    if (!list) return;
    const root = rootOf(ns);
    const keep = list.filter((w) => {
      if (root === undefined) host.respondError(w.msg, new FluxError(ENOTSUP));
      else if (root.rootseq >= w.rootseq) host.respond(w.msg, { rootseq: root.rootseq, rootref: root.rootref });
      else return true;
      return false;
    });
    if (keep.length > 0) versionWaiters.set(ns, keep);
    else versionWaiters.delete(ns);
  }

  function applied(a: Applied): void {
    wakeSeq(a.entry.seq);
    if (versionWaiters.size > 0 && isKvsEntry(a.entry)) {
      const ns = (a.entry.payload as { namespace?: unknown } | null)?.namespace;
      if (typeof ns === 'string') wakeVersions(ns);
    }
  }

  /** catch up with rank 0's journal head: what rank 0 has acknowledged is then in this broker's projection */
  async function catchUp(): Promise<void> {
    const r = await host.rpc('journal.head', undefined, { nodeid: 0 });
    await waitSeq(Number(payloadJson(r).seq));
  }

  /** below rank 0: a namespace change is made by rank 0, and answered once this broker has it too */
  async function relayed(msg: Message, topic: string, body: Record<string, unknown>): Promise<void> {
    await host.rpc(topic, body, { nodeid: 0 });
    await catchUp();
    host.respond(msg);
  }

  /** clients of this broker (below rank 0) whose reads have caught up with rank 0 once */
  const caughtUp = new Set<string>();

  /**
   * A client's first read below rank 0 waits until this broker has what rank 0 had when the read arrived: a read
   * begun after a commit returned, on whatever rank, sees it. Later reads of the client need no wait to be as new.
   */
  async function session(msg: Message, body: Record<string, unknown>): Promise<void> {
    const sender = senderOf(msg);
    if (host.rank === 0 || body.rootdir !== undefined || sender === undefined || caughtUp.has(sender)) return;
    await catchUp();
    caughtUp.add(sender);
  }

  /** a broker below rank 0 starts from its parent's snapshot, some time after it starts answering requests */
  let started: Promise<void> | undefined;

  /**
   * A namespace's root. A broker below rank 0 catches up with rank 0 once before its first answer (until then
   * its projection may be the empty one it booted with), and again when it does not know the namespace: it may
   * just not have its creation yet.
   */
  async function known(ns: string): Promise<NamespaceRoot> {
    if (host.rank > 0) {
      started ??= catchUp().catch((err: unknown) => {
        started = undefined;
        throw err;
      });
      await started;
    }
    let root = rootOf(ns);
    if (root === undefined && host.rank > 0) {
      await catchUp();
      root = rootOf(ns);
    }
    if (root === undefined) throw new FluxError(ENOTSUP);
    return root;
  }

  function reader(cred: Cred): ReadAccess {
    return {
      cache,
      load: (ref) => content.load(digestOf(hash, ref)),
      // a TREEOBJ lookup of a directory kept hashed answers the plain dir object it stands for, stored here
      store: async (blob) => blobref(hash, await content.store(blob)),
      rootOf: async (ns) => {
        const root = await known(ns);
        checkAccess(cred, root);
        return root.rootref;
      },
    };
  }

  // ---- rank 0: the master ----------------------------------------------------------------------------------------

  const queues = new Map<string, Work[]>();
  const draining = new Map<string, Promise<void>>();
  /**
   * the objects a batch made, by namespace and rootseq, until the journal's transaction that holds its setroot
   * entry stores them too (the indexer below): blobs and entry are durable together, or not at all
   */
  const unstored = new Map<string, Buffer[]>();
  const unstoredKey = (ns: string, rootseq: unknown) => `${ns}\n${String(rootseq)}`;

  function submit(ns: string, w: Work): void {
    let q = queues.get(ns);
    if (!q) {
      q = [];
      queues.set(ns, q);
    }
    q.push(w);
    if (!draining.has(ns)) {
      // a turn of the event loop first: commits that arrive together are merged into one batch
      draining.set(ns, new Promise<void>((r) => setImmediate(r)).then(() => drain(ns, q)));
    }
  }

  /** one namespace's writes, strictly in order; creation and removal go through the same queue as commits */
  async function drain(ns: string, q: Work[]): Promise<void> {
    try {
      while (q.length > 0) {
        const w = q[0]!;
        if (w.kind === 'commit') {
          await commitBatch(ns, takeBatch(q), q);
        } else {
          q.shift();
          await (w.kind === 'create' ? create(ns, w) : remove(ns, w));
        }
      }
    } finally {
      // in the same turn as the last look at the queue: work submitted after it starts a new drain
      draining.delete(ns);
      queues.delete(ns);
    }
  }

  const mergeable = (c: CommitWork) => !c.alone && (c.flags & (TXN_NO_MERGE | TXN_SYNC)) === 0;

  /** the first commit and the adjacent ones it can merge with (same flags, neither NO_MERGE nor SYNC) */
  function takeBatch(q: Work[]): CommitWork[] {
    const first = q.shift() as CommitWork;
    const batch = [first];
    if (!mergeable(first)) return batch;
    let ops = first.ops.length;
    for (let n = q[0]; n?.kind === 'commit' && mergeable(n) && n.flags === first.flags && ops + n.ops.length <= BATCH_OPS_MAX; n = q[0]) {
      batch.push(q.shift() as CommitWork);
      ops += n.ops.length;
    }
    return batch;
  }

  /** blob access for one batch: what it stores is kept aside, and written with its setroot entry if it holds */
  function writer(pending: Map<string, Buffer>): WriteAccess {
    return {
      cache,
      load: (ref) => pending.get(ref) ?? backing!.load(digestOf(hash, ref)),
      store: (blob) => {
        const ref = blobrefOf(hash, blob);
        pending.set(ref, blob);
        return ref;
      },
    };
  }

  /** who a namespace's entries are from: its owner, so that its private events reach the owner too */
  function entryCred(root: NamespaceRoot): Credential {
    return { userid: root.owner, rolemask: root.owner === instanceOwner ? ROLE_OWNER : ROLE_USER, flags: FLAG_PRIVATE | ENTRY_KVS };
  }

  /**
   * the root a namespace's batches build on: its last batch's, as soon as that batch's entry has committed, which
   * may be before the entry is synced and applied (the next batch is made while the sync runs)
   */
  const tips = new Map<string, { rootseq: number; rootref: string }>();
  /** batches written but not answered yet: the module stops only after they are */
  const answering = new Set<Promise<void>>();

  function writerRoot(ns: string): NamespaceRoot | undefined {
    const root = rootOf(ns);
    const t = tips.get(ns);
    if (root === undefined || t === undefined) return root;
    if (root.rootseq >= t.rootseq) {
      tips.delete(ns);
      return root;
    }
    return { ...root, rootseq: t.rootseq, rootref: t.rootref };
  }

  async function commitBatch(ns: string, batch: CommitWork[], q: Work[]): Promise<void> {
    const root = writerRoot(ns);
    // the namespace may have gone, or changed hands, since these commits were accepted
    const ok: CommitWork[] = [];
    for (const c of batch) {
      if (root === undefined) c.done.reject(new FluxError(ENOTSUP));
      else if (!mayUse(c.cred, root)) c.done.reject(new FluxError(EPERM, NAMESPACE_DENIED));
      else ok.push(c);
    }
    if (root === undefined || ok.length === 0) return;
    const pending = new Map<string, Buffer>();
    let result: AppliedOps;
    try {
      result = applyOps(root.rootref, ok.length === 1 ? ok[0]!.ops : ok.flatMap((c) => c.ops), writer(pending), ns);
    } catch (err) {
      if (ok.length > 1) {
        // one bad commit must not fail the others merged with it: each is tried alone, in order, before the rest
        q.unshift(...ok.map((c) => ({ ...c, alone: true })));
        return;
      }
      for (const c of ok) c.done.reject(err);
      return;
    }
    const rootseq = root.rootseq + 1;
    const flags = ok[0]!.flags;
    const key = unstoredKey(ns, rootseq);
    if (pending.size > 0) unstored.set(key, [...pending.values()]);
    const jobs = ok.flatMap((c) => c.jobs ?? []);
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const appended = journal.append(namespaceTopic(ns, 'setroot'), {
      namespace: ns, rootseq, rootref: result.rootref, names: ok.map((c) => c.name), keys: result.keys,
      ops: result.ops, owner: root.owner, ...(jobs.length > 0 ? { jobs } : {}),
    }, entryCred(root), false, () => {
      tips.set(ns, { rootseq, rootref: result.rootref });
      unstored.delete(key);
      wrote();
    });
    const answered = (async () => {
      try {
        const a = await appended;
        if (flags & TXN_SYNC) {
          await journal.checkpoint();
          if (ns === PRIMARY) writeCheckpoint();
        }
        batchCount++;
        for (const c of ok) c.done.resolve({ rootref: result.rootref, rootseq, seq: a.entry.seq });
      } catch (err) {
        for (const c of ok) c.done.reject(err);
      } finally {
        unstored.delete(key);
      }
    })();
    answering.add(answered);
    void answered.finally(() => answering.delete(answered));
    // the next batch waits for this one's entry to be committed (or refused), not for it to be synced; a sync
    // commit is the exception: what follows it comes after its checkpoint
    if (flags & TXN_SYNC) await answered;
    else await Promise.race([written, answered]);
  }

  async function create(ns: string, w: Extract<Work, { kind: 'create' }>): Promise<void> {
    await Promise.all(answering);
    tips.delete(ns);
    try {
      if (rootOf(ns) !== undefined) throw new FluxError(EEXIST);
      const a = await journal.append(namespaceTopic(ns, 'created'), { namespace: ns, ...w.root }, entryCred(w.root));
      w.done.resolve(a.entry.seq);
    } catch (err) {
      w.done.reject(err);
    }
  }

  async function remove(ns: string, w: Extract<Work, { kind: 'remove' }>): Promise<void> {
    await Promise.all(answering);
    tips.delete(ns);
    try {
      const root = rootOf(ns);
      if (root === undefined) throw new FluxError(ENOTSUP);
      const a = await journal.append(namespaceTopic(ns, 'removed'), { namespace: ns }, entryCred(root));
      w.done.resolve(a.entry.seq);
    } catch (err) {
      w.done.reject(err);
    }
  }

  function commit(ns: string, flags: number, ops: Op[], cred: Cred, name: string, jobs?: unknown[]): Promise<CommitResult> {
    const { promise, done } = deferred<CommitResult>();
    submit(ns, { kind: 'commit', flags, ops, name, cred, done, alone: false, jobs });
    return promise;
  }

  /** the stored directory a new namespace starts from */
  function checkRoot(rootref: string): void {
    if (!isStoredDirectory(backing!.load(digestOf(hash, rootref)), rootref)) throw new FluxError(EINVAL, `${rootref} is not a directory`);
  }

  // ---- rank 0: a batch's objects and the history indexes, written in the journal's own transactions -------

  /** the oldest version of a namespace a compaction kept (0 when none was dropped) */
  let floorOf: (ns: string) => number = () => 0;
  let versionRoot: ((ns: string, rootseq: number) => { rootref: string; seq: number; time: number } | undefined) | undefined;

  if (store) {
    const db = store.database;
    db.exec(`CREATE TABLE IF NOT EXISTS kvs_version(namespace TEXT, rootseq INTEGER, seq INTEGER, time REAL, rootref TEXT,
        PRIMARY KEY(namespace, rootseq));
      CREATE TABLE IF NOT EXISTS kvs_key(namespace TEXT, key TEXT, rootseq INTEGER, PRIMARY KEY(namespace, key, rootseq));
      CREATE TABLE IF NOT EXISTS kvs_floor(namespace TEXT PRIMARY KEY, rootseq INTEGER NOT NULL);`);
    const putVersion = db.prepare('INSERT OR REPLACE INTO kvs_version(namespace, rootseq, seq, time, rootref) VALUES (?, ?, ?, ?, ?)');
    const putKey = db.prepare('INSERT OR IGNORE INTO kvs_key(namespace, key, rootseq) VALUES (?, ?, ?)');
    const dropVersions = db.prepare('DELETE FROM kvs_version WHERE namespace = ?');
    const dropKeys = db.prepare('DELETE FROM kvs_key WHERE namespace = ?');
    const getVersion = db.prepare('SELECT rootref, seq, time FROM kvs_version WHERE namespace = ? AND rootseq = ?');
    const putFloor = db.prepare('INSERT OR REPLACE INTO kvs_floor(namespace, rootseq) VALUES (?, ?)');
    const dropFloor = db.prepare('DELETE FROM kvs_floor WHERE namespace = ?');
    const getFloor = db.prepare('SELECT rootseq FROM kvs_floor WHERE namespace = ?').pluck();
    // the journal's start moved: a namespace's versions before the one it had there are compacted (their objects
    // go). Their index rows stay, a few dozen bytes a version, so that a read of one is told which version is gone
    store.addRetireHook((_first, saved) => {
      for (const r of namespaceList(kvsProjection.load(saved[KVS]))) putFloor.run(r.namespace, r.rootseq);
    });
    floorOf = (ns) => Number(getFloor.get(ns) ?? 0);
    store.addIndexer((entry: Entry) => {
      if (!isKvsEntry(entry)) return;
      const p = entry.payload as { namespace?: unknown; rootseq?: unknown; rootref?: unknown; keys?: unknown } | null;
      const ns = p?.namespace;
      if (typeof ns !== 'string') return;
      if (entry.topic === namespaceTopic(ns, 'setroot')) {
        const blobs = unstored.get(unstoredKey(ns, p!.rootseq));
        if (blobs) for (const b of blobs) backing!.store(b);
      }
      if (entry.topic === namespaceTopic(ns, 'setroot') || entry.topic === namespaceTopic(ns, 'created')) {
        putVersion.run(ns, p!.rootseq, entry.seq, entry.time, p!.rootref);
        if (Array.isArray(p!.keys)) for (const k of p!.keys) putKey.run(ns, k, p!.rootseq);
      } else if (entry.topic === namespaceTopic(ns, 'removed')) {
        // a namespace made again under the same name starts again at rootseq 0: the old versions would collide
        dropVersions.run(ns);
        dropKeys.run(ns);
        dropFloor.run(ns);
      }
    });
    versionRoot = (ns, rootseq) => getVersion.get(ns, rootseq) as { rootref: string; seq: number; time: number } | undefined;
  }

  // ---- rank 0: flux-core's checkpoints of the primary namespace -----------------------------------------------

  /** the root the newest checkpt_v2 row names, so that an unchanged root is not written again */
  let checkpointed: string | undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;

  /**
   * A checkpt_v2 row for primary's current root, in flux-core's form ({version, rootref, sequence, timestamp}),
   * as flux-core's KVS writes one on unload, after a SYNC commit and every kvs.checkpoint-period. The journal
   * stays the truth; these rows are what `flux content checkpoint list` shows, what `flux dump --checkpoint`
   * reads, and what `-S content.restore=N` returns to. The root's objects are durable before the projection
   * holds it: they are written in the setroot entry's transaction.
   */
  function writeCheckpoint(): void {
    const root = rootOf(PRIMARY)!;
    const key = `${root.rootseq} ${root.rootref}`;
    if (key === checkpointed) return;
    backing!.checkpointPut({ version: 1, rootref: root.rootref, sequence: root.rootseq, timestamp: Date.now() / 1000 });
    checkpointed = key;
  }

  /**
   * `-S content.restore=N`: primary goes back to the root of checkpoint N (0 = the newest, as `flux content
   * checkpoint list` numbers them) by a new setroot entry that replaces the root. The journal is kept and versions
   * keep counting up: going back is itself a change, recorded like any other.
   */
  async function restoreCheckpoint(spec: string): Promise<void> {
    const list = backing!.checkpointGet();
    const n = Number(spec);
    const cp = list[n] as { rootref?: unknown } | undefined;
    if (cp === undefined) throw new FluxError(ENOENT, `content.restore=${spec}: there are ${list.length} checkpoints`);
    const ref = typeof cp === 'string' ? cp : cp.rootref;
    if (typeof ref !== 'string') throw new FluxError(EPROTO, `content.restore=${spec}: the checkpoint names no root`);
    if (rootOf(PRIMARY)!.rootref === ref) return;
    const r = await replaceRoot(ref, `restore.checkpoint-${n}`);
    host.log(6, 'kvs', `restored primary from checkpoint ${n} (${ref}) as version ${r.rootseq}`);
  }

  /**
   * `-S content.restore=PATH`: primary's tree is replaced by an archive's (tar or gzipped tar, flux-core's layout),
   * as `flux restore --checkpoint` does on a running instance; its blobs are stored in transactions of
   * RESTORE_BATCH before the setroot entry names them.
   */
  async function restoreArchive(path: string): Promise<void> {
    // loaded here: only a rank 0 started from an archive reads one
    const [{ readTar }, { TreeBuilder, addEntry }, { archiveSource }] = await Promise.all([
      import('../core/tar.js'), import('../core/kvs-archive.js'), import('../core/archive-file.js'),
    ]);
    const tree = new TreeBuilder();
    let batch: Buffer[] = [];
    const store = (blob: Buffer) => {
      batch.push(blob);
      return blobrefOf(hash, blob);
    };
    const flushBatch = () => {
      backing!.storeMany(batch);
      batch = [];
    };
    for await (const e of readTar(archiveSource(path))) {
      const outcome = addEntry(tree, e, store);
      if (outcome !== undefined && 'skipped' in outcome) host.log(4, 'kvs', `content.restore: ${outcome.skipped}`);
      if (batch.length >= RESTORE_BATCH) flushBatch();
    }
    const ref = tree.finish(store);
    flushBatch();
    const r = await replaceRoot(ref, 'restore.archive');
    host.log(6, 'kvs', `restored primary from ${path} (${tree.entries} keys) as version ${r.rootseq}`);
  }

  /** a commit that makes `ref` (a stored directory) primary's root: an op on "." */
  function replaceRoot(ref: string, name: string): Promise<CommitResult> {
    const cred = { userid: instanceOwner, rolemask: ROLE_OWNER };
    return commit(PRIMARY, TXN_SYNC, [{ key: '.', flags: 0, dirent: dirref(ref) }], cred, name);
  }

  // ---- requests ----------------------------------------------------------------------------------------------------

  /** what a commit must pass where it arrives, and again at rank 0 with the credentials it was relayed with */
  async function admit(body: Record<string, unknown>, cred: Cred): Promise<{ ns: string; flags: number; ops: Op[] }> {
    const ns = body.namespace as string;
    const flags = body.flags as number;
    const ops = body.ops as Op[];
    if (flags & ~TXN_FLAGS) throw new FluxError(EINVAL, `unknown commit flags 0x${flags.toString(16)}`);
    checkAccess(cred, await known(ns));
    checkGuestOps(cred, ops);
    return { ns, flags, ops };
  }

  /** the root a lookup resolves under: the namespace's current one, or the snapshot it names (rootdir) */
  async function lookupRoot(msg: Message, body: Record<string, unknown>): Promise<{ ns: string; cred: Cred; rootref: string; rootseq: number }> {
    const cred = credOf(msg);
    const ns = (body.namespace as string | undefined) ?? PRIMARY;
    const root = await known(ns);
    checkAccess(cred, root);
    if (body.rootdir === undefined) return { ns, cred, rootref: root.rootref, rootseq: root.rootseq };
    const t = checkTreeObj(body.rootdir, EINVAL);
    if (t.type !== 'dirref') throw new FluxError(EINVAL, 'rootdir must be a dirref');
    return { ns, cred, rootref: t.data[0]!, rootseq: (body.rootseq as number | undefined) ?? 0 };
  }

  const def: ModuleDef = {
    name: 'kvs',
    start: async () => {
      unsubscribe = journal.onApply(applied);
      // the root primary starts from, and every namespace created without one (a past state served read-only
      // has it from the run that wrote it, and restores nothing)
      if (host.rank === 0 && !journal.readOnly) {
        backing!.store(EMPTY_DIR_BLOB);
        const newest = backing!.checkpointGet()[0] as { rootref?: unknown; sequence?: unknown } | undefined;
        if (newest !== undefined) checkpointed = `${String(newest.sequence)} ${String(newest.rootref)}`;
        const restore = opts.restore;
        // flux-core's attribute names an archive; an index (what checkpoint list prints) names a checkpoint
        if (restore !== undefined) await (/^\d+$/.test(restore) ? restoreCheckpoint(restore) : restoreArchive(restore));
        if (!host.attrs.has('kvs.checkpoint-period')) host.attrs.define('kvs.checkpoint-period', '0', ATTR_RUNTIME);
        const period = parseFSD(host.attrs.get('kvs.checkpoint-period') ?? '0');
        if (period > 0 && Number.isFinite(period)) {
          checkpointTimer = setInterval(() => {
            try {
              writeCheckpoint();
            } catch (err) {
              host.log(3, 'kvs', `checkpoint failed: ${(err as Error).message}`);
            }
          }, period * 1000);
          checkpointTimer.unref();
        }
      }
    },
    stop: async () => {
      // what was accepted is applied and journaled before the journal goes
      await Promise.all(draining.values());
      await Promise.all(answering);
      clearInterval(checkpointTimer);
      // an instance serving a past state writes nothing, a checkpoint included
      if (host.rank === 0 && !journal.readOnly) writeCheckpoint();
      unsubscribe?.();
      clearInterval(recheck);
      for (const list of versionWaiters.values()) {
        for (const w of list) host.respondError(w.msg, new FluxError(ENOSYS, 'the kvs module is unloading'));
      }
      versionWaiters.clear();
    },
    handlers: [
      {
        topic: 'kvs.commit',
        allow: ROLE_USER,
        schema: COMMIT_SCHEMA,
        handler: async (msg, body) => {
          const cred = credOf(msg);
          const { ns, flags, ops } = await admit(body!, cred);
          const name = `commit.${host.rank}.${++commitCount}`;
          const jobs = body!.jobs as unknown[] | undefined;
          // job events are the job manager's, on rank 0: a request that came from outside this broker carries a route
          if (jobs !== undefined && (host.rank !== 0 || ns !== PRIMARY || (msg.routes?.length ?? 0) > 0)) {
            throw new FluxError(EPERM, 'job events are committed by the job manager only');
          }
          let r: CommitResult;
          if (host.rank === 0) {
            r = await commit(ns, flags, ops, cred, name, jobs);
          } else {
            const resp = await host.rpc('kvs.relaycommit', { namespace: ns, flags, ops, name, ...cred }, { nodeid: 0 });
            r = payloadJson(resp) as unknown as CommitResult;
            await waitSeq(r.seq);
          }
          host.respond(msg, { rootref: r.rootref, rootseq: r.rootseq });
        },
      },
      {
        // a commit from a broker below, made on behalf of its client (whose credentials it carries)
        topic: 'kvs.relaycommit',
        schema: RELAY_SCHEMA,
        handler: async (msg, body) => {
          if (host.rank !== 0) throw new FluxError(EPROTO, 'kvs.relaycommit is served by rank 0');
          const cred = { userid: body!.userid as number, rolemask: body!.rolemask as number };
          const { ns, flags, ops } = await admit(body!, cred);
          const r = await commit(ns, flags, ops, cred, body!.name as string);
          host.respond(msg, { ...r });
        },
      },
      {
        topic: 'kvs.lookup',
        allow: ROLE_USER,
        schema: LOOKUP_SCHEMA,
        handler: async (msg, body) => {
          await session(msg, body!);
          const at = await lookupRoot(msg, body!);
          const val = await lookup(at.rootref, body!.key as string, body!.flags as number, reader(at.cred), at.ns);
          host.respond(msg, { val });
        },
      },
      {
        topic: 'kvs.lookup-plus',
        allow: ROLE_USER,
        schema: LOOKUP_SCHEMA,
        handler: async (msg, body) => {
          await session(msg, body!);
          const at = await lookupRoot(msg, body!);
          let val: TreeObj;
          try {
            val = await lookup(at.rootref, body!.key as string, body!.flags as number, reader(at.cred), at.ns);
          } catch (err) {
            // a missing key is an answer here (kvs-watch waits for it to appear), with the root it is missing from
            if (!(err instanceof FluxError) || err.errno !== ENOENT) throw err;
            host.respond(msg, { errno: ENOENT, rootseq: at.rootseq, rootref: at.rootref });
            return;
          }
          host.respond(msg, { val, rootseq: at.rootseq, rootref: at.rootref });
        },
      },
      {
        topic: 'kvs.getroot',
        allow: ROLE_USER,
        schema: NAMESPACE_SCHEMA,
        handler: async (msg, body) => {
          await session(msg, body!);
          const ns = body!.namespace as string;
          const root = await known(ns);
          checkAccess(credOf(msg), root);
          host.respond(msg, { owner: root.owner, rootseq: root.rootseq, rootref: root.rootref, flags: root.flags, namespace: ns });
        },
      },
      {
        topic: 'kvs.wait-version',
        allow: ROLE_USER,
        schema: VERSION_SCHEMA,
        handler: async (msg, body) => {
          const ns = body!.namespace as string;
          const want = body!.rootseq as number;
          const root = await known(ns);
          checkAccess(credOf(msg), root);
          let list = versionWaiters.get(ns);
          if (!list) {
            list = [];
            versionWaiters.set(ns, list);
          }
          list.push({ msg, rootseq: want, sender: senderOf(msg) });
          // the root may have moved while known() waited
          wakeVersions(ns);
          if (host.rank > 0 && versionWaiters.size > 0) watchHead();
        },
      },
      {
        topic: 'kvs.namespace-create',
        schema: CREATE_SCHEMA,
        handler: async (msg, body) => {
          if (host.rank > 0) return relayed(msg, 'kvs.namespace-create', body!);
          const ns = body!.namespace as string;
          const rootref = body!.rootref as string;
          const owner = (body!.owner as number) >>> 0;
          checkRoot(rootref);
          const { promise, done } = deferred<number>();
          submit(ns, {
            kind: 'create',
            root: { rootseq: 0, rootref, owner: owner === USERID_UNKNOWN ? instanceOwner : owner, flags: body!.flags as number },
            done,
          });
          await promise;
          host.respond(msg);
        },
      },
      {
        topic: 'kvs.namespace-remove',
        schema: NAMESPACE_SCHEMA,
        handler: async (msg, body) => {
          if (host.rank > 0) return relayed(msg, 'kvs.namespace-remove', body!);
          const ns = body!.namespace as string;
          if (ns === PRIMARY) throw new FluxError(EINVAL, 'the primary namespace cannot be removed');
          const { promise, done } = deferred<number>();
          submit(ns, { kind: 'remove', done });
          await promise;
          host.respond(msg);
        },
      },
      {
        // flux-core's client sends this one without a payload
        topic: 'kvs.namespace-list',
        handler: async (msg) => {
          if (host.rank > 0) await catchUp();
          host.respond(msg, {
            namespaces: listNamespaces().map((r) => ({ namespace: r.namespace, owner: r.owner, flags: r.flags })),
          });
        },
      },
      {
        // a past version's root, from rank 0's index (--at-version and history build on it)
        topic: 'kvs.version-root',
        allow: ROLE_USER,
        schema: VERSION_SCHEMA,
        handler: async (msg, body) => {
          const ns = body!.namespace as string;
          const cred = credOf(msg);
          if (!(cred.rolemask & ROLE_OWNER)) checkAccess(cred, await known(ns));
          if (host.rank > 0) {
            const resp = await host.rpc('kvs.version-root', body, { nodeid: 0 });
            host.respond(msg, payloadJson(resp));
            return;
          }
          const rootseq = body!.rootseq as number;
          if (rootseq < floorOf(ns)) throw compactedError(rootseq);
          // primary's first version is the empty directory it starts at, older than any entry
          const v = ns === PRIMARY && rootseq === 0 ? { rootref: primaryAtStart.rootref, seq: 0, time: 0 } : versionRoot?.(ns, rootseq);
          // the index may hold versions past the journal's head when this instance serves a past state
          if (v === undefined || v.seq > journal.head().seq) throw new FluxError(ENOENT);
          host.respond(msg, { rootref: v.rootref, seq: v.seq, time: v.time });
        },
      },
    ],
    disconnect: (sender) => {
      caughtUp.delete(sender);
      for (const [ns, list] of versionWaiters) {
        const keep = list.filter((w) => w.sender !== sender);
        if (keep.length > 0) versionWaiters.set(ns, keep);
        else versionWaiters.delete(ns);
      }
    },
    stats: () => ({
      commits: commitCount,
      batches: batchCount,
      namespaces: listNamespaces().length,
      // per namespace, what flux-core's tests wait on: readers waiting for a version, writes queued (rank 0)
      namespace: Object.fromEntries(listNamespaces().map((r) => [r.namespace, {
        '#versionwaiters': versionWaiters.get(r.namespace)?.length ?? 0,
        '#transactions': queues.get(r.namespace)?.length ?? 0,
      }])),
      'cache-objects': cache.count,
      'cache-bytes': cache.bytes,
    }),
  };
  return def;
}
