// First-fit allocation of cores (and GPUs) in the manner of flux-core's sched-simple: a request is nslots slots,
// each of coresPerSlot cores and gpusPerSlot GPUs that must sit on one rank; ranks are tried in ascending order
// and the lowest free ids taken. With nnodes the slots are spread over exactly that many ranks, as evenly as
// flux-core spreads them (flux-core's jobspec asks ceil(ntasks/nnodes) slots per node, so nslots is then a
// multiple of nnodes). Exclusive takes whole ranks that nothing else holds. A request is 'unsatisfiable' when
// the whole instance, with nothing allocated, could never hold it, 'busy' when it could but not now. Pure.
import { FluxError, EINVAL } from '../errors.js';
import type { NodeResources, ResourceSet } from './rset.js';

export interface ResourceRequest {
  /** 0 = any number of ranks */
  nnodes: number;
  nslots: number;
  coresPerSlot: number;
  gpusPerSlot: number;
  exclusive: boolean;
  /** seconds; 0 = unlimited */
  duration: number;
  /** how the slots are used; the allocation does not depend on it */
  ntasks: number;
  /** the shell's per-resource option (--tasks-per-node, --tasks-per-core): tasks counted on what was allocated */
  tasksPer?: { type: 'node' | 'core'; count: number };
}

export type Allocation = ResourceSet | 'unsatisfiable' | 'busy';

function check(req: ResourceRequest): void {
  const count = (name: keyof ResourceRequest, min: number) => {
    const v = req[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new FluxError(EINVAL, `${name} must be an integer >= ${min}`);
  };
  count('nnodes', 0);
  count('nslots', 1);
  count('coresPerSlot', 1);
  count('gpusPerSlot', 0);
  if (req.nnodes > req.nslots) throw new FluxError(EINVAL, 'nnodes must not be greater than nslots');
}

/** slots a node can hold */
function capacity(n: NodeResources, req: ResourceRequest): number {
  const byCores = Math.floor(n.cores.length / req.coresPerSlot);
  return req.gpusPerSlot > 0 ? Math.min(byCores, Math.floor(n.gpus.length / req.gpusPerSlot)) : byCores;
}

/** `slots` slots from the lowest ids of a node */
function take(n: NodeResources, slots: number, req: ResourceRequest): NodeResources {
  const node: NodeResources = { rank: n.rank, cores: n.cores.slice(0, slots * req.coresPerSlot), gpus: n.gpus.slice(0, slots * req.gpusPerSlot) };
  if (n.hostname !== undefined) node.hostname = n.hostname;
  return node;
}

/**
 * The nodes (ascending) and how many slots each gets, or undefined when the pool cannot hold the request.
 * `pool` is what may be used; `whole` says which of its nodes nothing else holds (for exclusive requests).
 */
function plan(pool: readonly NodeResources[], whole: (n: NodeResources) => boolean, req: ResourceRequest): Array<[NodeResources, number]> | undefined {
  const usable = req.exclusive ? pool.filter(whole) : pool;
  if (req.nnodes === 0) {
    const out: Array<[NodeResources, number]> = [];
    let left = req.nslots;
    for (const n of usable) {
      if (left === 0) break;
      const k = Math.min(capacity(n, req), left);
      if (k === 0) continue;
      out.push([n, k]);
      left -= k;
    }
    return left === 0 ? out : undefined;
  }
  // nslots over nnodes ranks: `extra` of them hold one slot more than the others. A rank able to hold the
  // larger share is always worth taking; one holding only the smaller share only while enough places for
  // the larger shares remain. Taking the lowest ranks that way finds a choice whenever one exists.
  const base = Math.floor(req.nslots / req.nnodes);
  const extra = req.nslots % req.nnodes;
  const chosen: Array<[NodeResources, boolean]> = [];
  let small = 0;
  for (const n of usable) {
    if (chosen.length === req.nnodes) break;
    const cap = capacity(n, req);
    if (cap >= base + 1) chosen.push([n, true]);
    else if (cap >= base && small < req.nnodes - extra) {
      chosen.push([n, false]);
      small++;
    }
  }
  if (chosen.length < req.nnodes) return undefined;
  let bigger = extra;
  return chosen.map(([n, big]) => {
    const share = big && bigger > 0 ? base + 1 : base;
    if (share > base) bigger--;
    return [n, share];
  });
}

function place(pool: readonly NodeResources[], whole: (n: NodeResources) => boolean, req: ResourceRequest): NodeResources[] | undefined {
  const p = plan(pool, whole, req);
  return p?.map(([n, slots]) => (req.exclusive ? n : take(n, slots, req)));
}

/**
 * Resources for `req` from `free`, or why not. `all` is the instance's whole set (free is a subset of it):
 * a request that does not fit into `all` is 'unsatisfiable', one that fits there but not into `free` is
 * 'busy'. The result's time window is unset; see allocationWindow(). EINVAL on a malformed request.
 */
export function allocate(free: ResourceSet, all: ResourceSet, req: ResourceRequest): Allocation {
  check(req);
  const total = new Map(all.nodes.map((n) => [n.rank, n]));
  const idle = (n: NodeResources) => {
    const t = total.get(n.rank);
    return t !== undefined && t.cores.length === n.cores.length && t.gpus.length === n.gpus.length;
  };
  const nodes = place(free.nodes, idle, req);
  if (nodes) return { nodes, starttime: 0, expiration: 0 };
  return place(all.nodes, () => true, req) ? 'busy' : 'unsatisfiable';
}

/**
 * When an allocation made at `now` is valid, as sched-simple sets it: until now + duration, or for an
 * unlimited duration until the instance's own expiration (0 = none).
 */
export function allocationWindow(req: ResourceRequest, now: number, all: ResourceSet): { starttime: number; expiration: number } {
  return { starttime: now, expiration: req.duration > 0 ? now + req.duration : all.expiration };
}
