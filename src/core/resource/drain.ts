// Drained ranks: what the administrator took out of scheduling, and why. The record is the KVS eventlog
// `resource.eventlog` (as flux-core keeps it), so a drain outlives a restart:
//   {"timestamp":T,"name":"drain","context":{"idset":"1-2","reason":"bad fan","overwrite":0,"nodelist":"h[1-2]"}}
//   {"timestamp":T,"name":"undrain","context":{"idset":"1","nodelist":"h1"}}
// overwrite 0: the ranks were not drained; 1: a new reason over the old timestamp; 2: both new. Pure.
import { FluxError, EEXIST, EINVAL } from '../errors.js';
import { formatIdset, parseIdset } from './idset.js';

export interface Drained {
  /** when it was drained, seconds since the epoch */
  timestamp: number;
  reason: string;
}

/** rank -> why and since when it is drained */
export type DrainMap = ReadonlyMap<number, Drained>;

/** what `flux resource drain` does to a rank already drained: refuse, keep its drain, or take the new reason */
export type DrainMode = 'fail' | 'update' | 'overwrite' | 'overwrite-timestamp';

export interface ResourceEvent {
  timestamp: number;
  name: string;
  context?: Record<string, unknown>;
}

/** the map after one event of resource.eventlog (other events, and malformed ones, change nothing) */
export function applyResourceEvent(map: DrainMap, e: ResourceEvent): DrainMap {
  const ctx = e.context ?? {};
  if ((e.name !== 'drain' && e.name !== 'undrain') || typeof ctx.idset !== 'string') return map;
  let ranks: number[];
  try {
    ranks = parseIdset(ctx.idset);
  } catch {
    return map;
  }
  const out = new Map(map);
  for (const r of ranks) {
    if (e.name === 'undrain') {
      out.delete(r);
      continue;
    }
    const before = out.get(r);
    const keepTime = before !== undefined && ctx.overwrite !== 2;
    out.set(r, { timestamp: keepTime ? before.timestamp : e.timestamp, reason: typeof ctx.reason === 'string' ? ctx.reason : '' });
  }
  return out;
}

/**
 * The drain event for `ranks` (those already drained are left out in update mode), or why there is none: a
 * rank already drained when the mode is to fail. Undefined when nothing would change.
 */
export function drainEvent(map: DrainMap, ranks: readonly number[], reason: string, mode: DrainMode, now: number): ResourceEvent | undefined {
  const already = ranks.filter((r) => map.has(r));
  if (mode === 'fail' && already.length > 0) throw new FluxError(EEXIST, `rank ${formatIdset(already)} already drained`);
  const targets = mode === 'update' ? ranks.filter((r) => !map.has(r)) : ranks;
  if (targets.length === 0) return undefined;
  const overwrite = mode === 'overwrite-timestamp' ? 2 : already.length > 0 && mode === 'overwrite' ? 1 : 0;
  return { timestamp: now, name: 'drain', context: { idset: formatIdset(targets), reason, overwrite } };
}

/** the undrain event for `ranks`; one not drained is refused unless `force`, which leaves it out */
export function undrainEvent(map: DrainMap, ranks: readonly number[], force: boolean, now: number): ResourceEvent | undefined {
  const notDrained = ranks.filter((r) => !map.has(r));
  if (!force && notDrained.length > 0) throw new FluxError(EINVAL, `rank ${formatIdset(notDrained)} not drained`);
  const targets = ranks.filter((r) => map.has(r));
  return targets.length === 0 ? undefined : { timestamp: now, name: 'undrain', context: { idset: formatIdset(targets) } };
}
