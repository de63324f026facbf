// The tar codec against itself and against GNU tar: what we write, tar lists and extracts byte for byte; what
// tar writes (its default GNU format, long names included, and pax), we read.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, symlinkSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BLOCK, RECORD, TYPE_FILE, TYPE_SYMLINK, encodeHeader, padding, readTar, trailer, type TarEntry } from '../../src/core/kvs/tar.js';
import { FluxError } from '../../src/core/errors.js';

interface Item {
  path: string;
  data?: Buffer;
  link?: string;
}

function archive(items: Item[], mtime = 1_700_000_000): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const link = it.link !== undefined;
    const data = it.data ?? Buffer.alloc(0);
    parts.push(encodeHeader({
      path: it.path, type: link ? TYPE_SYMLINK : TYPE_FILE, size: link ? 0 : data.length, mode: link ? 0o777 : 0o644,
      uid: 1234, gid: 5678, mtime, linkpath: it.link ?? '',
    }));
    if (!link) parts.push(data, padding(data.length));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, trailer(body.length)]);
}

async function readAll(bytes: Buffer, chunk = 700): Promise<TarEntry[]> {
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  const out: TarEntry[] = [];
  for await (const e of readTar(chunks())) out.push(e);
  return out;
}

const long = (n: number) => Array.from({ length: n }, (_, i) => `dir${i}`).join('/');

const items: Item[] = [
  { path: 'a/b/c', data: Buffer.from('hello') },
  { path: 'empty', data: Buffer.alloc(0) },
  { path: 'bin', data: Buffer.from([0, 1, 2, 255, 254, 0]) },
  { path: 'big', data: Buffer.alloc(3 * BLOCK + 17, 0x5a) },
  // needs ustar's prefix field
  { path: `${long(30)}/leaf`, data: Buffer.from('split') },
  // longer than prefix + name can hold: a pax header
  { path: `${long(60)}/leaf`, data: Buffer.from('pax') },
  // a single component longer than 100 bytes: pax as well
  { path: `x/${'n'.repeat(150)}`, data: Buffer.from('one long name') },
  { path: 'lnk', link: 'a.b' },
  { path: 'nslink', link: 'other::y.z' },
  { path: 'longlink', link: `t.${'q'.repeat(200)}` },
  { path: 'ünïcödé/ключ', data: Buffer.from('utf8') },
];

describe('tar codec', () => {
  it('reads back what it writes, whatever the chunking', async () => {
    const bytes = archive(items);
    expect(bytes.length % RECORD).toBe(0);
    for (const chunk of [1, 511, 512, 700, 1 << 20]) {
      const got = await readAll(bytes, chunk);
      expect(got.map((e) => e.path)).toEqual(items.map((i) => i.path));
      got.forEach((e, i) => {
        const it = items[i]!;
        if (it.link !== undefined) {
          expect(e.type).toBe(TYPE_SYMLINK);
          expect(e.linkpath).toBe(it.link);
        } else {
          expect(e.type).toBe(TYPE_FILE);
          expect(e.data.equals(it.data!)).toBe(true);
          expect(e.mode).toBe(0o644);
        }
        expect([e.uid, e.gid, e.mtime]).toEqual([1234, 5678, 1_700_000_000]);
      });
    }
  });

  it('is listed and extracted byte for byte by GNU tar', (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-codec-'));
    ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'ours.tar'), archive(items));
    const listing = execFileSync('tar', ['-tvf', join(dir, 'ours.tar')], { encoding: 'utf8' }).trim().split('\n');
    expect(listing).toHaveLength(items.length);
    expect(listing[0]).toMatch(/^-rw-r--r-- 1234\/5678\s+5 2023-11-1\d \d\d:\d\d a\/b\/c$/);
    expect(listing[7]).toMatch(/^lrwxrwxrwx 1234\/5678\s+0 .* lnk -> a\.b$/);
    const out = join(dir, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xf', join(dir, 'ours.tar'), '-C', out]);
    for (const it of items) {
      if (it.link !== undefined) expect(readlinkSync(join(out, it.path))).toBe(it.link);
      else expect(readFileSync(join(out, it.path)).equals(it.data!)).toBe(true);
    }
  });

  it('reads what GNU tar writes, in its gnu and pax formats', async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-codec-'));
    ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const src = join(dir, 'src');
    const deep = join(src, long(40));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'v'), 'deep value');
    writeFileSync(join(src, 'bin'), Buffer.from([0, 255, 10, 13]));
    symlinkSync(`ns::${'t'.repeat(150)}`, join(src, 'l'));
    for (const format of ['gnu', 'posix']) {
      const file = join(dir, `${format}.tar`);
      execFileSync('tar', [`--format=${format}`, '-cf', file, '-C', src, '.']);
      const got = await readAll(readFileSync(file));
      const byPath = new Map(got.map((e) => [e.path.replace(/^\.\//, ''), e]));
      expect(byPath.get(`${long(40)}/v`)?.data.toString()).toBe('deep value');
      expect(byPath.get('bin')?.data.equals(Buffer.from([0, 255, 10, 13]))).toBe(true);
      expect(byPath.get('l')?.linkpath).toBe(`ns::${'t'.repeat(150)}`);
    }
  });

  it('refuses a damaged header', async () => {
    const bytes = archive([{ path: 'a', data: Buffer.from('x') }]);
    bytes[10] = 0x41;
    await expect(readAll(bytes)).rejects.toThrow(/checksum/);
    await expect(readAll(archive(items).subarray(0, 700))).rejects.toBeInstanceOf(FluxError);
  });
});
