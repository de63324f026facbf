// Collection of the objects a compacted journal no longer reaches. Mark: every object reachable from the kept
// snapshots, from flux-core style content checkpoints, from the given roots and from every kept entry (its own
// blob, and every blobref its payload names: KVS rootrefs and the valrefs/dirrefs of its ops, followed down the
// tree in every stored form, dirhash nodes and long values' chunk trees included: kvs-wide.ts refsOf) is marked. Sweep: unmarked objects older than the collection are deleted (ContentStore.beginCollection).
//
// The collection runs while the instance works, in bounded chunks. Why what it deletes is garbage:
// - every object stored while it runs is stamped with its epoch on the way in, or marked if it was there before,
//   so a blob written for a commit whose entry does not exist yet (a client's content.store before its
//   kvs.commit, or the KVS master's objects before its entry's transaction) is never collected by this pass;
// - entries appended while it runs are marked before every sweep chunk, in the same turn as the chunk, so no
//   entry can name an object that the chunk deletes: a new root shares its unchanged subtrees with an older,
//   marked root, and what it adds was stamped when stored.
// What is left out is a commit that names, by hand, an object stored before the collection began and reachable
// from nothing kept (e.g. a valref to a blob stored long ago, or read from a version now compacted): that object
// is garbage by every record the instance has, and may be gone when the commit arrives.
import { FluxError, ENOENT, EUCLEAN } from '../errors.js';
import { checkHashName, digestOf } from '../content/blobref.js';
import { decodeEntry } from './entry.js';
import { checkDirent } from '../kvs/treeobj.js';
import { type RefKind, type Stored, decodeStored, direntRefs, refsOf } from '../kvs/wide.js';
import type { JournalStore } from './store.js';

const BLOBREF = /^(sha1|sha256)-[0-9a-f]+$/;

/** every blobref named anywhere in a JSON value */
export function refsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (value.startsWith('sha') && BLOBREF.test(value)) out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) refsIn(v, out);
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) refsIn(v, out);
  }
  return out;
}

/**
 * how a marked object is followed: a ref from a payload may be a tree object or not; a ref inside a tree is a
 * directory, a value node or a value's blob (data: nothing to follow)
 */
type Kind = 'any' | RefKind;

export interface GcOptions {
  /** blobrefs to keep besides what the journal reaches (the KVS's empty root directory, say) */
  roots?: string[];
  /** objects (or entries, or rows swept) per sqlite transaction */
  chunk?: number;
  /** milliseconds of work between turns of the event loop */
  sliceMs?: number;
  /** between chunks: give the event loop a turn */
  pause?: () => Promise<void>;
}

export interface GcReport {
  epoch: number;
  /** objects found reachable */
  marked: number;
  /** objects deleted */
  deleted: number;
}

/** The marking half: a queue of refs to mark and follow, worked off in chunks. */
class Marker {
  /** what each ref was queued as */
  private readonly seen = new Map<string, Kind>();
  private queue: Array<[string, Kind]> = [];
  /** entry blobs marked (the objects queued are in `seen`) */
  private entryBlobs = 0;
  /** the last entry whose payload was queued */
  through: number;

  constructor(private readonly store: JournalStore, from: number) {
    this.through = from - 1;
  }

  add(ref: string, kind: Kind): void {
    const was = this.seen.get(ref);
    // a blob queued as a value's data may be a directory's bytes as well (stores deduplicate by content):
    // reached as one, it is followed then
    if (was !== undefined && (was !== 'blob' || kind === 'blob')) return;
    this.seen.set(ref, kind);
    this.queue.push([ref, kind]);
  }

  /** queue the entries after `through` up to `to` (their blobs are marked at once: nothing to follow in them) */
  entries(to: number, max = Infinity): void {
    let n = 0;
    const blobs: Buffer[] = [];
    for (const row of this.store.scan(this.through + 1, Math.min(max, 4096))) {
      if (row.seq > to || n >= max) break;
      if (row.blob === undefined) throw new FluxError(EUCLEAN, `entry ${row.seq} cannot be read: nothing is collected`);
      blobs.push(digestOf(checkHashName(this.store.hashName), row.ref));
      for (const ref of refsIn(decodeEntry(row.blob).payload)) this.add(ref, 'any');
      this.through = row.seq;
      n++;
    }
    this.store.objects.markLive(blobs);
    this.entryBlobs += blobs.length;
  }

