// The journal service. On rank 0 it is the sequencer: every state change becomes an entry, entries made in one
// turn of the event loop are committed in one sqlite transaction, and once that transaction is on disk (synced,
// when a sync is given) they are applied, sent down the tree and acknowledged (acknowledged => durable). The
// next transactions commit while a sync is under way, and one sync covers them all (group commit). On every rank it is a replica: entries are applied
// strictly in sequence; a gap, a restart or a late join is repaired from the parent (journal.fetch), and a
// broker that joins starts from its parent's snapshot.
import { FluxError, EPROTO, ENOENT, EAGAIN, EBUSY, EEXIST, EINVAL, EIO, EPERM, EROFS } from '../core/errors.js';
import {
  Message, MSGTYPE_EVENT, FLAG_PRIVATE, ROLE_ALL, ROLE_USER, makeEvent, USERID_UNKNOWN, ROLE_OWNER, payloadJson, withBody,
} from '../core/wire/message.js';
import {
  type Entry, type JsonPieces, ENTRY_RAW, canonical, checkpointMessage, decodeEntry, encodeEntry, entryPayloadBytes,
} from '../core/journal/entry.js';
import type { Reader } from '../core/access/visibility.js';
import { type JournalStore, type Head, type Checkpoint, type NewEntry, compactedError } from '../core/journal/store.js';
import { EMPTY_DIR_BLOB } from '../core/kvs/tree.js';
import type { Signer } from '../core/journal/signing.js';
import { Recent } from '../core/journal/recent.js';
import { blobrefOf, checkHashName } from '../core/content/blobref.js';
import { ownBytes } from '../core/wire/own-bytes.js';
import { ReplicaOrder, type Applied } from '../core/journal/replica.js';
import { packEntries, unpackEntries } from '../core/journal/entry-batch.js';
import { SyncPolicy } from '../core/journal/sync-policy.js';
import type { Projection } from '../projections/projection.js';
import { JOBTABLE, type JobTable, applyEntry, initialTable, jobOf } from '../projections/jobs.js';
import { entryView, jobsNamed } from '../projections/entry-view.js';
import { ATTR_RUNTIME } from './attrs.js';
import type { ModuleDef, ModuleHost } from './module.js';
import { Followers } from './followers.js';

/** the topic of the message that carries an entry down the tree (payload: the entry's canonical bytes) */
export const JOURNAL_ENTRY_TOPIC = 'journal.entry';
/** the topic of the message that carries entries applied together down the tree (payload: packEntries) */
export const JOURNAL_ENTRIES_TOPIC = 'journal.entries';
/** the most entry bytes one journal.entries message carries (an entry larger than this goes alone) */
const BATCH_BYTES = 1 << 20;
/** entries one journal.list request of a guest reads to check them */
const GUEST_LIST_SCAN = 4096;
/**
 * entries kept in memory on every rank, to repair children without going to rank 0, and their bytes at most: 8,192
 * entries of a wide commit's size (~1 MiB for 10,000 keys) would be gigabytes
 */
const RING = 8192;
const RING_BYTES = 16 << 20;
/** how often a replica compares its head with its parent's, to notice entries lost at the tail */
const TAIL_CHECK_MS = 1000;
/** the most entries one journal.fetch answers with */
const FETCH_MAX = 1000;
/** the entry rank 0 makes when the journal's start moves: every replica then refuses what is below it too */
export const COMPACTED_TOPIC = 'journal.compacted';
/** index rows deleted between turns of the event loop while compacting */
const COMPACT_CHUNK = 2000;
/** entries replayed between turns, when a snapshot is made at a past seq */
const REPLAY_CHUNK = 200;
/**
 * Every KEEP_EVERY entries the projections' states are kept in memory, for the last RING entries: a past state
 * of the recent journal (flux jobs --at-seq just now) is then the kept state at or below it plus at most
 * KEEP_EVERY entries from the ring, not a snapshot read from sqlite plus thousands. The states are immutable and
 * share what did not change, so keeping them costs little.
 */
const KEEP_EVERY = 64;
/** and every KEEP_FAR entries for the last KEEP_FAR * KEPT_FAR, the entries between read from sqlite (rank 0) */
const KEEP_FAR = 1024;
const KEPT_FAR = 64;

export interface CompactResult {
  /** the journal's first entry now */
  first: number;
  /** index rows deleted */
  dropped: number;
  /** objects found reachable, and deleted */
  marked: number;
  deleted: number;
}

export type { Applied };

export interface Credential {
  userid: number;
  rolemask: number;
  /** message flags: PRIVATE */
  flags?: number;
}

export interface JournalOptions {
  /** rank 0 only: where entries are kept */
  store?: JournalStore;
  /** rank 0 only: signs checkpoints; made on first use (the curve code is not loaded until a checkpoint) */
  signer?: () => Promise<Signer>;
  /** rank 0 only: snapshots are stored as blobs */
  storeBlob?: (blob: Buffer) => string;
  loadBlob?: (ref: string) => Buffer;
  projections: Projection[];
  /** set when the instance serves a past state: why appends are refused (EROFS) */
  readOnly?: string;
  /**
   * rank 0: puts every transaction committed before the call on disk; entries are applied and acknowledged only
   * after it. Without it they are once their transaction has committed (they survive the broker being killed, not
   * a power loss).
   */
  sync?: () => Promise<void>;
  /**
   * with `sync`: the same sync made on the calling thread, and how many messages the broker has received; a
   * sync runs this way while nothing else arrives during syncs (src/core/journal/sync-policy.ts)
   */
  syncNow?: () => void;
  arrivals?: () => number;
}

