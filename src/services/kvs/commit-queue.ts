// Rank 0, the only writer: commits to a namespace are queued, adjacent mergeable ones applied as one batch to the
// current root, the new objects kept aside, and ONE journal entry kvs.namespace-<ns>-setroot made per batch;
// committers are answered once that entry is durable. Namespace creation and removal go through the same queue.
import { FluxError, EEXIST, ENOTSUP, EPERM } from '../../core/errors.js';
import { FLAG_PRIVATE, ROLE_OWNER, ROLE_USER } from '../../core/wire/message.js';
import { NAMESPACE_DENIED } from '../../core/access/roles.js';
import { blobref, digestOf, hashBlob } from '../../core/content/blobref.js';
import { arrayPieces, canonicalWith } from '../../core/journal/entry.js';
import {
  type AppliedOps, type Op, type WriteAccess, applyOps, TXN_NO_MERGE, TXN_SYNC,
} from '../../core/kvs/tree.js';
import { type NamespaceRoot, ENTRY_KVS, PRIMARY, namespaceTopic } from '../../projections/kvs.js';
import type { Credential } from '../journal.js';
import { type Cred, mayUse } from './access.js';
import { type Deferred, type KvsContext, deferred } from './context.js';

/** ops one batch may hold: applying a batch is synchronous, and must not hold the event loop for long */
const BATCH_OPS_MAX = 10_000;

export interface CommitResult {
  rootref: string;
  rootseq: number;
  /** the journal seq of the setroot entry: a broker below answers once its projection has it */
  seq: number;
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

/** an object a batch made: its bytes, and their digest, made as the batch named it */
export interface Unstored {
  blob: Buffer;
  digest: Buffer;
}

export interface CommitQueue {
  commit(ns: string, flags: number, ops: Op[], cred: Cred, name: string, jobs?: unknown[]): Promise<CommitResult>;
  /** resolves to the seq of the namespace's created entry */
  create(ns: string, root: NamespaceRoot): Promise<number>;
  /** resolves to the seq of the namespace's removed entry */
  remove(ns: string): Promise<number>;
  /** the objects of a batch whose setroot entry is being written, for the journal's transaction to store */
  unstored(ns: string, rootseq: unknown): Unstored[] | undefined;
  /** writes queued for a namespace */
  queued(ns: string): number;
  /** batches answered so far */
  batches(): number;
  /** resolves once what was accepted is applied, journaled and answered */
  settle(): Promise<void>;
}

/** `checkpointPrimary` runs after a SYNC commit to primary has been checkpointed in the journal */
export function commitQueue(ctx: KvsContext, checkpointPrimary: () => void): CommitQueue {
  const { journal, backing, hash, cache, rootOf, instanceOwner } = ctx;
  const queues = new Map<string, Work[]>();
  const draining = new Map<string, Promise<void>>();
  /**
   * the objects a batch made, by namespace and rootseq, until the journal's transaction that holds its setroot
   * entry stores them too (the history index's indexer): blobs and entry are durable together, or not at all
   */
  const unstored = new Map<string, Unstored[]>();
  const unstoredKey = (ns: string, rootseq: unknown) => `${ns}\n${String(rootseq)}`;
  let batchCount = 0;

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

  /** one namespace's writes, strictly in order */
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
  function writer(pending: Map<string, Unstored>): WriteAccess {
    return {
      cache,
      load: (ref) => pending.get(ref)?.blob ?? backing!.load(digestOf(hash, ref)),
      store: (blob) => {
        const digest = hashBlob(hash, blob);
        const ref = blobref(hash, digest);
        pending.set(ref, { blob, digest });
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
    const pending = new Map<string, Unstored>();
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
    const payload = {
      namespace: ns, rootseq, rootref: result.rootref, names: ok.map((c) => c.name), keys: result.keys,
      ops: result.ops, owner: root.owner, ...(jobs.length > 0 ? { jobs } : {}),
    };
    const appended = journal.append(namespaceTopic(ns, 'setroot'), payload, entryCred(root), {
      // an array of strings is canonical text as JSON.stringify writes it
      payloadText: canonicalWith(payload, { ops: result.opsText, keys: arrayPieces(result.keys) }),
      written: () => {
        tips.set(ns, { rootseq, rootref: result.rootref });
        unstored.delete(key);
        wrote();
      },
    });
    const answered = (async () => {
      try {
        const a = await appended;
        if (flags & TXN_SYNC) {
          await journal.checkpoint();
          if (ns === PRIMARY) checkpointPrimary();
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

  return {
    commit: (ns, flags, ops, cred, name, jobs) => {
      const { promise, done } = deferred<CommitResult>();
      submit(ns, { kind: 'commit', flags, ops, name, cred, done, alone: false, jobs });
      return promise;
    },
    create: (ns, root) => {
      const { promise, done } = deferred<number>();
      submit(ns, { kind: 'create', root, done });
      return promise;
    },
    remove: (ns) => {
      const { promise, done } = deferred<number>();
      submit(ns, { kind: 'remove', done });
      return promise;
    },
    unstored: (ns, rootseq) => unstored.get(unstoredKey(ns, rootseq)),
    queued: (ns) => queues.get(ns)?.length ?? 0,
    batches: () => batchCount,
    settle: async () => {
      await Promise.all(draining.values());
      await Promise.all(answering);
    },
  };
}
