// JSON as flux-core's C clients read and write it (jansson), so that what flux kvs sends and prints is what
// flux-core's sends and prints: object members keep their order (JS objects would move integer-like keys to
// the front), integers and reals stay distinct (1 vs 1.0), reals print as C's "%.17g", control characters
// escape as \u00XX with upper-case hex. Also C's "%f"/"%g" with glibc's exact round-half-even. Pure.
import { FluxError, EINVAL } from '../errors.js';

/** A JSON real: what jansson decodes from a number with a fraction or exponent, and prints with 17 digits. */
export class JReal {
  constructor(readonly value: number) {}
}

/**
 * A decoded JSON value. Decoding yields bigint for integers, JReal for reals and Map for objects; for
 * building values a plain number is an integer and a plain object an object (in its key order).
 */
export type JValue = null | boolean | string | bigint | number | JReal | JValue[] | JObject | { [k: string]: JValue };
export type JObject = Map<string, JValue>;

export interface ParseOptions {
  /** accept any value at the top level, not only an object or array (jansson's JSON_DECODE_ANY) */
  any?: boolean;
  /** accept \u0000 in strings (JSON_ALLOW_NUL) */
  allowNul?: boolean;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Parser {
  private i = 0;
  constructor(private readonly s: string, private readonly opts: ParseOptions) {}

  fail(why: string): never {
    throw new FluxError(EINVAL, `invalid JSON: ${why} near position ${this.i}`);
  }

  ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.i++;
    }
  }

  document(): JValue {
    this.ws();
    const c = this.s[this.i];
    if (!this.opts.any && c !== '{' && c !== '[') this.fail("'[' or '{' expected");
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) this.fail('end of file expected');
    return v;
  }

  value(): JValue {
    const c = this.s[this.i];
    switch (c) {
      case '{': return this.object();
      case '[': return this.array();
      case '"': return this.string();
      case 't': return this.literal('true', true);
      case 'f': return this.literal('false', false);
      case 'n': return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail('invalid token');
    }
  }

  literal(word: string, v: JValue): JValue {
    if (!this.s.startsWith(word, this.i)) this.fail('invalid token');
    this.i += word.length;
    return v;
  }

  object(): JObject {
    const o: JObject = new Map();
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return o;
    }
    for (;;) {
      if (this.s[this.i] !== '"') this.fail('string or \'}\' expected');
      const k = this.string();
      if (k.includes('\0')) this.fail('NUL byte in object key not supported');
      this.ws();
      if (this.s[this.i] !== ':') this.fail("':' expected");
      this.i++;
      this.ws();
      // a repeated member replaces the value where the first one stood, as jansson's object set does
      o.set(k, this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return o;
      if (c !== ',') this.fail("'}' expected");
      this.ws();
    }
  }

  array(): JValue[] {
    const a: JValue[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return a;
    }
    for (;;) {
      a.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return a;
      if (c !== ',') this.fail("']' expected");
      this.ws();
    }
  }

  hex4(): number {
    const h = this.s.substring(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid escape');
    this.i += 4;
    return parseInt(h, 16);
  }

  string(): string {
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (Number.isNaN(c)) this.fail('premature end of input');
      if (c === 0x22) {
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c !== 0x5c) {
        out += this.s[this.i++];
        continue;
      }
      const e = this.s[this.i + 1];
      this.i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const u = this.hex4();
          if (u >= 0xdc00 && u <= 0xdfff) this.fail('invalid Unicode escape');
          if (u >= 0xd800 && u <= 0xdbff) {
            if (this.s[this.i] !== '\\' || this.s[this.i + 1] !== 'u') this.fail('invalid Unicode escape');
            this.i += 2;
            const lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) this.fail('invalid Unicode escape');
            out += String.fromCharCode(u, lo);
          } else {
            if (u === 0 && !this.opts.allowNul) this.fail('\\u0000 is not allowed without JSON_ALLOW_NUL');
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          this.fail('invalid escape');
      }
    }
  }

  number(): bigint | JReal {
    const m = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.substring(this.i));
    if (!m) this.fail('invalid number');
    const text = m[0];
    this.i += text.length;
    const next = this.s[this.i];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail('invalid number');
    if (m[1] === undefined && m[2] === undefined) {
      const n = BigInt(text);
      if (n > INT64_MAX || n < INT64_MIN) this.fail('too big integer');
      return n;
    }
    const x = Number(text);
    if (!Number.isFinite(x)) this.fail('real number overflow');
    return new JReal(x);
  }
}

/** Decode JSON text (bytes must be UTF-8) as jansson's json_loads does; EINVAL when it is not valid. */
export function parseJson(text: string | Buffer, opts: ParseOptions = {}): JValue {
  let s: string;
  if (typeof text === 'string') {
    s = text;
  } else {
    try {
      s = utf8.decode(text);
    } catch (err) {
      throw new FluxError(EINVAL, `invalid JSON: ${(err as Error).message}`);
    }
  }
  return new Parser(s, opts).document();
}

