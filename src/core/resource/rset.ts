// Resource sets: which cores and GPUs of which broker ranks, and their RFC 20 form (R version 1),
//   {"version":1,"execution":{"R_lite":[{"rank":"0-3","children":{"core":"0-1"}}],
//    "starttime":0,"expiration":0,"nodelist":["host[0-3]"]}}
// Sets are plain immutable values; the operations make new ones. A rank holding neither cores nor GPUs is not
// a member of a set, as flux-core's rlist drops a node that a difference leaves empty. Pure.
import { FluxError, EINVAL } from '../errors.js';
import { formatIdset, parseIdset } from './idset.js';
import { compressHostlist, expandHostlist } from './hostlist.js';
import { compile } from '../validate.js';

export interface NodeResources {
  rank: number;
  hostname?: string;
  /** ascending, no repeats */
  cores: readonly number[];
  gpus: readonly number[];
}

export interface ResourceSet {
  /** ascending by rank */
  readonly nodes: readonly NodeResources[];
  /** seconds since the epoch; 0 = unset */
  readonly starttime: number;
  readonly expiration: number;
}

/** R version 1 as this module writes it */
export interface Rv1 {
  version: 1;
  execution: {
    R_lite: Array<{ rank: string; children: Record<string, string> }>;
    starttime: number;
    expiration: number;
    nodelist?: string[];
  };
}

const EMPTY: ResourceSet = { nodes: [], starttime: 0, expiration: 0 };

export function emptySet(): ResourceSet {
  return EMPTY;
}

const sortedUnique = (ids: Iterable<number>) => [...new Set(ids)].sort((a, b) => a - b);
const isEmpty = (n: NodeResources) => n.cores.length === 0 && n.gpus.length === 0;

/**
 * A set from per-rank resources (a discovery per rank, say). Ids are sorted and deduplicated; a rank named
 * twice gets the union; ranks with nothing are left out.
 */
export function buildResourceSet(
  nodes: Iterable<{ rank: number; hostname?: string; cores: Iterable<number>; gpus?: Iterable<number> }>,
  window: { starttime?: number; expiration?: number } = {},
): ResourceSet {
  const byRank = new Map<number, NodeResources>();
  for (const n of nodes) {
    if (!Number.isSafeInteger(n.rank) || n.rank < 0) throw new FluxError(EINVAL, `invalid rank ${n.rank}`);
    const node: NodeResources = { rank: n.rank, cores: sortedUnique(n.cores), gpus: sortedUnique(n.gpus ?? []) };
    if (n.hostname !== undefined) node.hostname = n.hostname;
    const prev = byRank.get(n.rank);
    byRank.set(n.rank, prev ? unionNode(prev, node) : node);
  }
  const list = [...byRank.values()].filter((n) => !isEmpty(n)).sort((a, b) => a.rank - b.rank);
  return { nodes: list, starttime: window.starttime ?? 0, expiration: window.expiration ?? 0 };
}

// ---- sorted id lists ---------------------------------------------------------------------------------

function mergeIds(a: readonly number[], b: readonly number[], keep: (inA: boolean, inB: boolean) => boolean): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x < y)) {
      if (keep(true, false)) out.push(x!);
      i++;
    } else if (x === undefined || y < x) {
      if (keep(false, true)) out.push(y);
      j++;
    } else {
      if (keep(true, true)) out.push(x);
      i++;
      j++;
    }
  }
  return out;
}

const or = (x: boolean, y: boolean) => x || y;
const andNot = (x: boolean, y: boolean) => x && !y;
const and = (x: boolean, y: boolean) => x && y;

function combineNode(a: NodeResources, b: NodeResources, keep: (x: boolean, y: boolean) => boolean): NodeResources {
  const node: NodeResources = { rank: a.rank, cores: mergeIds(a.cores, b.cores, keep), gpus: mergeIds(a.gpus, b.gpus, keep) };
  const hostname = a.hostname ?? b.hostname;
  if (hostname !== undefined) node.hostname = hostname;
  return node;
}

const unionNode = (a: NodeResources, b: NodeResources) => combineNode(a, b, or);

/** walks both node lists by rank; `both` combines a rank present in each, `onlyA`/`onlyB` keep or drop */
function combine(
  a: ResourceSet, b: ResourceSet, both: (x: NodeResources, y: NodeResources) => NodeResources, onlyA: boolean, onlyB: boolean,
): ResourceSet {
  const nodes: NodeResources[] = [];
  let i = 0;
  let j = 0;
  while (i < a.nodes.length || j < b.nodes.length) {
    const x = a.nodes[i];
    const y = b.nodes[j];
    if (y === undefined || (x !== undefined && x.rank < y.rank)) {
      if (onlyA) nodes.push(x!);
      i++;
    } else if (x === undefined || y.rank < x.rank) {
      if (onlyB) nodes.push(y);
      j++;
    } else {
      const n = both(x, y);
      if (!isEmpty(n)) nodes.push(n);
      i++;
      j++;
    }
  }
  return { nodes, starttime: a.starttime, expiration: a.expiration };
}

/** everything in either; a's hostnames and time window win */
export function union(a: ResourceSet, b: ResourceSet): ResourceSet {
  return combine(a, b, unionNode, true, true);
}

