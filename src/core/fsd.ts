// Flux Standard Duration (RFC 23): a number with an optional unit s, m, h or d; "inf"/"infinity" allowed.
import { FluxError, EINVAL } from './errors.js';

const UNIT: Record<string, number> = { '': 1, s: 1, ms: 0.001, m: 60, h: 3600, d: 86400 };

/** seconds */
export function parseFSD(text: string): number {
  const t = text.trim();
  if (t === 'inf' || t === 'infinity' || t === 'INF' || t === 'INFINITY') return Infinity;
  const m = /^(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)?$/.exec(t);
  if (!m) throw new FluxError(EINVAL, `invalid duration "${text}"`);
  return Number(m[1]) * UNIT[m[2] ?? '']!;
}
