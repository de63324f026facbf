// Python's format(value, spec), str() and repr() for the values flux-core's listing tools print, so that an
// output format written for flux-core prints the same here. The spec is Python's mini-language
// [[fill]align][sign][z][#][0][width][grouping][.precision][type]; errors carry Python's message as EINVAL.
//
// JS values stand for Python's: a string is a str, a bigint an int, a boolean a bool, null and undefined None,
// arrays and plain objects a list and a dict. A number holding an integer is an int and any other number a
// float: JSON has already erased the difference, so a caller that knows a value is a float wraps it in PyFloat.
import { FluxError, EINVAL } from '../errors.js';

export class PyFloat {
  constructor(readonly value: number) {}
}

type Py =
  | { t: 'str'; v: string }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'none' }
  | { t: 'list'; v: unknown[] }
  | { t: 'dict'; v: Record<string, unknown> };

function py(value: unknown): Py {
  if (typeof value === 'string') return { t: 'str', v: value };
  if (typeof value === 'bigint') return { t: 'int', v: value };
  if (typeof value === 'boolean') return { t: 'bool', v: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { t: 'int', v: BigInt(value) } : { t: 'float', v: value };
  if (value instanceof PyFloat) return { t: 'float', v: value.value };
  if (value === null || value === undefined) return { t: 'none' };
  if (Array.isArray(value)) return { t: 'list', v: value };
  return { t: 'dict', v: value as Record<string, unknown> };
}

const TYPE_NAME: Record<Py['t'], string> = {
  str: 'str', int: 'int', float: 'float', bool: 'bool', none: 'NoneType', list: 'list', dict: 'dict',
};

const fail = (message: string) => new FluxError(EINVAL, message);

/** Python's len() and slicing count code points, not UTF-16 units */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

// ---------------------------------------------------------------------------------------------------------------
// str() and repr()

function escapeChar(c: string, quote: string, asciiOnly: boolean): string {
  if (c === quote || c === '\\') return `\\${c}`;
  if (c === '\t') return '\\t';
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  const cp = c.codePointAt(0)!;
  if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp < 0x7f) return c;
  const printable = !/^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u.test(c);
  if (printable && !asciiOnly) return c;
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

function strRepr(s: string, asciiOnly: boolean): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  return quote + codePoints(s).map((c) => escapeChar(c, quote, asciiOnly)).join('') + quote;
}

function reprOf(p: Py, asciiOnly: boolean): string {
  switch (p.t) {
    case 'str':
      return strRepr(p.v, asciiOnly);
    case 'list':
      return `[${p.v.map((x) => reprOf(py(x), asciiOnly)).join(', ')}]`;
    case 'dict':
      return `{${Object.entries(p.v).map(([k, x]) => `${strRepr(k, asciiOnly)}: ${reprOf(py(x), asciiOnly)}`).join(', ')}}`;
    default:
      return strOf(p);
  }
}

function strOf(p: Py): string {
  switch (p.t) {
    case 'str':
      return p.v;
    case 'int':
      return p.v.toString();
    case 'float':
      return floatRepr(p.v);
    case 'bool':
      return p.v ? 'True' : 'False';
    case 'none':
      return 'None';
    default:
      return reprOf(p, false);
  }
}

export function pyStr(value: unknown): string {
  return strOf(py(value));
}

export function pyRepr(value: unknown): string {
  return reprOf(py(value), false);
}

/** Python's ascii(): repr() with every non-ASCII character escaped */
export function pyAscii(value: unknown): string {
  return reprOf(py(value), true);
}

// ---------------------------------------------------------------------------------------------------------------
// Decimal digits of a double, correctly rounded half-to-even as Python's formatting rounds them

/** |x| exactly as an integer times a power of ten */
function exact(x: number): { d: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const mantissa = biased === 0 ? fraction : fraction | (1n << 52n);
  const e2 = biased === 0 ? -1074 : biased - 1075;
  return e2 >= 0 ? { d: mantissa << BigInt(e2), e: 0 } : { d: mantissa * 5n ** BigInt(-e2), e: e2 };
}

