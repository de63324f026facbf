// The business-card exchange of brokers booted over PMI: each broker reads its parent's and its children's cards
// and the hostlist rank 0 publishes, over a real PMI server and real simple-protocol clients on UNIX sockets.
import { describe, it, expect } from 'vitest';
import { type BusinessCard, exchangeCards } from '../../src/broker/business-cards.js';
import { EPROTO } from '../../src/core/errors.js';
import { childrenOf, parentOf } from '../../src/core/overlay/topology.js';
import { type PmiClient, pmiConnect } from '../../src/transport/pmi-client.js';
import { PmiServer } from '../../src/transport/pmi-server.js';
import { rejectionErrno } from '../helpers/rejection.js';
import { scratchDir } from '../helpers/scratch-dir.js';
import { socketPairIn } from '../helpers/socket-pair.js';

const dir = scratchDir('business-cards-');

const cardOf = (rank: number, host: string): BusinessCard => ({
  host, pubkey: `key-${rank}`, uri: [`ipc:///tmp/x/tbon-${rank}`], uuid: `uuid-${rank}`,
});

/** every rank's exchange at fanout `k`, and the gets each rank's client sent */
async function exchange(hosts: string[], k: number) {
  const size = hosts.length;
  const gets = new Array<number>(size).fill(0);
  const server = new PmiServer({
    size,
    debug: true,
    log: (line) => {
      const m = /^pmi-server\[(\d+)\]: C: cmd=get /.exec(line);
      if (m) gets[Number(m[1])]!++;
    },
  });
  const clients = await Promise.all(hosts.map(async (_, rank) => {
    const [s, c] = await socketPairIn(dir.path);
    server.attach(rank, s);
    return pmiConnect(c, rank, size);
  }));
  /** the ranks whose parent has allowed their key */
  const authorized = new Set<number>();
  /** the ranks that left the barrier after which a child connects before their parent had allowed their key */
  const early: number[] = [];
  const watched = (pmi: PmiClient): PmiClient => {
    let barriers = 0;
    return {
      rank: pmi.rank, size: pmi.size, kvsname: pmi.kvsname, maxValue: pmi.maxValue,
      put: (key, value) => pmi.put(key, value),
      get: (key) => pmi.get(key),
      barrier: async () => {
        await pmi.barrier();
        if (++barriers === 2 && pmi.rank > 0 && !authorized.has(pmi.rank)) early.push(pmi.rank);
      },
      finalize: () => pmi.finalize(),
      abort: (code, msg) => pmi.abort(code, msg),
    };
  };
  const peers = await Promise.all(clients.map((pmi, rank) =>
    exchangeCards(watched(pmi), cardOf(rank, hosts[rank]!), parentOf(rank, k), childrenOf(rank, size, k), (cards) => {
      for (const c of cards.keys()) authorized.add(c);
    })));
  for (const pmi of clients) await pmi.finalize();
  server.close();
  return { peers, gets, early };
}

describe('the business-card exchange', () => {
  it("gives every rank every host in rank order and its parent's and children's cards, reading only those and the hostlist", async () => {
    const hosts = ['login', 'node0', 'node1', 'node1', 'node7', 'gpu03', 'gpu04', 'x', 'node2', 'node3'];
    const k = 3;
    const { peers, gets, early } = await exchange(hosts, k);
    // a child connects once its exchange is over: its parent must have allowed its key by then
    expect(early).toEqual([]);
    peers.forEach((p, rank) => {
      expect(p.hosts).toEqual(hosts);
      const up = parentOf(rank, k);
      expect(p.parent).toEqual(up === undefined ? undefined : cardOf(up, hosts[up]!));
      expect([...p.children]).toEqual(childrenOf(rank, hosts.length, k).map((c) => [c, cardOf(c, hosts[c]!)]));
      // rank 0 reads every card; any other its parent's, its children's, the hostlist's count and its one piece
      expect(gets[rank]).toBe(rank === 0 ? hosts.length - 1 : 1 + childrenOf(rank, hosts.length, k).length + 2);
    });
  });

  it('publishes a hostlist longer than a PMI value in pieces', async () => {
    // names that share no numbered prefix are listed one by one: 12 of 100 characters overflow the server's 1,024
    const hosts = Array.from({ length: 12 }, (_, i) => `${String.fromCharCode(97 + i)}${'h'.repeat(99)}`);
    const { peers, gets } = await exchange(hosts, 2);
    for (const p of peers) expect(p.hosts).toEqual(hosts);
    // rank 11, a leaf: its parent's card, the count, two pieces
    expect(gets[11]).toBe(4);
  });

  it('refuses a hostlist that is not one host per rank, or whose count is not a number', async () => {
    const kvs = new Map<string, string>();
    const pmi: PmiClient = {
      rank: 1, size: 2, kvsname: 'k', maxValue: 1023,
      put: async (key, value) => void kvs.set(key, value),
      get: async (key) => kvs.get(key)!,
      barrier: async () => undefined,
      finalize: async () => undefined,
      abort: async () => undefined,
    };
    kvs.set('0', JSON.stringify(cardOf(0, 'a')));
    kvs.set('flux.hostlist', '1');
    kvs.set('flux.hostlist.0', 'a[0-2]');
    expect(await rejectionErrno(exchangeCards(pmi, cardOf(1, 'a1'), 0, [], () => undefined))).toBe(EPROTO);
    kvs.set('flux.hostlist', 'one');
    expect(await rejectionErrno(exchangeCards(pmi, cardOf(1, 'a1'), 0, [], () => undefined))).toBe(EPROTO);
  });
});
