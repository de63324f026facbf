// The tar format (POSIX ustar, with pax extended headers for what ustar cannot hold): what `flux dump` writes
// and `flux restore` reads. Pure: headers are built from and parsed into plain values; the reader takes the
// archive as chunks from any async source. The reader also takes GNU tar's own long-name entries ('L', 'K')
// and base-256 numbers, so an archive made by GNU tar in its default format reads too.
import { FluxError, EPROTO } from '../errors.js';

export const BLOCK = 512;
/** archives are padded to a whole record of 20 blocks, as tar and libarchive write them */
export const RECORD = 20 * BLOCK;

export const TYPE_FILE = '0';
export const TYPE_SYMLINK = '2';
export const TYPE_DIR = '5';
const TYPE_PAX = 'x';
const TYPE_PAX_GLOBAL = 'g';
const TYPE_GNU_LONGNAME = 'L';
const TYPE_GNU_LONGLINK = 'K';

export interface TarHeader {
  path: string;
  /** '0' file, '2' symlink, '5' directory, or whatever other type an archive holds */
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** seconds since the epoch */
  mtime: number;
  linkpath: string;
}

// ---- writing ---------------------------------------------------------------------------------------------------

const NAME_MAX = 100;
const PREFIX_MAX = 155;

function putString(b: Buffer, off: number, len: number, s: string | Buffer): void {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  bytes.copy(b, off, 0, Math.min(len, bytes.length));
}

/** an octal field: digits, then a NUL, as wide as the field allows */
function putOctal(b: Buffer, off: number, len: number, n: number): void {
  putString(b, off, len - 1, n.toString(8).padStart(len - 1, '0'));
}

/** where a path splits into ustar's prefix and name (undefined when it cannot) */
function splitPath(path: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (path.length <= NAME_MAX) return { prefix: Buffer.alloc(0), name: path };
  // the prefix ends just before a '/'; the name after it must be non-empty and fit
  for (let i = Math.min(PREFIX_MAX, path.length - 1); i > 0; i--) {
    if (path[i] !== 0x2f) continue;
    const name = path.subarray(i + 1);
    if (name.length === 0 || name.length > NAME_MAX) return undefined;
    return { prefix: path.subarray(0, i), name };
  }
  return undefined;
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum;
}

