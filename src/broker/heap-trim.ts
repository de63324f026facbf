// What a broker has freed, given back to the system. glibc keeps freed memory in its arenas and returns only what
// lies at the top of one, so what a burst of load took stays in RSS once freed, for as long as the broker lives: an
// interior rank after 14 minutes of the verify workload held 225 MiB free in the arena of a thread other than the
// main one (which thread was not found) and 57 MiB in the main one's, of an RSS of 390 MiB. malloc_trim gives back
// the free pages of every arena, but walks them all (2–50 ms measured), so it runs on one of koffi's threads, and
// only when RSS is `growth` above where a trim left it: past the last one's (memory taken), or, `periodMs` after the
// last, past the lowest (memory taken then freed: a trim in the middle of a burst finds it in use). A broker whose
// memory never grows never loads koffi for it.
import { createRequire } from 'node:module';
import type * as Koffi from 'koffi';

export interface HeapTrimOptions {
  /** how often RSS is read */
  checkMs: number;
  /** how far RSS grows past where the last trim left it before the next */
  growth: number;
  /** how long after a trim RSS is also held against the lowest a trim ever left it at */
  periodMs: number;
  /** a trim that could not run: told once, and none is tried again */
  onError: (err: Error) => void;
  /** a trim done, with the RSS it took off (bytes) */
  onTrim?: (returned: number) => void;
}

export const DEFAULT_HEAP_TRIM: Pick<HeapTrimOptions, 'checkMs' | 'growth' | 'periodMs'> = {
  checkMs: 10_000,
  growth: 16 << 20,
  periodMs: 60_000,
};

type AsyncTrim = (pad: number, done: (err: unknown, res: number) => void) => void;

export interface HeapTrim {
  stop(): void;
}

function loadTrim(): AsyncTrim {
  const koffi = createRequire(import.meta.url)('koffi') as typeof Koffi;
  const fn = koffi.load('libc.so.6').func('malloc_trim', 'int', ['size_t']) as unknown as { async: AsyncTrim };
  return (pad, done) => fn.async(pad, done);
}

export function startHeapTrim(opts: HeapTrimOptions): HeapTrim {
  let base = process.memoryUsage.rss();
  let lowest = base;
  let lastAt = Date.now();
  let trim: AsyncTrim | undefined;
  let running = false;
  // the timer is stopped: no trim is tried again
  const fail = (err: unknown) => {
    clearInterval(timer);
    opts.onError(err instanceof Error ? err : new Error(String(err)));
  };
  const timer = setInterval(() => {
    if (running) return;
    const before = process.memoryUsage.rss();
    const due = before >= base + opts.growth || (Date.now() - lastAt >= opts.periodMs && before >= lowest + opts.growth);
    if (!due) return;
    try {
      trim ??= loadTrim();
    } catch (err) {
      fail(err);
      return;
    }
    running = true;
    trim(0, (err) => {
      running = false;
      if (err !== null && err !== undefined) {
        fail(err);
        return;
      }
      base = process.memoryUsage.rss();
      lowest = Math.min(lowest, base);
      lastAt = Date.now();
      opts.onTrim?.(Math.max(0, before - base));
    });
  }, opts.checkMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
