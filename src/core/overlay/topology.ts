// The k-ary tree-based overlay network: pure functions of (rank, size, k). k = 0 means flat (rank 0 parents all).
import { FluxError, EINVAL } from '../errors.js';

/** the k of a `kary:K` topology, the only kind built here (flux-core's binomial and mincrit are not) */
export function parseTopo(spec: string): number {
  const m = /^kary:(\d+)$/.exec(spec);
  if (!m) throw new FluxError(EINVAL, `unsupported topology "${spec}": expected kary:K`);
  return Number(m[1]);
}

export function parentOf(rank: number, k: number): number | undefined {
  if (rank === 0) return undefined;
  if (k === 0) return 0;
  return Math.floor((rank - 1) / k);
}

export function childrenOf(rank: number, size: number, k: number): number[] {
  const out: number[] = [];
  if (k === 0) {
    if (rank === 0) for (let r = 1; r < size; r++) out.push(r);
    return out;
  }
  for (let i = 1; i <= k; i++) {
    const c = k * rank + i;
    if (c >= size) break;
    out.push(c);
  }
  return out;
}

export function levelOf(rank: number, k: number): number {
  let level = 0;
  for (let r = rank; r !== 0; r = parentOf(r, k)!) level++;
  return level;
}

export function maxLevel(size: number, k: number): number {
  return size > 0 ? levelOf(size - 1, k) : 0;
}

/** `rank` and the ranks below it in the tree, ascending. */
export function subtreeOf(rank: number, size: number, k: number): number[] {
  const out = [rank];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]!, size, k));
  return out.sort((a, b) => a - b);
}

/** The number of ranks below `rank` in the tree. */
export function descendantsOf(rank: number, size: number, k: number): number {
  return subtreeOf(rank, size, k).length - 1;
}

/** The child of `rank` whose subtree holds `target`, or undefined when target is not below rank. */
export function childRoute(rank: number, target: number, k: number): number | undefined {
  for (let r: number | undefined = target; r !== undefined && r !== 0; ) {
    const p: number = parentOf(r, k)!;
    if (p === rank) return r;
    if (p < rank) return undefined;
    r = p;
  }
  return undefined;
}
