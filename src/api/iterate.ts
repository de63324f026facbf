// Streams as async iterators: a source pushes values as responses arrive, the consumer pulls them with
// `for await`. Leaving the loop early (break, return, an abort) stops the source, so the service can be told.
import { FluxError, ECANCELED, ECONNRESET } from '../core/errors.js';

export interface Source<T> {
  /** a value for the consumer */
  push(v: T): void;
  /** no more values: the iteration finishes, or throws `err` */
  end(err?: unknown): void;
}

/**
 * An async iterator over what `start` pushes. `start` returns the function that stops the source; it is called
 * once, when the consumer stops early or the signal aborts (not after the source ended by itself). Values are
 * queued while the consumer is busy. An end caused by the handle being closed (`closed()` true) finishes the
 * iteration rather than throwing: close() ends streams cleanly.
 */
export function iterate<T>(
  start: (src: Source<T>) => () => void, opts: { signal?: AbortSignal; closed?: () => boolean } = {},
): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  let stop: (() => void) | undefined;

  const finish = (err?: unknown) => {
    if (ended) return;
    ended = true;
    const lost = err instanceof FluxError && err.errno === ECONNRESET && opts.closed?.() === true;
    if (err !== undefined && !lost) failure = err;
    opts.signal?.removeEventListener('abort', onAbort);
    wake?.();
  };
  const halt = () => {
    const s = stop;
    stop = undefined;
    if (!ended) s?.();
  };
  const onAbort = () => {
    halt();
    finish(new FluxError(ECANCELED, opts.signal?.reason instanceof Error ? opts.signal.reason.message : 'stream canceled'));
  };

  if (opts.signal?.aborted) onAbort();
  else {
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    stop = start({
      push: (v) => {
        if (ended) return;
        queue.push(v);
        wake?.();
      },
      end: finish,
    });
  }

  const it: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        if (ended) {
          if (failure !== undefined) {
            const err = failure;
            failure = undefined;
            throw err;
          }
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
    async return(): Promise<IteratorResult<T>> {
      halt();
      queue.length = 0;
      finish();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
