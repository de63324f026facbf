// RFC 29 hostlists ("node[0-3,7],login1"), decoded into one name per rank, as the `hostlist` attribute
// holds them in rank order, and back.
import { FluxError, EINVAL } from '../errors.js';

/** Split on commas that are not inside brackets. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ',' && depth === 0) {
      out.push(s.substring(start, i));
      start = i + 1;
    }
    if (depth < 0 || depth > 1) throw new Error(`hostlist "${s}": unbalanced brackets`);
  }
  if (depth !== 0) throw new Error(`hostlist "${s}": unbalanced brackets`);
  out.push(s.substring(start));
  return out;
}

/** "0-3,07" -> ["0","1","2","3","07"]: the width of a range's low end sets the zero padding. */
function expandRanges(spec: string, whole: string): string[] {
  const out: string[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`hostlist "${whole}": bad range "${part}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`hostlist "${whole}": range "${part}" goes backwards`);
    const width = m[1]!.length;
    for (let n = lo; n <= hi; n++) out.push(String(n).padStart(width, '0'));
  }
  return out;
}

function expandHost(entry: string, whole: string): string[] {
  const open = entry.indexOf('[');
  if (open < 0) return [entry];
  const close = entry.indexOf(']', open);
  const prefix = entry.substring(0, open);
  const rest = expandHost(entry.substring(close + 1), whole);
  const out: string[] = [];
  for (const n of expandRanges(entry.substring(open + 1, close), whole)) {
    for (const r of rest) out.push(prefix + n + r);
  }
  return out;
}

/** Every host of the list in order, repeats kept (several brokers may share a host). */
export function expandHostlist(s: string): string[] {
  if (s.length === 0) return [];
  return splitTop(s).flatMap((e) => expandHost(e, s));
}

/** a name ending in digits: its prefix and the digits; longer runs than this are kept whole (no exact number) */
const NUMBERED = /^(.*?)(\d{1,15})$/;

interface Numbered {
  prefix: string;
  value: number;
  text: string;
}

function numbered(host: string): Numbered | undefined {
  const m = NUMBERED.exec(host);
  return m ? { prefix: m[1]!, value: Number(m[2]), text: m[2]! } : undefined;
}

/** the zero padding a number was written with: 0 when it has none */
const padOf = (text: string) => (text.length > 1 && text.startsWith('0') ? text.length : 0);

/** "1-3,5,0,0": ascending runs of consecutive numbers as ranges, in list order; repeats and descents start anew */
function idlist(nums: Numbered[]): string {
  const parts: string[] = [];
  for (let i = 0; i < nums.length; ) {
    const width = padOf(nums[i]!.text);
    let j = i;
    // a range is expanded with its low end's width, so it may hold only numbers written that way
    while (j + 1 < nums.length && nums[j + 1]!.value === nums[j]!.value + 1
      && String(nums[j + 1]!.value).padStart(width, '0') === nums[j + 1]!.text) j++;
    parts.push(j === i ? nums[i]!.text : `${nums[i]!.text}-${nums[j]!.text}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * The hosts, in order and with repeats, as the RFC 29 hostlist flux-core's encoder writes: adjacent names that
 * share a prefix and end in a number go in one bracket ("foo[1-3,5]", "vm[0,0]"), a bracket of one name is
 * written plain ("foo1"), and other names stay as they are. expandHostlist() gives the list back.
 */
export function compressHostlist(hosts: readonly string[]): string {
  const out: string[] = [];
  let run: Numbered[] = [];
  const flush = () => {
    if (run.length === 1) out.push(run[0]!.prefix + run[0]!.text);
    else if (run.length > 1) out.push(`${run[0]!.prefix}[${idlist(run)}]`);
    run = [];
  };
  for (const host of hosts) {
    if (host === '' || /[[\],\s]/.test(host)) throw new FluxError(EINVAL, `"${host}" cannot be a name in a hostlist`);
    const n = numbered(host);
    if (n && run.length > 0 && run[0]!.prefix === n.prefix) {
      run.push(n);
      continue;
    }
    flush();
    if (n) run.push(n);
    else out.push(host);
  }
  flush();
  return out.join(',');
}
