// What a reader gets of one journal entry: the whole entry when it may read it (src/core/access/visibility.ts), a redacted
// view when the entry is the primary namespace's commit that carries job events of the reader's own jobs, nothing
// otherwise. Every read of the journal, live or of the past, goes through here, so a guest finds in the history
// exactly what it could have had live: its own jobs' events, never another user's, and nothing of the commit.
//
// A redacted view keeps the entry's position (seq, time, topic, prev) and replaces the payload with the reader's
// job items alone. It no longer hashes to the entry's ref: the payload says so, and the flags carry
// ENTRY_REDACTED in place of the KVS entry flag, so that nothing takes it for a commit or an event.
import type { Entry } from '../core/journal/entry.js';
import { type Reader, ENTRY_REDACTED, REDACTED_NOTE, mayRead } from '../core/access/visibility.js';
import { type JobItem, jobItems } from './jobs.js';
import { ENTRY_KVS } from './kvs.js';

/** whose a job is, as a job table knows it (undefined: not known) */
export type JobOwners = (id: number) => number | undefined;

/**
 * The ids of the jobs whose owners the view of `entry` depends on: none for an entry the reader may read whole or
 * one without job events.
 */
export function jobsNamed(reader: Reader, entry: Entry): number[] {
  return mayRead(reader, entry) ? [] : jobItems(entry).map((it) => it.id);
}

/**
 * The reader's view of `entry`; `ownerOf` knows the owner of a job the entry does not submit itself (the job table
 * before it does, and so does any later one that still keeps the job: an owner never changes). Undefined: the
 * reader gets nothing of it.
 */
export function entryView(reader: Reader, entry: Entry, ownerOf: JobOwners = () => undefined): Entry | undefined {
  if (mayRead(reader, entry)) return entry;
  const items = jobItems(entry);
  if (items.length === 0) return undefined;
  // a job submitted in this very entry has its owner in its submit event
  const owners = new Map<number, number>();
  for (const it of items) {
    const uid = it.event.name === 'submit' ? it.event.context?.userid : undefined;
    if (typeof uid === 'number') owners.set(it.id, uid);
  }
  const mine = items.filter((it) => (owners.get(it.id) ?? ownerOf(it.id)) === reader.userid).map(plainItem);
  if (mine.length === 0) return undefined;
  return {
    seq: entry.seq, prev: entry.prev, time: entry.time, topic: entry.topic, userid: entry.userid, rolemask: entry.rolemask,
    flags: (entry.flags & ~ENTRY_KVS) | ENTRY_REDACTED,
    payload: { redacted: REDACTED_NOTE, jobs: mine },
  };
}

/** an item as JSON holds it: a member without a value is left out */
function plainItem(it: JobItem): Record<string, unknown> {
  const out: Record<string, unknown> = { id: it.id, event: it.event };
  if (it.submit !== undefined) out.submit = it.submit;
  if (it.R !== undefined) out.R = it.R;
  if (it.ntasks !== undefined) out.ntasks = it.ntasks;
  return out;
}
