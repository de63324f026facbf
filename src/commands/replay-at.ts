// A point in the journal's past as commands take it, --at-seq SEQ (after that journal entry) or --at-time TIME
// (after the last entry made by then), and a projection as it was there, worked out by rank 0 from its nearest
// snapshot with the reducer the brokers run. What `flux ps`, `flux cron list` and `flux jobs` show of the past.
import type { Command } from 'commander';
import type { Flux } from '../api/handle.js';
import { FluxError, EINVAL, EPROTO } from '../core/errors.js';
import { parseTimeArg } from '../core/time/arg.js';
import type { Projection } from '../projections/projection.js';
import { stateAt as journalStateAt } from '../api/journal.js';
import { parseSeq } from './event.js';
import { renamed } from './common.js';

export type Past = { seq: number } | { time: number };

export interface PastOpts {
  atSeq?: string;
  atTime?: string;
}

/**
 * --at-seq and --at-time on a command; --at-version, which named the journal position here before, now fails
 * with the new name (--at-version is the KVS root version, in flux kvs)
 */
export function pastOptions(c: Command, what: string): Command {
  c.option('--at-seq <SEQ>', `${what} as it was after this journal entry`)
    .option('--at-time <TIME>', `${what} as it was at TIME (ISO-8601, or seconds since the epoch)`);
  return renamed(c, '--at-version <SEQ>', '--at-seq');
}

/** the point the options name, or undefined for now */
export function pastOf(o: PastOpts): Past | undefined {
  if (o.atSeq !== undefined && o.atTime !== undefined) throw new FluxError(EINVAL, 'specify at most one of --at-seq and --at-time');
  if (o.atSeq !== undefined) return { seq: parseSeq(o.atSeq, '--at-seq') };
  if (o.atTime === undefined) return undefined;
  const time = parseTimeArg(o.atTime);
  if (time === undefined) throw new FluxError(EINVAL, `invalid time '${o.atTime}': expected ISO-8601 or seconds since the epoch`);
  return { time };
}

const named = (p: Past) => ('seq' in p ? `--at-seq ${p.seq}` : `--at-time ${new Date(p.time * 1000).toISOString()}`);

/** the state at that point, the seq it is after, and that entry's time (0 for seq 0) */
export async function stateAt<S>(h: Flux, past: Past, projection: Projection<S>): Promise<{ state: S; seq: number; time: number }> {
  const r = await journalStateAt(h, past, projection.name).catch((err: unknown) => {
    throw err instanceof FluxError ? new FluxError(err.errno, `${named(past)}: ${err.message}`) : err;
  });
  if (typeof r.time !== 'number' || typeof r.seq !== 'number' || typeof r.state !== 'object') {
    throw new FluxError(EPROTO, 'journal.state-at answered without a state');
  }
  return { state: projection.load(r.state), seq: r.seq, time: r.time };
}
