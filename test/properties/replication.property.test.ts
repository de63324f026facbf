// Deterministic simulation of journal replication: the replica ordering code the brokers run, driven in one
// process over a network that fast-check controls (reorders, delays, duplicates and drops messages). Every
// replica must only ever hold a prefix of rank 0's journal, and all must converge once the network heals; the
// KVS projection each replica runs over what it applied must only ever show a state rank 0 had at that seq.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore } from '../../src/core/journal/store.js';
import { blobrefOf } from '../../src/core/content/blobref.js';
import { ReplicaOrder, type Applied } from '../../src/core/journal/replica.js';
import { kvsProjection, namespaceTopic, namespaceRoot, namespaceList, ENTRY_KVS, PRIMARY, type KvsState } from '../../src/projections/kvs.js';

interface Node {
  rank: number;
  parent: number | undefined;
  children: number[];
  order: ReplicaOrder;
  applied: Applied[];
  kvs: KvsState;
}

type Msg =
  | { kind: 'entry'; to: number; a: Applied }
  | { kind: 'fetch'; to: number; from: number; count: number; reply: number }
  | { kind: 'entries'; to: number; list: Applied[] }
  | { kind: 'head'; to: number; seq: number };

/** rank 0's journal, made by the real store: events and, every third entry, a KVS setroot */
function makeLog(n: number): Applied[] {
  const cs = ContentStore.open(':memory:', 'sha256');
  const js = new JournalStore(cs);
  let rootseq = 0;
  const out = js.appendBatch(js.head(), Array.from({ length: n }, (_, i) => (i % 3 === 2
    ? {
      time: 1000 + i, topic: namespaceTopic(PRIMARY, 'setroot'), userid: 0, rolemask: 1, flags: ENTRY_KVS,
      payload: { namespace: PRIMARY, rootseq: ++rootseq, rootref: refOf(Buffer.from(`root ${rootseq}`)), owner: 0 },
    }
    : { time: 1000 + i, topic: `t.${i % 3}`, userid: 0, rolemask: 1, flags: 0, payload: { i } })));
  cs.close();
  return out;
}

/** the KVS state rank 0 had after each seq (index 0: before the first) */
function kvsStates(log: Applied[]): KvsState[] {
  const states = [kvsProjection.initial()];
  for (const a of log) states.push(kvsProjection.apply(states[states.length - 1]!, a.entry, a.ref));
  return states;
}

const refOf = (blob: Buffer) => blobrefOf('sha256', blob);

