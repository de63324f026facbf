// How a handle ends its connection: at once when the broker owes it nothing, else after the broker's end, so
// that a broker still writing to it never meets a closed socket with the handle's last messages unread.
import { describe, it, expect, afterEach } from 'vitest';
import * as net from 'node:net';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../../src/api/handle.js';
import { LocalServer, type LocalConnection } from '../../src/transport/local-server.js';
import { type Message, makeEvent, makeResponse, stringPayload } from '../../src/core/wire/message.js';
import { LocalDecoder, encodeLocal } from '../../src/core/wire/framing.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** the socket path in a directory of the test's own, private as a broker's rundir is */
function socketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flux-ts-handle-'));
  chmodSync(dir, 0o700);
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'local-0');
}

interface Server {
  uri: string;
  received: Message[];
  logs: string[];
  gone: Promise<LocalConnection>;
  /** how many events were sent to the client by the time it went away */
  eventsSent: () => number;
}

/**
 * A broker stand-in: answers event.subscribe, then sends 64 KiB events to that client for as long as it is
 * connected, so that it is always writing when the client closes.
 */
async function serve(): Promise<Server> {
  const path = socketPath();
  const received: Message[] = [];
  const logs: string[] = [];
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  let goneResolve!: (c: LocalConnection) => void;
  const gone = new Promise<LocalConnection>((r) => (goneResolve = r));
  const big = stringPayload(JSON.stringify({ p: 'e'.repeat(64 * 1024) }));
  const server = new LocalServer({
    path,
    ownerUid: process.getuid!(),
    allowGuest: false,
    onMessage: (conn, msg) => {
      received.push(msg);
      if (msg.topic === 'event.subscribe') {
        conn.send(makeResponse(msg, stringPayload('{}')));
        timer = setInterval(() => {
          for (let i = 0; i < 8; i++) conn.send(makeEvent('test.flood', big));
          sent += 8;
        }, 1);
      }
    },
    onDisconnect: (conn) => {
      clearInterval(timer);
      goneResolve(conn);
    },
    log: (_sev, text) => logs.push(text),
  });
  await server.listen();
  cleanup.push(() => server.close());
  return { uri: `local://${path}`, received, logs, gone, eventsSent: () => sent };
}

const posted = (s: Server) => s.received.filter((m) => m.topic === 'test.note').map((m) => m.payload!.toString());

describe('closing a handle', () => {
  it('a subscriber that closes while the broker writes to it still has every message it sent handed on', async () => {
    const s = await serve();
    const h = await Flux.open(s.uri);
    await h.subscribe('test.');
    await new Promise((r) => setTimeout(r, 30));
    const N = 3000;
    const pad = 'n'.repeat(200);
    for (let i = 0; i < N; i++) h.post('test.note', Buffer.from(`${i}${pad}`));
    h.close();
    await s.gone;
    expect(s.eventsSent()).toBeGreaterThan(0);
    expect(posted(s)).toEqual(Array.from({ length: N }, (_, i) => `${i}${pad}`));
    expect(s.logs).toEqual([]);
  });

  it('lets its socket go at once when the broker owes it nothing, and waits for the broker end otherwise', async () => {
    // a peer that answers every request and never ends its side: only the client can end the connection
    const path = socketPath();
    const peers: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (sock) => {
      peers.push(sock);
      sock.on('error', () => {});
      sock.write(Buffer.from([0]));
      const decoder = new LocalDecoder();
      sock.on('data', (d: Buffer) => decoder.push(d, (m) => {
        if (m.aux2 !== 0) sock.write(encodeLocal(makeResponse(m, stringPayload('{}'))));
      }));
    });
    await new Promise<void>((r) => server.listen(path, r));
    cleanup.push(() => new Promise<void>((r) => {
      for (const p of peers) p.destroy();
      server.close(() => r());
    }));
    /** after the client's end: whether a write to it fails, i.e. whether it has closed its socket */
    const writeAfterEnd = async (peer: net.Socket): Promise<string> => {
      await new Promise((r) => (peer.readableEnded ? r(undefined) : peer.once('end', r)));
      await new Promise((r) => setTimeout(r, 20));
      return new Promise((resolve) => {
        peer.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        peer.write(encodeLocal(makeEvent('test.late', stringPayload('{}'))), (err) => {
          if (!err) setTimeout(() => resolve('written'), 20);
        });
      });
    };

    const owed = await Flux.open(`local://${path}`);
    await owed.call('test.ask');
    owed.close();
    expect(await writeAfterEnd(peers[0]!)).toBe('EPIPE');

    const subscriber = await Flux.open(`local://${path}`);
    await subscriber.subscribe('test.');
    subscriber.close();
    expect(await writeAfterEnd(peers[1]!)).toBe('written');
  });
});
