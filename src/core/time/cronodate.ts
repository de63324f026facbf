// Cron dates: a set of allowed values for each broken-down time field (local time), and the next moment after a
// given time at which every field matches (all fields must match, weekday and day of the month included).
// Fields are numbered as struct tm numbers them: month 0-11, weekday 0-6 (Sunday 0), year in years since 1900.
// A field is "*" (any value) or a comma list of N, A-B, */S or A-B/S items.
import { FluxError, EINVAL } from '../errors.js';

export const CRONODATE_FIELDS = ['second', 'minute', 'hour', 'mday', 'month', 'weekday', 'year'] as const;
export type CronodateField = (typeof CRONODATE_FIELDS)[number];

const RANGE: Record<CronodateField, [number, number]> = {
  second: [0, 59],
  minute: [0, 59],
  hour: [0, 23],
  mday: [1, 31],
  month: [0, 11],
  weekday: [0, 6],
  year: [0, 8099],
};

/** how far ahead a match is looked for: a Feb 29 that must also be a given weekday recurs within 28 years */
const SEARCH_YEARS = 30;

/** undefined: any value */
export type Cronodate = Record<CronodateField, Set<number> | undefined>;

function parseItem(field: CronodateField, item: string, out: Set<number>): void {
  const [lo, hi] = RANGE[field];
  const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
  if (!m) throw new FluxError(EINVAL, `${field}: cannot parse "${item}"`);
  const step = m[4] !== undefined ? Number(m[4]) : 1;
  const from = m[1] === '*' ? lo : Number(m[2]);
  const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? hi : from;
  if (step < 1) throw new FluxError(EINVAL, `${field}: step must be at least 1 in "${item}"`);
  if (from < lo || to > hi || from > to) throw new FluxError(EINVAL, `${field}: "${item}" is outside ${lo}-${hi}`);
  for (let v = from; v <= to; v += step) out.add(v);
}

export function parseField(field: CronodateField, text: string | number): Set<number> | undefined {
  const t = String(text).trim();
  if (t === '*') return undefined;
  const out = new Set<number>();
  for (const item of t.split(',')) parseItem(field, item, out);
  return out;
}

/** fields not given are "*" */
export function parseCronodate(fields: Partial<Record<CronodateField, string | number>>): Cronodate {
  const out = {} as Cronodate;
  for (const f of CRONODATE_FIELDS) out[f] = fields[f] === undefined ? undefined : parseField(f, fields[f]);
  return out;
}

const ok = (s: Set<number> | undefined, v: number) => s === undefined || s.has(v);

/** the first whole second strictly after `after` (seconds since the epoch) matching `d`, in local time; undefined
 *  when there is none within SEARCH_YEARS */
export function nextWakeup(d: Cronodate, after: number): number | undefined {
  let t = new Date((Math.floor(after) + 1) * 1000);
  const limit = t.getFullYear() + SEARCH_YEARS;
  while (t.getFullYear() <= limit) {
    const before = t.getTime();
    const y = t.getFullYear();
    const mo = t.getMonth();
    const day = t.getDate();
    const h = t.getHours();
    const mi = t.getMinutes();
    if (!ok(d.year, y - 1900)) t = new Date(y + 1, 0, 1);
    else if (!ok(d.month, mo)) t = new Date(y, mo + 1, 1);
    else if (!ok(d.mday, day) || !ok(d.weekday, t.getDay())) t = new Date(y, mo, day + 1);
    else if (!ok(d.hour, h)) t = new Date(y, mo, day, h + 1);
    else if (!ok(d.minute, mi)) t = new Date(y, mo, day, h, mi + 1);
    else if (!ok(d.second, t.getSeconds())) t = new Date(y, mo, day, h, mi, t.getSeconds() + 1);
    else return t.getTime() / 1000;
    // a local time a clock change skips or repeats must not hold the search in place
    if (t.getTime() <= before) t = new Date(before + 1000);
  }
  return undefined;
}

/** the fields of local time `t` (seconds since the epoch), each as one exact value: what `flux cron at` schedules */
export function exactFields(t: number): Record<CronodateField, string> {
  const d = new Date(Math.floor(t) * 1000);
  return {
    second: String(d.getSeconds()),
    minute: String(d.getMinutes()),
    hour: String(d.getHours()),
    mday: String(d.getDate()),
    month: String(d.getMonth()),
    weekday: String(d.getDay()),
    year: String(d.getFullYear() - 1900),
  };
}