export interface AppendOptions {
  /** the payload is a base64 string of raw bytes (ENTRY_RAW) */
  raw?: boolean;
  /**
   * told as soon as the entry's transaction has committed: an entry made after that is sure to follow it (a
   * writer may build on it before it is durable, and answer its own clients after)
   */
  written?: (a: Applied) => void;
  /** canonical(payload), when the maker wrote it as it made the payload */
  payloadText?: JsonPieces;
}

export interface JournalService {
  def: ModuleDef;
  /** rank 0: make a new entry; resolves once it is durable and applied here */
  append(topic: string, payload: unknown, cred: Credential, opts?: AppendOptions): Promise<Applied>;
  /** every entry applied on this rank, in order */
  onApply(fn: (a: Applied) => void): () => void;
  head(): Head;
  /** the instance serves a past state: nothing can be appended */
  readonly readOnly: boolean;
  state<S>(name: string): S;
  /** rank 0: one projection's state after entry `seq`, from the nearest snapshot at or before it */
  stateAt<S>(name: string, seq: number): Promise<S>;
  /** rank 0: when entry `seq` was made (0 for seq 0) */
  timeAt(seq: number): number;
  /** rank 0: the last entry made at or before `time` (0 if none) */
  seqAtTime(time: number): number;
  /** rank > 0, after hello: start from the parent's snapshot */
  sync(): Promise<void>;
  /** write a signed checkpoint of the current head (rank 0) */
  checkpoint(): Promise<void>;
  /** rank 0: drop the entries below `before`, keeping a snapshot there, and the objects only they reached */
  compact(before: number): Promise<CompactResult>;
  /**
   * A loaded module's projection: built from every entry the journal still holds (from its start: what a compaction
   * dropped is gone), then applied with the others. Resolves once it has caught up with the head.
   */
  addProjection(p: Projection): Promise<void>;
  removeProjection(name: string): void;
  /** the topic is a loaded module's own (its projection reads it): clients may not publish it */
  reserves(topic: string): boolean;
}

interface Pending {
  item: NewEntry;
  resolve: (a: Applied) => void;
  reject: (e: Error) => void;
  written?: (a: Applied) => void;
}

