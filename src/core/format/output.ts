// flux-core's output format language, as `flux jobs -o` and the other listing tools take it: Python str.format
// fields `{name!conversion:spec}` looked up by their whole (dotted) name in a field table, flux's conversions
// (!d !D !F !H !P), the spec suffixes 'h' (an empty value prints "-") and '+' (mark truncation), the "?:",
// "+:" and "?+:" prefixes that drop empty columns and widen columns to fit, and a leading "sort:KEY,-KEY".
import { FluxError, EINVAL } from '../errors.js';
import { pyFormat, pyStr, pyRepr, pyAscii, PyFloat, codePoints } from './python.js';

export interface Field<T> {
  heading: string;
  get(row: T): unknown;
  /** the value is a Python float even when it holds an integer (timestamps, durations) */
  float?: boolean;
}

/** the fields by full name, or a lookup for tables with open-ended names (annotations.*) */
export type FieldTable<T> = Record<string, Field<T>> | ((name: string) => Field<T> | undefined);

interface Item {
  /** literal text before the field, sentinel included */
  text: string;
  field?: string;
  conversion?: string;
  spec: string;
}

const fail = (message: string) => new FluxError(EINVAL, message);

// ---------------------------------------------------------------------------------------------------------------
// Parsing, as Python's string.Formatter.parse splits a format

function parseField(body: string): Pick<Item, 'field' | 'conversion' | 'spec'> {
  let i = 0;
  while (i < body.length && body[i] !== ':' && body[i] !== '!') {
    if (body[i] === '[') {
      while (i < body.length && body[i] !== ']') i++;
    }
    i++;
  }
  const field = body.slice(0, i);
  let conversion: string | undefined;
  if (body[i] === '!') {
    conversion = body[i + 1];
    if (conversion === undefined) throw fail("unmatched '{' in format spec");
    i += 2;
    if (i < body.length && body[i] !== ':') throw fail("expected ':' after conversion specifier");
  }
  const spec = body.slice(i + 1);
  if (spec.includes('{')) throw fail('nested replacement fields are not supported');
  return { field, conversion, spec };
}

function parse(format: string): Item[] {
  const items: Item[] = [];
  let text = '';
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c === '}') {
      if (format[i + 1] !== '}') throw fail("Single '}' encountered in format string");
      text += '}';
      i += 2;
    } else if (c !== '{') {
      text += c;
      i++;
    } else if (format[i + 1] === '{') {
      text += '{';
      i += 2;
    } else {
      let depth = 1;
      let j = i + 1;
      for (; j < format.length && depth > 0; j++) {
        if (format[j] === '{') depth++;
        else if (format[j] === '}') depth--;
      }
      if (depth > 0) throw fail(j === i + 1 ? "Single '{' encountered in format string" : "expected '}' before end of string");
      items.push({ text, ...parseField(format.slice(i + 1, j - 1)) });
      text = '';
      i = j;
    }
  }
  if (text !== '' || items.length === 0) items.push({ text, spec: '' });
  return items;
}

const escape = (text: string) => text.replace(/\{/g, '{{').replace(/\}/g, '}}');

function unparse(items: Item[]): string {
  return items
    .map((it) => escape(it.text) + (it.field === undefined ? '' : `{${it.field}${it.conversion ? `!${it.conversion}` : ''}${it.spec ? `:${it.spec}` : ''}}`))
    .join('');
}

// longest first, so "?+:" is not read as "+:"
const SENTINELS = ['?+:', '?:', '+:'] as const;
type Sentinel = (typeof SENTINELS)[number];

function sentinelOf(text: string): Sentinel | undefined {
  return SENTINELS.find((s) => text.endsWith(s));
}

function withoutSentinel(text: string): string {
  const s = sentinelOf(text);
  return s ? text.slice(0, -s.length) : text;
}

