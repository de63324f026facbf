// job-list's constraint language, as flux-core's clients send it in job-list.list's `constraint`:
//   {"and": [{"userid": [1000]}, {"or": [{"states": [6]}, {"results": [2]}]}, {"t_inactive": [">=1765000000.5"]}]}
// A constraint is one operator over a list: "and", "or" and "not" over constraints ("not" of their "and"), or an
// attribute over values a job matches when it matches any: userid, name, queue (exact), states and results (masks
// or names), hostlist and ranks (a job's nodes or ranks meeting them), and the timestamps t_submit, t_depend,
// t_run, t_cleanup, t_inactive ("<", "<=", ">" or ">=" and seconds). Compiled once into a test of a job, so that
// a mistake is an error before any job is looked at.
import { FluxError, EINVAL } from '../core/errors.js';
import { STATE_INACTIVE, resultMask, stateMask } from '../core/jobs/state.js';
import { expandHostlist } from '../core/resource/hostlist.js';
import { parseIdset } from '../core/resource/idset.js';
import { decodeR, nodelist, ranksOf } from '../core/resource/rset.js';
import type { JobRecord } from './jobs.js';

export type JobTest = (j: JobRecord) => boolean;

const TIMES = ['t_submit', 't_depend', 't_run', 't_cleanup', 't_inactive'] as const;
const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  '>=': (a, b) => a >= b, '<=': (a, b) => a <= b, '>': (a, b) => a > b, '<': (a, b) => a < b,
};

function fail(text: string): never {
  throw new FluxError(EINVAL, text);
}

function strings(op: string, values: unknown[]): string[] {
  return values.map((v) => (typeof v === 'string' ? v : fail(`${op}: ${JSON.stringify(v)} is not a string`)));
}

/** states or results: numbers are masks, strings names; one mask of all */
function mask(op: string, values: unknown[], byName: (n: string) => number | undefined): number {
  let m = 0;
  for (const v of values) {
    if (Number.isInteger(v) && (v as number) >= 0) m |= v as number;
    else if (typeof v === 'string' && byName(v) !== undefined) m |= byName(v)!;
    else fail(`${op}: invalid value ${JSON.stringify(v)}`);
  }
  return m;
}

function timeTest(op: (typeof TIMES)[number], values: unknown[]): JobTest {
  const tests = strings(op, values).map((text) => {
    const m = /^(>=|<=|>|<)\s*([0-9.eE+-]+)$/.exec(text.trim());
    const t = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(t)) fail(`${op}: invalid comparison '${text}'`);
    const cmp = COMPARE[m[1]!]!;
    return (j: JobRecord) => j[op] !== undefined && cmp(j[op]!, t);
  });
  return (j) => tests.some((t) => t(j));
}

/** a job's ranks and hosts, read from its R only when a constraint asks */
function placement(j: JobRecord): { ranks: number[]; hosts: string[] } {
  if (!j.R) return { ranks: [], hosts: [] };
  const set = decodeR(j.R);
  const hosts = nodelist(set);
  return { ranks: ranksOf(set), hosts: hosts === undefined ? [] : expandHostlist(hosts) };
}

/** how deep "and", "or" and "not" may nest: a request's payload is not to exhaust the broker's stack */
export const CONSTRAINT_DEPTH_MAX = 64;

export function compileConstraint(c: unknown, depth = 0): JobTest {
  if (depth > CONSTRAINT_DEPTH_MAX) fail(`a constraint may nest at most ${CONSTRAINT_DEPTH_MAX} deep`);
  if (typeof c !== 'object' || c === null || Array.isArray(c)) fail('a constraint must be an object');
  const entries = Object.entries(c);
  if (entries.length !== 1) fail('a constraint must have exactly one operator');
  const [op, values] = entries[0]!;
  if (!Array.isArray(values)) fail(`${op}: values must be an array`);
  switch (op) {
    case 'and':
    case 'or':
    case 'not': {
      const subs = values.map((v) => compileConstraint(v, depth + 1));
      if (op === 'or') return (j) => subs.some((t) => t(j));
      const all = (j: JobRecord) => subs.every((t) => t(j));
      return op === 'and' ? all : (j) => !all(j);
    }
    case 'userid': {
      const ids = new Set(values.map((v) => (Number.isInteger(v) ? v as number : fail(`userid: ${JSON.stringify(v)} is not an integer`))));
      return (j) => ids.has(j.userid);
    }
    case 'name':
    case 'queue': {
      const names = new Set(strings(op, values));
      return (j) => j[op] !== undefined && names.has(j[op]!);
    }
    case 'states': {
      const m = mask(op, values, stateMask);
      return (j) => (j.state & m) !== 0;
    }
    case 'results': {
      const m = mask(op, values, resultMask);
      return (j) => j.state === STATE_INACTIVE && ((j.result ?? 0) & m) !== 0;
    }
    case 'hostlist': {
      const hosts = new Set(strings(op, values).flatMap(expandHostlist));
      return (j) => placement(j).hosts.some((h) => hosts.has(h));
    }
    case 'ranks': {
      const ranks = new Set(strings(op, values).flatMap((s) => parseIdset(s)));
      return (j) => placement(j).ranks.some((r) => ranks.has(r));
    }
    default:
      if ((TIMES as readonly string[]).includes(op)) return timeTest(op as (typeof TIMES)[number], values);
      return fail(`unknown constraint operator: ${op}`);
  }
}
