import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import * as net from 'node:net';
import { mkdtempSync, rmSync, chmodSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { loadVectors, type VectorMessage } from '../helpers/vectors.js';
import { LocalDecoder, encodeLocal } from '../../src/core/wire/framing.js';
import {
  type Message, makeRequest, makeResponse, makeEvent, stringPayload, payloadString, FLAG_ROUTE, MSGTYPE_REQUEST,
  ROLE_OWNER, ROLE_USER, ROLE_LOCAL, ROLE_NONE, USERID_UNKNOWN, FLAG_STREAMING,
} from '../../src/core/wire/message.js';
import { FluxError, EAGAIN, EPERM, EINVAL, EEXIST, EPROTO, ENOENT, ECONNRESET } from '../../src/core/errors.js';
import { LocalServer, type LocalConnection } from '../../src/transport/local-server.js';
import { LocalClient } from '../../src/transport/local-client.js';
import type { LocalLimits } from '../../src/transport/local-limits.js';
import { parseLocalUri } from '../../src/core/wire/uri.js';
import { peerCred } from '../../src/transport/peercred.js';

const myUid = process.getuid!();
const otherUid = myUid === 4242 ? 4243 : 4242;

/** A FIFO whose shift() waits for the next item: tests read what arrives in the order it arrives. */
class Queue<T> {
  private items: T[] = [];
  private waiters: Array<(v: T) => void> = [];
  push(v: T): void {
    const w = this.waiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  shift(timeoutMs = 5000): Promise<T> {
    const v = this.items.shift();
    if (v !== undefined) return Promise.resolve(v);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for an item')), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
  }
  get length(): number {
    return this.items.length;
  }
}

interface Harness {
  dir: string;
  path: string;
  server: LocalServer;
  received: Queue<{ conn: LocalConnection; msg: Message }>;
  disconnects: LocalConnection[];
  gone: Queue<LocalConnection>;
  logs: Array<{ severity: number; text: string }>;
}

let dirs: string[] = [];
let servers: LocalServer[] = [];
let clients: LocalClient[] = [];

function privateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'flux-ts-local-'));
  chmodSync(dir, 0o700);
  dirs.push(dir);
  return dir;
}

async function startServer(
  opts: {
    ownerUid?: number; allowGuest?: boolean; allowRootOwner?: boolean; rolesOf?: (uid: number) => number;
    delegateCredentials?: boolean; limits?: Partial<LocalLimits>;
  } = {},
): Promise<Harness> {
  const dir = privateDir();
  const path = join(dir, 'local-0');
  const received = new Queue<{ conn: LocalConnection; msg: Message }>();
  const disconnects: LocalConnection[] = [];
  const gone = new Queue<LocalConnection>();
  const logs: Array<{ severity: number; text: string }> = [];
  const server = new LocalServer({
    path,
    ownerUid: opts.ownerUid ?? myUid,
    allowGuest: opts.allowGuest ?? false,
    delegateCredentials: opts.delegateCredentials,
    allowRootOwner: opts.allowRootOwner,
    rolesOf: opts.rolesOf,
    limits: opts.limits,
    onMessage: (conn, msg) => received.push({ conn, msg }),
    onDisconnect: (conn) => {
      disconnects.push(conn);
      gone.push(conn);
    },
    log: (severity, text) => logs.push({ severity, text }),
  });
  await server.listen();
  servers.push(server);
  return { dir, path, server, received, disconnects, gone, logs };
}

interface Client {
  client: LocalClient;
  msgs: Queue<Message>;
  closed: Promise<Error | undefined>;
}

async function connect(path: string): Promise<Client> {
  const client = await LocalClient.connect(path);
  clients.push(client);
  const msgs = new Queue<Message>();
  client.onMessage = (m) => msgs.push(m);
  const closed = new Promise<Error | undefined>((resolve) => {
    client.onClose = (err) => resolve(err);
  });
  return { client, msgs, closed };
}

