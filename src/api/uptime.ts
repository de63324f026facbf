// What `flux uptime` reports about an instance: its state, owner, size and depth, how long rank 0 has run, and how
// many brokers are not online (from a walk of the tree, which asks only the brokers whose subtree is not full).
import { type OverlayNode, topology, walk } from './overlay.js';
import type { Flux } from './handle.js';

export interface Uptime {
  /** rank 0's state: run, or cleanup, shutdown… while the instance ends */
  state: string;
  /** seconds since rank 0 started */
  duration: number;
  owner: number;
  size: number;
  level: number;
  offline: number;
}

async function attr(h: Flux, name: string, nodeid?: number): Promise<string> {
  return String((await h.call('attr.get', { name }, nodeid === undefined ? {} : { nodeid })).value);
}

function countDown(n: OverlayNode): number {
  const own = n.status === 'lost' || n.status === 'offline' ? 1 : 0;
  return n.children.reduce((sum, c) => sum + countDown(c), own);
}

export async function uptime(h: Flux): Promise<Uptime> {
  const [owner, size, level, start, machine, tree] = await Promise.all([
    attr(h, 'security.owner'), attr(h, 'size'), attr(h, 'instance-level'), attr(h, 'broker.starttime', 0),
    h.call('state-machine.get', undefined, { nodeid: 0 }),
    topology(h, 0).then((t) => walk(h, t, { timeout: 0, everyRank: false })),
  ]);
  return {
    state: String(machine.state),
    duration: Math.max(0, Date.now() / 1000 - Number(start)),
    owner: Number(owner),
    size: Number(size),
    level: Number(level),
    offline: countDown(tree),
  };
}
