// A stopped instance read back from its statedir, without a broker: the journal applied through the very
// projections the brokers run (src/projections/index.ts), from the nearest snapshot at or below a seq. Read
// only: the store is opened read-only and the statedir is left as it was found.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentStore } from '../core/content/store.js';
import { type ReadOnlyStore, openReadOnly } from '../core/journal/past.js';
import { JournalStore, type IndexRow, type Checkpoint } from '../core/journal/store.js';
import { type Entry, decodeEntry } from '../core/journal/entry.js';
import { verifyJournal, type VerifyReport } from '../core/journal/verify.js';
import { FluxError, EINVAL, ENOENT, EUCLEAN } from '../core/errors.js';
import { type HashName, blobrefOf, digestOf } from '../core/content/blobref.js';
import { EMPTY_DIR_BLOB, TreeCache, applyOps, type Op } from '../core/kvs/tree.js';
import { loadOrCreateSigner } from '../core/journal/signing.js';
import { PROJECTIONS } from '../projections/index.js';
import type { Projection } from '../projections/projection.js';
import { type KvsState, KVS, PRIMARY, isKvsEntry, namespaceRoot, namespaceTopic } from '../projections/kvs.js';

/** the instance as it was right after entry `seq` */
export interface ReplayState {
  seq: number;
  /** the ref of entry seq (null before the first entry) */
  ref: string | null;
  states: ReadonlyMap<string, unknown>;
}

/** states kept in memory while stepping, one per this many entries: a step back starts from the nearest */
const MEMO_EVERY = 1000;

export type Progress = (done: number, total: number) => void;

export class Replay {
  readonly journal: JournalStore;
  readonly hashName: HashName;
  private readonly memo = new Map<number, ReplayState>();
  private readonly cache = new TreeCache();

  private readonly content: ContentStore;

  private constructor(private readonly store: ReadOnlyStore, readonly projections: Projection[]) {
    this.content = store.content;
    this.hashName = store.content.hashName;
    this.journal = new JournalStore(store.content);
  }

  /** Open a statedir or content.sqlite read-only; EBUSY when a running instance holds it. */
  static open(path: string, projections: Projection[] = PROJECTIONS): Replay {
    // no quick_check, which reads the whole file: a damaged page replay meets is still reported (EUCLEAN), and
    // --verify checks every entry's hash
    const store = openReadOnly(path, { check: false });
    try {
      return new Replay(store, projections);
    } catch (err) {
      store.close();
      throw err;
    }
  }

  close(): void {
    this.store.close();
  }

  head(): { seq: number; ref: string | null } {
    return this.journal.head();
  }

  /** the oldest seq held (1 unless compacted) */
  first(): number {
    return this.journal.first() ?? 1;
  }

  load(ref: string): Buffer {
    return this.content.load(digestOf(this.hashName, ref));
  }

  /** the public key of the instance's signing key, when the statedir holds it (it is never created here) */
  async trustedKey(): Promise<string | undefined> {
    const key = join(this.store.file, '..', 'journal.key');
    return existsSync(key) ? (await loadOrCreateSigner(key)).publicKey : undefined;
  }

  rows(from: number, to: number, limit: number): IndexRow[] {
    return this.journal.rows(from, to, limit);
  }

  entry(seq: number): { entry: Entry; ref: string } {
    return this.journal.entry(seq);
  }

  /** the last seq at or before time t (seconds), 0 when none */
  seqAtTime(t: number): number {
    return this.journal.seqAtTime(t);
  }

  /** the state of one projection */
  stateOf<S>(s: ReplayState, name: string): S {
    if (!s.states.has(name)) throw new FluxError(ENOENT, `no projection named ${name}`);
    return s.states.get(name) as S;
  }

  /** one entry applied to a state, as a broker applies it */
  apply(s: ReplayState, entry: Entry, ref: string): ReplayState {
    const states = new Map<string, unknown>();
    for (const p of this.projections) states.set(p.name, p.apply(s.states.get(p.name), entry, ref));
    const next = { seq: entry.seq, ref, states };
    if (entry.seq % MEMO_EVERY === 0) this.memo.set(entry.seq, next);
    return next;
  }

  /**
   * The state right after entry `seq` (0: before the first): the nearest snapshot at or below it (a signed
   * checkpoint's, or one kept in memory by an earlier call), then only the entries after the snapshot.
   */
  stateAt(seq: number, progress?: Progress): ReplayState {
    const head = this.head().seq;
    if (seq > head) throw new FluxError(EINVAL, `the journal ends at seq ${head}, before ${seq}`);
    let s = this.nearestSnapshot(seq);
    const total = seq - s.seq;
    for (const row of this.journal.scan(s.seq + 1)) {
      if (row.seq > seq) break;
      if (row.seq !== s.seq + 1) throw new FluxError(EUCLEAN, `journal entry ${s.seq + 1} is missing`);
      if (row.blob === undefined) throw new FluxError(EUCLEAN, `journal entry ${row.seq} is missing or damaged${row.damage ? `: ${row.damage}` : ''}`);
      s = this.apply(s, decodeEntry(row.blob), row.ref);
      if (progress && (seq - s.seq) % 4096 === 0) progress(total - (seq - s.seq), total);
    }
    if (s.seq !== seq) throw new FluxError(EUCLEAN, `journal entry ${s.seq + 1} is missing`);
    return s;
  }