/** Bytes up to the first NUL: what a C string holding these bytes reads as. */
export function cString(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

export function isObject(v: JValue | undefined): v is JObject {
  return v instanceof Map;
}

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function dumpString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/["\\\u0000-\u001f]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`)}"`;
}

/** strcmp order: UTF-8 byte order, which differs from JS string order for characters past U+FFFF */
export function byteCompare(a: string, b: string): number {
  // without surrogates, UTF-16 code unit order is code point order, which is UTF-8 byte order
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const SURROGATE = /[\ud800-\udfff]/;

/**
 * Whether JSON.stringify writes `v`'s numbers and containers as jansson would: plain objects, arrays, booleans, null,
 * strings and safe integers. Strings are checked in the text it writes (`dumpJson`), not one by one here: a commit of
 * many keys is mostly strings, and a walk testing each with a regular expression cost more than the stringify.
 */
function plainJson(v: JValue): boolean {
  if (v === null) return true;
  switch (typeof v) {
    case 'boolean':
    case 'string': return true;
    case 'number': return Number.isSafeInteger(v) && !Object.is(v, -0);
    case 'bigint': return false;
    default: break;
  }
  if (Array.isArray(v)) return v.every(plainJson);
  // a Map, a JReal or any other class's object is written piece by piece
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k in v) if (!plainJson((v as Record<string, JValue>)[k]!)) return false;
  return true;
}

/** jansson's json_dumps with JSON_COMPACT (and JSON_SORT_KEYS when sort is set). */
export function dumpJson(v: JValue, opts: { sort?: boolean } = {}): string {
  if (!opts.sort && typeof v === 'object' && v !== null && plainJson(v)) {
    const text = JSON.stringify(v);
    // the only escapes the two paths write differently are \u ones (control characters, in lower-case hex where
    // jansson writes upper case, and lone surrogates, which the other path leaves to UTF-8); a string holding a
    // backslash before a u also goes the other way, to the same text
    if (!text.includes('\\u')) return text;
  }
  return dumpSlow(v, opts);
}

function dumpSlow(v: JValue, opts: { sort?: boolean }): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false';
    case 'string': return dumpString(v);
    case 'bigint': return v.toString();
    case 'number':
      if (!Number.isFinite(v)) throw new FluxError(EINVAL, 'JSON numbers must be finite');
      return Number.isInteger(v) ? BigInt(v).toString() : janssonReal(v);
    default:
      break;
  }
  if (v instanceof JReal) return janssonReal(v.value);
  if (Array.isArray(v)) return `[${v.map((x) => dumpSlow(x, opts)).join(',')}]`;
  const entries: [string, JValue][] = v instanceof Map ? [...v.entries()] : Object.entries(v);
  if (opts.sort) entries.sort((a, b) => byteCompare(a[0], b[0]));
  return `{${entries.map(([k, x]) => `${dumpString(k)}:${dumpSlow(x, opts)}`).join(',')}}`;
}

// ---- C number formatting -----------------------------------------------------------------------------

/** |x| as the exact fraction num/den */
function exact(x: number): { num: bigint; den: bigint } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e = -1074;
  if (biased !== 0) {
    m |= 1n << 52n;
    e = biased - 1075;
  }
  return e >= 0 ? { num: m << BigInt(e), den: 1n } : { num: m, den: 1n << BigInt(-e) };
}

/** num/den rounded to an integer, ties to even (glibc printf in the default rounding mode) */
function roundHalfEven(num: bigint, den: bigint): bigint {
  const q = num / den;
  const twice = 2n * (num % den);
  if (twice > den || (twice === den && q % 2n === 1n)) return q + 1n;
  return q;
}

const pow10 = (n: number) => 10n ** BigInt(n);
const negative = (x: number) => x < 0 || Object.is(x, -0);

/** C's printf("%.<digits>f", x) */
export function formatFixed(x: number, digits: number): string {
  const { num, den } = exact(x);
  const s = roundHalfEven(num * pow10(digits), den).toString().padStart(digits + 1, '0');
  const int = s.slice(0, s.length - digits);
  return `${negative(x) ? '-' : ''}${int}${digits > 0 ? `.${s.slice(s.length - digits)}` : ''}`;
}

/** C's printf("%.<precision>g", x) */
export function formatG(x: number, precision: number): string {
  const p = Math.max(precision, 1);
  const sign = negative(x) ? '-' : '';
  if (x === 0) return `${sign}0`;
  const { num, den } = exact(x);
  // the decimal exponent: 10^e <= |x| < 10^(e+1), found exactly
  let e = Math.floor(Math.log10(Math.abs(x)));
  const atLeast = (k: number) => (k >= 0 ? num >= den * pow10(k) : num * pow10(-k) >= den);
  while (!atLeast(e)) e--;
  while (atLeast(e + 1)) e++;
  const shift = p - 1 - e;
  let n = shift >= 0 ? roundHalfEven(num * pow10(shift), den) : roundHalfEven(num, den * pow10(-shift));
  if (n === pow10(p)) {
    n = pow10(p - 1);
    e++;
  }
  const digits = n.toString();
  const trim = (frac: string) => frac.replace(/0+$/, '');
  if (e < p && e >= -4) {
    const int = e >= 0 ? digits.slice(0, e + 1) : '0';
    const frac = trim(e >= 0 ? digits.slice(e + 1) : '0'.repeat(-e - 1) + digits);
    return `${sign}${int}${frac ? `.${frac}` : ''}`;
  }
  const frac = trim(digits.slice(1));
  return `${sign}${digits[0]}${frac ? `.${frac}` : ''}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** a JSON real as jansson writes it: "%.17g", with ".0" when that looks like an integer, exponent unpadded */
export function janssonReal(x: number): string {
  let s = formatG(x, 17);
  if (!s.includes('.') && !s.includes('e')) s += '.0';
  return s.replace(/e\+?(-?)0*(\d)/, 'e$1$2');
}
