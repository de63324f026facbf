// The ordering rule of a journal replica, with no I/O: entries arrive from upstream late, twice, out of order or
// not at all; only the next one in sequence that links to the current head is ever applied, so a replica only
// ever holds a prefix of rank 0's journal. What is missing is reported as a range to fetch.
import type { Entry } from './entry.js';
import type { Head } from './store.js';

export interface Applied {
  entry: Entry;
  ref: string;
  blob: Buffer;
}

export interface Gap {
  from: number;
  count: number;
}

export class ReplicaOrder {
  private readonly early = new Map<number, { entry: Entry; blob: Buffer }>();
  /** the highest seq upstream is known to hold: a loss at the tail shows no gap until this says so */
  private known = 0;
  /** before the starting snapshot is known, everything offered is only held */
  private holding: boolean;

  constructor(
    public head: Head,
    private readonly refOf: (blob: Buffer) => string,
    opts: { holding?: boolean; maxEarly?: number } = {},
  ) {
    this.holding = opts.holding ?? false;
    this.maxEarly = opts.maxEarly ?? 100_000;
  }

  private readonly maxEarly: number;

  get waiting(): number {
    return this.early.size;
  }

  /** Start from a snapshot at `head`; entries held so far that follow it are applied now. */
  start(head: Head): Applied[] {
    this.head = head;
    this.holding = false;
    return this.drain();
  }

  /** An entry from upstream: returns the entries that can now be applied, in order. */
  offer(entry: Entry, blob: Buffer): Applied[] {
    if (entry.seq <= this.head.seq) return [];
    // bounded: a replica far behind drops what it cannot yet use and fetches it again later
    if (this.early.size < this.maxEarly || entry.seq === this.head.seq + 1) this.early.set(entry.seq, { entry, blob });
    this.known = Math.max(this.known, entry.seq);
    return this.holding ? [] : this.drain();
  }

  /** upstream holds entries up to `seq` */
  heard(seq: number): void {
    this.known = Math.max(this.known, seq);
  }

  /** the entries to fetch next, or undefined when nothing is known to be missing */
  gap(): Gap | undefined {
    if (this.holding) return undefined;
    const next = this.head.seq + 1;
    if (this.early.size > 0) {
      let first = Infinity;
      for (const s of this.early.keys()) first = Math.min(first, s);
      return first > next ? { from: next, count: first - next } : undefined;
    }
    return this.known >= next ? { from: next, count: this.known - next + 1 } : undefined;
  }

  private drain(): Applied[] {
    const out: Applied[] = [];
    for (let e = this.early.get(this.head.seq + 1); e; e = this.early.get(this.head.seq + 1)) {
      this.early.delete(e.entry.seq);
      // an entry that does not link to our head is not rank 0's next entry: it is dropped and fetched again
      if (e.entry.prev !== this.head.ref) break;
      const ref = this.refOf(e.blob);
      this.head = { seq: e.entry.seq, ref };
      out.push({ entry: e.entry, ref, blob: e.blob });
    }
    for (const s of this.early.keys()) if (s <= this.head.seq) this.early.delete(s);
    return out;
  }
}
