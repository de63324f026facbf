import { describe, expect, it } from 'vitest';
import { Pair } from 'zeromq';
import { ownBytes } from '../../src/core/wire/own-bytes.js';

describe('ownBytes', () => {
  it('copies a view into a larger buffer into a buffer of exactly its length', () => {
    const big = Buffer.alloc(65536, 1);
    const view = big.subarray(100, 300);
    const own = ownBytes(view);
    expect(own.equals(view)).toBe(true);
    expect(own.buffer.byteLength).toBe(200);
    big.fill(2);
    expect(own.every((b) => b === 1)).toBe(true);
  });

  it('takes a small buffer out of the shared pool', () => {
    const pooled = Buffer.from('abc');
    expect(pooled.buffer.byteLength).toBeGreaterThan(3);
    const own = ownBytes(pooled);
    expect(own.buffer.byteLength).toBe(3);
    expect(own.toString()).toBe('abc');
  });

  it('keeps a received zeromq frame apart from libzmq\'s memory', async () => {
    const a = new Pair({ linger: 0 });
    const b = new Pair({ linger: 0 });
    const endpoint = `inproc://own-bytes-${process.pid}`;
    await a.bind(endpoint);
    b.connect(endpoint);
    const sent = Buffer.alloc(1000, 7);
    await b.send(sent);
    const [frame] = await a.receive();
    const own = ownBytes(frame!);
    expect(own.equals(sent)).toBe(true);
    expect(own.buffer).not.toBe(frame!.buffer);
    expect(own.buffer.byteLength).toBe(1000);
    a.close();
    b.close();
  });
});
