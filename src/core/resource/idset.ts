// RFC 22 idsets: sets of non-negative integers (broker ranks) written as "0-3,5", optionally in brackets.
import { FluxError, EINVAL } from '../errors.js';

/** the largest id accepted: nodeids above it are reserved (FLUX_NODEID_UPSTREAM, FLUX_NODEID_ANY) */
export const IDSET_MAX = 0xfffffffd;

const ID = /^(0|[1-9]\d*)$/;

function parseId(s: string, text: string): number {
  if (!ID.test(s)) throw new FluxError(EINVAL, `invalid idset "${text}"`);
  const n = Number(s);
  if (n > IDSET_MAX) throw new FluxError(EINVAL, `invalid idset "${text}": ${s} is too large`);
  return n;
}

/**
 * The ids of an idset, sorted and without duplicates. "all" names 0..size-1 and so needs `size`; an empty
 * string is the empty set. Ranges must ascend ("3-1" is an error), as flux-core's decoder requires.
 */
export function parseIdset(text: string, size?: number): number[] {
  if (text === 'all') {
    if (size === undefined) throw new FluxError(EINVAL, '"all" needs the instance size');
    return Array.from({ length: size }, (_, i) => i);
  }
  let body = text;
  if (body.startsWith('[') && body.endsWith(']')) body = body.slice(1, -1);
  if (body === '') return [];
  const ids = new Set<number>();
  for (const part of body.split(',')) {
    const dash = part.indexOf('-');
    if (dash < 0) {
      ids.add(parseId(part, text));
      continue;
    }
    const lo = parseId(part.slice(0, dash), text);
    const hi = parseId(part.slice(dash + 1), text);
    if (hi < lo) throw new FluxError(EINVAL, `invalid idset "${text}": range ${part} descends`);
    // a range is a promise of that many ids: refuse what could not be held rather than loop for minutes
    if (hi - lo >= 1 << 24) throw new FluxError(EINVAL, `invalid idset "${text}": range ${part} is too large`);
    for (let i = lo; i <= hi; i++) ids.add(i);
  }
  return [...ids].sort((a, b) => a - b);
}

/** "0-3,5": consecutive ids folded into ranges; bracketed, as flux-core prints ranks, only when `brackets`
 *  is set and the set holds more than one id ("[1-2]" but "2"). */
export function formatIdset(ids: Iterable<number>, brackets = false): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  const s = parts.join(',');
  return brackets && sorted.length > 1 ? `[${s}]` : s;
}
