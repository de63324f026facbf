// What flux replay prints for an entry on its timeline, and the times --at-time takes.
import { describe, it, expect } from 'vitest';
import { summary, parseTime } from '../../src/commands/replay.js';
import { ENTRY_RAW, type Entry } from '../../src/core/journal/entry.js';
import { ENTRY_KVS } from '../../src/projections/kvs.js';
import { FluxError } from '../../src/core/errors.js';

const entry = (topic: string, payload: unknown, flags = 0): Entry => ({
  seq: 1, prev: null, time: 1, topic, userid: 0, rolemask: 1, flags, payload,
});

describe('replay summary', () => {
  it('names the namespace, version and keys of a KVS entry, and only of one the KVS made', () => {
    expect(summary(entry('kvs.namespace-primary-setroot', { namespace: 'primary', rootseq: 7, keys: ['a', 'b.c'] }, ENTRY_KVS)))
      .toBe('primary version 7: a, b.c');
    // a commit of no ops (flux kvs sync) says so rather than end at the colon
    expect(summary(entry('kvs.namespace-primary-setroot', { namespace: 'primary', rootseq: 8, keys: [] }, ENTRY_KVS)))
      .toBe('primary version 8: no key changed');
    expect(summary(entry('kvs.namespace-job1-created', { namespace: 'job1', owner: 1000 }, ENTRY_KVS))).toBe('namespace job1 created, owner 1000');
    expect(summary(entry('kvs.namespace-job1-removed', { namespace: 'job1' }, ENTRY_KVS))).toBe('namespace job1 removed');
    // a published event under a KVS topic is an event, shown by its payload
    expect(summary(entry('kvs.namespace-primary-setroot', { namespace: 'primary', rootseq: 7 }))).toBe('{"namespace":"primary","rootseq":7}');
  });

  it('tells process starts, exits and losses', () => {
    expect(summary(entry('rexec.started', { rank: 2, pid: 40, cmd: ['sleep', '1'] }))).toBe('rank 2 pid 40 started: sleep 1');
    expect(summary(entry('rexec.finished', { rank: 2, pid: 40, status: 256 }))).toBe('rank 2 pid 40 finished, status 256');
    expect(summary(entry('rexec.lost', {}))).toBe('running processes lost on every rank');
    expect(summary(entry('rexec.lost', { rank: 3 }))).toBe('running processes lost on rank 3');
  });

  it('prints an event payload on one line, cut when long, and the size of raw bytes', () => {
    expect(summary(entry('app.go', null))).toBe('');
    const long = summary(entry('app.go', { text: 'x'.repeat(200) }));
    expect(long).toHaveLength(72);
    expect(long.endsWith('...')).toBe(true);
    expect(summary(entry('app.raw', Buffer.from([1, 2, 3]).toString('base64'), ENTRY_RAW))).toBe('3 raw bytes');
  });
});

describe('replay --at-time', () => {
  it('takes seconds since the epoch and ISO-8601', () => {
    expect(parseTime('1700000000.5')).toBe(1700000000.5);
    expect(parseTime('2023-11-14T22:13:20Z')).toBe(1700000000);
    expect(parseTime('2023-11-14T22:13:20.250Z')).toBe(1700000000.25);
    expect(() => parseTime('soon')).toThrow(FluxError);
  });
});