  private nearestSnapshot(seq: number): ReplayState {
    const first = this.first();
    let best: ReplayState | undefined;
    for (const [at, st] of this.memo) if (at <= seq && (!best || at > best.seq)) best = st;
    const cp = this.checkpoints().filter((c) => c.snapshot !== null && c.seq <= seq && c.seq >= first - 1)
      .sort((a, b) => b.seq - a.seq)[0];
    if (cp && (!best || cp.seq > best.seq)) best = this.loadSnapshot(cp);
    if (best) return best;
    if (first > 1) throw new FluxError(ENOENT, `version ${seq} has been compacted`);
    return { seq: 0, ref: null, states: new Map(this.projections.map((p) => [p.name, p.initial()])) };
  }

  checkpoints(): Checkpoint[] {
    return this.journal.checkpoints();
  }

  private loadSnapshot(cp: Checkpoint): ReplayState {
    let snap: { seq: number; ref: string | null; states: Record<string, unknown> };
    try {
      snap = JSON.parse(this.load(cp.snapshot!).toString('utf8')) as typeof snap;
    } catch (err) {
      throw new FluxError(EUCLEAN, `the snapshot of the checkpoint at seq ${cp.seq} cannot be read: ${(err as Error).message}`);
    }
    if (snap.seq !== cp.seq) throw new FluxError(EUCLEAN, `the snapshot of the checkpoint at seq ${cp.seq} is for seq ${snap.seq}`);
    const states = new Map(this.projections.map((p) => [p.name, snap.states[p.name] === undefined ? p.initial() : p.load(snap.states[p.name])]));
    return { seq: snap.seq, ref: snap.ref, states };
  }

  /**
   * The whole journal checked: the hash chain, every checkpoint's signature, and every KVS root recomputed by
   * applying the entry's recorded ops to the namespace's previous root. Stops at the first divergence.
   */
  async verify(progress?: Progress): Promise<VerifyReport & { roots: number }> {
    const head = this.head().seq;
    const first = this.first();
    // roots are checked from a known state: the start of the journal, or a snapshot right before its oldest entry
    let kvs: KvsState | undefined;
    if (first === 1) kvs = this.projectionOf<KvsState>(KVS)?.initial();
    else {
      const cp = this.checkpoints().find((c) => c.seq === first - 1 && c.snapshot !== null);
      if (cp) kvs = this.loadSnapshot(cp).states.get(KVS) as KvsState | undefined;
    }
    const kvsProjection = this.projectionOf<KvsState>(KVS);
    const emptyRoot = blobrefOf(this.hashName, EMPTY_DIR_BLOB);
    let roots = 0;
    let done = 0;
    const check = (entry: Entry, ref: string): string | undefined => {
      if (progress && ++done % 8192 === 0) progress(done, head - first + 1);
      if (kvs === undefined || kvsProjection === undefined) return undefined;
      let why: string | undefined;
      if (isKvsEntry(entry)) {
        const p = entry.payload as { namespace?: unknown; rootref?: unknown; ops?: unknown };
        const ns = typeof p?.namespace === 'string' ? p.namespace : undefined;
        if (ns !== undefined && entry.topic === namespaceTopic(ns, 'setroot')) {
          const prev = namespaceRoot(kvs, ns)?.rootref ?? (ns === PRIMARY ? emptyRoot : undefined);
          if (prev === undefined) why = `entry ${entry.seq} sets a root of namespace ${ns}, which does not exist`;
          else why = this.checkRoot(entry.seq, prev, p.ops, p.rootref);
          roots++;
        }
      }
      kvs = kvsProjection.apply(kvs, entry, ref);
      return why;
    };
    const report = await verifyJournal(this.journal, { trustedKey: await this.trustedKey(), check, yieldEvery: 1 << 30 });
    return { ...report, roots };
  }

  private projectionOf<S>(name: string): Projection<S> | undefined {
    return this.projections.find((p) => p.name === name) as Projection<S> | undefined;
  }

  /** the recorded ops applied to `prev` must give the recorded root (the objects they make are hashed, not stored) */
  private checkRoot(seq: number, prev: string, ops: unknown, recorded: unknown): string | undefined {
    if (!Array.isArray(ops)) return `entry ${seq} records no ops`;
    let got: string;
    try {
      got = applyOps(prev, ops as Op[], {
        cache: this.cache,
        load: (ref) => this.load(ref),
        store: (blob) => blobrefOf(this.hashName, blob),
      }).rootref;
    } catch (err) {
      return `entry ${seq}: its ops cannot be applied to the root before it (${prev}): ${(err as Error).message}`;
    }
    if (got !== recorded) {
      return `entry ${seq}: its ops applied to ${prev} give the root ${got}, but the entry records ${String(recorded)}`;
    }
    return undefined;
  }
}
