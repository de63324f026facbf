// RFC 29 hostlists ("node[0-3,7],login1"), decoded into one name per rank, as the `hostlist` attribute
// holds them in rank order.

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
