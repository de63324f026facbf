// Streams as async iterators (src/api/iterate.ts): values queue while the consumer is busy, an early exit or an
// abort stops the source once, an error ends the loop with it, and an end caused by close() is a clean end.
import { describe, it, expect } from 'vitest';
import { type Source, iterate } from '../../src/api/iterate.js';
import { FluxError, ECANCELED, ECONNRESET, EPROTO } from '../../src/core/errors.js';

function source<T>() {
  let src!: Source<T>;
  let stops = 0;
  return {
    start: (s: Source<T>) => {
      src = s;
      return () => {
        stops++;
      };
    },
    get src() {
      return src;
    },
    get stops() {
      return stops;
    },
  };
}

describe('iterate', () => {
  it('yields what was pushed, in order, queued or awaited, and finishes at the end', async () => {
    const s = source<number>();
    const it = iterate(s.start);
    s.src.push(1);
    s.src.push(2);
    expect(await it.next()).toEqual({ value: 1, done: false });
    expect(await it.next()).toEqual({ value: 2, done: false });
    const third = it.next();
    s.src.push(3);
    s.src.end();
    s.src.push(4);
    expect(await third).toEqual({ value: 3, done: false });
    expect(await it.next()).toEqual({ value: undefined, done: true });
    expect(s.stops).toBe(0);
  });

  it('stops the source once when the loop is left early', async () => {
    const s = source<number>();
    const seen: number[] = [];
    const it = iterate(s.start);
    s.src.push(1);
    s.src.push(2);
    for await (const v of it) {
      seen.push(v);
      break;
    }
    await it.return!();
    expect(seen).toEqual([1]);
    expect(s.stops).toBe(1);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('throws the error the source ended with, after the values before it', async () => {
    const s = source<string>();
    const it = iterate(s.start);
    s.src.push('a');
    s.src.end(new FluxError(EPROTO, 'bad'));
    expect(await it.next()).toEqual({ value: 'a', done: false });
    await expect(it.next()).rejects.toMatchObject({ errno: EPROTO });
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('ends cleanly on a lost connection when the handle was closed, and not otherwise', async () => {
    let closed = true;
    const a = source<number>();
    const ita = iterate(a.start, { closed: () => closed });
    a.src.end(new FluxError(ECONNRESET));
    expect(await ita.next()).toEqual({ value: undefined, done: true });
    closed = false;
    const b = source<number>();
    const itb = iterate(b.start, { closed: () => closed });
    b.src.end(new FluxError(ECONNRESET));
    await expect(itb.next()).rejects.toMatchObject({ errno: ECONNRESET });
  });

  it('stops the source and throws ECANCELED when the signal aborts, at once if it already has', async () => {
    const s = source<number>();
    const ac = new AbortController();
    const it = iterate(s.start, { signal: ac.signal });
    const waiting = it.next();
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ errno: ECANCELED });
    expect(s.stops).toBe(1);
    const never = source<number>();
    const gone = iterate(never.start, { signal: AbortSignal.abort() });
    await expect(gone.next()).rejects.toMatchObject({ errno: ECANCELED });
    expect(never.src).toBeUndefined();
  });
});