function divRoundEven(n: bigint, places: number): bigint {
  const unit = 10n ** BigInt(places);
  const q = n / unit;
  const twice = (n % unit) * 2n;
  return twice > unit || (twice === unit && q % 2n === 1n) ? q + 1n : q;
}

function scaled(d: bigint, shift: number): bigint {
  return shift >= 0 ? d * 10n ** BigInt(shift) : divRoundEven(d, -shift);
}

/** |x| rounded to `places` decimals, as digits and the position of the decimal point within them */
function fixedDigits(x: number, places: number): { digits: string; point: number } {
  const { d, e } = exact(x);
  const digits = scaled(d, e + places).toString().padStart(places + 1, '0');
  return { digits, point: digits.length - places };
}

/** |x| rounded to `count` significant digits */
function significantDigits(x: number, count: number): { digits: string; point: number } {
  const { d, e } = exact(x);
  if (d === 0n) return { digits: '0'.repeat(count), point: 1 };
  const length = d.toString().length;
  let digits = scaled(d, count - length).toString();
  let point = length + e;
  if (digits.length > count) {
    digits = digits.slice(0, count);
    point += 1;
  }
  return { digits, point };
}

/** the shortest digits that read back as x, as JS and Python both choose them */
function shortestDigits(x: number): { digits: string; point: number } {
  const [mantissa, exponent] = Math.abs(x).toExponential().split('e');
  return { digits: mantissa!.replace('.', ''), point: Number(exponent) + 1 };
}

interface Layout {
  digits: string;
  point: number;
  exponent: boolean;
  /** keep the decimal point with nothing after it ('#') */
  alt?: boolean;
  /** at least one digit after the point when the result has no exponent */
  dot0?: boolean;
  upper?: boolean;
}

