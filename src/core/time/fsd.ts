// Flux Standard Duration (RFC 23): a number with an optional unit s, m, h or d; "inf"/"infinity" allowed.
import { FluxError, EINVAL } from '../errors.js';
import { formatG } from '../kvs/format-json.js';

const UNIT: Record<string, number> = { '': 1, s: 1, ms: 0.001, m: 60, h: 3600, d: 86400 };

/** seconds */
export function parseFSD(text: string): number {
  const t = text.trim();
  if (t === 'inf' || t === 'infinity' || t === 'INF' || t === 'INFINITY') return Infinity;
  const m = /^(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)?$/.exec(t);
  if (!m) throw new FluxError(EINVAL, `invalid duration "${text}"`);
  return Number(m[1]) * UNIT[m[2] ?? '']!;
}

/**
 * A duration as flux-core prints one: in the largest unit it reaches (ms below 0.1 s, then s, m, h, d) with
 * `precision` significant digits, as C's %g writes them.
 */
export function formatDuration(seconds: number, precision = 6): string {
  if (seconds === Infinity) return 'infinity';
  if (!(seconds >= 0)) throw new FluxError(EINVAL, `invalid duration ${seconds}`);
  if (seconds < 0.1 && seconds !== 0) return `${formatG(seconds * 1000, precision)}ms`;
  if (seconds < 60) return `${formatG(seconds, precision)}s`;
  if (seconds < 3600) return `${formatG(seconds / 60, precision)}m`;
  if (seconds < 86400) return `${formatG(seconds / 3600, precision)}h`;
  return `${formatG(seconds / 86400, precision)}d`;
}
