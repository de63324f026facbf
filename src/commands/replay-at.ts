// A projection as it was at a past journal seq: entries 1..version fetched from the instance and applied with the
// same reducer the brokers run. What `flux ps --at-version` and `flux cron list --at-version` show.
import type { Flux } from '../api/handle.js';
import { FluxError, EINVAL, EPROTO } from '../core/errors.js';
import { decodeEntry, type Entry } from '../core/journal-entry.js';

/** entries asked for per journal.fetch (the service answers at most 1000) */
const PAGE = 1000;

/** the state after entry `version`, and that entry's time (0 for version 0) */
export async function stateAt<S>(
  h: Flux, version: number, initial: S, apply: (state: S, entry: Entry) => S,
): Promise<{ state: S; time: number }> {
  const head = Number((await h.call('journal.head')).seq);
  if (version > head) throw new FluxError(EINVAL, `--at-version ${version}: the journal ends at ${head}`);
  let state = initial;
  let time = 0;
  for (let next = 1; next <= version; ) {
    const r = await h.call('journal.fetch', { from: next, count: Math.min(PAGE, version - next + 1) });
    const entries = Array.isArray(r.entries) ? (r.entries as unknown[]) : [];
    if (entries.length === 0) throw new FluxError(EPROTO, `journal.fetch returned no entries at seq ${next}`);
    for (const raw of entries) {
      const e = decodeEntry(JSON.stringify(raw));
      if (e.seq < next) continue;
      if (e.seq > next) throw new FluxError(EPROTO, `journal.fetch skipped from seq ${next} to ${e.seq}`);
      state = apply(state, e);
      time = e.time;
      next++;
      if (next > version) break;
    }
  }
  return { state, time };
}
