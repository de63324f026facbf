// Client of the resource service (hardware discovery, the instance's R) and of the scheduler's view of it.
import { FluxError, EPROTO } from '../core/errors.js';
import { type RankTopology, toRankTopology } from '../core/resource/hwloc-xml.js';
import { parseIdset } from '../core/resource/idset.js';
import type { DrainMode } from '../core/resource/drain.js';
import { type ResourceSet, decodeR, emptySet } from '../core/resource/rset.js';
import type { Flux } from './handle.js';

/** the scheduler's view (sched.resource-status): what it manages, what jobs hold, what is unavailable */
export interface ResourceStatus {
  all: ResourceSet;
  allocated: ResourceSet;
  down: ResourceSet;
}

/** a set the scheduler answered; a missing or null one is empty, as flux-core's client reads it */
function setOf(body: Record<string, unknown>, key: string): ResourceSet {
  const R = body[key];
  return R === undefined || R === null ? emptySet() : decodeR(R);
}

export async function resourceStatus(h: Flux): Promise<ResourceStatus> {
  const body = await h.call('sched.resource-status', {}, { nodeid: 0 });
  return { all: setOf(body, 'all'), allocated: setOf(body, 'allocated'), down: setOf(body, 'down') };
}

/** the instance's resources as the resource service discovered them */
export async function instanceR(h: Flux): Promise<ResourceSet> {
  const body = await h.call('resource.R', {}, { nodeid: 0 });
  if (body.R === undefined) throw new FluxError(EPROTO, 'resource.R response has no R');
  return decodeR(body.R);
}

/**
 * Each rank's topology XML, in rank order: of every rank, or of the ranks of the idset `ranks`. A rank that
 * has none (its discovery failed or it did not answer) has "".
 */
export async function topology(h: Flux, ranks?: string): Promise<Array<{ rank: number; xml: string }>> {
  const body = await h.call('resource.get-xml', ranks === undefined ? {} : { ranks }, { nodeid: 0 });
  const xml = body.xml;
  if (!Array.isArray(xml) || !xml.every((x) => typeof x === 'string')) throw new FluxError(EPROTO, 'resource.get-xml response has no xml array');
  const order = ranks === undefined ? xml.map((_, i) => i) : parseIdset(ranks, xml.length);
  if (order.length !== xml.length) throw new FluxError(EPROTO, `resource.get-xml answered ${xml.length} ranks for ${order.length}`);
  return xml.map((x, i) => ({ rank: order[i]!, xml: x as string }));
}

/** one broker's own discovery: the broker this handle is connected to, or rank `nodeid` */
export async function rankTopology(h: Flux, opts: { nodeid?: number; xml?: boolean } = {}): Promise<RankTopology> {
  const body = await h.call('resource.topo-get', opts.xml ? { xml: true } : {}, opts.nodeid === undefined ? {} : { nodeid: opts.nodeid });
  return toRankTopology(body);
}

/** the system view (resource.status): every rank's resources, which ranks are up, which are drained and why */
export interface SystemStatus {
  R: ResourceSet;
  online: number[];
  offline: number[];
  /** ranks drained together, with when and why */
  drain: Array<{ ranks: number[]; timestamp: number; reason: string }>;
}

export async function systemStatus(h: Flux): Promise<SystemStatus> {
  const body = await h.call('resource.status', {}, { nodeid: 0 });
  const ids = (key: string) => (typeof body[key] === 'string' ? parseIdset(body[key] as string) : []);
  const drain = body.drain !== null && typeof body.drain === 'object' ? body.drain as Record<string, { timestamp?: unknown; reason?: unknown }> : {};
  return {
    R: setOf(body, 'R'),
    online: ids('online'),
    offline: ids('offline'),
    drain: Object.entries(drain).map(([idset, d]) => ({
      ranks: parseIdset(idset), timestamp: typeof d.timestamp === 'number' ? d.timestamp : 0, reason: typeof d.reason === 'string' ? d.reason : '',
    })),
  };
}

/** take ranks (an idset) out of scheduling; `mode` says what to do about ranks already drained (refuse them by default) */
export async function drain(h: Flux, targets: string, reason = '', mode: DrainMode = 'fail'): Promise<void> {
  await h.call('resource.drain', { targets, reason, mode }, { nodeid: 0 });
}

/** give drained ranks back to the scheduler; `force` passes over ranks that are not drained */
export async function undrain(h: Flux, targets: string, force = false): Promise<void> {
  await h.call('resource.undrain', { targets, force }, { nodeid: 0 });
}
