// What `flux resource list|info|R` and `flux hwloc info` print, byte for byte as flux-core prints it. Pure.
//
// flux resource list: flux-core's default format is
//   "{state:>10} ?:{queue:<10.10} ?:{propertiesx:<10.10+} {nnodes:>6} {ncores:>8} ?:{ngpus:>8} {nodelist}"
// where a "?:" column is left out when it is empty on every line. Without queues and properties that is
//   "{state:>10} {nnodes:>6} {ncores:>8} {ngpus:>8} {nodelist}"  (NGPUS stays: 0 is not empty)
// and one line per requested state, in the order asked, a state with nothing included (with a trailing space).
import { FluxError, EINVAL } from '../core/errors.js';
import { dumpJson, janssonReal } from '../core/kvs/format-json.js';
import {
  type ResourceSet, countCores, countGpus, countNodes, difference, emptySet, encodeR, nodelist, rankIdset, union,
} from '../core/resource/rset.js';
import { compressHostlist } from '../core/resource/hostlist.js';
import { type Field, OutputFormat } from '../core/format/output.js';
import type { HwlocSummary } from '../core/resource/hwloc-xml.js';
import { formatIdset } from '../core/resource/idset.js';

export const LIST_STATES = ['up', 'down', 'allocated', 'free', 'all'] as const;
export type ListState = (typeof LIST_STATES)[number];

/** the sets the scheduler reports and the two flux-core derives from them: up = all - down, free = up - allocated */
export function stateSet(status: { all: ResourceSet; allocated: ResourceSet; down: ResourceSet }, state: ListState): ResourceSet {
  switch (state) {
    case 'all': return status.all;
    case 'down': return status.down;
    case 'allocated': return status.allocated;
    case 'up': return difference(status.all, status.down);
    case 'free': return difference(difference(status.all, status.down), status.allocated);
  }
}

/** "free,allocated" -> the states, repeats dropped (they would make one line); EINVAL on an unknown one */
export function parseStates(text: string): ListState[] {
  const out: ListState[] = [];
  for (const s of text.split(',')) {
    if (!(LIST_STATES as readonly string[]).includes(s)) throw new FluxError(EINVAL, `Invalid resource state ${s} specified`);
    if (!out.includes(s as ListState)) out.push(s as ListState);
  }
  return out;
}

export const LIST_FORMAT = '{state:>10} ?:{queue:<10.10} ?:{propertiesx:<10.10+} {nnodes:>6} {ncores:>8} ?:{ngpus:>8} {nodelist}';

interface ListRow {
  state: string;
  set: ResourceSet;
}

const LIST_FIELDS: Record<string, Field<ListRow>> = {
  state: { heading: 'STATE', get: (r) => r.state },
  queue: { heading: 'QUEUE', get: () => '' },
  properties: { heading: 'PROPERTIES', get: () => '' },
  propertiesx: { heading: 'PROPERTIES', get: () => '' },
  nnodes: { heading: 'NNODES', get: (r) => countNodes(r.set) },
  ncores: { heading: 'NCORES', get: (r) => countCores(r.set) },
  ngpus: { heading: 'NGPUS', get: (r) => countGpus(r.set) },
  ranks: { heading: 'RANKS', get: (r) => rankIdset(r.set) },
  nodelist: { heading: 'NODELIST', get: (r) => nodelist(r.set) ?? '' },
};

/** flux resource list: one line per state asked for, in flux-core's format language (-o) */
export function formatList(
  status: { all: ResourceSet; allocated: ResourceSet; down: ResourceSet }, states: ListState[], header: boolean, format = LIST_FORMAT,
): string {
  const rows = states.map((state) => ({ state, set: stateSet(status, state) }));
  return printed(new OutputFormat<ListRow>(format, LIST_FIELDS), rows, header);
}

/** the rows in the format, with its header line if asked for; a "?:" column left out when empty on every row */
function printed<T>(format: OutputFormat<T>, rows: readonly T[], header: boolean): string {
  const f = format.filter(rows, !header);
  return [...(header ? [f.header()] : []), ...rows.map((r) => f.line(r))].map((l) => `${l}\n`).join('');
}

