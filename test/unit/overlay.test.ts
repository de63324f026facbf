import { performance } from 'node:perf_hooks';
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { curveKeyPair } from 'zeromq';
import { z85Decode, z85Encode } from '../../src/transport/z85.js';
import { generateKeypair, publicKeyOf, readCert, writeCert, type Keypair } from '../../src/transport/keys.js';
import { type Liveness, OverlayClient, OverlayServer } from '../../src/transport/overlay.js';
import { FluxError, EEXIST, EHOSTUNREACH, EINVAL, EPROTO } from '../../src/core/errors.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/overlay-child.mjs', import.meta.url));
const DIST_OVERLAY = fileURLToPath(new URL('../../dist/transport/overlay.js', import.meta.url));
const DIST_KEYS = new URL('../../dist/transport/keys.js', import.meta.url).href;

function errnoOfThrown(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof FluxError ? err.errno : -1;
  }
  return undefined;
}

async function waitFor(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flux-overlay-test-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('z85', () => {
  const vector = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);

  it('matches the RFC 32 test vector', () => {
    expect(z85Encode(vector)).toBe('HelloWorld');
    expect(z85Decode('HelloWorld')).toEqual(vector);
  });

  it('round-trips random data of every length up to 64 bytes', () => {
    for (let len = 0; len <= 64; len += 4) {
      for (let k = 0; k < 20; k++) {
        const data = randomBytes(len);
        const text = z85Encode(data);
        expect(text).toHaveLength((len / 4) * 5);
        expect(z85Decode(text)).toEqual(data);
      }
    }
    expect(z85Decode(z85Encode(Buffer.alloc(32, 0xff)))).toEqual(Buffer.alloc(32, 0xff));
    expect(z85Encode(Buffer.alloc(4))).toBe('00000');
  });

  it('rejects bad input with EINVAL', () => {
    expect(errnoOfThrown(() => z85Encode(Buffer.alloc(3)))).toBe(EINVAL);
    expect(errnoOfThrown(() => z85Decode('Hello'.slice(0, 4)))).toBe(EINVAL);
    expect(errnoOfThrown(() => z85Decode('HelloWorl'))).toBe(EINVAL);
    for (const bad of ['Hell ', 'Hell"', 'Hell~', 'Hell\\', 'Hell,', "Hell'", 'Hell;', 'Hellé', 'Hell\u0100', 'Hell\u{1F600}'.slice(0, 5)]) {
      expect(errnoOfThrown(() => z85Decode(bad)), JSON.stringify(bad)).toBe(EINVAL);
    }
    // 85^5 - 1 does not fit in 32 bits
    expect(errnoOfThrown(() => z85Decode('#####'))).toBe(EINVAL);
    expect(z85Decode('%nSc0')).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  });
});