// ---------------------------------------------------------------------------------------------------------------
// flux-core's reading of a spec, used to size headings and widen columns: the Python spec plus the suffixes
// h (hyphen for empty), W (wide characters) and + (truncation mark)

const SPEC = /^(?:([\s\S])?([<>=^]))?([- +])?(z)?(#)?(0)?(\d+)?([_,])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?(h)?(W)?(\+)?$/u;

interface FluxSpec {
  /** the strftime part of a "!d" spec ("%H:%M::"), kept as is */
  head: string;
  parts: (string | undefined)[];
}

function fluxSpec(spec: string): FluxSpec {
  const cut = spec.indexOf('::');
  const head = cut < 0 ? '' : spec.slice(0, cut + 2);
  const m = SPEC.exec(spec.slice(head.length));
  return { head, parts: m ? m.slice(1) : [] };
}

const [ALIGN, WIDTH, PRECISION, TYPE] = [1, 6, 8, 9];

function specText(s: FluxSpec): string {
  return s.head + s.parts.map((p, i) => (i === PRECISION && p !== undefined ? `.${p}` : p ?? '')).join('');
}

/** widen a spec, stretching a string's precision (its truncation) along with its width */
function widened(spec: string, width: number): string {
  const s = fluxSpec(spec);
  s.parts[WIDTH] = String(width);
  const precision = Number(s.parts[PRECISION] ?? 0);
  if ((s.parts[TYPE] ?? 's') === 's' && precision > 0 && precision < width) s.parts[PRECISION] = String(width);
  return specText(s);
}

// ---------------------------------------------------------------------------------------------------------------
// Values: conversions, empty values, flux-core's datetime

function strftime(date: Date, format: string): string {
  const pad = (n: number, w = 2, c = '0') => String(n).padStart(w, c);
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  const offset = -date.getTimezoneOffset();
  const hour12 = date.getHours() % 12 || 12;
  const yday = Math.round((new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime() - new Date(date.getFullYear(), 0, 1).getTime()) / 86_400_000) + 1;
  const field: Record<string, () => string> = {
    a: () => days[date.getDay()]!.slice(0, 3),
    A: () => days[date.getDay()]!,
    b: () => months[date.getMonth()]!.slice(0, 3),
    h: () => months[date.getMonth()]!.slice(0, 3),
    B: () => months[date.getMonth()]!,
    d: () => pad(date.getDate()),
    e: () => pad(date.getDate(), 2, ' '),
    H: () => pad(date.getHours()),
    k: () => pad(date.getHours(), 2, ' '),
    I: () => pad(hour12),
    l: () => pad(hour12, 2, ' '),
    j: () => pad(yday, 3),
    m: () => pad(date.getMonth() + 1),
    M: () => pad(date.getMinutes()),
    p: () => (date.getHours() < 12 ? 'AM' : 'PM'),
    S: () => pad(date.getSeconds()),
    y: () => pad(date.getFullYear() % 100),
    Y: () => String(date.getFullYear()),
    u: () => String(date.getDay() || 7),
    w: () => String(date.getDay()),
    s: () => String(Math.floor(date.getTime() / 1000)),
    z: () => `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`,
    Z: () => new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? '',
    F: () => `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`,
    T: () => `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`,
    R: () => `${pad(date.getHours())}:${pad(date.getMinutes())}`,
    D: () => `${pad(date.getMonth() + 1)}/${pad(date.getDate())}/${pad(date.getFullYear() % 100)}`,
    c: () => `${days[date.getDay()]!.slice(0, 3)} ${months[date.getMonth()]!.slice(0, 3)} ${pad(date.getDate(), 2, ' ')} ${field.T!()} ${date.getFullYear()}`,
    n: () => '\n',
    t: () => '\t',
    '%': () => '%',
  };
  return format.replace(/%(.)/gs, (whole, c: string) => (Object.hasOwn(field, c) ? field[c]!() : whole));
}

/** flux-core's datetime from a "!d" conversion: strftime before "::", a Python spec after it */
class Datetime {
  constructor(readonly seconds: number) {}

  get date(): Date {
    return new Date(this.seconds * 1000);
  }

  /** Python's str(datetime): microseconds only when there are some */
  toString(): string {
    const micro = Math.round((this.seconds - Math.floor(this.seconds)) * 1e6) % 1e6;
    return strftime(this.date, '%F %T') + (micro ? `.${String(micro).padStart(6, '0')}` : '');
  }

  format(spec: string): string {
    const cut = spec.indexOf('::');
    const timefmt = cut < 0 ? spec : spec.slice(0, cut);
    let rest = cut < 0 ? '' : spec.slice(cut + 2);
    // the epoch is flux-core's "never": JobInfo sets unset timestamps to 0
    let text = this.seconds === 0 ? '' : strftime(this.date, timefmt || '%FT%T');
    if (rest.endsWith('h')) {
      if (text === '') text = '-';
      rest = `${rest.slice(0, -1)}s`;
    }
    return rest ? pyFormat(text, rest) : text;
  }
}

const str = (v: unknown) => (v instanceof Datetime ? v.toString() : pyStr(v));

/** what flux-core's 'h' suffix and "?:" treat as empty */
/** made on first use: the epoch in local time depends on the zone, which a process does not change */
let emptyTexts: Set<string> | undefined;

function isEmpty(text: string): boolean {
  emptyTexts ??= new Set(['', '0s', '0.0', '0:00:00', '1970-01-01T00:00:00', strftime(new Date(0), '%FT%T')]);
  return emptyTexts.has(text);
}

/** flux-core's Flux Standard Duration text of a number of seconds */
function fsd(seconds: number): string {
  if (seconds === Infinity || seconds === -Infinity) return 'inf';
  const g4 = (v: number) => pyFormat(new PyFloat(v), '.4g');
  if (seconds < 1e-3) return '0s';
  if (seconds < 10) return `${pyFormat(new PyFloat(seconds), '.3f')}s`;
  if (seconds < 60) return `${g4(seconds)}s`;
  if (seconds < 3600) return `${g4(seconds / 60)}m`;
  if (seconds < 86400) return `${g4(seconds / 3600)}h`;
  return `${g4(seconds / 86400)}d`;
}

/** Python's round() to an integer: halves go to the even neighbour */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python's str(timedelta(seconds=n)) for whole seconds */
function timedelta(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const rest = seconds - days * 86400;
  const hms = `${Math.floor(rest / 3600)}:${String(Math.floor((rest % 3600) / 60)).padStart(2, '0')}:${String(rest % 60).padStart(2, '0')}`;
  return days ? `${days} day${Math.abs(days) === 1 ? '' : 's'}, ${hms}` : hms;
}

function numeric(value: unknown, conversion: string): number | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') return Number(value);
  if (value instanceof PyFloat) return value.value;
  if (typeof value === 'bigint') return Number(value);
  // flux-core turns a conversion's TypeError on an empty string into an empty result
  if (value === '') return undefined;
  throw fail(`!${conversion} conversion needs a number, not ${pyRepr(value)}`);
}

