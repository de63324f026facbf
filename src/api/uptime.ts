// What `flux uptime` reports about an instance: its owner, size and depth, how long rank 0 has run, and how many
// brokers are not online (found by asking each online broker, from rank 0 down, about its children).
import { descendantsOf } from '../core/topology.js';
import type { Flux } from './handle.js';

export interface Uptime {
  /** seconds since rank 0 started */
  duration: number;
  owner: number;
  size: number;
  level: number;
  offline: number;
}

interface Health {
  children?: Array<{ rank: number; status: string }>;
}

async function attr(h: Flux, name: string, nodeid?: number): Promise<string> {
  return String((await h.call('attr.get', { name }, nodeid === undefined ? {} : { nodeid })).value);
}

/** ranks below `rank` that are not online: a child that is not up takes its whole subtree with it */
async function offlineBelow(h: Flux, rank: number, size: number, k: number): Promise<number> {
  const health = (await h.call('overlay.health', undefined, { nodeid: rank })) as Health;
  const counts = await Promise.all((health.children ?? []).map((c) => (c.status === 'full' || c.status === 'partial' || c.status === 'degraded'
    ? offlineBelow(h, c.rank, size, k)
    : Promise.resolve(1 + descendantsOf(c.rank, size, k)))));
  return counts.reduce((a, b) => a + b, 0);
}

export async function uptime(h: Flux): Promise<Uptime> {
  const [owner, size, level, fanout, start] = await Promise.all([
    attr(h, 'security.owner'), attr(h, 'size'), attr(h, 'instance-level'), attr(h, 'tbon.fanout'), attr(h, 'broker.starttime', 0),
  ]);
  const n = Number(size);
  return {
    duration: Math.max(0, Date.now() / 1000 - Number(start)),
    owner: Number(owner),
    size: n,
    level: Number(level),
    offline: await offlineBelow(h, 0, n, Number(fanout)),
  };
}