export function journalModule(host: ModuleHost, opts: JournalOptions): JournalService {
  const { store } = opts;
  const hashName = () => host.attrs.get('content.hash') ?? 'sha256';
  let head: Head = { seq: 0, ref: null };
  /** rank 0: the last entry committed to sqlite, which may not be synced and applied yet */
  let tip: Head = head;
  /** the release of the newest committed batch, which comes after those of every batch before it */
  let releasing: Promise<void> = Promise.resolve();
  /** committed batches not released yet */
  let unreleased = 0;
  /** a sync failed: what the disk holds is no longer known, and nothing more is appended until a restart */
  let syncFailed: FluxError | undefined;
  const syncPolicy = opts.syncNow && opts.arrivals ? new SyncPolicy(opts.arrivals) : undefined;
  /** group commits synced on the event loop's thread and on libuv's */
  const syncs = { on_loop: 0, on_thread: 0 };
  let states = new Map<string, unknown>(opts.projections.map((p) => [p.name, p.initial()]));
  /**
   * Projections modules added at run time, apart from the built-in ones: they are in no snapshot and no kept
   * state, and past states are not worked out for them
   */
  const added = new Map<string, { p: Projection; state: unknown }>();
  /**
   * the last entries as stored (RING of them, RING_BYTES at most), decoded again when a past state needs them:
   * held parsed, a wide commit's entry is tens of thousands of objects that every full collection would walk
   */
  const ring = new Recent<{ ref: string; blob: Buffer }>(RING, RING_BYTES, (r) => r.blob.length);
  /** states after seqs n * KEEP_EVERY, numbered n */
  const kept = new Recent<Map<string, unknown>>(RING / KEEP_EVERY);
  /** states after seqs n * KEEP_FAR, numbered n */
  const keptFar = new Recent<Map<string, unknown>>(KEPT_FAR);
  const listeners = new Set<(a: Applied) => void>();
  const followers = new Followers(host);
  let batch: Pending[] = [];
  let flushScheduled = false;
  let synced = host.rank === 0;
  const waitingSync: Array<() => void> = [];
  let repairing = false;
  let tailTimer: NodeJS.Timeout | undefined;
  let lastCheckpointSeq = 0;
  let checkpointing = false;
  let lastTime = 0;
  let checkpointTimer: NodeJS.Timeout | undefined;
  /** the oldest seq this rank answers for: rank 0's journal start, or the last compaction entry applied */
  let floor = store?.expectedFirst() ?? 1;
  let compacting: Promise<CompactResult> | undefined;
  let stopping = false;
  /** entries from the parent thrown away on purpose (journal.drop-fraction): a fault test counts them */
  let dropped = 0;
  /** what came from the parent: messages, and the entries in them (several to a message where applied together) */
  const fromAbove = { messages: 0, entries: 0 };

  if (!host.attrs.has('journal.drop-fraction')) host.attrs.define('journal.drop-fraction', '0', ATTR_RUNTIME);
  if (!host.attrs.has('journal.checkpoint-period')) host.attrs.define('journal.checkpoint-period', '30', ATTR_RUNTIME);
  if (!host.attrs.has('journal.checkpoint-entries')) host.attrs.define('journal.checkpoint-entries', '10000', ATTR_RUNTIME);
  // keep at most this many entries (0: all); applied when a checkpoint is written
  if (!host.attrs.has('journal.retain')) host.attrs.define('journal.retain', '0', ATTR_RUNTIME);

  const owner = Number(host.attrs.get('security.owner') ?? USERID_UNKNOWN);
  const refOf = (blob: Buffer) => blobrefOf(checkHashName(hashName()), blob);
  /** the replica's ordering (ranks > 0): holds what arrives until the starting snapshot is known */
  const order = new ReplicaOrder(head, refOf, { holding: host.rank > 0 });

  function applyLocal(a: Applied): void {
    const jobsBefore = states.get(JOBTABLE) as JobTable | undefined;
    if (a.entry.topic === COMPACTED_TOPIC) floor = Math.max(floor, Number((a.entry.payload as { first?: unknown } | null)?.first) || 1);
    for (const p of opts.projections) states.set(p.name, p.apply(states.get(p.name), a.entry, a.ref));
    for (const x of added.values()) x.state = applyGuarded(x.p, x.state, a);
    head = { seq: a.entry.seq, ref: a.ref };
    ring.push(a.entry.seq, { ref: a.ref, blob: a.blob });
    if (a.entry.seq % KEEP_EVERY === 0) kept.push(a.entry.seq / KEEP_EVERY, new Map(states));
    if (store && a.entry.seq % KEEP_FAR === 0) keptFar.push(a.entry.seq / KEEP_FAR, new Map(states));
    const ev = entryEvent(a.entry);
    ev.userid = a.entry.userid;
    ev.rolemask = a.entry.rolemask;
    host.deliverEvent(ev);
    if (followers.size > 0) {
      followers.sendEach((req) => {
        const v = entryView(req, a.entry, (id) => (jobsBefore ? jobOf(jobsBefore, id)?.userid : undefined));
        return v && { entry: v as unknown as Record<string, unknown>, ref: a.ref };
      });
    }
    for (const fn of listeners) fn(a);
  }

  /**
   * entries applied together (a group commit, what one message from the parent held) go down together, in
   * messages of at most BATCH_BYTES (a replica catching up may apply thousands at once)
   */
  function sendDown(applied: readonly Applied[]): void {
    let from = 0;
    while (from < applied.length) {
      let to = from + 1;
      let bytes = applied[from]!.blob.length;
      while (to < applied.length && bytes + applied[to]!.blob.length <= BATCH_BYTES) bytes += applied[to++]!.blob.length;
      const last = applied[to - 1]!;
      const wire = to - from === 1
        ? makeEvent(JOURNAL_ENTRY_TOPIC, last.blob, last.entry.seq)
        : makeEvent(JOURNAL_ENTRIES_TOPIC, packEntries(applied.slice(from, to).map((a) => a.blob)), last.entry.seq);
      wire.userid = owner;
      wire.rolemask = ROLE_OWNER;
      host.sendDown(wire);
      from = to;
    }
  }

  function applyAll(applied: readonly Applied[]): void {
    for (const a of applied) applyLocal(a);
    sendDown(applied);
  }

  // ---- rank 0: the sequencer ----

  function append(topic: string, payload: unknown, cred: Credential, how: AppendOptions = {}): Promise<Applied> {
    if (opts.readOnly !== undefined) return Promise.reject(new FluxError(EROFS, opts.readOnly));
    if (!store) return Promise.reject(new FluxError(EPROTO, 'journal entries are made on rank 0 only'));
    if (syncFailed) return Promise.reject(syncFailed);
    return new Promise((resolve, reject) => {
      batch.push({
        item: {
          time: 0, topic, userid: cred.userid, rolemask: cred.rolemask,
          flags: (cred.flags ?? 0) | (how.raw === true ? ENTRY_RAW : 0), payload,
          ...(how.payloadText !== undefined ? { payloadText: how.payloadText } : {}),
        },
        resolve, reject, ...(how.written ? { written: how.written } : {}),
      });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });
  }

  function flush(): void {
    flushScheduled = false;
    const items = batch;
    batch = [];
    // entry times never go back, even if the clock does: --at-time lookups rely on it
    const time = Math.max(Date.now() / 1000, lastTime);
    let applied: Applied[];
    try {
      if (syncFailed) throw syncFailed;
      applied = store!.appendBatch(tip, items.map((p) => ({ ...p.item, time })));
    } catch (err) {
      host.log(3, 'journal', `append of ${items.length} entries failed: ${(err as Error).message}`);
      for (const p of items) p.reject(err as Error);
      return;
    }
    lastTime = time;
    const last = applied[applied.length - 1]!;
    tip = { seq: last.entry.seq, ref: last.ref };
    for (let i = 0; i < applied.length; i++) items[i]!.written?.(applied[i]!);
    if (!opts.sync) {
      release(applied, items);
      return;
    }
    if (unreleased === 0 && syncPolicy?.onLoopNext()) {
      syncs.on_loop++;
      let failure: unknown;
      try {
        opts.syncNow!();
      } catch (err) {
        failure = err;
      }
      settle(applied, items, failure);
      return;
    }
    // each batch's sync starts at once, while earlier ones may still run (a commit then waits for one sync, not
    // for the end of one under way and then its own); batches are released in order all the same
    syncs.on_thread++;
    const ended = syncPolicy?.threadStarts();
    const synced = opts.sync();
    const before = releasing;
    unreleased++;
    releasing = (async () => {
      let failure: unknown;
      try {
        await synced;
      } catch (err) {
        failure = err;
      }
      ended?.();
      await before;
      unreleased--;
      settle(applied, items, failure);
    })();
  }

  /** a batch's sync is over: it is released, or its appends fail (and every one after them) */
  function settle(applied: Applied[], items: Pending[], failure: unknown): void {
    if (failure !== undefined && !syncFailed) {
      syncFailed = new FluxError(EIO, `${(failure as Error).message}: the journal takes no more entries until the instance restarts`);
      host.log(2, 'journal', syncFailed.message);
    }
    if (syncFailed) for (const p of items) p.reject(syncFailed);
    else release(applied, items);
  }

  function release(applied: Applied[], items: Pending[]): void {
    for (let i = 0; i < applied.length; i++) {
      applyLocal(applied[i]!);
      items[i]!.resolve(applied[i]!);
    }
    sendDown(applied);
    // bound what a restart replays: a snapshot at least every journal.checkpoint-entries entries
    if (head.seq - lastCheckpointSeq >= Number(host.attrs.get('journal.checkpoint-entries') ?? 10000) && !checkpointing) {
      checkpointing = true;
      checkpoint()
        .catch((err: unknown) => host.log(3, 'journal', `checkpoint failed: ${(err as Error).message}`))
        .finally(() => (checkpointing = false));
    }
  }

  async function checkpoint(): Promise<void> {
    if (!store || !opts.signer || head.seq === lastCheckpointSeq) return;
    const at = head;
    await writeCheckpoint(at, states);
    lastCheckpointSeq = at.seq;
    retain();
  }

  /** a signed checkpoint of `at`, with a snapshot of the projections' states there */
  async function writeCheckpoint(at: Head, st: Map<string, unknown>): Promise<{ checkpoint: Checkpoint; saved: Record<string, unknown> }> {
    const saved: Record<string, unknown> = {};
    for (const p of opts.projections) saved[p.name] = p.save(st.get(p.name));
    const blob = opts.storeBlob ? Buffer.from(canonical({ seq: at.seq, ref: at.ref, states: saved })) : undefined;
    const c = { seq: at.seq, ref: at.ref, time: Date.now() / 1000, snapshot: blob ? refOf(blob) : null };
    const signer = await opts.signer!();
    const sig = await signer.sign(checkpointMessage(c));
    // the snapshot is stored in the same turn as the checkpoint that names it: a collection that starts in
    // between (the signature is awaited) would find it named by nothing and could take it
    if (blob) opts.storeBlob!(blob);
    const id = store!.putCheckpoint({ ...c, pubkey: signer.publicKey, sig });
    return { checkpoint: { id, ...c, pubkey: signer.publicKey, sig }, saved };
  }

  /** journal.retain: after a checkpoint, drop what is older than the newest N entries */
  function retain(): void {
    const keep = Number(host.attrs.get('journal.retain')) || 0;
    if (!store || keep <= 0 || compacting || stopping || head.seq - store.expectedFirst() + 1 <= keep) return;
    compact(head.seq - keep + 1).catch((err: unknown) => host.log(3, 'journal', `compaction failed: ${(err as Error).message}`));
  }

  /**
   * The projections' states after entry `seq`: the newest snapshot at or before it, then the entries after. With
   * `only`, that projection's alone (each projection reads entries only, never another's state).
   */
  async function statesAt(seq: number, only?: Projection): Promise<Map<string, unknown>> {
    if (seq === head.seq) return new Map(states);
    const projections = only ? [only] : opts.projections;
    const recent = recentStates(seq, projections);
    if (recent) return recent;
    const cp = store!.checkpoints().find((c) => c.snapshot !== null && c.seq <= seq);
    let st: Map<string, unknown>;
    let from: number;
    if (cp) {
      st = loadSnapshot(cp.snapshot!, projections);
      from = cp.seq + 1;
    } else if (store!.expectedFirst() === 1) {
      st = new Map(projections.map((p) => [p.name, p.initial()]));
      from = 1;
    } else {
      throw new FluxError(ENOENT, `no snapshot at or before ${seq} to start from`);
    }
    for (let s = from; s <= seq; s++) {
      const { entry, ref } = store!.entry(s);
      for (const p of projections) st.set(p.name, p.apply(st.get(p.name), entry, ref));
      if ((s - from + 1) % REPLAY_CHUNK === 0) await new Promise((r) => setImmediate(r));
    }
    return st;
  }

  /**
   * The states after `seq` from a state kept in memory and the entries after it (from the ring, or on rank 0 from
   * sqlite), if one is kept that far back.
   */
  function recentStates(seq: number, projections: Projection[]): Map<string, unknown> | undefined {
    const near = kept.get(Math.floor(seq / KEEP_EVERY));
    const nearFrom = Math.floor(seq / KEEP_EVERY) * KEEP_EVERY + 1;
    const useRing = near !== undefined && (nearFrom > seq || ring.get(nearFrom) !== undefined);
    const base = useRing ? near : keptFar.get(Math.floor(seq / KEEP_FAR));
    const from = useRing ? nearFrom : Math.floor(seq / KEEP_FAR) * KEEP_FAR + 1;
    // a compaction may have dropped the entries after a state kept from before it
    if (base === undefined || (!useRing && (!store || from < store.expectedFirst()))) return undefined;
    const st = new Map(projections.map((p) => [p.name, base.get(p.name)]));
    for (let s = from; s <= seq; s++) {
      let entry: Entry;
      let ref: string;
      if (useRing) {
        const r = ring.get(s)!;
        entry = decodeEntry(r.blob);
        ref = r.ref;
      } else {
        ({ entry, ref } = store!.entry(s));
      }
      for (const p of projections) st.set(p.name, p.apply(st.get(p.name), entry, ref));
    }
    return st;
  }

  function loadSnapshot(ref: string, projections = opts.projections): Map<string, unknown> {
    const snap = JSON.parse(opts.loadBlob!(ref).toString('utf8')) as { states: Record<string, unknown> };
    return new Map(projections.map((p) => [p.name, snap.states[p.name] === undefined ? p.initial() : p.load(snap.states[p.name])]));
  }

  function timeAt(seq: number): number {
    return seq === 0 || !store ? 0 : store.row(seq)?.time ?? 0;
  }

  /**
   * The job table before entry `seq`, which knows whose the jobs an entry names are. Rank 0 works it out; a replica,
   * or rank 0 below its oldest snapshot, has the current table, which knows every job still kept (an owner never
   * changes): a job it no longer keeps is shown to nobody but the instance owner.
   */
  async function jobsBefore(seq: number): Promise<JobTable> {
    if (store && opts.projections.some((p) => p.name === JOBTABLE)) {
      try {
        return (await stateAt(JOBTABLE, seq - 1)) as JobTable;
      } catch (err) {
        host.log(7, 'journal', `job table before ${seq}: ${(err as Error).message}; the current one is used`);
      }
    }
    return (states.get(JOBTABLE) as JobTable | undefined) ?? initialTable();
  }

  /**
   * A reader's views of entries it reads in order of seq (src/projections/entry-view.ts). Whose a job is, the
   * current job table knows while it keeps the job (an owner never changes); for a job it no longer keeps, the
   * table before the entry is worked out once and kept up with the entries after. An entry skipped leaves a job it
   * submits unknown there, whose later events are then shown to nobody: never to the wrong user.
   */
  function viewer(reader: Reader): (e: Entry) => Promise<Entry | undefined> {
    let past: JobTable | undefined;
    return async (e) => {
      const current = (states.get(JOBTABLE) as JobTable | undefined) ?? initialTable();
      if (past === undefined && jobsNamed(reader, e).some((id) => jobOf(current, id) === undefined)) past = await jobsBefore(e.seq);
      const v = entryView(reader, e, (id) => jobOf(current, id)?.userid ?? (past ? jobOf(past, id)?.userid : undefined));
      if (past !== undefined) past = applyEntry(past, e);
      return v;
    };
  }

  /** one projection's state after `seq` (rank 0), with the checks journal.state-at answers with */
  async function stateAt(name: string, seq: number): Promise<unknown> {
    if (!store) throw new FluxError(EPROTO, 'past states are worked out on rank 0');
    const p = opts.projections.find((x) => x.name === name);
    if (!p) throw new FluxError(ENOENT, `no projection named ${name}`);
    if (seq > head.seq) throw new FluxError(EINVAL, `the journal ends at ${head.seq}`);
    if (store.expectedFirst() > 1 && !store.checkpoints().some((c) => c.snapshot !== null && c.seq <= seq)) {
      throw compactedError(seq);
    }
    return (await statesAt(seq, p)).get(name);
  }

  /**
   * Rank 0: keep a snapshot at `before` (made if there is none), move the journal's start there, delete the
   * index rows below in chunks and collect the objects nothing kept reaches. Asked again at the current start,
   * it finishes a compaction a restart interrupted.
   */
  function compact(before: number): Promise<CompactResult> {
    if (!store || !opts.signer || !opts.loadBlob) return Promise.reject(new FluxError(EPROTO, 'the journal is compacted on rank 0'));
    if (compacting) return Promise.reject(new FluxError(EBUSY, 'a compaction is already running'));
    if (before > head.seq) return Promise.reject(new FluxError(EINVAL, `cannot compact up to ${before}: the head is ${head.seq}`));
    compacting = (async () => {
      const s = store;
      const pause = () => new Promise<void>((resolve, reject) => setImmediate(() => {
        // stopped halfway, a compaction is finished by the next start (gc-pending)
        if (stopping) reject(new FluxError(EAGAIN, 'the broker is stopping: the compaction resumes at the next start'));
        else resolve();
      }));
      if (before > s.expectedFirst()) {
        let cp = s.checkpoints().find((c) => c.seq === before && c.snapshot !== null);
        let saved: Record<string, unknown>;
        if (cp) {
          saved = (JSON.parse(opts.loadBlob!(cp.snapshot!).toString('utf8')) as { states: Record<string, unknown> }).states;
        } else {
          const st = await statesAt(before);
          ({ checkpoint: cp, saved } = await writeCheckpoint({ seq: before, ref: s.row(before)!.ref }, st));
        }
        s.retire(before, cp, saved);
        host.log(6, 'journal', `the journal starts at ${before} now; dropping what is below`);
        await append(COMPACTED_TOPIC, { first: before }, { userid: owner, rolemask: ROLE_OWNER });
      }
      let dropped = 0;
      for (let n = s.dropBelow(COMPACT_CHUNK); n > 0; n = s.dropBelow(COMPACT_CHUNK)) {
        dropped += n;
        await pause();
      }
      host.log(6, 'journal', `collecting the objects no entry from ${s.expectedFirst()} on reaches`);
      // loaded here: compaction is rank 0's, and rare
      const { collectGarbage } = await import('../core/journal/gc.js');
      const gc = await collectGarbage(s, { roots: [refOf(EMPTY_DIR_BLOB)], pause });
      s.setMeta('gc-pending', '0');
      host.log(6, 'journal', `compacted below ${s.expectedFirst()}: ${dropped} entries and ${gc.deleted} objects dropped`);
      return { first: s.expectedFirst(), dropped, marked: gc.marked, deleted: gc.deleted };
    })().finally(() => (compacting = undefined));
    return compacting;
  }

  /** rank 0 at start: the head from the index, projections from the newest snapshot plus the entries after it */
  function restore(): void {
    if (!store) return;
    const h = store.head();
    let from = 1;
    const cp = store.checkpoints().find((c) => c.snapshot !== null && c.seq <= h.seq);
    if (cp && opts.loadBlob) {
      states = loadSnapshot(cp.snapshot!);
      from = cp.seq + 1;
      lastCheckpointSeq = cp.seq;
    } else {
      from = store.first() ?? 1;
    }
    for (let seq = opts.projections.length > 0 ? from : h.seq + 1; seq <= h.seq; seq++) {
      const { entry, ref } = store.entry(seq);
      for (const p of opts.projections) states.set(p.name, p.apply(states.get(p.name), entry, ref));
    }
    head = h;
    tip = h;
    lastTime = h.seq > 0 ? store.row(h.seq)!.time : 0;
    if (h.seq > 0) host.log(6, 'journal', `resumed at seq ${h.seq} (replayed ${h.seq - from + 1} entries since the snapshot)`);
  }

  // ---- projections that modules add ----

  /** a module's reducer that throws leaves its state as it was: a bug in a module never stops the journal */
  function applyGuarded(p: Projection, state: unknown, a: { entry: Entry; ref: string }): unknown {
    try {
      return p.apply(state, a.entry, a.ref);
    } catch (err) {
      host.log(3, p.name, `projection: entry ${a.entry.seq} (${a.entry.topic}) not applied: ${(err as Error)?.message ?? String(err)}`);
      return state;
    }
  }

  /** the oldest entry held anywhere upstream: rank 0's journal start */
  async function journalStart(): Promise<number> {
    if (store) return store.expectedFirst();
    return Number(payloadJson(await host.rpc('journal.head', undefined, { nodeid: 0 })).first) || 1;
  }

  async function addProjection(p: Projection): Promise<void> {
    if (states.has(p.name) || added.has(p.name)) throw new FluxError(EEXIST, `the journal already has a projection named ${p.name}`);
    let state = p.initial();
    let next = await journalStart();
    // the entries come in pages (from memory, sqlite or upstream), and new ones are made meanwhile: the projection
    // joins the others in the turn it reaches the head, so that it misses none and sees none twice
    while (next <= head.seq) {
      const page = (await fetchEntries(next, FETCH_MAX)) as Entry[];
      if (page.length === 0) throw new FluxError(ENOENT, `the journal has no entry ${next} to build ${p.name} from`);
      for (const entry of page) {
        if (entry.seq !== next) continue;
        state = applyGuarded(p, state, { entry, ref: refOf(encodeEntry(entry)) });
        next++;
      }
      await new Promise((r) => setImmediate(r));
    }
    if (added.has(p.name)) throw new FluxError(EEXIST, `the journal already has a projection named ${p.name}`);
    added.set(p.name, { p, state });
  }

  // ---- every rank: the replica ----

  function fromParent(msg: Message): void {
    if (msg.type !== MSGTYPE_EVENT || !msg.payload) return;
    let blobs: Buffer[];
    try {
      blobs = msg.topic === JOURNAL_ENTRIES_TOPIC ? unpackEntries(msg.payload) : [msg.payload];
    } catch (err) {
      host.log(3, 'journal', `dropped a malformed batch of entries from the parent: ${(err as Error).message}`);
      return;
    }
    fromAbove.messages++;
    fromAbove.entries += blobs.length;
    const drop = Number(host.attrs.get('journal.drop-fraction'));
    const applied: Applied[] = [];
    for (const blob of blobs) {
      if (drop > 0 && Math.random() < drop) {
        dropped++;
        continue;
      }
      let entry: Entry;
      try {
        entry = decodeEntry(blob);
      } catch (err) {
        host.log(3, 'journal', `dropped a malformed entry from the parent: ${(err as Error).message}`);
        continue;
      }
      // the ring keeps it for thousands of entries: it must not keep the received frame's memory with it
      for (const a of order.offer(entry, ownBytes(blob))) applied.push(a);
    }
    applyAll(applied);
    if (order.gap()) void repair();
  }

  /** fetch what is missing between our head and what upstream is known to hold */
  async function repair(): Promise<void> {
    if (repairing) return;
    repairing = true;
    try {
      for (let gap = order.gap(); gap; gap = order.gap()) {
        const before = head.seq;
        let r: Message;
        try {
          r = await host.rpc('journal.fetch', { from: gap.from, count: Math.min(gap.count, FETCH_MAX) }, { upstream: true });
        } catch (err) {
          // what we miss was compacted while we lagged: start again from upstream's snapshot
          if (!(err instanceof FluxError) || err.errno !== ENOENT) throw err;
          host.log(5, 'journal', `entries from ${gap.from} on were compacted upstream (${err.message}): starting from a snapshot`);
          const at = head.seq;
          await startFromSnapshot();
          // upstream is no further on than we are: the tail check comes back to it
          if (head.seq === at) break;
          continue;
        }
        // decoded before any is offered: one that is not an entry leaves the replica's order as it was
        const got = (payloadJson(r).entries as unknown[]).map((raw) => {
          const blob = Buffer.from(canonical(raw));
          return { entry: decodeEntry(blob), blob };
        });
        const applied: Applied[] = [];
        for (const { entry, blob } of got) for (const a of order.offer(entry, blob)) applied.push(a);
        applyAll(applied);
        // upstream could not fill the gap (yet): the tail check comes back to it
        if (head.seq === before) break;
      }
    } catch (err) {
      host.log(3, 'journal', `repair from seq ${head.seq + 1} failed: ${(err as Error).message}`);
    } finally {
      repairing = false;
    }
  }

  async function sync(): Promise<void> {
    if (synced) return;
    await startFromSnapshot();
    synced = true;
    for (const fn of waitingSync.splice(0)) fn();
    if (order.gap()) void repair();
  }

  /** take upstream's projection states and head as ours; what was held that follows it is applied */
  async function startFromSnapshot(): Promise<void> {
    const r = await host.rpc('journal.snapshot', {}, { upstream: true });
    const snap = payloadJson(r) as { seq: number; ref: string | null; states: Record<string, unknown> };
    if (snap.seq < head.seq) return;
    states = new Map(opts.projections.map((p) => [p.name, snap.states[p.name] === undefined ? p.initial() : p.load(snap.states[p.name])]));
    head = { seq: snap.seq, ref: snap.ref };
    // entries before the snapshot are not held here but are not gone: fetches of them go upstream, and only
    // rank 0 (or a journal.compacted entry) says what has been compacted
    applyAll(order.start(head));
  }

  function whenSynced(fn: () => void): void {
    if (synced) fn();
    else waitingSync.push(fn);
  }

  /** entries [from, from+count) from memory, or from sqlite on rank 0, or from upstream */
  async function fetchEntries(from: number, count: number): Promise<unknown[]> {
    const n = Math.min(count, FETCH_MAX);
    if (from < floor) throw compactedError(from);
    const oldest = ring.oldest ?? head.seq + 1;
    if (from >= oldest) return ring.from(from, n).map((r) => decodeEntry(r.blob));
    if (store) {
      const out: unknown[] = [];
      for (let s = from; s < from + n && s <= head.seq; s++) out.push(store.entry(s).entry);
      return out;
    }
    const r = await host.rpc('journal.fetch', { from, count: n }, { upstream: true });
    return payloadJson(r).entries as unknown[];
  }

  const def: ModuleDef = {
    name: 'journal',
    start: () => {
      restore();
      // a compaction a restart interrupted is finished in the background
      if (store?.meta('gc-pending') === '1') {
        compact(store.expectedFirst()).catch((err: unknown) => host.log(3, 'journal', `compaction failed: ${(err as Error).message}`));
      }
      host.interceptFromParent(JOURNAL_ENTRY_TOPIC, fromParent);
      host.interceptFromParent(JOURNAL_ENTRIES_TOPIC, fromParent);
      if (host.rank > 0) {
        tailTimer = setInterval(() => {
          if (!synced || repairing) return;
          host.rpc('journal.head', undefined, { upstream: true }).then((r) => {
            order.heard(Number(payloadJson(r).seq));
            if (order.gap()) void repair();
          }, (err: unknown) => host.log(7, 'journal', `parent head: ${(err as Error).message}`));
        }, TAIL_CHECK_MS);
        tailTimer.unref();
      }
      if (store && opts.signer) {
        const period = Math.max(1, Number(host.attrs.get('journal.checkpoint-period')) || 30) * 1000;
        checkpointTimer = setInterval(() => {
          checkpoint().catch((err: unknown) => host.log(3, 'journal', `checkpoint failed: ${(err as Error).message}`));
        }, period);
        checkpointTimer.unref();
      }
    },
    stop: async () => {
      clearInterval(checkpointTimer);
      clearInterval(tailTimer);
      stopping = true;
      await compacting?.catch(() => undefined);
      await releasing;
      await checkpoint();
    },
    handlers: [
      {
        // brokers repair and catch up with it (as the owner: every entry); anyone else gets the entries it may
        // read among those asked for, and `last`, the last seq looked at, to go on from
        topic: 'journal.fetch',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: { from: { type: 'integer', minimum: 1 }, count: { type: 'integer', minimum: 1 } },
          required: ['from', 'count'],
        },
        handler: async (msg, body) => {
          const entries = await fetchEntries(body!.from as number, body!.count as number);
          if (msg.rolemask & ROLE_OWNER) {
            host.respond(msg, { entries });
            return;
          }
          const last = entries.length > 0 ? (entries[entries.length - 1] as Entry).seq : (body!.from as number) - 1;
          const view = viewer(msg);
          const out: Entry[] = [];
          for (const e of entries as Entry[]) {
            const v = await view(e);
            if (v) out.push(v);
          }
          host.respond(msg, { entries: out, last });
        },
      },
      {
        topic: 'journal.snapshot',
        schema: { type: 'object' },
        handler: (msg) => whenSynced(() => {
          const saved: Record<string, unknown> = {};
          for (const p of opts.projections) saved[p.name] = p.save(states.get(p.name));
          host.respond(msg, { seq: head.seq, ref: head.ref, states: saved });
        }),
      },
      {
        // one projection's state after entry `seq` (or at `time`), worked out here from the nearest snapshot: what
        // `flux ps --at-seq` and `flux cron list --at-seq` show, without fetching the journal from its start
        topic: 'journal.state-at',
        schema: {
          type: 'object',
          properties: { seq: { type: 'integer', minimum: 0 }, time: { type: 'number', minimum: 0 }, name: { type: 'string' } },
          required: ['name'],
        },
        handler: async (msg, body) => {
          if ((body!.seq === undefined) === (body!.time === undefined)) throw new FluxError(EPROTO, 'journal.state-at takes one of seq and time');
          // a time means the state after the last entry made by then
          if (body!.time !== undefined && !store) throw new FluxError(EPROTO, 'past states are worked out on rank 0');
          const seq = body!.time !== undefined ? store!.seqAtTime(body!.time as number) : body!.seq as number;
          const name = body!.name as string;
          const st = await stateAt(name, seq);
          const time = timeAt(seq);
          const p = opts.projections.find((x) => x.name === name)!;
          host.respond(msg, { seq, time, state: p.save(st) as Record<string, unknown> });
        },
      },
      {
        topic: 'journal.head',
        allow: ROLE_ALL,
        // rank 0 also says where the journal starts, from which a projection added elsewhere is built
        handler: (msg) => host.respond(msg, { seq: head.seq, ref: head.ref, rank: host.rank, ...(store ? { first: store.expectedFirst() } : {}) }),
      },
      {
        topic: 'journal.list',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: {
            from: { type: 'integer', minimum: 0 },
            to: { type: 'integer', minimum: 0 },
            topic: { type: 'string' },
            limit: { type: 'integer', minimum: 1 },
          },
        },
        handler: async (msg, body) => {
          if (!store) throw new FluxError(EPROTO, 'journal.list is served by rank 0');
          const asked = body!.from as number | undefined;
          if (asked !== undefined && asked > 0 && asked < store.expectedFirst()) throw compactedError(asked);
          const from = Math.max(1, asked ?? 1);
          const to = Math.min((body!.to as number | undefined) ?? head.seq, head.seq);
          const limit = Math.min((body!.limit as number | undefined) ?? 10_000, 100_000);
          const prefix = (body!.topic as string | undefined) ?? '';
          // The index holds no credentials: a guest's rows are checked against their entries, at most
          // GUEST_LIST_SCAN a request (the answer then says with `last` how far it looked) so that no request
          // holds the broker for long.
          const owner = (msg.rolemask & ROLE_OWNER) !== 0;
          const view = viewer(msg);
          const out: unknown[] = [];
          let scanned = 0;
          let last = from - 1;
          scan: for (let next = from; next <= to && out.length < limit; ) {
            const page = store.rows(next, to, 1024);
            if (page.length === 0) break;
            for (const r of page) {
              if (out.length >= limit || (!owner && scanned >= GUEST_LIST_SCAN)) break scan;
              last = r.seq;
              if (!r.topic.startsWith(prefix)) continue;
              if (!owner) {
                scanned++;
                if (!(await view(store.entry(r.seq).entry))) continue;
              }
              out.push(r);
            }
            next = page[page.length - 1]!.seq + 1;
          }
          host.respond(msg, !owner && last < to ? { entries: out, last } : { entries: out });
        },
      },
      {
        topic: 'journal.show',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { seq: { type: 'integer', minimum: 1 } }, required: ['seq'] },
        handler: async (msg, body) => {
          const seq = body!.seq as number;
          if (seq > head.seq) throw new FluxError(ENOENT, `journal has no entry ${seq} (head is ${head.seq})`);
          const [entry] = await fetchEntries(seq, 1);
          if (entry === undefined) throw new FluxError(ENOENT, `journal has no entry ${seq}`);
          const v = await viewer(msg)(entry as Entry);
          if (!v) throw new FluxError(EPERM, `entry ${seq} is not yours: reading it requires the owner role`);
          host.respond(msg, { entry: v as unknown as Record<string, unknown>, ref: refOf(encodeEntry(entry as Entry)) });
        },
      },
      {
        topic: 'journal.follow',
        allow: ROLE_USER,
        streaming: true,
        schema: { type: 'object', properties: { from: { type: 'integer', minimum: 1 } } },
        handler: async (msg, body) => {
          let next = (body!.from as number | undefined) ?? head.seq + 1;
          const view = viewer(msg);
          // history first, then live: registration happens when caught up, in the same turn, so nothing is
          // missed or sent twice
          while (next <= head.seq) {
            const got = (await fetchEntries(next, FETCH_MAX)) as Entry[];
            if (got.length === 0) break;
            for (const e of got) {
              if (e.seq !== next) continue;
              const v = await view(e);
              if (v) host.respond(msg, { entry: v as unknown as Record<string, unknown>, ref: refOf(encodeEntry(e)) });
              next++;
            }
          }
          followers.add(msg);
        },
      },
      followers.cancelHandler('journal.cancel'),
      {
        topic: 'journal.verify',
        handler: async (msg) => {
          if (!store) throw new FluxError(EPROTO, 'journal.verify is served by rank 0');
          if (batch.length > 0 || unreleased > 0) throw new FluxError(EAGAIN, 'appends in progress: try again');
          const { verifyJournal } = await import('../core/journal/verify.js');
          const report = await verifyJournal(store, { trustedKey: opts.signer ? (await opts.signer()).publicKey : undefined });
          host.respond(msg, report as unknown as Record<string, unknown>);
        },
      },
      {
        topic: 'journal.compact',
        schema: { type: 'object', properties: { before: { type: 'integer', minimum: 1 } }, required: ['before'] },
        handler: async (msg, body) => {
          const r = await compact(body!.before as number);
          host.respond(msg, { ...r });
        },
      },
      {
        // the checkpoints kept, with the snapshot each holds: what flux fsck checks beside the KVS roots
        topic: 'journal.checkpoints',
        handler: (msg) => {
          if (!store) throw new FluxError(EPROTO, 'journal.checkpoints is served by rank 0');
          host.respond(msg, { checkpoints: store.checkpoints().map((c) => ({ seq: c.seq, time: c.time, snapshot: c.snapshot })) });
        },
      },
      {
        topic: 'journal.checkpoint',
        handler: async (msg) => {
          await checkpoint();
          host.respond(msg, { seq: lastCheckpointSeq });
        },
      },
    ],
    disconnect: (sender) => {
      followers.drop(sender);
    },
    stats: () => ({
      seq: head.seq, ring: ring.size, ring_bytes: ring.bytes, early: order.waiting, followers: followers.size, dropped, from_parent: { ...fromAbove },
      ...(opts.sync ? { syncs: { ...syncs } } : {}),
    }),
  };

  return {
    def,
    append,
    onApply: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    head: () => head,
    readOnly: opts.readOnly !== undefined,
    state: <S>(name: string) => (states.has(name) ? states.get(name) : added.get(name)?.state) as S,
    stateAt: async <S>(name: string, seq: number) => (await stateAt(name, seq)) as S,
    timeAt,
    seqAtTime: (time) => {
      if (!store) throw new FluxError(EPROTO, 'past states are worked out on rank 0');
      return store.seqAtTime(time);
    },
    sync,
    checkpoint,
    compact,
    addProjection,
    removeProjection: (name) => added.delete(name),
    reserves: (topic) => [...added.keys()].some((name) => topic.startsWith(`${name}.`)),
  };
}

/**
 * The event a journal entry is delivered as on its rank. A JSON payload is encoded only if a subscriber reads it:
 * most entries (every commit's setroot) have none, and a commit of 10,000 keys spent 3 ms writing it.
 */
function entryEvent(e: Entry): Message {
  const ev = makeEvent(e.topic, undefined, e.seq, e.flags & FLAG_PRIVATE);
  const p = e.payload;
  if ((e.flags & ENTRY_RAW) === 0 && typeof p === 'object' && p !== null && !Array.isArray(p)) return withBody(ev, p as Record<string, unknown>);
  ev.payload = entryPayloadBytes(e);
  return ev;
}
