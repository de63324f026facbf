// Several users on one instance: what a guest costs the others and itself.
//   ping-under-guest-flood   owner's broker.ping median while a guest floods requests, against without (target ≤ 2×)
//   event-sub-history-guest  `flux event sub --from 1` over 100,000 entries as a guest, against the owner (target ≤ 1.5×)
//   fuzz-frames              random and mutated frames a guest's connections deliver to the local socket, per second
// The guest is the test user .ci/run creates (fluxguest) where a real second uid is needed.
import { readFileSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { Flux } from '../dist/api/handle.js';
import { encodeLocal } from '../dist/core/wire/framing.js';
import { jsonPayload, makeRequest } from '../dist/core/wire/message.js';
import { emit, median, startInstance, timeProcess, fillStatedir, FLUX } from './lib.mjs';
import { frameArb, loadSeeds } from '../test/fuzz/frames.mjs';
import { localTarget } from '../test/fuzz/local-target.mjs';

function guestUser() {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === 'fluxguest') return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error('the test user fluxguest does not exist: create it as .ci/run does');
}

async function pingMedian(h, n) {
  const ts = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await h.call('broker.ping', {});
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(ts);
}

async function pingUnderFlood() {
  const guest = guestUser();
  const inst = await startInstance(1, ['-S', 'access.allow-guest-user=1']);
  const owner = await Flux.open(inst.uri);
  const target = localTarget(`${inst.rundir}/local-0`, guest);
  try {
    await pingMedian(owner, 200);
    const quiet = await pingMedian(owner, 1000);
    // requests a guest may make, as fast as its connection takes them: attr.get answered at once
    const frames = Array.from({ length: 2000 }, (_, i) => encodeLocal(makeRequest('attr.get', jsonPayload({ name: 'size' }), { matchtag: i + 1 })));
    let flooding = true;
    let sent = 0;
    const flood = (async () => {
      while (flooding) {
        await target.send(frames);
        sent += frames.length;
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const busy = await pingMedian(owner, 1000);
    const secs = (Date.now() - t0) / 1000;
    flooding = false;
    await flood;
    emit('ping-under-guest-flood', busy / quiet, 'ratio', {
      quiet_ms: Number(quiet.toFixed(4)), flooded_ms: Number(busy.toFixed(4)), flood_requests_per_s: Math.round(sent / secs), target: 2.0,
    });
  } finally {
    owner.close();
    await target.close();
    await inst.stop();
  }
}

async function historyAsGuest(kvsEvery) {
  const N = 100_000;
  const { dir } = await fillStatedir(N, { kvsEvery });
  const inst = await startInstance(1, ['-S', `statedir=${dir}`]);
  try {
    const events = kvsEvery === 0 ? N : N - Math.floor(N / kvsEvery);
    const sub = (env) => timeProcess(process.execPath, [FLUX, 'event', 'sub', '--from', '1', '-c', String(events), 'bench.'], { FLUX_URI: inst.uri, ...env });
    const owner = [];
    const guest = [];
    for (let i = 0; i < 3; i++) {
      owner.push(await sub({}));
      guest.push(await sub({ FLUX_HANDLE_USERID: '1001' }));
    }
    emit(kvsEvery === 0 ? 'event-sub-history-guest' : 'event-sub-history-guest-mixed', median(guest) / median(owner), 'ratio', {
      entries: N, events, owner_s: Number((median(owner) / 1000).toFixed(3)), guest_s: Number((median(guest) / 1000).toFixed(3)), target: 1.5,
    });
  } finally {
    await inst.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fuzzRate() {
  const inst = await startInstance(1, ['-S', 'access.allow-guest-user=1']);
  const target = localTarget(`${inst.rundir}/local-0`, guestUser());
  try {
    const batches = fc.sample(fc.array(frameArb(loadSeeds()), { minLength: 25, maxLength: 25 }), { numRuns: 400, seed: 13 });
    const t0 = process.hrtime.bigint();
    for (const b of batches) await target.send(b);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    emit('fuzz-frames', (batches.length * 25) / secs, 'frames/s', { frames: batches.length * 25, connections: batches.length });
  } finally {
    await target.close();
    await inst.stop();
  }
}

await pingUnderFlood();
await historyAsGuest(0);
await historyAsGuest(2);
await fuzzRate();