describe('keys', () => {
  it('generates Z85 keypairs whose public key derives from the secret', () => {
    const a = generateKeypair();
    const b = generateKeypair();
    expect(a.publicKey).toHaveLength(40);
    expect(a.secretKey).toHaveLength(40);
    expect(publicKeyOf(a.secretKey)).toBe(a.publicKey);
    expect(a.secretKey).not.toBe(b.secretKey);
  });

  it('derives the same public key as libzmq', () => {
    for (let i = 0; i < 5; i++) {
      const zmq = curveKeyPair();
      expect(publicKeyOf(zmq.secretKey)).toBe(zmq.publicKey);
    }
  });

  it('makes keypair after keypair while the collector runs, never waiting on itself', () => {
    // in its own process: a keypair made with generateKeyPairSync and read back as JWK deadlocked Node 20's thread
    // when a collection came in between (every run of this loop hung, ~1 s of work otherwise)
    const loop = `import { generateKeypair } from ${JSON.stringify(DIST_KEYS)};
      let kept = [];
      for (let i = 0; i < 20000; i++) { generateKeypair(); kept.push({ i, s: 'x' + i }); if (kept.length > 1000) kept = []; }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', loop], { encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, 'hung').toBeNull();
    expect(r.status, r.stderr).toBe(0);
  }, 90_000);

  it('rejects malformed secret keys', () => {
    expect(errnoOfThrown(() => publicKeyOf('short'))).toBe(EINVAL);
    expect(errnoOfThrown(() => publicKeyOf(' '.repeat(40)))).toBe(EINVAL);
  });

  it('writes a certificate as flux keygen does, mode 0600, and reads it back', () => {
    const path = join(dir, 'cert-roundtrip');
    const kp = generateKeypair();
    const meta = { name: 'node1', 'keygen.hostname': 'node1', 'keygen.userid': '1000', 'keygen.quote': 'say "hi"' };
    writeCert(path, kp, meta);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith('#  ZeroMQ CURVE **Secret** Certificate\n#  DO NOT DISTRIBUTE\n\nmetadata\n    name = "node1"\n')).toBe(true);
    expect(text).toContain(`curve\n    public-key = "${kp.publicKey}"\n    secret-key = "${kp.secretKey}"\n`);
    expect(readCert(path)).toEqual({ keypair: kp, meta });
  });

  it('refuses to overwrite an existing file', () => {
    const path = join(dir, 'cert-exists');
    writeFileSync(path, '');
    expect(errnoOfThrown(() => writeCert(path, generateKeypair(), {}))).toBe(EEXIST);
  });

  it('reads ZPL written by other tools', () => {
    const kp = generateKeypair();
    const path = join(dir, 'cert-foreign');
    writeFileSync(path, [
      '#   ****  Generated by some other tool  ****',
      '#   ZeroMQ CURVE **Secret** Certificate',
      '',
      'metadata',
      '\tname = host7   # trailing comment',
      "\tcomment = 'single quoted'",
      '\tnested',
      '\t\tdeep = "ignored"',
      '\tafter = "nested"',
      'curve',
      `  secret-key = "${kp.secretKey}"`,
      `  public-key="${kp.publicKey}"`,
      'extra',
      '    x = 1',
      '',
    ].join('\r\n'));
    expect(readCert(path)).toEqual({ keypair: kp, meta: { name: 'host7', comment: 'single quoted', after: 'nested' } });
  });

  it('derives a missing public key and rejects mismatched or missing keys', () => {
    const kp = generateKeypair();
    const other = generateKeypair();
    const write = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    expect(readCert(write('c1', `curve\n    secret-key = "${kp.secretKey}"\n`)).keypair).toEqual(kp);
    const mismatch = write('c2', `curve\n    public-key = "${other.publicKey}"\n    secret-key = "${kp.secretKey}"\n`);
    expect(errnoOfThrown(() => readCert(mismatch))).toBe(EINVAL);
    expect(errnoOfThrown(() => readCert(write('c3', `curve\n    public-key = "${kp.publicKey}"\n`)))).toBe(EINVAL);
    expect(errnoOfThrown(() => readCert(write('c4', 'curve\n    secret-key = "tooshort"\n')))).toBe(EINVAL);
    expect(errnoOfThrown(() => readCert(write('c5', 'bad section!\n')))).toBe(EINVAL);
    expect(errnoOfThrown(() => writeCert(join(dir, 'c6'), { publicKey: other.publicKey, secretKey: kp.secretKey }, {}))).toBe(EINVAL);
    expect(errnoOfThrown(() => writeCert(join(dir, 'c7'), kp, { 'bad name': 'x' }))).toBe(EINVAL);
  });
});

interface Peer {
  uuid: string;
  keypair: Keypair;
  client: OverlayClient;
  got: Buffer[][];
}

describe('overlay', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  function startServer(liveness?: Liveness): { server: OverlayServer; keypair: Keypair; got: [string, Buffer[]][]; sendErrors: [string, FluxError][] } {
    const keypair = generateKeypair();
    const server = new OverlayServer({ uuid: randomUUID(), keypair, ...(liveness ? { liveness } : {}) });
    const got: [string, Buffer[]][] = [];
    const sendErrors: [string, FluxError][] = [];
    server.onMessage = (peer, frames) => got.push([peer, frames]);
    server.onSendError = (peer, err) => sendErrors.push([peer, err]);
    cleanup.push(() => server.close());
    return { server, keypair, got, sendErrors };
  }

  /** binds `server` to a fresh ipc endpoint with `keypair`'s key allowed, returning the endpoint */
  function allowAndBind(server: OverlayServer, keypair: Keypair): Promise<string> {
    server.allow(keypair.publicKey, '1');
    return server.bind(`ipc://${dir}/tbon-${randomUUID()}`);
  }

  function startClient(endpoint: string, serverKey: string, keypair = generateKeypair()): Peer {
    const uuid = randomUUID();
    const client = new OverlayClient({ uuid, keypair, serverKey });
    const got: Buffer[][] = [];
    client.onMessage = (frames) => got.push(frames);
    client.connect(endpoint);
    cleanup.push(() => client.close());
    return { uuid, keypair, client, got };
  }

  for (const transport of ['ipc', 'tcp'] as const) {
    it(`server and two clients exchange 1000 messages each way in order over ${transport}`, async () => {
      const { server, keypair, got } = startServer();
      const keys = [generateKeypair(), generateKeypair()];
      keys.forEach((k, i) => server.allow(k.publicKey, String(i + 1)));
      const endpoint = await server.bind(transport === 'ipc' ? `ipc://${dir}/tbon-${randomUUID()}` : 'tcp://127.0.0.1:*');
      expect(endpoint).toMatch(transport === 'ipc' ? /^ipc:\/\// : /^tcp:\/\/127\.0\.0\.1:\d+$/);
      const clients = keys.map((k) => startClient(endpoint, keypair.publicKey, k));

      const N = 1000;
      // all sends issued synchronously, before any connection exists: the client must queue them in order
      for (const c of clients) {
        for (let i = 0; i < N; i++) c.client.send([Buffer.from(c.uuid), Buffer.from(String(i)), Buffer.alloc(i % 3)]);
      }
      await waitFor(() => got.length === 2 * N, 10000, 'client messages');
      for (const c of clients) {
        const mine = got.filter(([peer]) => peer === c.uuid).map(([, f]) => f);
        expect(mine).toHaveLength(N);
        mine.forEach((f, i) => {
          expect(f[0]!.toString()).toBe(c.uuid);
          expect(f[1]!.toString()).toBe(String(i));
          expect(f[2]!.length).toBe(i % 3);
        });
      }

      for (let i = 0; i < N; i++) {
        for (const c of clients) server.send(c.uuid, [Buffer.from(`to ${c.uuid}`), Buffer.from(String(i))]);
      }
      await waitFor(() => clients.every((c) => c.got.length === N), 10000, 'server messages');
      for (const c of clients) {
        c.got.forEach((f, i) => {
          expect(f).toHaveLength(2);
          expect(f[0]!.toString()).toBe(`to ${c.uuid}`);
          expect(f[1]!.toString()).toBe(String(i));
        });
      }
    });
  }

  it('never lets a client with a key that was not allowed through', async () => {
    const { server, keypair, got, sendErrors } = startServer();
    const good = generateKeypair();
    server.allow(good.publicKey, '1');
    const endpoint = await server.bind('tcp://127.0.0.1:*');
    const intruder = startClient(endpoint, keypair.publicKey);
    intruder.client.send([Buffer.from('let me in')]);
    const friend = startClient(endpoint, keypair.publicKey, good);
    friend.client.send([Buffer.from('hello')]);
    await waitFor(() => got.some(([peer]) => peer === friend.uuid), 5000, 'the allowed client');
    // the intruder reconnects and retries every 100 ms; give it several tries
    await sleep(500);
    expect(got.map(([peer]) => peer)).toEqual([friend.uuid]);
    server.send(intruder.uuid, [Buffer.from('secret')]);
    await waitFor(() => sendErrors.length === 1, 2000, 'send error');
    expect(sendErrors[0]![0]).toBe(intruder.uuid);
    expect(sendErrors[0]![1].errno).toBe(EHOSTUNREACH);
    expect(intruder.got).toHaveLength(0);
  });

  it('rejects a client that expects another server key', async () => {
    const { server, got } = startServer();
    const kp = generateKeypair();
    server.allow(kp.publicKey, '1');
    const endpoint = await server.bind('tcp://127.0.0.1:*');
    const lost = startClient(endpoint, generateKeypair().publicKey, kp);
    lost.client.send([Buffer.from('hello')]);
    await sleep(400);
    expect(got).toHaveLength(0);
  });

  it('reports EHOSTUNREACH for an unknown peer through onSendError, without throwing', async () => {
    const { server, sendErrors } = startServer();
    await server.bind('tcp://127.0.0.1:*');
    expect(() => server.send('no-such-peer', [Buffer.from('x')])).not.toThrow();
    server.send('another', [Buffer.from('y')]);
    await waitFor(() => sendErrors.length === 2, 2000, 'send errors');
    expect(sendErrors.map(([peer, err]) => [peer, err.errno])).toEqual([['no-such-peer', EHOSTUNREACH], ['another', EHOSTUNREACH]]);
    expect(sendErrors[0]![1]).toBeInstanceOf(FluxError);
  });

  it('keeps receiving after odd shapes and a throwing handler', async () => {
    const { server, keypair, got } = startServer();
    const kp = generateKeypair();
    const endpoint = await allowAndBind(server, kp);
    const errors: unknown[] = [];
    server.onError = (err) => errors.push(err);
    let first = true;
    server.onMessage = (peer, frames) => {
      if (first) {
        first = false;
        throw new Error('handler bug');
      }
      got.push([peer, frames]);
    };
    const c = startClient(endpoint, keypair.publicKey, kp);
    const many = Array.from({ length: 300 }, (_, i) => Buffer.from([i & 0xff]));
    c.client.send([Buffer.from('boom')]);
    c.client.send([Buffer.alloc(0)]);
    c.client.send(many);
    c.client.send([Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(1 << 20, 7)]);
    c.client.send([Buffer.from('last')]);
    await waitFor(() => got.length === 4, 5000, 'messages after the throw');
    expect(errors).toHaveLength(1);
    expect(got[0]![1]).toEqual([Buffer.alloc(0)]);
    expect(got[1]![1]).toEqual(many);
    expect(got[2]![1].map((f) => f.length)).toEqual([0, 0, 1 << 20]);
    expect(got[3]![1]).toEqual([Buffer.from('last')]);

    // the client side survives the same
    const cerrors: unknown[] = [];
    c.client.onError = (err) => cerrors.push(err);
    let cfirst = true;
    c.client.onMessage = (frames) => {
      if (cfirst) {
        cfirst = false;
        throw new Error('client handler bug');
      }
      c.got.push(frames);
    };
    server.send(c.uuid, [Buffer.from('a')]);
    // a routing id with nothing after it is not a message: libzmq drops it
    server.send(c.uuid, []);
    server.send(c.uuid, [Buffer.from('b'), Buffer.alloc(0)]);
    server.send(c.uuid, [Buffer.from('c')]);
    await waitFor(() => c.got.length === 2, 5000, 'client messages after the throw');
    expect(cerrors).toHaveLength(1);
    expect(c.got).toEqual([[Buffer.from('b'), Buffer.alloc(0)], [Buffer.from('c')]]);
  });

  /**
   * counts the ZeroMQ sends a socket makes (its private zeromq.js socket, whose instances are sealed: counted on the
   * prototype that holds the method)
   */
  function countSends(owner: OverlayServer | OverlayClient): { n: number } {
    const which = owner instanceof OverlayServer ? 'router' : 'dealer';
    const sock = (owner as unknown as Record<string, object>)[which]!;
    let proto = Object.getPrototypeOf(sock) as object;
    while (!Object.prototype.hasOwnProperty.call(proto, 'send')) proto = Object.getPrototypeOf(proto) as object;
    const original = Object.getOwnPropertyDescriptor(proto, 'send')!;
    const count = { n: 0 };
    Object.defineProperty(proto, 'send', {
      ...original,
      value(this: object, ...a: unknown[]) {
        if (this === sock) count.n++;
        return (original.value as (...x: unknown[]) => unknown).apply(this, a);
      },
    });
    cleanup.push(() => {
      Object.defineProperty(proto, 'send', original);
    });
    return count;
  }

  const turnEnd = () => new Promise((r) => setImmediate(r));

  it('sends a busy turn\'s messages for a peer as one, in order, whatever their frames hold', async () => {
    const { server, keypair, got } = startServer();
    const kp = generateKeypair();
    const endpoint = await allowAndBind(server, kp);
    const c = startClient(endpoint, keypair.publicKey, kp);
    c.client.send([Buffer.from('hello')]);
    await waitFor(() => got.length === 1, 5000, 'hello');
    const down = countSends(server);
    const up = countSends(c.client);

    // idle: a message leaves as it is sent; a second for the same peer before the loop has waited for I/O waits for
    // the turn's end
    server.send(c.uuid, [Buffer.from('m0')]);
    expect(down.n).toBe(1);
    server.send(c.uuid, [Buffer.from('m1')]);
    expect(down.n).toBe(1);
    await turnEnd();
    expect(down.n).toBe(2);

    // busy: a turn's messages go at its end, a large one alone, a message of no frames not at all
    const magic = Buffer.from([0x12, 0x00, 0xee, 0xff, 0, 0, 0, 0]);
    const burst: Buffer[][] = [];
    for (let i = 0; i < 20; i++) burst.push([Buffer.from(`a${i}`), Buffer.alloc(i * 20, i)]);
    burst.push([magic], [], [Buffer.alloc(100 * 1024, 9)], [Buffer.alloc(255, 1), Buffer.alloc(0)]);
    for (let i = 0; i < 20; i++) burst.push([Buffer.from(`b${i}`)]);
    for (const frames of burst) server.send(c.uuid, frames);
    expect(down.n).toBe(2);
    await turnEnd();
    // the list before the large message, the large message, the list after it
    expect(down.n).toBe(5);
    const expected = [[Buffer.from('m0')], [Buffer.from('m1')], ...burst.filter((f) => f.length > 0)];
    await waitFor(() => c.got.length === expected.length, 5000, 'the burst');
    expect(c.got).toEqual(expected);

    // a turn with one message makes the socket idle again: the next message leaves at once
    server.send(c.uuid, [Buffer.from('late')]);
    await turnEnd();
    const before = down.n;
    server.send(c.uuid, [magic]);
    expect(down.n).toBe(before + 1);
    // and once the loop has waited for I/O, the next one too (a loaded machine may take a few turns to wait at all:
    // the wait is what the socket goes by, so the test waits for it rather than for the time it usually takes)
    const sentAt = performance.eventLoopUtilization().idle;
    await waitFor(() => c.got.length === expected.length + 2 && performance.eventLoopUtilization().idle > sentAt, 5000, 'the idle messages');
    server.send(c.uuid, [Buffer.from('after a wait')]);
    expect(down.n).toBe(before + 2);
    await waitFor(() => c.got.length === expected.length + 3, 5000, 'the message after a wait');
    expect(c.got.slice(-3)).toEqual([[Buffer.from('late')], [magic], [Buffer.from('after a wait')]]);

    // the same upward
    for (let i = 0; i < 30; i++) c.client.send([Buffer.from(`u${i}`)]);
    await turnEnd();
    for (let i = 30; i < 60; i++) c.client.send([Buffer.from(`u${i}`)]);
    await turnEnd();
    await waitFor(() => got.length === 61, 5000, 'the upward bursts');
    const upward = Array.from({ length: 60 }, (_, i) => [c.uuid, [`u${i}`]]);
    expect(got.slice(1).map(([peer, f]) => [peer, f.map(String)])).toEqual(upward);
    // the first alone, the rest of its turn as one, the next turn's as one
    expect(up.n).toBe(3);
  });

  it('reports a list it cannot read and reads on', async () => {
    const { server, keypair, got } = startServer();
    const errors: unknown[] = [];
    server.onError = (err) => errors.push(err);
    const kp = generateKeypair();
    const endpoint = await allowAndBind(server, kp);
    const c = startClient(endpoint, keypair.publicKey, kp);
    // past the client's own sending, which never makes such a list
    const dealer = (c.client as unknown as { dealer: { send: (f: Buffer[]) => Promise<void> } }).dealer;
    await dealer.send([Buffer.from([0x12, 0x00, 0xee, 0xff, 0, 0, 0, 9, 1])]);
    c.client.send([Buffer.from('after')]);
    await waitFor(() => got.length === 1, 5000, 'the message after the bad list');
    expect(got[0]![1]).toEqual([Buffer.from('after')]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as FluxError).errno).toBe(EPROTO);
  });

  /** a server (with `liveness`, if given) and a child of it in a process of its own that echoes what it is sent */
  async function serverWithChild(liveness?: Liveness) {
    expect(existsSync(DIST_OVERLAY), 'build with tsc before running the tests').toBe(true);
    const { server, keypair, got, sendErrors } = startServer(liveness);
    const childKeys = generateKeypair();
    const endpoint = await allowAndBind(server, childKeys);
    const uuid = randomUUID();
    const child = spawn(process.execPath, [FIXTURE, JSON.stringify({ uri: endpoint, uuid, keypair: childKeys, serverKey: keypair.publicKey })], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    });
    await waitFor(() => got.some(([peer]) => peer === uuid), 10000, 'hello from the child');
    server.send(uuid, [Buffer.from('echo me')]);
    await waitFor(() => got.length === 2, 5000, 'echo');
    expect(got[1]).toEqual([uuid, [Buffer.from('echo me')]]);
    return { server, sendErrors, uuid, child, exited };
  }

  /** sends to `uuid` every 20 ms for `ms`, or until one fails */
  async function sendUntilFailed(server: OverlayServer, sendErrors: [string, FluxError][], uuid: string, ms: number) {
    const t0 = Date.now();
    while (sendErrors.length === 0 && Date.now() - t0 < ms) {
      server.send(uuid, [Buffer.from('are you there')]);
      await sleep(20);
    }
  }

  it('fails sends to a child killed with SIGKILL with EHOSTUNREACH', async () => {
    const { server, sendErrors, uuid, child, exited } = await serverWithChild();
    child.kill('SIGKILL');
    await exited;
    await sendUntilFailed(server, sendErrors, uuid, 3000);
    expect(sendErrors[0]).toEqual([uuid, expect.objectContaining({ errno: EHOSTUNREACH })]);
  });

  it('with liveness, drops a child whose process has stopped once it misses its heartbeats; without, keeps it', async () => {
    const kept = await serverWithChild();
    kept.child.kill('SIGSTOP');
    await sendUntilFailed(kept.server, kept.sendErrors, kept.uuid, 1500);
    expect(kept.sendErrors).toEqual([]);

    const timed = await serverWithChild({ intervalMs: 100, timeoutMs: 300 });
    timed.child.kill('SIGSTOP');
    await sendUntilFailed(timed.server, timed.sendErrors, timed.uuid, 3000);
    expect(timed.sendErrors[0]).toEqual([timed.uuid, expect.objectContaining({ errno: EHOSTUNREACH })]);
  });

  it('tells a client when its connection to the server is gone, and not when it closes itself', async () => {
    const { server, keypair, got } = startServer();
    const clientKeys = generateKeypair();
    const endpoint = await allowAndBind(server, clientKeys);
    const gone = startClient(endpoint, keypair.publicKey, clientKeys);
    const staying = startClient(endpoint, keypair.publicKey, clientKeys);
    let goneTold = 0;
    let stayingTold = 0;
    gone.client.onDisconnect = () => goneTold++;
    staying.client.onDisconnect = () => stayingTold++;
    for (const p of [gone, staying]) p.client.send([Buffer.from('hello')]);
    await waitFor(() => got.length === 2, 5000, 'both hellos');
    await staying.client.close();
    await server.close();
    await waitFor(() => goneTold > 0, 5000, 'the client told its connection is gone');
    expect(stayingTold).toBe(0);
  });

  it('close() releases everything so the process can exit', () => {
    const script = `
      import { OverlayServer, OverlayClient } from ${JSON.stringify(DIST_OVERLAY)};
      import { generateKeypair } from ${JSON.stringify(DIST_OVERLAY.replace(/overlay\.js$/, 'keys.js'))};
      const skp = generateKeypair(), ckp = generateKeypair();
      const server = new OverlayServer({ uuid: 'parent', keypair: skp });
      server.allow(ckp.publicKey, '1');
      const ep = await server.bind(process.argv[1]);
      const client = new OverlayClient({ uuid: 'child', keypair: ckp, serverKey: skp.publicKey });
      client.connect(ep);
      await new Promise((resolve) => {
        server.onMessage = (peer, frames) => server.send(peer, frames);
        client.onMessage = resolve;
        client.send([Buffer.from('ping')]);
      });
      server.send('nobody', [Buffer.from('x')]);
      await client.close();
      await server.close();
      client.send([Buffer.from('after close')]);
      server.send('child', [Buffer.from('after close')]);
      console.log('closed');
    `;
    for (const uri of [`ipc://${dir}/tbon-exit`, 'tcp://127.0.0.1:*']) {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, uri], { encoding: 'utf8', timeout: 10000 });
      expect(r.error).toBeUndefined();
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('closed');
      expect(r.status).toBe(0);
    }
  });
});