  /** objects found reachable so far */
  get marked(): number {
    return this.entryBlobs + this.seen.size;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** mark up to `max` queued objects and queue what they refer to */
  step(max: number): void {
    const batch = this.queue.length <= max ? this.queue.splice(0) : this.queue.splice(this.queue.length - max);
    const hash = checkHashName(this.store.hashName);
    const digests = batch.map(([ref]) => digestOf(hash, ref));
    this.store.objects.markLive(digests);
    for (let i = 0; i < batch.length; i++) {
      const kind = batch[i]![1];
      if (kind === 'blob') continue;
      let blob: Buffer;
      try {
        blob = this.store.objects.load(digests[i]!);
      } catch (err) {
        // a ref to nothing has nothing under it to keep
        if (err instanceof FluxError && err.errno === ENOENT) continue;
        throw err;
      }
      this.follow(batch[i]![0], blob, kind);
    }
  }

  private follow(ref: string, blob: Buffer, kind: Exclude<Kind, 'blob'>): void {
    // a payload's ref may name any blob: only one that reads as a tree object is followed
    if (kind === 'any' && blob[0] !== 0x7b) return;
    let s: Stored;
    try {
      s = decodeStored(blob, ref);
    } catch (err) {
      if (!(err instanceof FluxError)) throw err;
      if (kind !== 'any') {
        throw new FluxError(EUCLEAN, `${err.message}: a ${kind === 'dir' ? 'directory' : 'value node'} that cannot be read, nothing is collected`);
      }
      this.dirent(blob);
      return;
    }
    if ((kind === 'dir' && s.kind === 'node') || (kind === 'node' && s.kind !== 'node')) {
      const what = s.kind === 'node' ? 'a value node' : 'a directory';
      throw new FluxError(EUCLEAN, `${ref} is ${what} where ${kind === 'dir' ? 'a directory' : 'a value node'} should be: nothing is collected`);
    }
    for (const r of refsOf(s)) this.add(r.ref, r.kind);
  }

  /** a payload's blob that is one tree object by itself (a dirref, a valref...): what it names is kept too */
  private dirent(blob: Buffer): void {
    let e;
    try {
      e = checkDirent(JSON.parse(blob.toString('utf8')));
    } catch {
      return;
    }
    for (const r of direntRefs(e, '')) this.add(r.ref, r.kind);
  }
}

/**
 * Collect the objects nothing kept reaches. Call after the journal's start has moved (JournalStore.retire), so
 * no reader is handed a compacted version whose objects are going. A reachable directory that cannot be read
 * stops the collection (it cannot tell what lies under it): only what was shown to be garbage is ever deleted.
 */
export async function collectGarbage(store: JournalStore, opts: GcOptions = {}): Promise<GcReport> {
  const chunk = opts.chunk ?? 64;
  const sliceMs = opts.sliceMs ?? 5;
  const pause = opts.pause ?? (() => new Promise<void>((r) => setImmediate(r)));
  const objects = store.objects;
  // a new epoch each time, above every stamp an earlier (perhaps interrupted) collection left
  const epoch = Number(store.meta('gc-epoch') ?? 0) + 1;
  store.setMeta('gc-epoch', String(epoch));
  objects.beginCollection(epoch);
  try {
    const m = new Marker(store, store.first() ?? store.expectedFirst());
    for (const r of opts.roots ?? []) m.add(r, 'any');
    for (const c of store.checkpoints()) {
      if (c.snapshot === null) continue;
      m.add(c.snapshot, 'blob');
      const snap = JSON.parse(objects.load(digestOf(checkHashName(store.hashName), c.snapshot)).toString('utf8')) as { states?: unknown };
      for (const ref of refsIn(snap.states)) m.add(ref, 'any');
    }
    const cp = store.database.prepare('SELECT value FROM checkpt_v2').pluck().all() as Array<string | null>;
    for (const text of cp) {
      try {
        for (const ref of refsIn(JSON.parse(text ?? 'null'))) m.add(ref, 'any');
      } catch {
        // a checkpoint that is not JSON names nothing this can follow
      }
    }
    // mark: the entries as they are when the pass began, then whatever they reach; a slice of time per turn
    const head = store.head().seq;
    while (m.through < head || m.pending > 0) {
      const until = performance.now() + sliceMs;
      do {
        if (m.pending > 0) m.step(chunk);
        else m.entries(head, chunk);
      } while ((m.through < head || m.pending > 0) && performance.now() < until);
      await pause();
    }
    let deleted = 0;
    for (let after: number | undefined = 0; after !== undefined; ) {
      const until = performance.now() + sliceMs;
      do {
        // entries appended since: marked in this very turn, before the chunk that could delete what they name
        if (store.head().seq > m.through) m.entries(store.head().seq);
        while (m.pending > 0) m.step(chunk);
        const r = objects.sweep(after, chunk);
        deleted += r.deleted;
        after = r.next;
      } while (after !== undefined && performance.now() < until);
      await pause();
    }
    return { epoch, marked: m.marked, deleted };
  } finally {
    objects.endCollection();
  }
}