function convert(value: unknown, conversion: string | undefined): unknown {
  switch (conversion) {
    case undefined:
      return value;
    case 's':
      return str(value);
    case 'r':
      return value instanceof Datetime ? value.toString() : pyRepr(value);
    case 'a':
      return pyAscii(value);
    case 'd':
      return new Datetime(numeric(value, 'd') ?? 0);
    case 'D': {
      if (value === '' || value === 0 || value === false || (value instanceof PyFloat && value.value === 0)) return '';
      return strftime(new Date(numeric(value, 'D')! * 1000), '%FT%T');
    }
    case 'F': {
      const n = numeric(value, 'F');
      return n === undefined ? '' : fsd(n);
    }
    case 'H': {
      const n = numeric(value, 'H');
      return n === undefined ? '' : timedelta(roundEven(n > 0 && n < 1 ? 1 : n));
    }
    case 'P': {
      const n = numeric(value, 'P');
      if (n === undefined) return '';
      const percent = n * 100;
      return `${pyFormat(new PyFloat(percent), percent > 0 && percent < 1 ? '.2f' : '.3g')}%`;
    }
    default:
      throw fail(`Unknown conversion specifier ${conversion}`);
  }
}

/** the display width of text in a terminal, as wcswidth counts it: East Asian wide characters and emoji take two */
function displayWidth(text: string): number {
  let width = 0;
  for (const c of codePoints(text)) {
    const cp = c.codePointAt(0)!;
    if (/\p{Mn}|\p{Me}|\p{Cf}/u.test(c)) continue;
    const wide = (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) || (cp >= 0xac00 && cp <= 0xd7a3)
      || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6)
      || (cp >= 0x1f000 && cp <= 0x1faff) || (cp >= 0x20000 && cp <= 0x3fffd);
    width += wide ? 2 : 1;
  }
  return width;
}

