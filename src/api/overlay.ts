// Client of the overlay service: each broker's view of its children, the tree's shape, and a walk of the whole
// tree that asks only the brokers whose subtrees are not full (and every broker when durations are wanted).
import { FluxError, EPROTO, ETIMEDOUT } from '../core/errors.js';
import { payloadJson } from '../core/wire/message.js';
import { isStatusName, type SubtreeStatus } from '../core/overlay/subtree-status.js';
import type { Flux } from './handle.js';

export interface ChildHealth {
  rank: number;
  status: SubtreeStatus;
  /** seconds in this status */
  duration: number;
  error?: string;
}

export interface Health {
  rank: number;
  status: SubtreeStatus;
  duration: number;
  children: ChildHealth[];
}

export interface Topology {
  rank: number;
  size: number;
  host: string;
  children: Topology[];
}

/** one broker in a walk: asked (duration, rtt known), or presumed from its parent's answer or its subtree's */
export interface OverlayNode {
  rank: number;
  host: string;
  /** a status, or why the broker could not be asked */
  status: SubtreeStatus | string;
  duration?: number;
  /** round trip of its overlay.health request, ms */
  rtt?: number;
  error?: string;
  /** presumed: behind a lost or offline broker */
  ghost: boolean;
  children: OverlayNode[];
}

function toStatus(v: unknown, what: string): SubtreeStatus {
  if (typeof v !== 'string' || !isStatusName(v)) throw new FluxError(EPROTO, `overlay.health: bad ${what} status`);
  return v;
}

function toHealth(body: Record<string, unknown>): Health {
  const children = Array.isArray(body.children) ? body.children : [];
  return {
    rank: Number(body.rank),
    status: toStatus(body.status, 'own'),
    duration: Number(body.duration),
    children: children.map((c: Record<string, unknown>) => ({
      rank: Number(c.rank),
      status: toStatus(c.status, 'child'),
      duration: Number(c.duration),
      ...(typeof c.error === 'string' ? { error: c.error } : {}),
    })),
  };
}

/** `p`, or ETIMEDOUT after `seconds` (0: no limit) */
function within<T>(p: Promise<T>, seconds: number): Promise<T> {
  if (!(seconds > 0) || seconds === Infinity) return p;
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FluxError(ETIMEDOUT)), seconds * 1000);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export async function health(h: Flux, rank: number, timeout = 0): Promise<Health> {
  return toHealth(await within(h.call('overlay.health', undefined, { nodeid: rank }), timeout));
}

/** overlay.health answers on `rank` as they come (the first now, then one per change) until `until` says stop */
export function watchHealth(h: Flux, rank: number, until: (health: Health) => boolean): Promise<void> {
  return h.stream('overlay.health', undefined, { nodeid: rank }, (m) => !until(toHealth(payloadJson(m))));
}

export async function topology(h: Flux, rank: number): Promise<Topology> {
  return (await h.call('overlay.topology', { rank }, { nodeid: rank })) as unknown as Topology;
}

export interface WalkOptions {
  /** seconds per request; 0 waits forever */
  timeout: number;
  /** ask every broker (for durations and round trips), not just those whose subtree is not full */
  everyRank: boolean;
}

/** the tree below `topo` as its brokers report it */
export async function walk(h: Flux, topo: Topology, opts: WalkOptions): Promise<OverlayNode> {
  const start = performance.now();
  let hl: Health;
  try {
    hl = await health(h, topo.rank, opts.timeout);
  } catch (err) {
    return {
      rank: topo.rank, host: topo.host, status: (err as Error).message, ghost: false,
      children: topo.children.map((c) => presumed(c, 'unknown')),
    };
  }
  const rtt = performance.now() - start;
  const byRank = new Map(topo.children.map((c) => [c.rank, c]));
  const children = await Promise.all(hl.children.map((c): Promise<OverlayNode> | OverlayNode => {
    const sub = byRank.get(c.rank) ?? { rank: c.rank, size: 1, host: String(c.rank), children: [] };
    if (c.status === 'lost' || c.status === 'offline') {
      return {
        rank: c.rank, host: sub.host, status: c.status, duration: c.duration, ghost: false,
        ...(c.error !== undefined ? { error: c.error } : {}),
        children: sub.children.map((g) => presumed(g, c.status)),
      };
    }
    if (c.status === 'full' && !opts.everyRank) {
      return { ...presumed(sub, 'full'), duration: c.duration, ghost: false };
    }
    return walk(h, sub, opts);
  }));
  return { rank: hl.rank, host: topo.host, status: hl.status, duration: hl.duration, rtt, ghost: false, children };
}

/** a subtree not asked: all full below a full broker, all gone behind a lost or offline one */
function presumed(topo: Topology, status: SubtreeStatus): OverlayNode {
  const ghost = status !== 'full';
  return {
    rank: topo.rank, host: topo.host, status, ghost, children: topo.children.map((c) => presumed(c, status)),
  };
}

/** ask `parent` to disconnect its child `rank` (and so the child's subtree) */
export async function disconnectSubtree(h: Flux, rank: number, parent: number): Promise<void> {
  await h.call('overlay.disconnect-subtree', { rank }, { nodeid: parent });
}