/** A plain socket that has read the handshake byte, for writing raw bytes. */
interface Raw {
  sock: net.Socket;
  handshake: number;
  data: () => Buffer;
  closed: Promise<void>;
}

function rawConnect(path: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path);
    const chunks: Buffer[] = [];
    let first = true;
    // the server may reset the connection after bad bytes, as flux-core's broker does
    sock.on('error', () => {});
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('data', (chunk: Buffer) => {
      if (first) {
        first = false;
        resolve({ sock, handshake: chunk[0]!, data: () => Buffer.concat(chunks), closed });
        chunk = chunk.subarray(1);
      }
      chunks.push(chunk);
    });
    sock.once('close', () => {
      if (first) reject(new Error('closed before handshake'));
    });
  });
}

function decodeVector(v: VectorMessage): Message {
  const msgs: Message[] = [];
  new LocalDecoder().push(Buffer.from(v.raw_hex, 'hex'), (m) => msgs.push(m));
  expect(msgs).toHaveLength(1);
  return msgs[0]!;
}

function expectFields(m: Message, v: VectorMessage, cred?: { userid: number; rolemask: number }): void {
  expect(m.type).toBe(v.type_code);
  expect(m.aux1).toBe(v.aux1);
  expect(m.aux2).toBe(v.aux2);
  expect(m.topic ?? null).toBe(v.topic);
  expect(m.payload ? m.payload.toString('hex') : null).toBe(v.payload_hex ?? null);
  expect(m.routes).toEqual(v.routes);
  expect(m.flags).toBe(v.flags_code | FLAG_ROUTE);
  expect(m.userid).toBe(cred ? cred.userid : v.userid);
  expect(m.rolemask).toBe(cred ? cred.rolemask : v.rolemask);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

beforeEach(() => {
  dirs = [];
  servers = [];
  clients = [];
});

afterEach(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('local connector replaying flux-core 0.88 captures', () => {
  for (const scenario of ['getattr-size', 'kvs-get', 'event-pub', 'logger', 'content', 'event-sub', 'kvs-watch', 'exec-stdin']) {
    it(`carries ${scenario} both ways with credentials from SO_PEERCRED`, async () => {
      const h = await startServer();
      const { messages } = loadVectors(scenario);
      const conns = [...new Set(messages.map((m) => m.conn))];
      for (const id of conns) {
        const c2s = messages.filter((m) => m.conn === id && m.dir === 'c2s');
        const s2c = messages.filter((m) => m.conn === id && m.dir === 's2c');
        const c = await connect(h.path);
        for (const v of c2s) c.client.send(decodeVector(v));
        let conn: LocalConnection | undefined;
        for (const v of c2s) {
          const got = await h.received.shift();
          conn ??= got.conn;
          expect(got.conn).toBe(conn);
          expectFields(got.msg, v, { userid: myUid, rolemask: ROLE_OWNER | ROLE_LOCAL });
        }
        expect(conn!.uid).toBe(myUid);
        expect(conn!.pid).toBe(process.pid);
        expect(conn!.rolemask).toBe(5);
        expect(conn!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        for (const v of s2c) conn!.send(decodeVector(v));
        for (const v of s2c) expectFields(await c.msgs.shift(), v);
        c.client.close();
        expect(await c.closed).toBeUndefined();
        expect(await h.gone.shift()).toBe(conn);
      }
      expect(h.logs).toEqual([]);
    });
  }

  it('hands a subscriber the event with its two route frames intact', async () => {
    const h = await startServer();
    const ev = loadVectors('event-sub').messages.find((m) => m.type_code === 4)!;
    expect(ev.routes).toHaveLength(2);
    const c = await connect(h.path);
    c.client.send(makeRequest('event.subscribe', stringPayload('{"topic":"foo"}'), { matchtag: 1 }));
    const { conn } = await h.received.shift();
    conn.send(decodeVector(ev));
    const got = await c.msgs.shift();
    expect(got.routes).toEqual(ev.routes);
    expect(got.topic).toBe('foo.baz');
    expect(got.aux1).toBe(ev.aux1);
  });
});

describe('local connector against bad input (bad.jsonl)', () => {
  const bad = loadVectors('bad');
  const cases = (bad.header.cases as Array<{ case: string; conn: number }>).map((c) => c.case);
  const garbage = bad.records.filter((r) => r.kind === 'undecodable');

  it('covers all eleven cases', () => {
    expect(cases).toHaveLength(11);
    expect(garbage.map((r) => r.case).sort()).toEqual(
      ['garbage-16-random-bytes', 'garbage-8-bytes', 'valid-prefix-garbage-frames'],
    );
  });

  for (const r of garbage) {
    it(`closes on ${r.case as string}, logs one line and keeps serving others`, async () => {
      const h = await startServer();
      const other = await connect(h.path);
      other.client.send(makeRequest('test.before', undefined, { matchtag: 1 }));
      const before = await h.received.shift();

      const raw = await rawConnect(h.path);
      expect(raw.handshake).toBe(0);
      raw.sock.write(Buffer.from(r.raw_hex as string, 'hex'));
      await raw.closed;
      expect(raw.data().length).toBe(0);
      const dropped = await h.gone.shift();
      expect(dropped).not.toBe(before.conn);

      const errs = h.logs.filter((l) => l.severity === 3);
      expect(errs).toHaveLength(1);
      expect(errs[0]!.text).toMatch(new RegExp(`^client=${process.pid} userid=${myUid}: \\S`));
      expect(h.server.connections.size).toBe(1);

      other.client.send(makeRequest('test.after', undefined, { matchtag: 2 }));
      const after = await h.received.shift();
      expect(after.conn).toBe(before.conn);
      after.conn.send(makeResponse(after.msg, stringPayload('{}')));
      const resp = await other.msgs.shift();
      expect(resp.aux2).toBe(2);
      expect(resp.topic).toBe('test.after');
    });
  }

  it('logs the same fault of the same uid once a minute, however often it comes', async () => {
    const h = await startServer();
    for (let i = 0; i < 5; i++) {
      const raw = await rawConnect(h.path);
      raw.sock.write(Buffer.from(`1200eeff7fffff${(0xf0 + i).toString(16)}00`, 'hex'));
      await raw.closed;
      await h.gone.shift();
    }
    const errs = h.logs.filter((l) => l.severity === 3);
    expect(errs).toHaveLength(1);
    expect(errs[0]!.text).toMatch(/is too large/);
  });

  it('closes on a length word beyond the size limit without buffering it', async () => {
    const h = await startServer();
    const raw = await rawConnect(h.path);
    raw.sock.write(Buffer.from('1200eeff7fffffff00', 'hex'));
    await raw.closed;
    await h.gone.shift();
    const errs = h.logs.filter((l) => l.severity === 3);
    expect(errs).toHaveLength(1);
    expect(errs[0]!.text).toContain(`client=${process.pid} userid=${myUid}: `);
  });

  for (const name of cases.filter((c) => !garbage.some((r) => r.case === c))) {
    it(`delivers ${name} and sends the captured reply byte for byte`, async () => {
      const h = await startServer();
      const req = bad.messages.find((m) => m.case === name && m.dir === 'c2s')!;
      const resp = bad.messages.find((m) => m.case === name && m.dir === 's2c');
      const raw = await rawConnect(h.path);
      raw.sock.write(Buffer.from(req.raw_hex, 'hex'));
      const { conn, msg } = await h.received.shift();
      expect(msg.type).toBe(MSGTYPE_REQUEST);
      expect(msg.topic).toBe('nosuchservice.hello');
      expect(msg.routes).toEqual([]);
      expect(msg.aux1).toBe(req.aux1);
      expect(msg.aux2).toBe(req.aux2);
      expect(msg.flags).toBe(req.flags_code | FLAG_ROUTE);
      expect(msg.payload ? msg.payload.toString('hex') : null).toBe(req.payload_hex ?? null);
      expect(msg.userid).toBe(myUid);
      expect(msg.rolemask).toBe(ROLE_OWNER | ROLE_LOCAL);
      if (resp) {
        conn.send(decodeVector(resp));
        await waitUntil(() => raw.data().length >= resp.raw_hex.length / 2);
        expect(raw.data().toString('hex')).toBe(resp.raw_hex);
      }
      raw.sock.end();
      await raw.closed;
      expect(await h.gone.shift()).toBe(conn);
      expect(h.logs).toEqual([]);
    });
  }
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(5);
  }
}

describe('local connector access control', () => {
  it('refuses a guest with the EPERM handshake byte when guests are not allowed', async () => {
    const h = await startServer({ ownerUid: otherUid, allowGuest: false });
    const err = await LocalClient.connect(h.path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FluxError);
    expect((err as FluxError).errno).toBe(EPERM);
    const raw = await rawConnect(h.path);
    expect(raw.handshake).toBe(EPERM);
    await raw.closed;
    expect(h.server.connections.size).toBe(0);
    expect(h.disconnects).toEqual([]);
    expect(h.received.length).toBe(0);
    expect(h.logs.filter((l) => l.severity === 6 && l.text.includes('refused'))).toHaveLength(2);
  });

  it('admits a guest as USER|LOCAL; a credential it presents must be its own, else the request gets EPERM', async () => {
    const h = await startServer({ ownerUid: otherUid, allowGuest: true });
    const c = await connect(h.path);
    const forged = makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 1 });
    forged.userid = otherUid;
    forged.rolemask = ROLE_OWNER;
    c.client.send(forged);
    const ownerRole = makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 2 });
    ownerRole.userid = myUid;
    ownerRole.rolemask = ROLE_OWNER | ROLE_USER;
    c.client.send(ownerRole);
    const restated = makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 3 });
    restated.userid = myUid;
    restated.rolemask = ROLE_USER;
    c.client.send(restated);
    c.client.send(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 4 }));
    for (const [tag, mask] of [[3, ROLE_USER], [4, ROLE_USER | ROLE_LOCAL]] as const) {
      const { conn, msg } = await h.received.shift();
      expect(conn.rolemask).toBe(ROLE_USER | ROLE_LOCAL);
      expect(msg.aux2).toBe(tag);
      expect(msg.userid).toBe(myUid);
      expect(msg.rolemask).toBe(mask);
    }
    const replies = [await c.msgs.shift(), await c.msgs.shift()];
    expect(replies.map((m) => [m.aux2, m.aux1])).toEqual([[1, EPERM], [2, EPERM]]);
    expect(payloadString(replies[0]!)).toMatch(/requires the owner role/);
    expect(h.received.length).toBe(0);
  });

  it('with allowRootOwner, admits root as the owner', async () => {
    expect(myUid).toBe(0);
    const h = await startServer({ ownerUid: otherUid, allowRootOwner: true });
    await connect(h.path);
    expect([...h.server.connections][0]!.rolemask).toBe(ROLE_OWNER | ROLE_LOCAL);
    const refused = await startServer({ ownerUid: otherUid });
    expect((await rawConnect(refused.path)).handshake).toBe(EPERM);
  });

  it('admits a uid the user database gives a role, with that role, even when guests are not allowed', async () => {
    let roles = ROLE_USER;
    const h = await startServer({ ownerUid: otherUid, rolesOf: (uid) => (uid === myUid ? roles : 0) });
    await connect(h.path);
    expect([...h.server.connections][0]!.rolemask).toBe(ROLE_USER | ROLE_LOCAL);
    roles = 0;
    expect((await rawConnect(h.path)).handshake).toBe(EPERM);
  });

  it('lets the owner present a credential of its choosing', async () => {
    const h = await startServer();
    const c = await connect(h.path);
    const m = makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 1 });
    m.userid = otherUid;
    m.rolemask = ROLE_USER;
    c.client.send(m);
    const { msg } = await h.received.shift();
    expect(msg.userid).toBe(otherUid);
    expect(msg.rolemask).toBe(ROLE_USER);
  });

  it("delegating credentials (flux proxy), leaves the owner's unknown credential for the instance further on", async () => {
    const h = await startServer({ delegateCredentials: true });
    const c = await connect(h.path);
    c.client.send(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 1 }));
    const { msg } = await h.received.shift();
    expect(msg.userid).toBe(USERID_UNKNOWN);
    expect(msg.rolemask).toBe(ROLE_NONE);
    const g = await startServer({ ownerUid: otherUid, allowGuest: true, delegateCredentials: true });
    const gc = await connect(g.path);
    gc.client.send(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 1 }));
    expect((await g.received.shift()).msg).toMatchObject({ userid: myUid, rolemask: ROLE_USER | ROLE_LOCAL });
  });
});