/** one field's text, with flux-core's spec suffixes applied around Python's format() */
function formatField(input: unknown, spec: string): string {
  let value = input;
  let s = spec;
  const truncate = s.endsWith('+');
  if (truncate) s = s.slice(0, -1);
  if (s.endsWith('h') && !(value instanceof Datetime)) {
    value = isEmpty(str(value)) ? '-' : str(value);
    s = `${s.slice(0, -1)}s`;
  }
  if (s.endsWith('W') && typeof value === 'string') {
    // a width in terminal columns: wide characters count twice
    const m = /^([<>])(\d+)W/.exec(s);
    const extra = displayWidth(value) - codePoints(value).length;
    if (m && extra > 0 && Number(m[2]) > extra) s = `${m[1]}${Number(m[2]) - extra}s`;
  }
  if (s.endsWith('W')) s = `${s.slice(0, -1)}s`;
  const out = value instanceof Datetime ? value.format(s) : pyFormat(value, s);
  const chars = codePoints(out);
  return truncate && chars.length < codePoints(str(value)).length ? `${chars.slice(0, -1).join('')}+` : out;
}

// ---------------------------------------------------------------------------------------------------------------

export interface SortKey {
  key: string;
  reverse: boolean;
}

function compare(a: unknown, b: unknown): number {
  const n = (v: unknown) => (v instanceof PyFloat ? v.value : typeof v === 'bigint' ? Number(v) : v);
  const [x, y] = [n(a ?? ''), n(b ?? '')];
  if ((typeof x === 'number' || typeof x === 'boolean') && (typeof y === 'number' || typeof y === 'boolean')) return Number(x) - Number(y);
  if (typeof x === 'number' || typeof x === 'boolean') return -1;
  if (typeof y === 'number' || typeof y === 'boolean') return 1;
  const [p, q] = [String(x), String(y)];
  return p < q ? -1 : p > q ? 1 : 0;
}

export class OutputFormat<T> {
  readonly #items: Item[];
  readonly #lookup: (name: string) => Field<T> | undefined;
  readonly #table: FieldTable<T>;
  readonly sortKeys: readonly SortKey[];