/** the union of the states' sets: flux-core's info and R merge the lines of every state asked for */
export function unionOfStates(status: { all: ResourceSet; allocated: ResourceSet; down: ResourceSet }, states: ListState[]): ResourceSet {
  return states.reduce((acc, s) => union(acc, stateSet(status, s)), emptySet());
}

/** flux resource info: "8 Nodes, 32 Cores, 0 GPUs" (always plural, as flux-core prints it) */
export function formatInfo(set: ResourceSet): string {
  return `${countNodes(set)} Nodes, ${countCores(set)} Cores, ${countGpus(set)} GPUs\n`;
}

/**
 * flux resource R: the set as flux-core's encoder prints it (jansson without JSON_COMPACT: ", " and ": "
 * separators, the times as reals).
 */
export function formatR(set: ResourceSet): string {
  const q = (s: string) => dumpJson(s);
  const R = encodeR(set);
  const entries = R.execution.R_lite.map((e) => {
    const children = Object.entries(e.children).map(([k, v]) => `${q(k)}: ${q(v)}`).join(', ');
    return `{"rank": ${q(e.rank)}, "children": {${children}}}`;
  });
  let exec = `"R_lite": [${entries.join(', ')}], "starttime": ${janssonReal(R.execution.starttime)}, `
    + `"expiration": ${janssonReal(R.execution.expiration)}`;
  if (R.execution.nodelist) exec += `, "nodelist": [${R.execution.nodelist.map(q).join(', ')}]`;
  return `{"version": 1, "execution": {${exec}}}\n`;
}

/** flux hwloc info, in flux-core v0.11's words: "4 Machines, 8 Cores, 8 PUs" ("1 Machine", but always "Cores") */
export function formatHwlocInfo(summaries: readonly HwlocSummary[]): string {
  const sum = (type: string) => summaries.reduce((n, s) => n + (s.counts[type] ?? 0), 0);
  const machines = sum('Machine');
  return `${machines} Machine${machines > 1 ? 's' : ''}, ${sum('Core')} Cores, ${sum('PU')} PUs\n`;
}

// ---- the system view: flux resource status and flux resource drain ----------------------------------------------

/** what `flux resource status` and `drain` show: every rank, up or not, drained or not, holding a job or not */
export interface SystemView {
  /** the ranks of the instance and their hostnames (a rank whose resources are not known has none) */
  ranks: Array<{ rank: number; hostname?: string }>;
  offline: ReadonlySet<number>;
  drained: ReadonlyMap<number, { timestamp: number; reason: string }>;
  allocated: ReadonlySet<number>;
}

export const STATUS_STATES = ['avail', 'exclude', 'draining', 'drained', 'drain', 'torpid', 'allocated', 'housekeeping', 'offline', 'online'] as const;
export type StatusState = (typeof STATUS_STATES)[number];
export const STATUS_DEFAULT_STATES: StatusState[] = ['avail', 'exclude', 'draining', 'drained', 'torpid', 'housekeeping'];
export const STATUS_FORMAT = '{state:>10} {nnodes:>6} {nodelist}';
export const DRAIN_FORMAT = '{timestamp!d:%b%d %R::<12} {state:<8.8} {reason:<30.30+} {nodelist}';

/** "avail,drain" -> the states; EINVAL on an unknown one */
export function parseStatusStates(text: string): StatusState[] {
  return text.split(',').map((st) => {
    if (!(STATUS_STATES as readonly string[]).includes(st)) throw new FluxError(EINVAL, `Invalid resource state ${st} specified`);
    return st as StatusState;
  });
}

interface StatusRow {
  state: string;
  offline: boolean;
  ranks: number[];
  hosts: Array<string | undefined>;
  timestamp: number;
  reason: string;
}

