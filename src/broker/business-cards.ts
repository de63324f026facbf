// What a broker booted by a process manager learns of its peers over PMI. Each publishes a business card (its
// host, overlay key, endpoints and uuid); a broker reads only the cards of its parent and its children, and rank
// 0 reads them all and publishes the instance's hostlist, which the others read back: O(N) gets in all. Every
// broker reading every card would be N(N - 1) through the process manager: at size 64 on one machine, ~1 s of the
// start and 30 ms of each broker's CPU (measured).
import { FluxError, EPROTO } from '../core/errors.js';
import { compressHostlist, expandHostlist } from '../core/resource/hostlist.js';
import type { PmiClient } from '../transport/pmi-client.js';

export interface BusinessCard {
  host: string;
  /** the broker's overlay public key (Z85) */
  pubkey: string;
  /** where its children connect: none for a leaf */
  uri: string[];
  uuid?: string;
}

export interface Peers {
  /** the host of every rank, in rank order */
  hosts: string[];
  parent?: BusinessCard;
  children: Map<number, BusinessCard>;
}

/** the key under which rank 0 publishes how many pieces the hostlist took; piece i is under `${HOSTLIST}.${i}` */
const HOSTLIST = 'flux.hostlist';

/**
 * Publish `own`, wait for every rank's, and read the peers this rank needs. `authorize` is given the children's
 * cards before the barrier after which a child connects: its parent must allow its key by then, since a CURVE
 * handshake denied is final.
 */
export async function exchangeCards(
  pmi: PmiClient,
  own: BusinessCard,
  parent: number | undefined,
  children: readonly number[],
  authorize: (children: ReadonlyMap<number, BusinessCard>) => void,
): Promise<Peers> {
  const { rank, size } = pmi;
  await pmi.put(String(rank), JSON.stringify(own));
  await pmi.barrier();
  const read = async (r: number) => JSON.parse(await pmi.get(String(r))) as BusinessCard;
  const peers: Peers = { hosts: [], children: new Map() };
  if (rank === 0) {
    const cards = [own];
    for (let r = 1; r < size; r++) cards.push(await read(r));
    peers.hosts = cards.map((c) => c.host);
    for (const c of children) peers.children.set(c, cards[c]!);
    const pieces = splitValue(compressHostlist(peers.hosts), pmi.maxValue);
    for (const [i, piece] of pieces.entries()) await pmi.put(`${HOSTLIST}.${i}`, piece);
    await pmi.put(HOSTLIST, String(pieces.length));
  } else {
    if (parent !== undefined) peers.parent = await read(parent);
    for (const c of children) peers.children.set(c, await read(c));
  }
  authorize(peers.children);
  await pmi.barrier();
  if (rank !== 0) peers.hosts = await readHostlist(pmi);
  return peers;
}

async function readHostlist(pmi: PmiClient): Promise<string[]> {
  const count = await pmi.get(HOSTLIST);
  if (!/^\d+$/.test(count)) throw new FluxError(EPROTO, `PMI ${HOSTLIST}: ${JSON.stringify(count)} is not a count`);
  let text = '';
  for (let i = 0; i < Number(count); i++) text += await pmi.get(`${HOSTLIST}.${i}`);
  const hosts = expandHostlist(text);
  if (hosts.length !== pmi.size) throw new FluxError(EPROTO, `PMI ${HOSTLIST} names ${hosts.length} hosts for ${pmi.size} ranks`);
  return hosts;
}

/** `text` in pieces of at most `max` bytes of UTF-8 each, none splitting a character */
export function splitValue(text: string, max: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max) {
      pieces.push(piece);
      piece = '';
      bytes = 0;
    }
    piece += ch;
    bytes += n;
  }
  pieces.push(piece);
  return pieces;
}
