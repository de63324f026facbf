// Verification of a journal: every blob hashes to its ref, every entry matches its index row and links to the
// one before it, and every checkpoint is signed by the instance's key and names a ref the chain holds.
import { FluxError } from '../errors.js';
import { blobrefOf, checkHashName } from '../content/blobref.js';
import { type Entry, decodeEntry, checkpointMessage } from './entry.js';
import type { JournalStore, Head } from './store.js';
import { verifySignature } from './signing.js';

export interface VerifyReport {
  ok: boolean;
  checked: number;
  head: Head;
  checkpoints: number;
  firstBad?: { seq: number; reason: string };
}

export interface VerifyOptions {
  /** the instance's public key: checkpoints signed by any other key fail */
  trustedKey?: string;
  /** give the event loop a turn every this many entries (a broker keeps serving while it verifies) */
  yieldEvery?: number;
  /**
   * a further check of every entry, in order, once its hash and link are good (an offline replay recomputes KVS
   * roots here): a reason returned fails the entry
   */
  check?: (entry: Entry, ref: string) => string | undefined;
}

export async function verifyJournal(store: JournalStore, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const head = store.head();
  const report: VerifyReport = { ok: true, checked: 0, head, checkpoints: 0 };
  const fail = (seq: number, reason: string): VerifyReport => {
    report.ok = false;
    report.firstBad = { seq, reason };
    return report;
  };
  const hashName = checkHashName(store.hashName);
  const first = store.first();
  const expected = store.expectedFirst();
  if (head.seq >= expected && first !== expected) {
    return fail(expected, `entry ${expected} is missing from the index`);
  }
  const refs = new Map<number, string>();
  // the checkpoints there are as it begins, as the head is: a broker checkpoints its head every
  // journal.checkpoint-period while a long pass yields to its loop, and one made meanwhile is the next pass's
  const checkpoints = store.checkpoints();
  const wanted = new Set(checkpoints.map((c) => c.seq));
  let prevRef: string | null | undefined;
  let prevSeq = (first ?? 1) - 1;
  const yieldEvery = opts.yieldEvery ?? 10_000;
  for (const row of store.scan(first ?? 1)) {
    if (row.seq !== prevSeq + 1) return fail(prevSeq + 1, `entry ${prevSeq + 1} is missing from the index`);
    if (row.damage !== undefined) return fail(row.seq, `entry ${row.seq} is damaged: ${row.damage}`);
    if (!row.blob) return fail(row.seq, `the blob ${row.ref} of entry ${row.seq} is missing`);
    if (blobrefOf(hashName, row.blob) !== row.ref) return fail(row.seq, `entry ${row.seq} does not hash to its ref ${row.ref}`);
    let entry;
    try {
      entry = decodeEntry(row.blob);
    } catch (err) {
      return fail(row.seq, `entry ${row.seq} is malformed: ${(err as FluxError).message}`);
    }
    if (entry.seq !== row.seq || entry.time !== row.time || entry.topic !== row.topic) {
      return fail(row.seq, `entry ${row.seq} does not match its index row`);
    }
    // the first entry kept after compaction links to an entry that is gone: nothing to compare it with
    if (prevRef !== undefined && entry.prev !== prevRef) {
      return fail(row.seq, `entry ${row.seq} does not link to entry ${row.seq - 1}`);
    }
    if (prevRef === undefined && row.seq === 1 && entry.prev !== null) return fail(1, 'entry 1 links to a predecessor');
    const why = opts.check?.(entry, row.ref);
    if (why !== undefined) return fail(row.seq, why);
    if (wanted.has(row.seq)) refs.set(row.seq, row.ref);
    prevRef = row.ref;
    prevSeq = row.seq;
    report.checked++;
    if (report.checked % yieldEvery === 0) await new Promise((r) => setImmediate(r));
  }
  for (const c of checkpoints) {
    report.checkpoints++;
    if (opts.trustedKey !== undefined && c.pubkey !== opts.trustedKey) {
      return fail(c.seq, `checkpoint at ${c.seq} is signed by an unknown key`);
    }
    if (!(await verifySignature(checkpointMessage(c), c.sig, c.pubkey))) {
      return fail(c.seq, `checkpoint at ${c.seq} has a bad signature`);
    }
    if (c.seq > head.seq) return fail(c.seq, `checkpoint at ${c.seq} is past the head ${head.seq}`);
    if (c.seq > 0 && c.seq >= (first ?? 1) && refs.get(c.seq) !== c.ref) {
      return fail(c.seq, `checkpoint at ${c.seq} names ${c.ref}, which is not entry ${c.seq}`);
    }
  }
  return report;
}