const STATUS_FIELDS: Record<string, Field<StatusRow>> = {
  state: { heading: 'STATE', get: (r) => (r.offline ? `${r.state}*` : r.state) },
  statex: { heading: 'STATE', get: (r) => r.state },
  status: { heading: 'STATUS', get: (r) => (r.offline ? 'offline' : 'online') },
  up: { heading: 'UP', get: (r) => (r.offline ? '✗' : '✔') },
  'up.ascii': { heading: 'UP', get: (r) => (r.offline ? 'n' : 'y') },
  nnodes: { heading: 'NNODES', get: (r) => r.ranks.length },
  ranks: { heading: 'RANKS', get: (r) => formatIdset(r.ranks) },
  nodelist: { heading: 'NODELIST', get: (r) => (r.hosts.every((h) => h !== undefined) ? compressHostlist(r.hosts as string[]) : '') },
  timestamp: { heading: 'TIMESTAMP', get: (r) => r.timestamp, float: true },
  reason: { heading: 'REASON', get: (r) => r.reason },
};

/** the ranks in a state of the system view, in rank order */
function inState(v: SystemView, state: StatusState): number[] {
  const ranks = v.ranks.map((r) => r.rank);
  switch (state) {
    case 'avail': return ranks.filter((r) => !v.drained.has(r));
    case 'drained': return ranks.filter((r) => v.drained.has(r) && !v.allocated.has(r));
    case 'draining': return ranks.filter((r) => v.drained.has(r) && v.allocated.has(r));
    case 'drain': return ranks.filter((r) => v.drained.has(r));
    case 'allocated': return ranks.filter((r) => v.allocated.has(r));
    case 'offline': return ranks.filter((r) => v.offline.has(r));
    case 'online': return ranks.filter((r) => !v.offline.has(r));
    // nothing is excluded by configuration, found torpid by the resource service or kept for housekeeping here
    case 'exclude': case 'torpid': case 'housekeeping': return [];
  }
}

/**
 * One line per state and online/offline part, ranks merged into a line when everything the format shows of them
 * but their count, ranks and names is the same (so a drain format splits by reason, the default one does not);
 * a state with no ranks has an empty line only when the states were asked for (`explicit`).
 */
function statusRows(v: SystemView, states: readonly StatusState[], used: readonly string[], explicit: boolean): StatusRow[] {
  const host = new Map(v.ranks.map((r) => [r.rank, r.hostname]));
  const keyFields = used.filter((f) => !['nnodes', 'ranks', 'nodelist'].includes(f));
  const rows: StatusRow[] = [];
  for (const state of states) {
    const label = state === 'drain' ? 'drained' : state;
    const merged = new Map<string, StatusRow>();
    for (const rank of inState(v, state)) {
      const d = v.drained.get(rank);
      const drainState = d !== undefined && (state === 'drain' || state === 'drained' || state === 'draining');
      const row: StatusRow = {
        state: state === 'drain' ? (v.allocated.has(rank) ? 'draining' : 'drained') : label,
        offline: state !== 'offline' && state !== 'online' && v.offline.has(rank),
        ranks: [rank], hosts: [host.get(rank)], timestamp: drainState ? d.timestamp : 0, reason: drainState ? d.reason : '',
      };
      const key = JSON.stringify(keyFields.map((f) => STATUS_FIELDS[f]!.get(row)));
      const into = merged.get(key);
      if (into) {
        into.ranks.push(rank);
        into.hosts.push(host.get(rank));
      } else {
        merged.set(key, row);
      }
    }
    if (merged.size === 0 && explicit) rows.push({ state: label, offline: false, ranks: [], hosts: [], timestamp: 0, reason: '' });
    rows.push(...merged.values());
  }
  return rows;
}

/** flux resource status: the system view's lines in flux-core's format language */
export function formatStatus(
  v: SystemView, states: readonly StatusState[] | undefined, header: boolean, format = STATUS_FORMAT, skipEmpty = false,
): string {
  const f = new OutputFormat<StatusRow>(format, STATUS_FIELDS);
  return printed(f, statusRows(v, states ?? STATUS_DEFAULT_STATES, f.fields, states !== undefined && !skipEmpty), header);
}

/** flux resource drain (no targets): the drained and draining ranks, a line for each reason and time */
export function formatDrain(v: SystemView, header: boolean, format = DRAIN_FORMAT): string {
  const f = new OutputFormat<StatusRow>(format, STATUS_FIELDS);
  return printed(f, statusRows(v, ['drain'], [...new Set([...f.fields, 'timestamp', 'reason'])], false), header);
}
