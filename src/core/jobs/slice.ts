// A Python slice ("[start:stop:step]", each part optional, negatives counting from the end), as flux-core's
// `flux job last` sends one: the same selection of a list as Python would make.
import { FluxError, EINVAL } from '../errors.js';

const INT = '\\s*(-?\\d+)?\\s*';
const SLICE = new RegExp(`^\\[${INT}(?::${INT}(?::${INT})?)?\\]$`);

/** the function that takes a slice of a list; a lone index ("[2]") selects that one item, or none */
export function parseSlice(text: string): <T>(items: readonly T[]) => T[] {
  const m = SLICE.exec(text.trim());
  if (!m || (m[1] === undefined && !text.includes(':'))) throw new FluxError(EINVAL, `invalid slice: ${text}`);
  const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const [start, stop, step] = [num(m[1]), num(m[2]), num(m[3])];
  if (step === 0) throw new FluxError(EINVAL, `invalid slice: ${text}: step cannot be zero`);
  if (!text.includes(':')) {
    return <T>(items: readonly T[]): T[] => {
      const i = start! < 0 ? items.length + start! : start!;
      return i >= 0 && i < items.length ? [items[i]!] : [];
    };
  }
  return <T>(items: readonly T[]): T[] => {
    const n = items.length;
    const by = step ?? 1;
    // Python's rule: a bound counts from the end when negative, then is clipped to the list (one before it going back)
    const bound = (v: number | undefined, dflt: number, lo: number, hi: number) =>
      v === undefined ? dflt : Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
    const out: T[] = [];
    if (by > 0) {
      for (let i = bound(start, 0, 0, n); i < bound(stop, n, 0, n); i += by) out.push(items[i]!);
    } else {
      for (let i = bound(start, n - 1, -1, n - 1); i > bound(stop, -1, -1, n - 1); i += by) out.push(items[i]!);
    }
    return out;
  };
}