  constructor(format: string, fields: FieldTable<T>) {
    this.#table = fields;
    this.#lookup = typeof fields === 'function' ? fields : (name) => (Object.hasOwn(fields, name) ? fields[name] : undefined);
    this.#items = parse(format);
    const first = this.#items[0]!;
    let sortKeys: SortKey[] = [];
    if (first.text.startsWith('sort:')) {
      sortKeys = first.text.slice(5).split(',').map((k) => k.trim()).map((k) => ({ key: k.replace(/^-/, ''), reverse: k.startsWith('-') }));
      first.text = '';
      for (const { key } of sortKeys) if (!this.#lookup(key)) throw fail(`Invalid sort key: ${key}`);
    }
    this.sortKeys = sortKeys;
    for (const it of this.#items) {
      if (it.field === '') throw fail('Empty attribute in format string');
      if (it.field !== undefined && !this.#lookup(it.field)) throw fail(`Unknown format field: ${it.field}`);
    }
  }

  /** the field names the format uses, sort keys included: what a listing must fetch */
  get fields(): string[] {
    return [...new Set([...this.#items.flatMap((it) => (it.field === undefined ? [] : [it.field])), ...this.sortKeys.map((k) => k.key)])];
  }

  /** the format as text, sort prefix included */
  toString(): string {
    return this.#sortPrefix() + unparse(this.#items);
  }

  #sortPrefix(): string {
    return this.sortKeys.length ? `sort:${this.sortKeys.map((k) => (k.reverse ? '-' : '') + k.key).join(',')} ` : '';
  }

  #field(name: string): Field<T> {
    return this.#lookup(name)!;
  }

  #value(name: string, row: T): unknown {
    const field = this.#field(name);
    const value = field.get(row);
    // flux-core's listings hold "" where a value is missing, never None
    if (value === null || value === undefined) return '';
    return field.float && typeof value === 'number' ? new PyFloat(value) : value;
  }

  /** headings laid out with each field's alignment and width only */
  header(): string {
    return this.#items
      .map((it) => {
        const text = withoutSentinel(it.text);
        if (it.field === undefined) return text;
        const s = fluxSpec(it.spec);
        return text + formatField(this.#field(it.field).heading, (s.parts[ALIGN] ?? '') + (s.parts[WIDTH] ?? ''));
      })
      .join('');
  }

  line(row: T): string {
    return this.#items
      .map((it) => withoutSentinel(it.text) + (it.field === undefined ? '' : formatField(convert(this.#value(it.field, row), it.conversion), it.spec)))
      .join('');
  }

  /**
   * The format for these rows: a "?:" field empty in every row is dropped with the text before it; a "+:"
   * field is widened to its widest value (or heading, unless noHeader); "?+:" does both.
   */
  filter(rows: readonly T[], noHeader = false): OutputFormat<T> {
    const kept: Item[] = [];
    for (const it of this.#items) {
      const sentinel = sentinelOf(it.text);
      if (it.field === undefined || sentinel === undefined) {
        kept.push(it);
        continue;
      }
      const declared = Number(fluxSpec(it.spec).parts[WIDTH] ?? 0);
      const widest = rows.reduce((w, row) => {
        const text = formatField(convert(this.#value(it.field!, row), it.conversion), '');
        return isEmpty(text) ? w : Math.max(w, displayWidth(text));
      }, 0);
      if (widest === 0 && sentinel !== '+:') continue;
      const item = { ...it, text: it.text.slice(0, -sentinel.length) };
      if (sentinel !== '?:') {
        const heading = noHeader ? 0 : codePoints(this.#field(it.field).heading).length;
        item.spec = widened(it.spec, Math.max(declared, heading, widest));
      }
      kept.push(item);
    }
    return new OutputFormat<T>(this.#sortPrefix() + unparse(kept), this.#table);
  }

  /** the rows in the order of the format's sort keys (the first key decides first), a stable sort */
  sort(rows: readonly T[]): T[] {
    const sorted = [...rows];
    for (const { key, reverse } of [...this.sortKeys].reverse()) {
      const field = this.#field(key);
      sorted.sort((a, b) => (reverse ? -1 : 1) * compare(field.get(a), field.get(b)));
    }
    return sorted;
  }

  /** what flux-core's listings print: filtered format, sorted rows, header unless noHeader, blank lines dropped */
  render(rows: readonly T[], options: { noHeader?: boolean } = {}): string[] {
    const format = this.filter(rows, options.noHeader);
    const lines = format.sort(rows).map((row) => format.line(row)).filter((line) => line.trim() !== '');
    return options.noHeader ? lines : [format.header(), ...lines];
  }
}