describe('local connector limits', () => {
  it("answers a guest's requests past local.max-inflight with EAGAIN, and admits more as answers go out", async () => {
    const h = await startServer({ ownerUid: otherUid, allowGuest: true, limits: { maxInflight: 3 } });
    const c = await connect(h.path);
    for (let tag = 1; tag <= 5; tag++) c.client.send(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: tag }));
    const admitted = [await h.received.shift(), await h.received.shift(), await h.received.shift()];
    expect(admitted.map((r) => r.msg.aux2)).toEqual([1, 2, 3]);
    const refused = [await c.msgs.shift(), await c.msgs.shift()];
    expect(refused.map((m) => [m.aux2, m.aux1])).toEqual([[4, EAGAIN], [5, EAGAIN]]);
    expect(payloadString(refused[0]!)).toMatch(/local\.max-inflight/);
    // a streaming answer keeps its request in flight; the final one frees its place
    const streamed = makeResponse(admitted[0]!.msg);
    streamed.flags |= FLAG_STREAMING;
    admitted[0]!.conn.send(streamed);
    c.client.send(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 6 }));
    expect((await c.msgs.shift()).aux2).toBe(1);
    expect((await c.msgs.shift()).aux1).toBe(EAGAIN);
    admitted[1]!.conn.send(makeResponse(admitted[1]!.msg));
    expect((await c.msgs.shift()).aux2).toBe(2);
    c.client.send(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 7 }));
    expect((await h.received.shift()).msg.aux2).toBe(7);
    expect(h.received.length).toBe(0);
  });

  it('the owner is not held to local.max-inflight', async () => {
    const h = await startServer({ limits: { maxInflight: 2 } });
    const c = await connect(h.path);
    for (let tag = 1; tag <= 5; tag++) c.client.send(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: tag }));
    for (let tag = 1; tag <= 5; tag++) expect((await h.received.shift()).msg.aux2).toBe(tag);
  });

  it('ends the connection of a client that sends a message larger than local.max-message-size', async () => {
    const h = await startServer({ limits: { maxMessageSize: 1000 } });
    const c = await connect(h.path);
    c.client.send(makeRequest('kvs.lookup', Buffer.alloc(500, 1), { matchtag: 1 }));
    expect((await h.received.shift()).msg.aux2).toBe(1);
    c.client.send(makeRequest('kvs.lookup', Buffer.alloc(2000, 1), { matchtag: 2 }));
    await h.gone.shift();
    await c.closed;
    expect(h.received.length).toBe(0);
    expect(h.logs.some((l) => l.text.includes('too large'))).toBe(true);
  });

  it('disconnects a client that stops reading once more than local.max-queued-bytes wait for it', async () => {
    const h = await startServer({ limits: { maxQueuedBytes: 1 << 20 } });
    const raw = await rawConnect(h.path);
    raw.sock.pause();
    raw.sock.write(encodeLocal(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: 1 })));
    const { conn, msg } = await h.received.shift();
    // far more than the socket buffers hold: the rest queues in the broker until the limit
    for (let i = 0; i < 200 && h.disconnects.length === 0; i++) {
      const ev = makeEvent('flood', Buffer.alloc(64 << 10, 7));
      conn.send(ev);
      await new Promise((r) => setImmediate(r));
    }
    expect(await h.gone.shift()).toBe(conn);
    expect(msg.aux2).toBe(1);
    expect(h.logs.some((l) => l.text.includes('local.max-queued-bytes'))).toBe(true);
    raw.sock.destroy();
  });

  it('refuses a guest uid past local.max-connections-per-uid at the handshake with EAGAIN, and admits it again once one closes', async () => {
    const h = await startServer({ ownerUid: otherUid, allowGuest: true, limits: { maxConnectionsPerUid: 2 } });
    const a = await connect(h.path);
    await connect(h.path);
    const third = await rawConnect(h.path);
    expect(third.handshake).toBe(EAGAIN);
    await third.closed;
    a.client.close();
    await h.gone.shift();
    expect((await rawConnect(h.path)).handshake).toBe(0);
  });

  it('hands on every message a client sent before ending its input, in turns, then closes', async () => {
    const h = await startServer();
    const raw = await rawConnect(h.path);
    raw.sock.end(Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeLocal(makeRequest('kvs.lookup', stringPayload('{}'), { matchtag: i + 1 })))));
    for (let tag = 1; tag <= 100; tag++) expect((await h.received.shift()).msg.aux2).toBe(tag);
    await h.gone.shift();
    await raw.closed;
    expect(h.received.length).toBe(0);
  });

  it('hands on every message a client sent before it reset the connection, and logs nothing of the reset', async () => {
    const h = await startServer();
    const raw = await rawConnect(h.path);
    raw.sock.write(encodeLocal(makeRequest('test.hello', undefined, { matchtag: 0 })));
    const { conn } = await h.received.shift();
    // more than the client's stream buffers once paused: closing with the rest unread in the kernel resets the server's end
    raw.sock.pause();
    conn.send(makeEvent('test.unread', stringPayload(`{"p":"${'u'.repeat(100_000)}"}`)));
    await sleep(20);
    const N = 3000;
    const pad = 'x'.repeat(200);
    const burst = Buffer.concat(Array.from({ length: N }, (_, i) => encodeLocal(makeRequest('kvs.lookup', stringPayload(`{"p":"${pad}"}`), { matchtag: i + 1 }))));
    raw.sock.write(burst, () => raw.sock.destroy());
    for (let tag = 1; tag <= N; tag++) expect((await h.received.shift()).msg.aux2).toBe(tag);
    expect(await h.gone.shift()).toBe(conn);
    expect(h.received.length).toBe(0);
    expect(h.logs).toEqual([]);
  });

  it('the owner is not held to local.max-connections-per-uid', async () => {
    const h = await startServer({ limits: { maxConnectionsPerUid: 1 } });
    await connect(h.path);
    expect((await rawConnect(h.path)).handshake).toBe(0);
  });
});