function ustarBlock(h: TarHeader, name: Buffer, prefix: Buffer, linkpath: Buffer): Buffer {
  const b = Buffer.alloc(BLOCK);
  putString(b, 0, NAME_MAX, name);
  putOctal(b, 100, 8, h.mode & 0o7777);
  putOctal(b, 108, 8, h.uid);
  putOctal(b, 116, 8, h.gid);
  putOctal(b, 124, 12, h.size);
  putOctal(b, 136, 12, Math.floor(h.mtime));
  b.write(h.type, 156, 1, 'latin1');
  putString(b, 157, NAME_MAX, linkpath);
  b.write('ustar\u000000', 257, 8, 'latin1');
  putString(b, 345, PREFIX_MAX, prefix);
  // six octal digits, a NUL and a space, as tar writes it
  b.write(`${checksum(b).toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'latin1');
  return b;
}

/** one pax record "<len> key=value\n", where len counts the whole record, its own digits included */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

/** zeros to pad with, shared: never written to */
const ZEROS = Buffer.alloc(BLOCK);

/** the bytes after the data of `size` bytes that bring it to a whole block (a view of shared zeros: read only) */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return ZEROS.subarray(0, rest === 0 ? 0 : BLOCK - rest);
}

/**
 * The header blocks for one entry: a ustar block, preceded by a pax extended header when the path or link
 * target does not fit ustar's fields. The entry's data and padding(size) follow.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const path = Buffer.from(h.path, 'utf8');
  const link = Buffer.from(h.linkpath, 'utf8');
  const split = splitPath(path);
  const records: string[] = [];
  if (split === undefined) records.push(paxRecord('path', h.path));
  if (link.length > NAME_MAX) records.push(paxRecord('linkpath', h.linkpath));
  const block = ustarBlock(h, split?.name ?? path.subarray(0, NAME_MAX), split?.prefix ?? Buffer.alloc(0), link.subarray(0, NAME_MAX));
  if (records.length === 0) return block;
  const pax = Buffer.from(records.join(''), 'utf8');
  const base = (split?.name ?? path).toString('utf8').split('/').pop()!.slice(0, 80);
  const paxHeader = ustarBlock(
    { path: '', type: TYPE_PAX, size: pax.length, mode: 0o644, uid: h.uid, gid: h.gid, mtime: h.mtime, linkpath: '' },
    Buffer.from(`PaxHeader/${base}`, 'utf8').subarray(0, NAME_MAX), Buffer.alloc(0), Buffer.alloc(0),
  );
  return Buffer.concat([paxHeader, pax, padding(pax.length), block]);
}

/** the end of an archive that has had `written` bytes so far: two zero blocks, then zeros to a whole record */
export function trailer(written: number): Buffer {
  const end = written + 2 * BLOCK;
  return Buffer.alloc(2 * BLOCK + ((RECORD - (end % RECORD)) % RECORD));
}

// ---- reading ---------------------------------------------------------------------------------------------------

function bad(why: string): never {
  throw new FluxError(EPROTO, `not a valid tar archive: ${why}`);
}

function getString(b: Buffer, off: number, len: number): string {
  const field = b.subarray(off, off + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

/** a numeric field: octal text (space or NUL ended), or GNU's base-256 when the high bit of the first byte is set */
function getNumber(b: Buffer, off: number, len: number, what: string): number {
  if (b[off]! & 0x80) {
    if (b[off] === 0xff) bad(`negative ${what}`);
    let n = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + b[off + i]!;
    if (!Number.isSafeInteger(n)) bad(`${what} out of range`);
    return n;
  }
  const text = b.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) bad(`${what} field "${text}" is not octal`);
  return parseInt(text, 8);
}

/** the pax records of an extended header */
function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) bad('pax record without a length');
    const len = Number(data.toString('latin1', off, sp));
    if (!Number.isSafeInteger(len) || len <= sp - off || off + len > data.length) bad('pax record length');
    const rec = data.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq < 0) bad('pax record without "="');
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    off += len;
  }
  return out;
}

/** Reads exact byte counts from an async source of chunks. */
class ByteReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private done = false;
  private readonly it: AsyncIterator<Buffer | string>;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** exactly n bytes, or fewer only at the end of the source */
  async read(n: number): Promise<Buffer> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
      } else {
        const c = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        this.chunks.push(c);
        this.have += c.length;
      }
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, Math.min(n, all.length));
    const rest = all.subarray(out.length);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.have = rest.length;
    return out;
  }
}

export interface TarEntry extends TarHeader {
  /** the entry's bytes (size of them) */
  data: Buffer;
}

export interface ReadOptions {
  /** entries whose size is above this have their data skipped (data is then empty) rather than read */
  maxData?: number;
}

/** the header of a block (undefined for a zero block: the end of the archive) */
export function decodeHeader(b: Buffer): TarHeader | undefined {
  if (b.every((x) => x === 0)) return undefined;
  const sum = getNumber(b, 148, 8, 'checksum');
  if (sum !== checksum(b)) bad('header checksum mismatch');
  const magic = b.toString('latin1', 257, 263);
  const prefix = magic === 'ustar\u0000' ? getString(b, 345, PREFIX_MAX) : '';
  const name = getString(b, 0, NAME_MAX);
  const type = b[156] === 0 ? TYPE_FILE : String.fromCharCode(b[156]!);
  return {
    path: prefix === '' ? name : `${prefix}/${name}`,
    type,
    size: getNumber(b, 124, 12, 'size'),
    mode: getNumber(b, 100, 8, 'mode'),
    uid: getNumber(b, 108, 8, 'uid'),
    gid: getNumber(b, 116, 8, 'gid'),
    mtime: getNumber(b, 136, 12, 'mtime'),
    linkpath: getString(b, 157, NAME_MAX),
  };
}

/**
 * The entries of an archive, in order, with their data; pax and GNU long-name entries are applied to the entry
 * they precede rather than returned. Ends at the two zero blocks (or at the end of the source after one).
 */
export async function* readTar(source: AsyncIterable<Buffer | string>, opts: ReadOptions = {}): AsyncGenerator<TarEntry> {
  const r = new ByteReader(source);
  let pax = new Map<string, string>();
  let global = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await r.read(BLOCK);
    if (block.length === 0) return;
    if (block.length < BLOCK) bad('truncated header');
    const h = decodeHeader(block);
    if (h === undefined) return;
    const skip = opts.maxData !== undefined && h.size > opts.maxData && (h.type === TYPE_FILE || h.type === '7');
    let data: Buffer;
    if (skip) {
      for (let left = h.size + padding(h.size).length; left > 0; left -= BLOCK * 128) {
        if ((await r.read(Math.min(left, BLOCK * 128))).length === 0) bad('truncated data');
      }
      data = Buffer.alloc(0);
    } else {
      data = await r.read(h.size);
      const pad = padding(h.size).length;
      if (data.length < h.size || (await r.read(pad)).length < pad) bad(`truncated data of ${h.path}`);
    }
    switch (h.type) {
      case TYPE_PAX:
        pax = parsePax(data);
        continue;
      case TYPE_PAX_GLOBAL:
        global = new Map([...global, ...parsePax(data)]);
        continue;
      case TYPE_GNU_LONGNAME:
        longName = getString(data, 0, data.length);
        continue;
      case TYPE_GNU_LONGLINK:
        longLink = getString(data, 0, data.length);
        continue;
    }
    const ext = new Map([...global, ...pax]);
    const path = ext.get('path') ?? longName ?? h.path;
    const linkpath = ext.get('linkpath') ?? longLink ?? h.linkpath;
    const size = ext.has('size') ? Number(ext.get('size')) : h.size;
    if (size !== h.size) bad(`${path}: pax sizes above 8 GiB are not supported`);
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    yield { ...h, path, linkpath, data };
  }
}
