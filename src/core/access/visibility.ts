// Who may read a journal entry: the rule for live events and for every read of the past alike, so that what a
// user finds in the history is exactly what it could have received live.
//
// The instance owner reads everything. Anyone else reads the entries made in its own name (its events, private
// ones too; its namespaces' commits) and the public events of others. Private events (RFC 6 PRIVATE) and the
// entries services make for the instance's own state (KVS commits of others' namespaces, processes, cron, the
// user database, the journal's own) are not theirs to read. Of the primary namespace's commits, which carry the
// job events of every user, a reader other than the owner gets a redacted view holding its own jobs' events
// alone (src/projections/entry-view.ts applies this rule to them).
import { FLAG_PRIVATE, ROLE_OWNER } from '../wire/message.js';

/** topic prefixes of the entries services make: only those services write them, and only the owner reads them */
export const SERVICE_TOPICS = ['kvs.namespace-', 'rexec.', 'journal.', 'cron.', 'user.'];

export const isServiceTopic = (topic: string): boolean => SERVICE_TOPICS.some((p) => topic.startsWith(p));

export interface Reader {
  userid: number;
  rolemask: number;
}

export interface Readable {
  topic: string;
  userid: number;
  flags: number;
}

export function mayRead(reader: Reader, e: Readable): boolean {
  if (reader.rolemask & ROLE_OWNER) return true;
  if (e.userid === reader.userid) return true;
  return (e.flags & FLAG_PRIVATE) === 0 && !isServiceTopic(e.topic);
}

/** the flag of a redacted view of an entry; never stored, so no entry of the journal carries it */
export const ENTRY_REDACTED = 0x40000;

export const REDACTED_NOTE = "redacted: only your own jobs' events of this entry are shown; the entry's ref is of the whole entry and cannot verify this view";

/** a redacted view is neither the entry nor an event: it is shown, never replayed as one */
export const isRedacted = (e: { flags: number }): boolean => (e.flags & ENTRY_REDACTED) !== 0;