describe('local client over any byte stream (a relaying command)', () => {
  function pair(): { input: PassThrough; output: PassThrough } {
    return { input: new PassThrough(), output: new PassThrough() };
  }

  it('reads the handshake, then carries messages both ways; close() ends its output', async () => {
    const s = pair();
    const opened = LocalClient.open(s, 'relay');
    s.input.write(Buffer.concat([Buffer.from([0]), encodeLocal(makeEvent('hb'))]));
    const client = await opened;
    const msgs = new Queue<Message>();
    client.onMessage = (m) => msgs.push(m);
    expect((await msgs.shift()).topic).toBe('hb');
    client.send(makeRequest('broker.ping', undefined, { matchtag: 9 }));
    const sent: Message[] = [];
    s.output.on('data', (d: Buffer) => new LocalDecoder().push(d, (m) => sent.push(m)));
    await waitUntil(() => sent.length === 1);
    expect(sent[0]).toMatchObject({ topic: 'broker.ping', aux2: 9 });
    const ended = new Promise((r) => s.output.once('finish', r));
    client.close();
    await ended;
  });

  it('tells a refusal, an early end and stray bytes apart', async () => {
    const refused = pair();
    const r = LocalClient.open(refused, 'relay');
    refused.input.end(Buffer.from([EPERM]));
    expect(await r.catch((e: unknown) => e)).toMatchObject({ errno: EPERM });
    const early = pair();
    const e = LocalClient.open(early, 'relay');
    early.input.destroy();
    expect(await e.catch((x: unknown) => x)).toMatchObject({ errno: ECONNRESET, message: 'relay: connection closed before the handshake' });
    const stray = pair();
    const g = LocalClient.open(stray, 'relay');
    stray.input.write('Welcome to the cluster!\n');
    expect(await g.catch((x: unknown) => x)).toMatchObject({ errno: EPROTO });
    expect(stray.output.destroyed).toBe(true);
  });
});