function simulate(log: Applied[], size: number, fanout: number, choices: number[], drop: number, dup: number) {
  const states = kvsStates(log);
  const nodes: Node[] = [];
  for (let r = 0; r < size; r++) {
    const parent = r === 0 ? undefined : Math.floor((r - 1) / fanout);
    nodes.push({ rank: r, parent, children: [], order: new ReplicaOrder({ seq: 0, ref: null }, refOf), applied: [], kvs: kvsProjection.initial() });
    if (parent !== undefined) nodes[parent]!.children.push(r);
  }
  const net: Msg[] = [];
  let c = 0;
  const choose = (n: number) => (choices.length > 0 ? choices[c++ % choices.length]! % n : 0);
  let healed = false;

  const apply = (node: Node, list: Applied[]) => {
    for (const a of list) {
      // the property: what a replica applies is always the next entry of rank 0's journal
      expect(a.entry.seq).toBe(node.applied.length + 1);
      expect(a.ref).toBe(log[a.entry.seq - 1]!.ref);
      node.applied.push(a);
      node.kvs = kvsProjection.apply(node.kvs, a.entry, a.ref);
      // (the cheap comparison first: expect() on every entry would dominate the run)
      const [got, want] = [namespaceRoot(node.kvs, PRIMARY), namespaceRoot(states[a.entry.seq]!, PRIMARY)];
      if (got?.rootseq !== want?.rootseq || got?.rootref !== want?.rootref) expect(namespaceList(node.kvs)).toEqual(namespaceList(states[a.entry.seq]!));
      for (const ch of node.children) net.push({ kind: 'entry', to: ch, a });
    }
    const gap = node.order.gap();
    if (gap && node.parent !== undefined) net.push({ kind: 'fetch', to: node.parent, from: gap.from, count: gap.count, reply: node.rank });
  };

  const deliver = (m: Msg) => {
    const node = nodes[m.to]!;
    switch (m.kind) {
      case 'entry':
        apply(node, node.order.offer(m.a.entry, m.a.blob));
        break;
      case 'fetch': {
        // a parent answers from what it has applied; what it lacks, the child asks again for later
        const list = node.applied.slice(m.from - 1, m.from - 1 + m.count);
        net.push({ kind: 'entries', to: m.reply, list });
        break;
      }
      case 'entries': {
        const got: Applied[] = [];
        for (const a of m.list) got.push(...node.order.offer(a.entry, a.blob));
        apply(node, got);
        break;
      }
      case 'head':
        node.order.heard(m.seq);
        apply(node, []);
        break;
    }
  };

  // rank 0 publishes while the network misbehaves
  let published = 0;
  for (let step = 0; step < log.length * 12; step++) {
    if (published < log.length && choose(3) === 0) {
      const a = log[published++]!;
      nodes[0]!.applied.push(a);
      for (const ch of nodes[0]!.children) net.push({ kind: 'entry', to: ch, a });
    }
    // now and then a replica compares its head with its parent's (the brokers' tail check)
    if (choose(5) === 0 && size > 1) {
      const r = 1 + choose(size - 1);
      net.push({ kind: 'head', to: r, seq: nodes[nodes[r]!.parent!]!.applied.length });
    }
    if (net.length === 0) continue;
    const m = net.splice(choose(net.length), 1)[0]!;
    const roll = choose(100);
    if (roll < drop) continue;
    if (roll < drop + dup) net.push(m);
    deliver(m);
  }
  while (published < log.length) {
    const a = log[published++]!;
    nodes[0]!.applied.push(a);
    for (const ch of nodes[0]!.children) net.push({ kind: 'entry', to: ch, a });
  }
  // the network heals: everything in flight arrives, tail checks run until nothing changes
  healed = true;
  for (let round = 0; round < size * 4 && healed; round++) {
    while (net.length > 0) deliver(net.shift()!);
    for (let r = 1; r < size; r++) deliver({ kind: 'head', to: r, seq: nodes[nodes[r]!.parent!]!.applied.length });
  }
  return nodes;
}

describe('replication under a hostile network (simulated)', () => {
  it('replicas hold only prefixes of rank 0\'s journal and converge once the network heals', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 2, max: 9 }),
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.nat(1_000_000), { minLength: 1, maxLength: 400 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 30 }),
      (n, size, fanout, choices, drop, dup) => {
        const log = makeLog(n);
        const nodes = simulate(log, size, fanout, choices, drop, dup);
        const last = namespaceList(kvsStates(log)[n]!);
        for (const node of nodes) {
          expect(node.applied.length).toBe(n);
          // rank 0 is the sequencer: it appends, it does not order
          if (node.rank > 0) {
            expect(node.order.head).toEqual({ seq: n, ref: log[n - 1]!.ref });
            expect(namespaceList(node.kvs)).toEqual(last);
          }
        }
      },
    ), { numRuns: 150 });
  });

  it('an entry that does not link to the head is never applied, and the right one is fetched instead', () => {
    const log = makeLog(3);
    const order = new ReplicaOrder({ seq: 1, ref: log[0]!.ref }, refOf);
    const forged = { ...log[1]!.entry, prev: 'sha256-' + '0'.repeat(64) };
    expect(order.offer(forged, Buffer.from(JSON.stringify(forged)))).toEqual([]);
    expect(order.gap()).toEqual({ from: 2, count: 1 });
    expect(order.offer(log[2]!.entry, log[2]!.blob)).toEqual([]);
    expect(order.gap()).toEqual({ from: 2, count: 1 });
    expect(order.offer(log[1]!.entry, log[1]!.blob).map((a) => a.entry.seq)).toEqual([2, 3]);
  });
});