/** what a holds and b does not */
export function difference(a: ResourceSet, b: ResourceSet): ResourceSet {
  return combine(a, b, (x, y) => combineNode(x, y, andNot), true, false);
}

/** what both hold */
export function intersection(a: ResourceSet, b: ResourceSet): ResourceSet {
  return combine(a, b, (x, y) => combineNode(x, y, and), false, false);
}

/** the set restricted to these ranks */
export function selectRanks(set: ResourceSet, ranks: Iterable<number>): ResourceSet {
  const keep = new Set(ranks);
  return { ...set, nodes: set.nodes.filter((n) => keep.has(n.rank)) };
}

export function withWindow(set: ResourceSet, starttime: number, expiration: number): ResourceSet {
  return { ...set, starttime, expiration };
}

export function countNodes(set: ResourceSet): number {
  return set.nodes.length;
}

export function countCores(set: ResourceSet): number {
  return set.nodes.reduce((n, node) => n + node.cores.length, 0);
}

export function countGpus(set: ResourceSet): number {
  return set.nodes.reduce((n, node) => n + node.gpus.length, 0);
}

export function ranksOf(set: ResourceSet): number[] {
  return set.nodes.map((n) => n.rank);
}

/** the ranks as an RFC 22 idset ("0-3,5") */
export function rankIdset(set: ResourceSet): string {
  return formatIdset(ranksOf(set));
}

/** the hostnames in rank order as an RFC 29 hostlist; undefined when a member has no hostname */
export function nodelist(set: ResourceSet): string | undefined {
  if (set.nodes.some((n) => n.hostname === undefined)) return undefined;
  return compressHostlist(set.nodes.map((n) => n.hostname!));
}

// ---- R version 1 ------------------------------------------------------------------------------------

/**
 * The set as R: R_lite entries group the ranks whose children are alike (in order of their first rank, as
 * flux-core's encoder orders them); nodelist only when every member has a hostname (an empty set has the
 * empty hostlist, as flux-core writes it).
 */
export function encodeR(set: ResourceSet): Rv1 {
  const groups = new Map<string, { ranks: number[]; children: Record<string, string> }>();
  for (const n of set.nodes) {
    const children: Record<string, string> = { core: formatIdset(n.cores) };
    if (n.gpus.length > 0) children.gpu = formatIdset(n.gpus);
    const key = `${children.core}|${children.gpu ?? ''}`;
    const g = groups.get(key);
    if (g) g.ranks.push(n.rank);
    else groups.set(key, { ranks: [n.rank], children });
  }
  const R: Rv1 = {
    version: 1,
    execution: {
      R_lite: [...groups.values()].map((g) => ({ rank: formatIdset(g.ranks), children: g.children })),
      starttime: set.starttime,
      expiration: set.expiration,
    },
  };
  const hosts = nodelist(set);
  if (hosts !== undefined) R.execution.nodelist = [hosts];
  return R;
}

const validateR = compile({
  type: 'object',
  properties: {
    version: { const: 1 },
    execution: {
      type: 'object',
      properties: {
        R_lite: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              rank: { type: 'string' },
              children: { type: 'object', additionalProperties: { type: 'string' } },
            },
            required: ['rank', 'children'],
          },
        },
        nodelist: { type: 'array', items: { type: 'string' } },
        starttime: { type: 'number' },
        expiration: { type: 'number' },
      },
      required: ['R_lite'],
    },
  },
  required: ['version', 'execution'],
});

/** a parse of a part of R, with what went wrong as EINVAL */
function part<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new FluxError(EINVAL, `invalid R: ${what}: ${(err as Error).message}`);
  }
}

/**
 * A set from R (the parsed JSON object). Ranks named by several R_lite entries get the union; nodelist, when
 * present, names one host per rank in rank order. EINVAL when R is malformed.
 */
export function decodeR(R: unknown): ResourceSet {
  part('schema', () => validateR(R));
  const exec = (R as { execution: { R_lite: Array<{ rank: string; children: Record<string, string> }>; nodelist?: string[]; starttime?: number; expiration?: number } }).execution;
  const byRank = new Map<number, { cores: number[]; gpus: number[] }>();
  for (const e of exec.R_lite) {
    const ranks = part(`rank "${e.rank}"`, () => parseIdset(e.rank));
    const cores = part(`core "${e.children.core ?? ''}"`, () => parseIdset(e.children.core ?? ''));
    const gpus = part(`gpu "${e.children.gpu ?? ''}"`, () => parseIdset(e.children.gpu ?? ''));
    for (const r of ranks) {
      const n = byRank.get(r) ?? { cores: [], gpus: [] };
      n.cores.push(...cores);
      n.gpus.push(...gpus);
      byRank.set(r, n);
    }
  }
  const ranks = [...byRank.keys()].sort((a, b) => a - b);
  let hosts: string[] | undefined;
  if (exec.nodelist !== undefined) {
    hosts = part('nodelist', () => exec.nodelist!.flatMap((h) => expandHostlist(h)));
    if (hosts.length !== ranks.length) {
      throw new FluxError(EINVAL, `invalid R: nodelist names ${hosts.length} hosts for ${ranks.length} ranks`);
    }
  }
  return buildResourceSet(ranks.map((rank, i) => ({ rank, hostname: hosts?.[i], ...byRank.get(rank)! })), {
    starttime: exec.starttime ?? 0,
    expiration: exec.expiration ?? 0,
  });
}
