// The event log's rules, checked directly (they need no search): publishes are sequenced in real-time order,
// every acknowledged publish is in the journal under the seq it was given, a publish that failed is not, and
// every subscriber sees the journal's events in seq order with no gap and no duplicate.
import { firstWhere } from './bisect.js';

export interface Publish {
  id: number;
  topic: string;
  call: number;
  /** Infinity when the outcome was not seen */
  ret: number;
  /** the seq it was given; undefined when the outcome was not seen */
  seq?: number;
  /** it was refused: it must not be in the journal */
  failed?: boolean;
}

/** what one subscriber saw between subscribing (from `from`) and the end of its subscription */
export interface Subscription {
  id: number;
  client: number;
  from: number;
  seen: Array<{ seq: number; topic: string }>;
}

/** the journal's events under the checked prefix: seq -> topic */
export type EventJournal = Map<number, string>;

/** violated rules, one line each; empty when all hold */
export function checkEvents(pubs: Publish[], subs: Subscription[], journal: EventJournal): string[] {
  const bad: string[] = [];
  const bySeq = new Map<number, Publish>();
  for (const p of pubs) {
    if (p.seq === undefined) continue;
    const other = bySeq.get(p.seq);
    if (other) bad.push(`publishes ${other.topic} and ${p.topic} were both given seq ${p.seq}`);
    bySeq.set(p.seq, p);
  }
  // real-time order: once a publish has returned, every later one gets a higher seq
  const byCall = pubs.filter((p) => p.seq !== undefined).sort((a, b) => a.call - b.call);
  const byRet = [...byCall].sort((a, b) => a.ret - b.ret);
  let r = 0;
  let maxDone: Publish | undefined;
  for (const p of byCall) {
    while (r < byRet.length && byRet[r]!.ret < p.call) {
      if (!maxDone || byRet[r]!.seq! > maxDone.seq!) maxDone = byRet[r];
      r++;
    }
    if (maxDone && p.seq! <= maxDone.seq!) {
      bad.push(`publish ${p.topic} got seq ${p.seq} though ${maxDone.topic} had returned seq ${maxDone.seq} before it was made`);
    }
  }
  const topics = new Map<string, number>();
  for (const [seq, topic] of journal) topics.set(topic, seq);
  for (const p of pubs) {
    const at = topics.get(p.topic);
    if (p.seq !== undefined && journal.get(p.seq) !== p.topic) {
      bad.push(`acknowledged publish ${p.topic} (seq ${p.seq}) is not in the journal (seq ${p.seq} holds ${journal.get(p.seq) ?? 'nothing'})`);
    }
    if (p.failed && at !== undefined) bad.push(`publish ${p.topic} failed but is in the journal at seq ${at}`);
  }
  const seqs = [...journal.keys()].sort((a, b) => a - b);
  for (const s of subs) {
    let prev = s.from - 1;
    for (const ev of s.seen) {
      if (ev.seq <= prev) {
        bad.push(`subscriber ${s.id} (client ${s.client}) saw seq ${ev.seq} after ${prev}: ${ev.seq === prev ? 'a duplicate' : 'out of order'}`);
      } else if (journal.get(ev.seq) !== ev.topic) {
        bad.push(`subscriber ${s.id} saw ${ev.topic} at seq ${ev.seq}, the journal holds ${journal.get(ev.seq) ?? 'nothing'} there`);
      }
      prev = Math.max(prev, ev.seq);
    }
    // every event of the journal from `from` to the last one seen must have been seen
    const saw = new Set(s.seen.map((e) => e.seq));
    // from `from` on only: a run has hundreds of segments, and an hour's journal hundreds of thousands of events
    for (let i = firstWhere(seqs.length, (j) => seqs[j]! >= s.from); i < seqs.length && seqs[i]! <= prev; i++) {
      if (!saw.has(seqs[i]!)) {
        bad.push(`subscriber ${s.id} (client ${s.client}, from ${s.from}) missed seq ${seqs[i]} (${journal.get(seqs[i]!)})`);
        break;
      }
    }
  }
  return bad;
}

/** a key's successive values (unique but for null), with where each value is: made once per key, for every watch of it */
export interface KeyValues {
  values: Array<string | null>;
  /** the positions of each non-null value (one, unless a value was written twice) */
  at: Map<string, number[]>;
  nulls: number[];
}

export function keyValues(values: Array<string | null>): KeyValues {
  const at = new Map<string, number[]>();
  const nulls: number[] = [];
  values.forEach((v, i) => {
    if (v === null) nulls.push(i);
    else {
      const list = at.get(v);
      if (list) list.push(i);
      else at.set(v, [i]);
    }
  });
  return { values, at, nulls };
}

/**
 * A watcher's values must be a contiguous run of the key's values, version after version. The runs tried are those
 * that put the first non-null value seen where the key had it (or, for nulls alone, at a null): a search of the
 * whole history per watch made the check grow with the square of a run's length (an hour has thousands of watches
 * of ~200,000 values).
 */
export function checkWatch(key: string, seen: Array<string | null>, hist: KeyValues): string | undefined {
  if (seen.length === 0) return undefined;
  const anchor = Math.max(0, seen.findIndex((v) => v !== null));
  const first = seen[anchor]!;
  const places = first === null ? hist.nulls : hist.at.get(first) ?? [];
  const { values } = hist;
  for (const at of places) {
    const i = at - anchor;
    if (i >= 0 && i + seen.length <= values.length && seen.every((v, j) => values[i + j] === v)) return undefined;
  }
  // the key's values around where the run would start, not all of them (an hour's are megabytes)
  const near = places.length > 0 ? Math.max(0, places[0]! - anchor - 3) : undefined;
  const context = near === undefined ? `${JSON.stringify(first)} was never the key's value`
    : `the key's successive values from position ${near} were ${JSON.stringify(values.slice(near, near + seen.length + 6))}`;
  return `a watch of ${key} saw ${JSON.stringify(seen)}, which is not a run of the key's successive values: ${context}`;
}
