// The kvs projection at its edges: entries with no payload, a namespace or root that is not a string, the order
// of the namespace list across shards, and snapshots with parts missing.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { EPROTO } from '../../src/core/errors.js';
import { kvsProjection, namespaceList, namespaceTopic, ENTRY_KVS, type KvsState } from '../../src/projections/kvs.js';

const R1 = `sha256-${'1'.repeat(64)}`;
let seq = 0;
const entry = (topic: string, payload: unknown): Entry =>
  ({ seq: ++seq, prev: null, time: 1000 + seq, topic, userid: 0, rolemask: 1, flags: 0x20 | ENTRY_KVS, payload });
const created = (ns: string) => entry(namespaceTopic(ns, 'created'), { namespace: ns, rootseq: 0, rootref: R1, owner: 0, flags: 0 });
const run = (entries: Entry[], from: KvsState = kvsProjection.initial()) => entries.reduce((s, e) => kvsProjection.apply(s, e, 'ref'), from);

describe('kvs projection, at its edges', () => {
  it('ignores an entry with no payload, a namespace that is not a string, a root that is not one', () => {
    const one = run([created('a')]);
    expect(run([entry(namespaceTopic('b', 'created'), undefined)], one)).toBe(one);
    expect(run([entry('kvs.namespace-5-created', { namespace: 5, rootseq: 0, rootref: R1, owner: 0, flags: 0 })], one)).toBe(one);
    expect(run([entry(namespaceTopic('b', 'created'), { namespace: 'b', rootseq: 0, rootref: [R1], owner: 0, flags: 0 })], one)).toBe(one);
  });

  it('lists namespaces primary first, then by name, whichever shard holds them', () => {
    const names = ['zeta', 'b', 'job-10', 'job-9', 'a', 'primary', 'Y', 'mm', 'm', 'q1', 'q0'];
    const s = run(names.map(created));
    const rest = names.filter((n) => n !== 'primary').sort();
    expect(namespaceList(s).map((n) => n.namespace)).toEqual(['primary', ...rest]);
  });

  it('refuses a snapshot, or a namespace of one, that is missing', () => {
    const saved = kvsProjection.save(run([created('a')])) as KvsState;
    const [k] = Object.keys(saved.shards);
    for (const bad of [undefined, { shards: { [k!]: { a: undefined } } }]) {
      expect(() => kvsProjection.load(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ errno: EPROTO }));
    }
  });
});
