// What flux kvs prints, as flux-core 0.88's flux-kvs prints it: dir lines cut to the terminal width, ls
// columns, namespace list rows; and the client-side checks libkvs makes on tree objects. Pure.
import { parseBlobref } from '../content/blobref.js';
import { FluxError, EINVAL } from '../errors.js';
import { type JObject, type JValue, byteCompare, cString, isObject } from './format-json.js';

export const NAMESPACE_HEADER = 'NAMESPACE                                 OWNER      FLAGS\n';

/** one `flux kvs namespace list` row: printf("%-36s %10u 0x%08X\n") of the decoded ints */
export function namespaceRow(ns: string, owner: number, flags: number): string {
  const hex = (flags >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `${ns.padEnd(36 - (Buffer.byteLength(ns) - ns.length))} ${String(owner >>> 0).padStart(10)} 0x${hex}\n`;
}

/** C's isprint() in the C locale */
const printable = (c: number) => c >= 0x20 && c <= 0x7e;

/**
 * One `flux kvs dir` line, `key = value`: with a width (maxcol > 3) it is cut to maxcol-3 bytes, at a newline,
 * and at the first unprintable byte, and "..." marks that something was cut (not a lone trailing newline).
 * The value is read as a C string.
 */
export function kvLine(key: string, value: Buffer, maxcol: number): Buffer {
  let kv = Buffer.concat([Buffer.from(`${key} = `), cString(value)]);
  const width = maxcol > 3 ? maxcol : 0;
  let cut = false;
  if (width !== 0) {
    if (kv.length > width - 3) {
      kv = kv.subarray(0, width - 3);
      cut = true;
    }
    const nl = kv.indexOf(0x0a);
    if (nl >= 0) {
      if (nl + 1 < kv.length) cut = true;
      kv = kv.subarray(0, nl);
    }
    const bad = kv.findIndex((c) => !printable(c));
    if (bad >= 0) {
      kv = kv.subarray(0, bad);
      cut = true;
    }
  }
  return Buffer.concat([kv, Buffer.from(cut ? '...\n' : '\n')]);
}

/**
 * `flux kvs ls` columns: each column as wide as the longest name + 4, a new row when the next column would
 * pass the width (0: never; 1: one name per row). `widest` is the longest name when the names carry a
 * classify suffix that should not widen the columns.
 */
export function columns(names: string[], width: number, widest?: number): string {
  const len = (s: string) => Buffer.byteLength(s);
  const colWidth = (widest ?? names.reduce((m, n) => Math.max(m, len(n)), 0)) + 4;
  let out = '';
  let col = 0;
  let last = 0;
  for (const name of names) {
    if (width !== 0 && col + colWidth > width && col > 0) {
      out += '\n';
      col = 0;
    } else if (last > 0) {
      out += ' '.repeat(Math.abs(colWidth - last));
    }
    out += name;
    last = len(name);
    col += colWidth;
  }
  return col > 0 ? `${out}\n` : out;
}

/** C's strtol(s, NULL, 10): the leading integer, 0 when there is none */
export function strtol(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m ? Number(m[1]) : 0;
}

/**
 * The output width for dir and ls: -w COLS when given (and not negative), else the terminal's width when
 * stdout is one, else $COLUMNS when set (and not negative), else 80.
 */
export function windowWidth(opt: number | undefined, tty: number | undefined, columnsEnv: string | undefined): number {
  if (opt !== undefined && opt >= 0) return opt;
  if (tty !== undefined) return tty;
  if (columnsEnv !== undefined) {
    const n = strtol(columnsEnv);
    if (n >= 0) return n;
  }
  return 80;
}

// ---- tree objects, checked as libkvs checks them --------------------------------------------------------

export type TreeType = 'val' | 'valref' | 'dir' | 'dirref' | 'symlink';

function isBlobref(v: JValue): boolean {
  if (typeof v !== 'string') return false;
  try {
    parseBlobref(v);
    return true;
  } catch (err) {
    if (err instanceof FluxError && err.errno === EINVAL) return false;
    throw err;
  }
}

/** treeobj_validate(): exactly ver (1), type and data, with data of the type's shape, dirs recursively */
export function isTreeObj(v: JValue): v is JObject {
  if (!isObject(v) || v.size !== 3 || v.get('ver') !== 1n) return false;
  const type = v.get('type');
  const data = v.get('data');
  switch (type) {
    case 'val':
      return typeof data === 'string';
    case 'valref':
    case 'dirref':
      return Array.isArray(data) && data.length > 0 && data.every(isBlobref);
    case 'dir':
      return isObject(data) && [...data.values()].every(isTreeObj);
    case 'symlink': {
      if (!isObject(data) || typeof data.get('target') !== 'string') return false;
      const ns = data.get('namespace');
      return ns === undefined || typeof ns === 'string';
    }
    default:
      return false;
  }
}

export const typeOf = (t: JObject) => t.get('type') as TreeType;

/** a validated dir's entries, sorted by name as the kvsdir iterator hands them out */
export function dirEntries(t: JObject): [string, JObject][] {
  const data = t.get('data') as JObject;
  return ([...data.entries()] as [string, JObject][]).sort((a, b) => byteCompare(a[0], b[0]));
}

export const isDirType = (t: JObject) => typeOf(t) === 'dir' || typeOf(t) === 'dirref';

/** a symlink's target and (optional) namespace */
export function symlinkOf(t: JObject): { ns?: string; target: string } {
  const data = t.get('data') as JObject;
  const ns = data.get('namespace') as string | undefined;
  return ns === undefined ? { target: data.get('target') as string } : { ns, target: data.get('target') as string };
}

/** `target`, or `ns::target` for a link into another namespace */
export function linkText(l: { ns?: string; target: string }): string {
  return l.ns === undefined ? l.target : `${l.ns}::${l.target}`;
}

/** The bytes of a val's base64 data (EINVAL for anything but a val, or data that is not base64). */
export function valData(t: JObject): Buffer {
  const data = t.get('data');
  if (typeOf(t) !== 'val' || typeof data !== 'string') throw new FluxError(EINVAL);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 === 1 || (data.includes('=') && data.length % 4 !== 0)) {
    throw new FluxError(EINVAL);
  }
  return Buffer.from(data, 'base64');
}
