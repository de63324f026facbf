// An instance that serves a past state (flux start --replay DIR --at-seq N) answers every read as usual and refuses
// every request that would change the state with EROFS, on every rank, before any module acts on it.
import { FluxError, EROFS } from '../errors.js';

/** the requests that change the KVS, the journal, the content store, the process table or the cron table */
export const WRITE_TOPICS: ReadonlySet<string> = new Set([
  'kvs.commit', 'kvs.relaycommit', 'kvs.fence', 'kvs.namespace-create', 'kvs.namespace-remove',
  'event.publish',
  'rexec.exec', 'rexec.record',
  'content.store', 'content-backing.store', 'content.checkpoint-put',
  'journal.checkpoint',
  'cron.create', 'cron.delete', 'cron.stop', 'cron.start', 'cron.sync',
]);

/** the attributes flux start --replay sets on every broker */
export const ATTR_REPLAY_STATEDIR = 'replay.statedir';
export const ATTR_REPLAY_TO = 'replay.to';

export function readOnlyReason(statedir: string, seq: number | undefined): string {
  return `read-only: this instance replays ${statedir} as it was ${seq === undefined ? 'at its last entry' : `at seq ${seq}`}`;
}

/** the refusal for a request, or undefined when the request only reads */
export function readOnlyGate(reason: string): (topic: string) => FluxError | undefined {
  return (topic) => (WRITE_TOPICS.has(topic) ? new FluxError(EROFS, `${topic}: ${reason}`) : undefined);
}
