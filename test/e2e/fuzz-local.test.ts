// No input crashes or starves the broker: a guest's connections to the local sockets of a two-rank instance
// carry random and mutated frames (seeded from flux-core's captured client messages); after every batch the
// broker still answers the owner, and after all of them every rank answers a ping, its memory is bounded and a
// client connected all along noticed nothing. FLUX_FUZZ_FRAMES sets the number of frames (npm run fuzz: 100,000).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { Flux } from '../../src/api/handle.js';
import { startInstance, type Instance } from '../helpers/instance.js';
import { guestUser } from '../helpers/guest.js';
import { frameArb, loadSeeds } from '../fuzz/frames.mjs';
import { localTarget, type FuzzTarget } from '../fuzz/local-target.mjs';

const FRAMES = Number(process.env.FLUX_FUZZ_FRAMES ?? 10_000);
const BATCH = 25;
/** a broker's resident memory after the run may not pass this */
const RSS_LIMIT = 1 << 30;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('fuzzing the local socket', () => {
  let inst: Instance;
  let owner: Flux;
  const targets: FuzzTarget[] = [];

  beforeAll(async () => {
    inst = await startInstance(2, ['-S', 'access.allow-guest-user=1']);
    owner = await Flux.open(inst.uri);
    for (const r of [0, 1]) targets.push(localTarget(`${inst.rundir}/local-${r}`, guestUser()));
  }, 60_000);

  afterAll(async () => {
    for (const t of targets) await t.close();
    owner?.close();
    expect(await inst.stop()).toBe(0);
  });

  it(`${FRAMES} frames from a guest leave every rank answering, its memory bounded, other clients undisturbed`, async () => {
    const seeds = loadSeeds();
    expect(seeds.length).toBeGreaterThan(50);
    const pids = [];
    for (const r of [0, 1]) pids.push(Number((await owner.call('attr.get', { name: 'broker.pid' }, { nodeid: r })).value));
    // a bystander: subscribed before the fuzzing, it must still be connected and hear an event after it
    let lost: Error | undefined;
    owner.onClose((err) => (lost = err));
    const heard: string[] = [];
    owner.onEvent((ev) => heard.push(ev.topic ?? ''));
    await owner.subscribe('bystander.');

    let sent = 0;
    let admitted = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(frameArb(seeds), { minLength: BATCH, maxLength: BATCH }), fc.integer({ min: 0, max: 1 }),
      async (frames, rank) => {
        const out = await targets[rank]!.send(frames);
        sent += frames.length;
        if (out.handshake === 0) admitted++;
        expect(out.handshake).toBe(0);
        expect(Number((await owner.call('attr.get', { name: 'rank' }, { nodeid: rank })).value)).toBe(rank);
      },
    ), { numRuns: Math.ceil(FRAMES / BATCH) });
    expect(sent).toBeGreaterThanOrEqual(FRAMES);
    expect(admitted).toBe(Math.ceil(FRAMES / BATCH));

    for (const r of [0, 1]) expect((await owner.call('broker.ping', {}, { nodeid: r })).rank).toBe(r);
    await owner.call('event.publish', { topic: 'bystander.after', flags: 0 }, { nodeid: 0 });
    for (let i = 0; i < 200 && !heard.includes('bystander.after'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(heard).toContain('bystander.after');
    expect(lost).toBeUndefined();
    for (const pid of pids) expect(rssOf(pid)).toBeLessThan(RSS_LIMIT);
    if (process.env.FLUX_FUZZ_SHOW_LOG) process.stderr.write(inst.stderr());
  }, Math.max(240_000, FRAMES * 30));
});
