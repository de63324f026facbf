// The journal client: the instance's hash-chained history of every change, read by position (journal.list,
// journal.show, journal.fetch), followed live (journal.follow), checked (journal.verify) and trimmed
// (journal.compact). Every entry is rank 0's: requests go there unless a nearer copy serves them.
import { FluxError, EPROTO } from '../core/errors.js';
import { payloadJson } from '../core/wire/message.js';
import type { Flux } from './handle.js';
import type { CallOpts } from './kvs.js';
import { iterate } from './iterate.js';

export interface JournalHead {
  /** the newest entry's seq (0 while empty) */
  seq: number;
  /** the oldest entry still kept */
  first?: number;
  [k: string]: unknown;
}

/** an entry as journal.list names it */
export interface JournalRow {
  seq: number;
  ref: string;
  time: number;
  topic: string;
}

export interface ListRange extends CallOpts {
  from?: number;
  to?: number;
  /** a topic prefix */
  topic?: string;
  /** at most this many rows per request (the service's page) */
  limit?: number;
}

const RANK0 = { nodeid: 0 };

function rowOf(r: Partial<JournalRow> | undefined): JournalRow {
  if (typeof r?.seq !== 'number' || typeof r.ref !== 'string' || typeof r.time !== 'number' || typeof r.topic !== 'string') {
    throw new FluxError(EPROTO, 'malformed journal row in the response');
  }
  return { seq: r.seq, ref: r.ref, time: r.time, topic: r.topic };
}

/** journal.head: where the journal ends, as the broker asked (the connected one unless `nodeid`) knows it */
export async function head(h: Flux, opts: CallOpts & { nodeid?: number } = {}): Promise<JournalHead> {
  const r = await h.call('journal.head', undefined, opts);
  return { ...r, seq: Number(r.seq) } as JournalHead;
}

/** one page of journal.list, and the last seq the broker looked at when it says (a guest's page skips what it may not see) */
async function page(h: Flux, o: ListRange): Promise<{ rows: JournalRow[]; last?: number }> {
  const body: Record<string, unknown> = { limit: o.limit ?? 1000 };
  if (o.from !== undefined) body.from = o.from;
  if (o.to !== undefined) body.to = o.to;
  if (o.topic !== undefined) body.topic = o.topic;
  const r = await h.call('journal.list', body, { ...o, ...RANK0 });
  if (!Array.isArray(r.entries)) throw new FluxError(EPROTO, 'journal.list response has no entries');
  const rows = r.entries.map((e) => rowOf(e as Partial<JournalRow>));
  return typeof r.last === 'number' ? { rows, last: r.last } : { rows };
}

/** one page of journal.list */
export async function listPage(h: Flux, o: ListRange = {}): Promise<JournalRow[]> {
  return (await page(h, o)).rows;
}

/** every row in [from, to] (from the oldest kept, to the head, when not given), page after page */
export async function list(h: Flux, o: ListRange = {}): Promise<JournalRow[]> {
  const limit = o.limit ?? 1000;
  const out: JournalRow[] = [];
  for (let next = o.from; o.to === undefined || next === undefined || next <= o.to; ) {
    const { rows, last } = await page(h, { ...o, from: next, limit });
    out.push(...rows);
    // a guest's page stops where the broker stopped looking, which it names
    if (last !== undefined) {
      next = last + 1;
      continue;
    }
    if (rows.length < limit) break;
    next = rows[rows.length - 1]!.seq + 1;
  }
  return out;
}

/** journal.show: the entry at `seq`, whole */
export async function show(h: Flux, seq: number, opts: CallOpts = {}): Promise<Record<string, unknown>> {
  const { entry } = await h.call('journal.show', { seq }, opts);
  if (typeof entry !== 'object' || entry === null) throw new FluxError(EPROTO, 'journal.show response has no entry');
  return entry as Record<string, unknown>;
}

/** journal.fetch: up to `count` entries from `from` on, as stored (to anyone but the owner: what it may read of them) */
export async function fetch(h: Flux, from: number, count: number, opts: CallOpts = {}): Promise<unknown[]> {
  const r = await h.call('journal.fetch', { from, count }, opts);
  return Array.isArray(r.entries) ? r.entries : [];
}

/** journal.verify at rank 0: the hash chain and checkpoint signatures checked */
export async function verify(h: Flux, opts: CallOpts = {}): Promise<Record<string, unknown>> {
  return h.call('journal.verify', undefined, { ...opts, ...RANK0 });
}

/** journal.compact at rank 0: entries before `before` dropped, a snapshot kept in their place */
export async function compact(h: Flux, before: number, opts: CallOpts = {}): Promise<Record<string, unknown>> {
  return h.call('journal.compact', { before }, { ...opts, ...RANK0 });
}

/** the snapshots kept at rank 0, by seq */
export async function checkpoints(h: Flux, opts: CallOpts = {}): Promise<Array<{ seq: number; snapshot: string | null }>> {
  return (await h.call('journal.checkpoints', undefined, { ...opts, ...RANK0 })).checkpoints as Array<{ seq: number; snapshot: string | null }>;
}

/** a projection's state at a past point (seq or time), computed at rank 0 */
export async function stateAt(
  h: Flux, past: { seq: number } | { time: number }, name: string, opts: CallOpts = {},
): Promise<Record<string, unknown>> {
  return h.call('journal.state-at', { ...past, name }, { ...opts, ...RANK0 });
}

/**
 * journal.follow: every entry from `from` (or from the head) on, as it is appended. `each` may return false to
 * stop; the service is then told (journal.cancel).
 */
export async function follow(
  h: Flux, from: number | undefined, each: (row: JournalRow) => boolean | void, opts: CallOpts = {},
): Promise<void> {
  let tag: number | undefined;
  let stopped = false;
  try {
    await h.stream('journal.follow', from === undefined ? {} : { from: Math.max(1, from) }, { ...opts, sent: (t) => (tag = t) }, (m) => {
      const { entry, ref } = payloadJson(m) as { entry?: Partial<JournalRow>; ref?: unknown };
      if (each(rowOf({ ...entry, ref } as Partial<JournalRow>)) !== false) return true;
      stopped = true;
      return false;
    });
  } finally {
    // stopped by `each` or abandoned through the signal: the service streams until told to stop
    if ((stopped || opts.signal?.aborted) && tag !== undefined && !h.isClosed) cancelFollow(h, tag);
  }
}

/** its closing ENODATA then goes to a matchtag no longer listened to */
const cancelFollow = (h: Flux, tag: number) => h.send('journal.cancel', { matchtag: tag });

/** The journal, bound to a handle. */
export class Journal {
  constructor(private readonly h: Flux) {}

  head(opts: CallOpts & { nodeid?: number } = {}): Promise<JournalHead> {
    return head(this.h, opts);
  }

  list(range: ListRange = {}): Promise<JournalRow[]> {
    return list(this.h, range);
  }

  show(seq: number, opts: CallOpts = {}): Promise<Record<string, unknown>> {
    return show(this.h, seq, opts);
  }

  verify(opts: CallOpts = {}): Promise<Record<string, unknown>> {
    return verify(this.h, opts);
  }

  /** entries as they are appended (from `from` on when given), until the loop is left or the handle closes */
  follow(opts: CallOpts & { from?: number } = {}): AsyncIterableIterator<JournalRow> {
    return iterate<JournalRow>(({ push, end }) => {
      const stop = new AbortController();
      const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
      follow(this.h, opts.from, (row) => {
        push(row);
      }, { signal }).then(() => end(), end);
      return () => stop.abort();
    }, { signal: opts.signal, closed: () => this.h.isClosed });
  }
}
