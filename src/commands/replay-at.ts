// A projection as it was at a past journal seq, worked out by rank 0 from its nearest snapshot with the same
// reducer the brokers run, and loaded here. What `flux ps --at-version` and `flux cron list --at-version` show.
import type { Flux } from '../api/handle.js';
import { FluxError, EPROTO } from '../core/errors.js';
import type { Projection } from '../projections/projection.js';

/** the state after entry `version`, and that entry's time (0 for version 0) */
export async function stateAt<S>(h: Flux, version: number, projection: Projection<S>): Promise<{ state: S; time: number }> {
  const r = await h.call('journal.state-at', { seq: version, name: projection.name }, { nodeid: 0 }).catch((err: unknown) => {
    throw err instanceof FluxError ? new FluxError(err.errno, `--at-version ${version}: ${err.message}`) : err;
  });
  if (typeof r.time !== 'number' || typeof r.state !== 'object') throw new FluxError(EPROTO, 'journal.state-at answered without a state');
  return { state: projection.load(r.state), time: r.time };
}
