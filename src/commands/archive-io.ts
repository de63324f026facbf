// What `flux dump` and `flux restore` share: the archive file written (tar, or gzipped tar by its name), a
// progress line on a terminal, and a window of requests in flight.
import { createWriteStream, openSync, rmSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { FluxError, EINVAL, errnoOf, strerror } from '../core/errors.js';

/** requests kept in flight: enough to hide the round trip, bounded so memory stays small */
export const WINDOW = 256;

export interface ArchiveSink {
  write(b: Buffer): Promise<void>;
  close(): Promise<void>;
  /** give up: a partial archive file is removed (a partial stream on stdout cannot be) */
  abort(): void;
}

function compressed(path: string): boolean {
  if (/\.(tgz|tar\.gz)$/.test(path)) return true;
  if (/\.tar$/.test(path)) return false;
  throw new FluxError(EINVAL, `${path}: unknown archive format (the name must end in .tar, .tgz or .tar.gz)`);
}

/** the archive file, opened before anything is read so that a path that cannot be written is said at once */
function openOut(path: string): number {
  try {
    return openSync(path, 'w', 0o644);
  } catch (err) {
    throw new FluxError(errnoOf(err), `${path}: ${strerror(errnoOf(err))}`);
  }
}

/** --maxreqs: how many requests to keep in flight (WINDOW when not given) */
export function parseMaxreqs(text: string | undefined): number {
  if (text === undefined) return WINDOW;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) throw new FluxError(EINVAL, 'invalid value for maxreqs');
  return n;
}

/** where a dump goes: "-" is stdout (uncompressed), else a file, gzipped when named .tgz or .tar.gz */
export function openSink(path: string): ArchiveSink {
  const gzip = path !== '-' && compressed(path);
  const file: Writable = path === '-' ? process.stdout : createWriteStream(path, { fd: openOut(path) });
  const gz = gzip ? createGzip() : undefined;
  const head: Writable = gz ?? file;
  const piped = gz ? pipeline(gz, file) : undefined;
  let failed: Error | undefined;
  head.on('error', (err: Error) => (failed ??= err));
  file.on('error', (err: Error) => (failed ??= err));
  return {
    write: (b) => {
      if (failed) return Promise.reject(failed);
      if (head.write(b)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const done = (err?: Error) => {
          head.off('drain', done);
          head.off('error', done);
          if (err) reject(err);
          else resolve();
        };
        head.once('drain', done);
        head.once('error', done);
      });
    },
    close: async () => {
      if (failed) throw failed;
      if (path === '-') return;
      head.end();
      await (piped ?? finished(file));
    },
    abort: () => {
      if (path === '-') return;
      piped?.catch(() => {});
      head.destroy();
      file.destroy();
      rmSync(path, { force: true });
    },
  };
}

/** A count that redraws itself on stderr while it is a terminal (at most every 100 ms), and a last line. */
export class Progress {
  private last = 0;
  count = 0;
  private readonly on: boolean;

  constructor(private readonly text: (n: number) => string, quiet: boolean) {
    this.on = !quiet && process.stderr.isTTY === true;
  }

  tick(): void {
    this.count++;
    if (!this.on) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    process.stderr.write(`\r${this.text(this.count)}`);
  }

  done(): void {
    if (this.on) process.stderr.write(`\r${this.text(this.count)}\n`);
  }
}

/** a --size-limit value: bytes, with an optional k, M or G (powers of 1024) */
export function parseSize(text: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text.trim());
  if (!m) throw new FluxError(EINVAL, `invalid size "${text}"`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  return Number(m[1]) * mult[m[2]!.toLowerCase()]!;
}
