// The kvs projection's rules one by one: the shard each name is kept in (snapshots depend on it, so it is
// pinned), the order of the list, a removal that leaves its neighbours, the entries it ignores as written by
// no KVS master, and every malformed snapshot refused.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { EPROTO } from '../../src/core/errors.js';
import { kvsProjection, namespaceList, namespaceRoot, namespaceTopic, ENTRY_KVS, type KvsState } from '../../src/projections/kvs.js';

const R = `sha1-${'a'.repeat(40)}`;
const entry = (topic: string, payload: unknown): Entry => ({ seq: 1, prev: null, time: 1, topic, userid: 0, rolemask: 1, flags: ENTRY_KVS, payload });
const create = (ns: string, more: Record<string, unknown> = {}) =>
  entry(namespaceTopic(ns, 'created'), { namespace: ns, rootseq: 0, rootref: R, owner: 7, flags: 0, ...more });
const run = (entries: Entry[], from: KvsState = kvsProjection.initial()) => entries.reduce((s, e) => kvsProjection.apply(s, e, 'ref'), from);
const shards = (s: KvsState) => Object.fromEntries(Object.entries(s.shards).map(([k, v]) => [k, Object.keys(v)]));

describe('the kvs projection', () => {
  it('keeps each name in the shard FNV-1a puts it in', () => {
    const s = run(['primary', 'a', 'job-1', 'ns4', 'x', ''].map((ns) => create(ns)));
    expect(shards(s)).toEqual({ 25: ['primary'], 44: ['a'], 22: ['job-1', 'ns4'], 7: ['x'], 5: [''] });
  });

  it('lists primary first, then the others by name', () => {
    const s = run(['b', 'a', 'primary', 'B', 'ab'].map((ns) => create(ns)));
    expect(namespaceList(s).map((n) => n.namespace)).toEqual(['primary', 'B', 'a', 'ab', 'b']);
  });

  it('removes one name and leaves the others, in its shard and elsewhere', () => {
    const s = run(['job-1', 'ns4', 'a'].map((ns) => create(ns)));
    const t = run([entry(namespaceTopic('job-1', 'removed'), { namespace: 'job-1' })], s);
    expect(shards(t)).toEqual({ 22: ['ns4'], 44: ['a'] });
    expect(shards(s)).toEqual({ 22: ['job-1', 'ns4'], 44: ['a'] });
  });

  it('takes a namespace\'s flags, and ignores what no KVS master writes', () => {
    expect(namespaceRoot(run([create('f', { flags: 5 })]), 'f')).toEqual({ rootseq: 0, rootref: R, owner: 7, flags: 5 });
    const s = run([create('n')]);
    const ignored = [
      entry(namespaceTopic('n', 'setroot'), null),
      entry(namespaceTopic('n', 'setroot'), 'n'),
      entry(namespaceTopic('n', 'setroot'), { namespace: 5, rootseq: 1, rootref: R }),
      create('m', { rootseq: -1 }), create('m', { rootseq: 1.5 }), create('m', { rootseq: '1' }),
      create('m', { rootref: `x${R}` }), create('m', { rootref: `${R}x` }), create('m', { rootref: 5 }),
      create('m', { owner: -1 }), create('m', { flags: -1 }),
      entry(namespaceTopic('n', 'setroot'), { namespace: 'n', rootseq: 1, rootref: 'md5-00' }),
    ];
    for (const e of ignored) expect(run([e], s), JSON.stringify(e.payload)).toBe(s);
  });

  it('refuses every malformed snapshot, and takes back one it saved', () => {
    const good = run(['a', 'job-1'].map((ns) => create(ns)));
    expect(kvsProjection.load(JSON.parse(JSON.stringify(kvsProjection.save(good))))).toEqual(good);
    const root = { rootseq: 0, rootref: R, owner: 0, flags: 0 };
    const bad = [
      null, 5, {}, { shards: null }, { shards: 5 }, { shards: { 44: null } }, { shards: { 44: 5 } },
      { shards: { 43: { a: root } } }, { shards: { 44: { a: null } } }, { shards: { 44: { a: 5 } } },
      ...(['rootseq', 'rootref', 'owner', 'flags'] as const).map((k) => ({ shards: { 44: { a: { ...root, [k]: -1 } } } })),
    ];
    for (const b of bad) expect(() => kvsProjection.load(b), JSON.stringify(b)).toThrow(expect.objectContaining({ errno: EPROTO, message: 'kvs snapshot is malformed' }));
  });
});
