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
import { type Field, OutputFormat } from '../core/format/output.js';
import type { HwlocSummary } from '../core/resource/hwloc-xml.js';

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
  const f = new OutputFormat<ListRow>(format, LIST_FIELDS).filter(rows, !header);
  const lines = rows.map((r) => f.line(r));
  return [...(header ? [f.header()] : []), ...lines].map((l) => `${l}\n`).join('');
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