/** digits placed around the point: [integer part, the rest ('.fraction' and exponent)] */
function layout(l: Layout): [string, string] {
  let point = l.point;
  let exponent = '';
  if (l.exponent) {
    const e = point - 1;
    exponent = `${l.upper ? 'E' : 'e'}${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
    point = 1;
  }
  const whole = point <= 0 ? '0' : l.digits.slice(0, point).padEnd(point, '0');
  let fraction = point <= 0 ? '0'.repeat(-point) + l.digits : l.digits.slice(point);
  if (l.dot0 && !l.exponent && fraction === '') fraction = '0';
  return [whole, (fraction !== '' || l.alt ? `.${fraction}` : '') + exponent];
}

/** repr() of a finite float, without its sign: exponent notation below 1e-4 and from 1e16 */
function reprParts(x: number): [string, string] {
  const d = shortestDigits(x);
  return layout({ ...d, exponent: d.point <= -4 || d.point > 16, dot0: true });
}

function floatRepr(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x < 0 ? '-inf' : 'inf';
  return (x < 0 || Object.is(x, -0) ? '-' : '') + reprParts(x).join('');
}

// ---------------------------------------------------------------------------------------------------------------
// The spec mini-language

interface Spec {
  fill: string;
  align: string | undefined;
  sign: string;
  noNegZero: boolean;
  alt: boolean;
  width: number;
  grouping: string;
  precision: number | undefined;
  type: string;
}

function parseSpec(spec: string, p: Py): Spec {
  const defaultAlign = p.t === 'str' ? '<' : '>';
  const defaultType = p.t === 'str' ? 's' : p.t === 'float' ? '' : 'd';
  const c = codePoints(spec);
  let i = 0;
  const s: Spec = { fill: ' ', align: undefined, sign: '', noNegZero: false, alt: false, width: 0, grouping: '', precision: undefined, type: '' };
  let fillGiven = false;
  const isAlign = (ch: string | undefined) => ch !== undefined && '<>=^'.includes(ch);
  if (c.length >= 2 && isAlign(c[1])) {
    [s.fill, s.align] = [c[0]!, c[1]!];
    fillGiven = true;
    i = 2;
  } else if (isAlign(c[0])) {
    s.align = c[0];
    i = 1;
  }
  if (c[i] === '+' || c[i] === '-' || c[i] === ' ') s.sign = c[i++]!;
  if (c[i] === 'z') [s.noNegZero, i] = [true, i + 1];
  if (c[i] === '#') [s.alt, i] = [true, i + 1];
  // a leading 0 means fill with zeros, between sign and digits for numbers
  if (!fillGiven && c[i] === '0') {
    s.fill = '0';
    if (s.align === undefined && defaultAlign === '>') s.align = '=';
    i++;
  }
  const digitsAt = () => {
    const start = i;
    while (i < c.length && c[i]! >= '0' && c[i]! <= '9') i++;
    return c.slice(start, i).join('');
  };
  const width = digitsAt();
  if (width !== '') s.width = Number(width);
  if (c[i] === ',' || c[i] === '_') {
    s.grouping = c[i++]!;
    if (c[i] === ',' || c[i] === '_') {
      throw fail(c[i] === s.grouping ? `Cannot specify '${s.grouping}' with '${s.grouping}'.` : "Cannot specify both ',' and '_'.");
    }
  }
  if (c[i] === '.') {
    i++;
    const precision = digitsAt();
    if (precision === '') throw fail('Format specifier missing precision');
    s.precision = Number(precision);
  }
  if (c.length - i > 1) throw fail(`Invalid format specifier '${spec}' for object of type '${TYPE_NAME[p.t]}'`);
  s.type = c[i] ?? defaultType;
  if (s.grouping !== '') {
    const allowed = s.grouping === '_' ? 'deEfFgG%bxXo' : 'deEfFgG%';
    if (!allowed.includes(s.type)) throw fail(`Cannot specify '${s.grouping}' with '${s.type}'.`);
  }
  s.align ??= defaultAlign;
  return s;
}

function pad(text: string, s: Spec, align: string): string {
  const n = s.width - codePoints(text).length;
  if (n <= 0) return text;
  if (align === '<') return text + s.fill.repeat(n);
  if (align === '^') return s.fill.repeat(Math.floor(n / 2)) + text + s.fill.repeat(n - Math.floor(n / 2));
  return s.fill.repeat(n) + text;
}

function group(digits: string, sep: string, size: number): string {
  if (sep === '') return digits;
  let out = '';
  for (let end = digits.length; end > 0; end -= size) out = digits.slice(Math.max(0, end - size), end) + (out ? sep + out : '');
  return out;
}

/** sign, prefix, integer digits and the rest, grouped and padded as Python lays out a number */
function number(negative: boolean, prefix: string, whole: string, rest: string, s: Spec, size = 3): string {
  const sign = negative ? '-' : s.sign === '+' ? '+' : s.sign === ' ' ? ' ' : '';
  const lead = sign + prefix;
  let digits = group(whole, s.grouping, size);
  if (s.align === '=') {
    const room = s.width - lead.length - codePoints(rest).length;
    if (s.fill === '0') {
      // zeros pad the digits and are grouped with them, which can overshoot the width by a separator
      let padded = whole;
      while (digits.length < room) {
        padded = `0${padded}`;
        digits = group(padded, s.grouping, size);
      }
    } else if (digits.length < room) {
      digits = s.fill.repeat(room - digits.length) + digits;
    }
    return lead + digits + rest;
  }
  return pad(lead + digits + rest, s, s.align!);
}

function formatStr(v: string, s: Spec): string {
  if (s.sign !== '') throw fail(`${s.sign === ' ' ? 'Space' : 'Sign'} not allowed in string format specifier`);
  if (s.noNegZero) throw fail('Negative zero coercion (z) not allowed in format specifier');
  if (s.alt) throw fail('Alternate form (#) not allowed in string format specifier');
  if (s.align === '=') throw fail("'=' alignment not allowed in string format specifier");
  if (s.type !== '' && s.type !== 's') throw fail(`Unknown format code '${s.type}' for object of type 'str'`);
  const text = s.precision === undefined ? v : codePoints(v).slice(0, s.precision).join('');
  return pad(text, s, s.align!);
}

function formatInt(v: bigint, s: Spec, typeName = 'int'): string {
  if ('eEfFgG%'.includes(s.type)) return formatFloat(Number(v), s);
  if (s.precision !== undefined) throw fail('Precision not allowed in integer format specifier');
  if (s.noNegZero) throw fail('Negative zero coercion (z) not allowed in integer format specifier');
  const negative = v < 0n;
  const abs = negative ? -v : v;
  switch (s.type) {
    case 'c':
      if (s.sign !== '') throw fail("Sign not allowed with integer format specifier 'c'");
      if (s.alt) throw fail("Alternate form (#) not allowed with integer format specifier 'c'");
      if (negative || v > 0x10ffffn) throw fail('%c arg not in range(0x110000)');
      return pad(String.fromCodePoint(Number(v)), s, s.align!);
    case 'b':
    case 'o':
    case 'x':
    case 'X': {
      const base = { b: 2, o: 8, x: 16, X: 16 }[s.type];
      const digits = abs.toString(base);
      const prefix = s.alt ? `0${s.type}` : '';
      return s.type === 'X' ? number(negative, prefix.toUpperCase(), digits.toUpperCase(), '', s, 4) : number(negative, prefix, digits, '', s, 4);
    }
    case 'd':
    case 'n':
      return number(negative, '', abs.toString(), '', s);
    default:
      throw fail(`Unknown format code '${s.type}' for object of type '${typeName}'`);
  }
}

function formatFloat(x: number, s: Spec): string {
  let type = s.type;
  if (!'eEfFgGn%'.includes(type)) {
    throw fail(`Unknown format code '${type}' for object of type 'float'`);
  }
  let value = x;
  let percent = '';
  if (type === '%') {
    value *= 100;
    percent = '%';
    type = 'f';
  }
  if (type === 'n') type = 'g';
  const upper = type === 'E' || type === 'F' || type === 'G';
  const negative = value < 0 || Object.is(value, -0);
  if (!Number.isFinite(value)) {
    const word = Number.isNaN(value) ? 'nan' : 'inf';
    return number(negative && !Number.isNaN(value), '', upper ? word.toUpperCase() : word, percent, { ...s, grouping: '' });
  }
  let parts: [string, string];
  if (type === '' && s.precision === undefined) {
    parts = reprParts(value);
  } else if (type === 'f' || type === 'F') {
    parts = layout({ ...fixedDigits(value, s.precision ?? 6), exponent: false, alt: s.alt });
  } else if (type === 'e' || type === 'E') {
    parts = layout({ ...significantDigits(value, (s.precision ?? 6) + 1), exponent: true, alt: s.alt, upper });
  } else {
    // 'g', and no type with a precision: 'g' that keeps one digit after the point and leaves fixed notation
    // one digit earlier
    const dot0 = type === '';
    const p = s.precision === 0 ? 1 : s.precision ?? 6;
    const d = significantDigits(value, p);
    const digits = s.alt ? d.digits : d.digits.replace(/(.)0+$/, '$1');
    const exponent = d.point <= -4 || d.point > (dot0 ? p - 1 : p);
    parts = layout({ digits, point: d.point, exponent, alt: s.alt, dot0, upper });
  }
  const [whole, rest] = parts;
  const zero = /^[0.]*$/.test(whole + rest.replace(/[eE].*$/, ''));
  return number(negative && !(s.noNegZero && zero), '', whole, rest + percent, s);
}

/** parsed specs by value type and text: a listing formats the same few specs for every row */
const specs = new Map<string, Spec>();

/** Python's format(value, spec) */
export function pyFormat(value: unknown, spec: string): string {
  const p = py(value);
  if (spec === '') return strOf(p);
  const key = `${p.t}\0${spec}`;
  let parsed = specs.get(key);
  if (parsed === undefined) specs.set(key, (parsed = parseSpec(spec, p)));
  const s = { ...parsed };
  switch (p.t) {
    case 'str':
      return formatStr(p.v, s);
    case 'int':
      return formatInt(p.v, s);
    case 'bool':
      return formatInt(p.v ? 1n : 0n, s, 'bool');
    case 'float':
      return formatFloat(p.v, s);
    default:
      throw fail(`unsupported format string passed to ${TYPE_NAME[p.t]}.__format__`);
  }
}
