// The streams of an output eventlog: counted by the header, each ended by its eof or by a redirect to a file.
import { describe, it, expect } from 'vitest';
import { OutputStreams } from '../../src/core/jobs/kvs.js';

const ev = (name: string, context?: Record<string, unknown>) => ({ timestamp: 1, name, ...(context ? { context } : {}) });

describe('output streams', () => {
  it('ends once every stream the header counts has its eof', () => {
    const s = new OutputStreams();
    expect(s.take(ev('data', { stream: 'stdout', rank: '0', eof: true }))).toBe(false);
    expect(s.take(ev('header', { count: { stdout: 2, stderr: 2 } }))).toBe(false);
    expect(s.take(ev('data', { stream: 'stdout', rank: '0', data: 'x' }))).toBe(false);
    for (const [stream, rank] of [['stderr', '0'], ['stdout', '1']]) s.take(ev('data', { stream, rank, eof: true }));
    expect(s.done).toBe(false);
    expect(s.take(ev('data', { stream: 'stderr', rank: '1', eof: true }))).toBe(true);
  });

  it('counts a redirect of ranks as the end of their stream there', () => {
    const s = new OutputStreams();
    s.take(ev('header', { count: { stdout: 3, stderr: 3 } }));
    s.take(ev('redirect', { stream: 'stdout', rank: '[0-2]', path: 'out' }));
    expect(s.done).toBe(false);
    expect(s.take(ev('redirect', { stream: 'stderr', rank: '0-2', path: 'out' }))).toBe(true);
  });
});
