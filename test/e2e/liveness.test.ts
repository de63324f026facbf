// How brokers tell a peer that is busy from one that is gone (src/broker/boot.ts, src/transport/overlay.ts): a
// child silent for tbon.torpid_max is torpid, not lost, and a child does not give up on a parent that is only
// silent. A peer is lost when its connection is: its process ended, or it stopped (or its host went) for
// tbon.torpid_max, which the overlay's own heartbeats bound (test/e2e/instance.test.ts holds a stopped leaf to it).
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Flux } from '../../src/api/handle.js';
import { ROOT, startInstance } from '../helpers/instance.js';

const STALL = join(ROOT, 'test', 'fixtures', 'modules', 'stall.mjs');

const ping = (h: Flux, rank: number) => h.call('broker.ping', { seq: 0, pad: '' }, { nodeid: rank });

describe('overlay liveness', () => {
  it('takes a child whose event loop is busy past tbon.torpid_max for torpid, not lost, and answers it', async () => {
    const inst = await startInstance(3, ['-S', 'tbon.torpid_max=2s']);
    const h = await Flux.open(inst.uri);
    try {
      expect(await inst.flux(['module', 'load', '-r', '2', STALL])).toMatchObject({ code: 0, stderr: '' });
      // rank 2 says nothing for 5 s, two and a half times its torpid bound; what was sent to it meanwhile waits for it
      const stalled = h.call('stall.run', { ms: 5000 }, { nodeid: 2 });
      expect(await stalled).toEqual({ stalled: 5000 });
      expect((await ping(h, 2)).rank).toBe(2);
      const dmesg = await inst.flux(['dmesg']);
      expect(dmesg.stdout).toMatch(/overlay\.err\[0\]: rank 2 torpid: silent for more than 2s/);
      expect(dmesg.stdout).toMatch(/overlay\.notice\[0\]: rank 2 is no longer torpid/);
      expect(dmesg.stdout).not.toMatch(/rank 2 lost/);
      const host = hostname();
      expect((await inst.flux(['overlay', 'status'])).stdout).toBe(`0 ${host}: full\n├─ 1 ${host}: full\n└─ 2 ${host}: full\n`);
    } finally {
      h.close();
      expect(await inst.stop()).toBe(0);
    }
  });

  it('keeps children whose parent stops for longer than they used to wait for it (10 s), within tbon.torpid_max', async () => {
    const inst = await startInstance(3);
    const h = await Flux.open(inst.uri);
    const pid = Number((await h.call('attr.get', { name: 'broker.pid' })).value);
    h.close();
    let stopped = false;
    try {
      process.kill(pid, 'SIGSTOP');
      stopped = true;
      await new Promise((r) => setTimeout(r, 11_000));
      process.kill(pid, 'SIGCONT');
      stopped = false;
      const again = await Flux.open(inst.uri);
      try {
        for (const rank of [1, 2]) expect((await ping(again, rank)).rank).toBe(rank);
      } finally {
        again.close();
      }
      expect((await inst.flux(['dmesg'])).stdout).not.toMatch(/lost|offline/);
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
      expect(await inst.stop()).toBe(0);
    }
  }, 30_000);
});