describe('local connector streams', () => {
  it('keeps 10,000 messages in order both ways through a burst', async () => {
    const h = await startServer();
    const c = await connect(h.path);
    const N = 10_000;
    // 1 KiB payloads: 10 MiB each way overflows the socket buffers, so backpressure is exercised
    const pad = 'x'.repeat(1000);
    for (let i = 1; i <= N; i++) c.client.send(makeRequest('test.burst', stringPayload(`{"i":${i},"p":"${pad}"}`), { matchtag: i }));
    let conn: LocalConnection | undefined;
    for (let i = 1; i <= N; i++) {
      const got = await h.received.shift();
      conn ??= got.conn;
      expect(got.msg.aux2).toBe(i);
    }
    for (let i = 1; i <= N; i++) conn!.send(makeEvent('test.burst', stringPayload(`{"p":"${pad}"}`), i));
    for (let i = 1; i <= N; i++) {
      const m = await c.msgs.shift();
      if (m.aux1 !== i) expect(m.aux1).toBe(i);
    }
  });

  it('delivers messages that arrive together with the handshake byte', async () => {
    const dir = privateDir();
    const path = join(dir, 'fake');
    const ev = makeEvent('early.bird', stringPayload('{}'), 7);
    const fake = net.createServer((s) => s.end(Buffer.concat([Buffer.from([0]), encodeLocal(ev)])));
    await new Promise<void>((r) => fake.listen(path, r));
    try {
      const c = await connect(path);
      const m = await c.msgs.shift();
      expect(m.topic).toBe('early.bird');
      expect(m.aux1).toBe(7);
      expect(await c.closed).toBeUndefined();
    } finally {
      await new Promise((r) => fake.close(r));
    }
  });

  it('gives up on a broker that sends bad bytes', async () => {
    const dir = privateDir();
    const path = join(dir, 'fake');
    const fake = net.createServer((s) => {
      s.on('error', () => {});
      s.write(Buffer.from('00deadbeef00000000', 'hex'));
    });
    await new Promise<void>((r) => fake.listen(path, r));
    try {
      const c = await connect(path);
      const err = await c.closed;
      expect(err).toBeInstanceOf(FluxError);
      expect((err as FluxError).errno).toBe(EPROTO);
      expect(() => c.client.send(makeRequest('a.b'))).toThrow(FluxError);
    } finally {
      await new Promise((r) => fake.close(r));
    }
  });
});

