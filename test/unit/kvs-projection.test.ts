// The kvs projection: namespace roots from the journal's kvs.namespace-* entries, deterministic, snapshot-safe.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { canonical } from '../../src/core/journal/entry.js';
import {
  kvsProjection, namespaceRoot, namespaceList, namespaceTopic, ENTRY_KVS, type KvsState,
} from '../../src/projections/kvs.js';

const R1 = `sha256-${'1'.repeat(64)}`;
const R2 = `sha256-${'2'.repeat(64)}`;
const R3 = `sha1-${'3'.repeat(40)}`;

let seq = 0;
function entry(topic: string, payload: unknown, flags = 0x20 | ENTRY_KVS): Entry {
  seq++;
  return { seq, prev: null, time: 1000 + seq, topic, userid: 0, rolemask: 1, flags, payload };
}
const created = (ns: string, rootref = R1, owner = 0) => entry(namespaceTopic(ns, 'created'), { namespace: ns, rootseq: 0, rootref, owner, flags: 0 });
const setroot = (ns: string, rootseq: number, rootref: string) =>
  entry(namespaceTopic(ns, 'setroot'), { namespace: ns, rootseq, rootref, names: ['n'], keys: ['k'], ops: [], owner: 0 });
const removed = (ns: string) => entry(namespaceTopic(ns, 'removed'), { namespace: ns });

function run(entries: Entry[]): KvsState {
  return entries.reduce((s, e) => kvsProjection.apply(s, e, 'ref'), kvsProjection.initial());
}

describe('kvs projection', () => {
  it('follows creation, new roots and removal of namespaces', () => {
    const s = run([created('primary'), setroot('primary', 1, R2), created('job-12', R1, 1000), setroot('job-12', 1, R3), setroot('primary', 2, R1)]);
    expect(namespaceRoot(s, 'primary')).toEqual({ rootseq: 2, rootref: R1, owner: 0, flags: 0 });
    expect(namespaceRoot(s, 'job-12')).toEqual({ rootseq: 1, rootref: R3, owner: 1000, flags: 0 });
    expect(namespaceList(s).map((n) => n.namespace)).toEqual(['primary', 'job-12']);
    const t = kvsProjection.apply(s, removed('job-12'), 'ref');
    expect(namespaceRoot(t, 'job-12')).toBeUndefined();
    // states are values: the earlier one is unchanged
    expect(namespaceRoot(s, 'job-12')).toBeDefined();
  });

  it('has primary appear with its first root change (it exists from the start, without an entry)', () => {
    const s = run([setroot('primary', 1, R2)]);
    expect(namespaceRoot(s, 'primary')).toEqual({ rootseq: 1, rootref: R2, owner: 0, flags: 0 });
    expect(namespaceRoot(run([setroot('other', 1, R2)]), 'other')).toBeUndefined();
  });

  it('ignores other topics, malformed payloads and roots of unknown namespaces, returning the same state', () => {
    const s = run([created('primary')]);
    for (const e of [
      entry('event.x', { namespace: 'primary' }),
      entry('kvs.namespace-primary-setroot', null),
      entry('kvs.namespace-primary-setroot', { namespace: 'primary', rootseq: -1, rootref: R2 }),
      entry('kvs.namespace-primary-setroot', { namespace: 'primary', rootseq: 1, rootref: 'nope' }),
      entry('kvs.namespace-primary-setroot', { namespace: 'other', rootseq: 1, rootref: R2 }),
      entry('kvs.namespace-other-setroot', { namespace: 'other', rootseq: 1, rootref: R2 }),
      entry('kvs.namespace-x-created', { namespace: 'x', rootseq: 0, rootref: R2, owner: 'root' }),
      entry('kvs.namespace-x-removed', { namespace: 'x' }),
      entry('kvs.namespace-primary-dropped', { namespace: 'primary' }),
      // an event published under a KVS topic, as anyone may: not the KVS master's
      entry('kvs.namespace-primary-setroot', { namespace: 'primary', rootseq: 9, rootref: R2, owner: 0 }, 0x20),
      entry('kvs.namespace-primary-removed', { namespace: 'primary' }, 0),
    ]) {
      expect(kvsProjection.apply(s, e, 'ref')).toBe(s);
    }
  });

  it('keeps namespace names with dashes, dots and object-member names apart', () => {
    const names = ['a-b', 'a', 'b-setroot', '__proto__', 'constructor', 'x.y'];
    const s = run(names.map((n, i) => created(n, R1, i)));
    for (const [i, n] of names.entries()) expect(namespaceRoot(s, n)?.owner).toBe(i);
    expect(namespaceRoot(s, 'toString')).toBeUndefined();
    const t = kvsProjection.apply(s, setroot('a-b', 1, R2), 'ref');
    expect(namespaceRoot(t, 'a-b')?.rootseq).toBe(1);
    expect(namespaceRoot(t, 'a')?.rootseq).toBe(0);
    // and through a snapshot, as it travels (canonical JSON) to another broker
    const back = kvsProjection.load(JSON.parse(canonical(kvsProjection.save(t))));
    expect(namespaceList(back)).toEqual(namespaceList(t));
    expect(namespaceRoot(back, '__proto__')?.owner).toBe(3);
  });

  it('refuses a malformed snapshot', () => {
    expect(() => kvsProjection.load(null)).toThrow(/malformed/);
    expect(() => kvsProjection.load({ shards: { 0: { primary: { rootseq: 'x' } } } })).toThrow(/malformed/);
    const s = kvsProjection.save(run([created('primary')])) as KvsState;
    const [k, shard] = Object.entries(s.shards)[0]!;
    const moved = { shards: { [String((Number(k) + 1) % 64)]: shard } };
    expect(() => kvsProjection.load(moved)).toThrow(/malformed/);
  });

  it('is deterministic: the same entries give the same state', () => {
    const es = [created('primary'), created('n1'), setroot('n1', 1, R2), setroot('primary', 1, R3), removed('n1'), created('n1', R3)];
    expect(canonical(run(es))).toBe(canonical(run(es)));
    expect(namespaceRoot(run(es), 'n1')).toEqual({ rootseq: 0, rootref: R3, owner: 0, flags: 0 });
  });
});
