// The local connector's limits on a real instance: a guest flooding requests is told EAGAIN past
// local.max-inflight while the owner is served; a client that stops reading is disconnected past
// local.max-queued-bytes instead of being buffered for without end.
import { describe, it, expect } from 'vitest';
import * as net from 'node:net';
import { Flux } from '../../src/api/handle.js';
import { EAGAIN } from '../../src/core/errors.js';
import { LocalDecoder, encodeLocal } from '../../src/core/wire/framing.js';
import { type Message, jsonPayload, makeRequest, payloadString } from '../../src/core/wire/message.js';
import { startInstance } from '../helpers/instance.js';
import { guestUser } from '../helpers/guest.js';
import { localTarget } from '../fuzz/local-target.mjs';

describe('local connector limits', () => {
  it('answers a flooding guest EAGAIN past local.max-inflight, and serves the owner meanwhile', async () => {
    const guest = guestUser();
    const inst = await startInstance(1, ['-S', 'access.allow-guest-user=1', '-S', 'local.max-inflight=32']);
    const target = localTarget(`${inst.rundir}/local-0`, guest);
    const owner = await Flux.open(inst.uri);
    try {
      expect(await inst.flux(['kvs', 'namespace', 'create', '-o', String(guest.uid), 'flood'])).toMatchObject({ code: 0 });
      // waits that never end: each stays in flight
      const frames = Array.from({ length: 200 }, (_, i) => encodeLocal(
        makeRequest('kvs.wait-version', jsonPayload({ namespace: 'flood', rootseq: 1_000_000 }), { matchtag: i + 1 })));
      const sent = target.send(frames, { keep: true, idleMs: 2000, capMs: 20_000 });
      const pings = await Promise.all(Array.from({ length: 20 }, () => owner.call('broker.ping', {})));
      expect(pings.every((p) => p.rank === 0)).toBe(true);
      const out = await sent;
      expect(out.handshake).toBe(0);
      const answers: Message[] = [];
      new LocalDecoder().push(Buffer.from(out.bytes!, 'base64'), (m) => answers.push(m));
      expect(answers).toHaveLength(200 - 32);
      expect(answers.every((m) => m.aux1 === EAGAIN)).toBe(true);
      expect(answers.map((m) => m.aux2)).toEqual(Array.from({ length: 200 - 32 }, (_, i) => i + 33));
      expect(payloadString(answers[0]!)).toBe('32 requests in flight (local.max-inflight): try again');
    } finally {
      owner.close();
      await target.close();
      expect(await inst.stop()).toBe(0);
    }
  }, 60_000);

  it('disconnects a subscriber that stops reading once local.max-queued-bytes wait for it', async () => {
    const inst = await startInstance(1, ['-S', 'local.max-queued-bytes=1048576']);
    const owner = await Flux.open(inst.uri);
    const slow = net.createConnection(`${inst.rundir}/local-0`);
    try {
      slow.on('error', () => {});
      let got = 0;
      const handshake = new Promise<void>((resolve) => slow.once('data', () => resolve()));
      await handshake;
      const subscribed = new Promise<void>((resolve) => slow.once('data', () => resolve()));
      slow.write(encodeLocal(makeRequest('event.subscribe', jsonPayload({ topic: 'big.' }), { matchtag: 1 })));
      await subscribed;
      slow.pause();
      slow.on('data', (d: Buffer) => (got += d.length));
      const closed = new Promise<void>((resolve) => slow.once('close', () => resolve()));
      const payload = Buffer.alloc(64 << 10, 7).toString('base64');
      let published = 0;
      for (let i = 0; i < 400; i++) {
        await owner.call('event.publish', { topic: 'big.x', flags: 0, payload }, { nodeid: 0 });
        published += 64 << 10;
        if (i % 20 === 19 && (await inst.flux(['dmesg'])).stdout.includes('local.max-queued-bytes')) break;
      }
      const log = (await inst.flux(['dmesg'])).stdout;
      expect(log).toMatch(/disconnected: more than 1048576 bytes queued unread \(local\.max-queued-bytes\)/);
      // the broker let it go: reading now drains what the kernel held and then the end
      slow.resume();
      await closed;
      expect(got).toBeLessThan(published);
      expect((await owner.call('broker.ping', {})).rank).toBe(0);
    } finally {
      slow.destroy();
      owner.close();
      expect(await inst.stop()).toBe(0);
    }
  }, 60_000);
});
