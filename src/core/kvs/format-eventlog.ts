// RFC 18 eventlogs as flux kvs eventlog reads, writes and prints them: one compact JSON object per line
// ({"timestamp","name","context"?}), printed as `<%f timestamp> <name> key=<json> ...`, as its RFC 18 line
// (-u), with human times (-H: the minute, then offsets within it), in color (-L). Pure but for the clock
// read when the timestamp is left to "now" and the local time zone -H prints in.
import { FluxError, EINVAL } from '../errors.js';
import { isoLocalMicros, localOffsetMinutes, twoDigits as two } from '../format/logline.js';
import {
  type JObject, type JValue, JReal, cString, dumpJson, formatFixed, isObject, parseJson,
} from './format-json.js';
import { BLUE, BOLD, GRAY, GREEN, MAGENTA, MONTHS, RED, RESET, YELLOW } from '../format/terminal.js';

export interface EventlogEntry {
  /** the entry as decoded, printed again as is by -u */
  entry: JObject;
  timestamp: number;
  name: string;
  context?: JObject;
}

const einval = (): never => {
  throw new FluxError(EINVAL);
};

const numberOf = (v: JValue | undefined): number | undefined => {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof JReal) return v.value;
  return undefined;
};

/** one line without its newline: an object with a number timestamp, a string name, an object context if any */
export function decodeEntry(line: Buffer): EventlogEntry {
  if (line.length === 0 || line.includes(0x0a)) einval();
  const entry = parseJson(line, { allowNul: true });
  if (!isObject(entry)) return einval();
  const name = entry.get('name');
  const timestamp = numberOf(entry.get('timestamp'));
  const context = entry.get('context');
  if (typeof name !== 'string' || timestamp === undefined) einval();
  if (context !== undefined && !isObject(context)) einval();
  return context === undefined
    ? { entry, timestamp: timestamp!, name: name as string }
    : { entry, timestamp: timestamp!, name: name as string, context: context as JObject };
}

/**
 * An eventlog value (read as a C string) as entries: every line must end with a newline; text after the
 * last newline is not an entry yet. EINVAL for a malformed line.
 */
export function decodeEventlog(value: Buffer): EventlogEntry[] {
  const s = cString(value);
  if (s.length > 0 && !s.includes(0x0a)) einval();
  const out: EventlogEntry[] = [];
  let start = 0;
  for (let nl = s.indexOf(0x0a); nl >= 0; nl = s.indexOf(0x0a, start)) {
    out.push(decodeEntry(s.subarray(start, nl)));
    start = nl + 1;
  }
  return out;
}

/** the wall clock in seconds, below the millisecond as far as the platform says */
export const wallclock = () => (performance.timeOrigin + performance.now()) / 1000;

/**
 * The line `flux kvs eventlog append` adds: timestamp (a real; 0 means now), name, context parsed from its
 * JSON text (an object). EINVAL for a negative timestamp, an empty name or a context that is not an object.
 */
export function encodeEntry(timestamp: number, name: string, context?: string): string {
  const ctx = context === undefined ? undefined : parseJson(context);
  if (!(timestamp >= 0) || name.length === 0 || (ctx !== undefined && !isObject(ctx))) einval();
  const entry = new Map<string, JValue>([
    ['timestamp', new JReal(timestamp === 0 ? wallclock() : timestamp)],
    ['name', name],
  ]);
  if (ctx !== undefined) entry.set('context', ctx);
  return `${dumpJson(entry)}\n`;
}

export interface FormatterOptions {
  /** -u: the RFC 18 line */
  unformatted?: boolean;
  /** -H */
  human?: boolean;
  color?: boolean;
  /** flux job eventlog -T: seconds since the epoch (default), ISO 8601 local time, or since the first entry */
  time?: 'raw' | 'iso' | 'offset';
}

/** The -L WHEN argument: always, never, or auto (color when stdout is a terminal). */
export function colorFor(when: string, isTTY: boolean): boolean {
  if (when === 'always') return true;
  if (when === 'never') return false;
  if (when === 'auto') return isTTY;
  throw new FluxError(EINVAL, `invalid value: --color=${when}`);
}

/** Prints entries one after the other; -H remembers the minute it last printed. */
export class EventlogFormatter {
  private lastMinute: string | undefined;
  private lastTs = 0;

  constructor(private readonly opts: FormatterOptions) {}

  private paint(color: string, s: string): string {
    return this.opts.color ? `${color}${s}${RESET}` : s;
  }

  private first: number | undefined;

  private stamp(ts: number): string {
    this.first ??= ts;
    if (this.opts.time === 'offset' && !this.opts.human) return this.paint(GREEN, formatFixed(ts - this.first, 6));
    if (this.opts.time === 'iso' && !this.opts.human) {
      const us = Math.round(ts * 1e6);
      return this.paint(GREEN, isoLocalMicros(us, localOffsetMinutes(us)));
    }
    if (!this.opts.human) return this.paint(GREEN, formatFixed(ts, 6));
    const offset = (d: number) => this.paint(GREEN, `[${`${d < 0 || Object.is(d, -0) ? '' : '+'}${formatFixed(d, 6)}`.padStart(11)}]`);
    if (ts < 0) return offset(ts);
    const t = new Date(Math.trunc(ts) * 1000);
    const minute = `${t.getFullYear()} ${t.getMonth()} ${t.getDate()} ${t.getHours()} ${t.getMinutes()}`;
    if (minute === this.lastMinute) return offset(ts - this.lastTs);
    this.lastMinute = minute;
    this.lastTs = ts;
    return this.paint(BOLD + GREEN, `[${MONTHS[t.getMonth()]}${two(t.getDate())} ${two(t.getHours())}:${two(t.getMinutes())}]`);
  }

  format(e: EventlogEntry): string {
    if (this.opts.unformatted) return `${dumpJson(e.entry)}\n`;
    let line = `${this.stamp(e.timestamp)} ${this.paint(e.name === 'exception' ? BOLD + RED : YELLOW, e.name)}`;
    for (const [k, v] of e.context ?? []) {
      const isNumber = typeof v === 'bigint' || v instanceof JReal;
      line += ` ${this.paint(BLUE, k)}=${this.paint(isNumber ? GRAY : MAGENTA, dumpJson(v))}`;
    }
    return `${line}\n`;
  }
}
