// Log entries in flux's RFC 5424 variant: "<PRI>1 TIMESTAMP HOSTNAME APPNAME PROCID MSGID SD MSG", where PRI is
// severity << 3 (facility bits are 0 for LOG_USER) and HOSTNAME is the broker rank.

export const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

export interface LogEntry {
  severity: number;
  facility: number;
  /** microseconds since the epoch */
  timeUs: number;
  rank: string;
  appname: string;
  procid: string;
  msgid: string;
  msg: string;
}

export function severityFromName(s: string): number | undefined {
  if (/^[0-7]$/.test(s)) return Number(s);
  const i = SEVERITY_NAMES.indexOf(s.toLowerCase());
  if (i >= 0) return i;
  const aliases: Record<string, number> = { emergency: 0, critical: 2, error: 3, warn: 4 };
  return aliases[s.toLowerCase()];
}

/** UTC with microseconds, as flux writes its log timestamps */
export function isoMicros(timeUs: number): string {
  return isoLocalMicros(timeUs, 0);
}

/** The wall clock in microseconds: Date.now() alone would leave the last three digits of the stamp zero. */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/** Minutes east of UTC of the local time zone at that instant (daylight saving moves it). */
export function localOffsetMinutes(timeUs: number): number {
  return -new Date(Math.floor(timeUs / 1000)).getTimezoneOffset();
}

/**
 * ISO 8601 with microseconds in a zone `offsetMin` minutes east of UTC, "Z" for UTC itself
 * ("2024-05-01T12:00:00.123456Z", "2024-05-01T14:00:00.123456+02:00").
 */
export function isoLocalMicros(timeUs: number, offsetMin: number): string {
  const us = Math.floor(timeUs);
  const secs = Math.floor(us / 1_000_000);
  const base = isoSeconds(secs + offsetMin * 60);
  const frac = String(us - secs * 1_000_000).padStart(6, '0');
  if (offsetMin === 0) return `${base}.${frac}Z`;
  const a = Math.abs(offsetMin);
  const zone = `${offsetMin < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
  return `${base}.${frac}${zone}`;
}

/** a clock's or a calendar's field in two digits */
export const twoDigits = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * "YYYY-MM-DDTHH:MM:SS" of seconds since the epoch, by arithmetic on the proleptic Gregorian calendar (its 400-year
 * cycle of 146,097 days, counted in years that begin on March 1 so that the leap day falls last). Date's
 * toISOString says the same, but its first call in a process pages in ~0.8 MiB that nothing else a broker does
 * touches (V8's date code and the ICU data it reaches: docs/performance.md), and every broker logs as it starts.
 * Years outside 0–9999, which ISO writes with a sign and six digits, are left to Date.
 */
export function isoSeconds(secs: number): string {
  const days = Math.floor(secs / 86_400);
  const inDay = secs - days * 86_400;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) return new Date(secs * 1000).toISOString().slice(0, -5);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const h = Math.floor(inDay / 3600);
  const m = Math.floor((inDay % 3600) / 60);
  return `${String(year).padStart(4, '0')}-${twoDigits(month)}-${twoDigits(day)}T${twoDigits(h)}:${twoDigits(m)}:${twoDigits(inDay % 60)}`;
}

const nil = (s: string) => (s.length > 0 ? s : '-');

export function formatEntry(e: LogEntry): string {
  const pri = (e.severity << 3) | (e.facility & 7);
  return `<${pri}>1 ${isoMicros(e.timeUs)} ${nil(e.rank)} ${nil(e.appname.substring(0, 48))} ${nil(e.procid)} ${nil(e.msgid)} - ${e.msg}`;
}

const LINE = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) ?([\s\S]*)$/;

/** undefined when the line is not in this format (dmesg then prints it raw) */
export function parseEntry(line: string): LogEntry | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const pri = Number(m[1]);
  const t = Date.parse(m[2]!);
  if (!Number.isFinite(t)) return undefined;
  const frac = /\.(\d+)(?:Z|[+-]\d\d:\d\d)$/.exec(m[2]!);
  const micros = frac ? Number(frac[1]!.padEnd(6, '0').substring(0, 6)) : 0;
  const un = (s: string) => (s === '-' ? '' : s);
  return {
    severity: pri >> 3,
    facility: pri & 7,
    timeUs: Math.floor(t / 1000) * 1_000_000 + micros,
    rank: un(m[3]!),
    appname: un(m[4]!),
    procid: un(m[5]!),
    msgid: un(m[6]!),
    msg: m[8]!,
  };
}