describe('local connector lifecycle', () => {
  it('calls onDisconnect once when the client closes, the server closes, or the server shuts down', async () => {
    const h = await startServer();
    const a = await connect(h.path);
    const b = await connect(h.path);
    const c = await connect(h.path);
    for (const x of [a, b, c]) x.client.send(makeRequest('test.hello'));
    const conns = new Map<LocalClient, LocalConnection>();
    for (const x of [a, b, c]) conns.set(x.client, (await h.received.shift()).conn);
    expect(h.server.connections.size).toBe(3);

    a.client.close();
    expect(await h.gone.shift()).toBe(conns.get(a.client));
    expect(await a.closed).toBeUndefined();

    const cb = conns.get(b.client)!;
    cb.send(makeEvent('test.bye', stringPayload('{}')));
    cb.close();
    cb.send(makeEvent('test.dropped'));
    expect((await b.msgs.shift()).topic).toBe('test.bye');
    expect(await b.closed).toBeUndefined();
    expect(await h.gone.shift()).toBe(cb);
    cb.close();

    await h.server.close();
    expect(await c.closed).toBeUndefined();
    expect(h.disconnects).toEqual([conns.get(a.client), cb, conns.get(c.client)]);
    expect(h.server.connections.size).toBe(0);
    expect(existsSync(h.path)).toBe(false);
    await sleep(20);
    expect(h.disconnects).toHaveLength(3);
    expect(b.msgs.length).toBe(0);
  });

  it('replaces a stale socket file but not other files', async () => {
    const dir = privateDir();
    const path = join(dir, 'local-0');
    // a process that exits without closing its listener leaves the socket file behind
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`]);
    expect(r.status).toBe(0);
    expect(existsSync(path)).toBe(true);
    const opts = { path, ownerUid: myUid, allowGuest: false, onMessage: () => {}, onDisconnect: () => {}, log: () => {} };
    const s = new LocalServer(opts);
    await s.listen();
    servers.push(s);
    const c = await connect(path);
    c.client.close();
    await s.close();

    writeFileSync(path, 'not a socket');
    const err = await new LocalServer(opts).listen().catch((e: unknown) => e);
    expect((err as FluxError).errno).toBe(EEXIST);
  });

  it('refuses to listen in a directory that group or other can read', async () => {
    const dir = privateDir();
    chmodSync(dir, 0o750);
    const s = new LocalServer({
      path: join(dir, 'local-0'), ownerUid: myUid, allowGuest: false,
      onMessage: () => {}, onDisconnect: () => {}, log: () => {},
    });
    const err = await s.listen().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FluxError);
    expect((err as FluxError).message).toMatch(/group or other/);
    expect(existsSync(join(dir, 'local-0'))).toBe(false);
  });

  it('refuses a socket path longer than a UNIX socket can hold', async () => {
    const dir = privateDir();
    const path = join(dir, 'x'.repeat(120));
    const s = new LocalServer({ path, ownerUid: myUid, allowGuest: false, onMessage: () => {}, onDisconnect: () => {}, log: () => {} });
    expect(((await s.listen().catch((e: unknown) => e)) as FluxError).errno).toBe(EINVAL);
    expect(((await LocalClient.connect(path).catch((e: unknown) => e)) as FluxError).errno).toBe(EINVAL);
  });

  it('reports a missing socket as ENOENT', async () => {
    const err = await LocalClient.connect(join(privateDir(), 'nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FluxError);
    expect((err as FluxError).errno).toBe(ENOENT);
  });
});

describe('parseLocalUri', () => {
  it('takes local:///abs/path to /abs/path', () => {
    expect(parseLocalUri('local:///tmp/flux-abc/local-0')).toBe('/tmp/flux-abc/local-0');
  });
  it('rejects anything else with EINVAL', () => {
    for (const bad of ['', '/tmp/x', 'local://tmp/x', 'ssh://host/tmp/x', 'LOCAL:///tmp/x', 'tcp://1.2.3.4:5']) {
      let err: unknown;
      try {
        parseLocalUri(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FluxError);
      expect((err as FluxError).errno).toBe(EINVAL);
      expect((err as FluxError).message).toContain('local://');
    }
  });
});

describe('peerCred', () => {
  it('reads this process from both ends of a connection to itself', async () => {
    const path = join(privateDir(), 'pc');
    const srv = net.createServer();
    const accepted = new Promise<net.Socket>((resolve) => srv.once('connection', resolve));
    await new Promise<void>((r) => srv.listen(path, r));
    const client = net.createConnection(path);
    await new Promise<void>((r) => client.once('connect', () => r()));
    const sock = await accepted;
    const want = { pid: process.pid, uid: myUid, gid: process.getgid!() };
    expect(peerCred(sock)).toEqual(want);
    expect(peerCred(client)).toEqual(want);
    client.destroy();
    sock.destroy();
    await new Promise((r) => srv.close(r));
  });
});
