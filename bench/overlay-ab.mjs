// What the overlay's sending costs, this build against another (OVERLAY_AB=<another checkout, built>): 16
// committers spread over the four ranks of a size-4 instance (commits/s, and each rank's CPU per commit from
// /proc), and a raw client's ping medians to rank 3 of size 4 and rank 7 of a size-8 fanout-2 tree. The two builds'
// instances run side by side and take turns, reversed every other round; two instances of one build measured 3-5%
// apart, by the order they were started in, so each figure is taken twice, each build started first once.
// OVERLAY_ROUNDS rounds of commits (10; the first two are warm-up and left out), OVERLAY_PINGS pings per build and
// round (500, ten rounds, after 4,000 untimed); OVERLAY_GROUPS=commits or =pings runs one group only.
import { join } from 'node:path';
import { FLUX, emit, median, startInstance, turnOrder } from './lib.mjs';
import { brokerPids, brokerRank, cpuSeconds } from './proc-cpu.mjs';
import { concurrentCommits } from './commits.mjs';
import { rawClient } from './raw-client.mjs';

const AB = process.env.OVERLAY_AB;
if (!AB) throw new Error('OVERLAY_AB=<another checkout, built> names the build to compare with');
const ROUNDS = Number(process.env.OVERLAY_ROUNDS ?? 10);
const PINGS = Number(process.env.OVERLAY_PINGS ?? 500);
const WARM = 2;

/** this build's and the other's, in the order their instances are started */
function builds(otherFirst) {
  const pair = [['this', FLUX], ['ab', join(AB, 'bin', 'flux')]];
  return otherFirst ? pair.reverse() : pair;
}

async function start(pairs, size, extra) {
  const inst = {};
  for (const [name, flux] of pairs) {
    const i = await startInstance(size, extra, flux);
    i.ranks = Array.from({ length: size }, (_, r) => `local://${i.rundir}/local-${r}`);
    i.pids = brokerPids(i.rundir).sort((a, b) => brokerRank(a) - brokerRank(b));
    inst[name] = i;
  }
  return inst;
}

async function spread(otherFirst) {
  const pairs = builds(otherFirst);
  const inst = await start(pairs, 4, []);
  const got = { this: { rate: [], cpu: [] }, ab: { rate: [], cpu: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const k of turnOrder(2, round)) {
      const [name] = pairs[k];
      const i = inst[name];
      const c0 = i.pids.map(cpuSeconds);
      const rate = await concurrentCommits(i.ranks, 16, 250, `r${round}`);
      if (round < WARM) continue;
      got[name].rate.push(rate);
      got[name].cpu.push(i.pids.map((p, r) => ((cpuSeconds(p) - c0[r]) * 1e6) / 4000));
    }
  }
  for (const i of Object.values(inst)) await i.stop();
  const cpuByRank = (xs) => xs[0].map((_, r) => Math.round(median(xs.map((c) => c[r]))));
  emit('overlay-commits-16-spread-size4', median(got.this.rate), 'commits/s', {
    ab: Math.round(median(got.ab.rate)), started_first: otherFirst ? 'ab' : 'this',
    cpu_us_per_commit_by_rank: cpuByRank(got.this.cpu), ab_cpu_us_per_commit_by_rank: cpuByRank(got.ab.cpu),
  });
}

async function ping(size, extra, rank, otherFirst) {
  const pairs = builds(otherFirst);
  const inst = await start(pairs, size, extra);
  const t = { this: [], ab: [] };
  const raw = {};
  for (const [name] of pairs) {
    raw[name] = rawClient(`${inst[name].rundir}/local-0`);
    await raw[name].ready;
    for (let k = 0; k < 4000; k++) await raw[name].ping(rank, k);
  }
  for (let round = 0; round < 10; round++) {
    for (const k of turnOrder(2, round)) {
      const [name] = pairs[k];
      for (let s = 0; s < PINGS; s++) {
        const t0 = process.hrtime.bigint();
        await raw[name].ping(rank, s);
        t[name].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }
  for (const [name] of pairs) {
    raw[name].close();
    await inst[name].stop();
  }
  emit(`overlay-ping-rank${rank}-size${size}`, median(t.this), 'ms', {
    ab: Number(median(t.ab).toFixed(4)), started_first: otherFirst ? 'ab' : 'this',
  });
}

const GROUPS = (process.env.OVERLAY_GROUPS ?? 'commits,pings').split(',');
for (const otherFirst of [false, true]) {
  if (GROUPS.includes('commits')) await spread(otherFirst);
  if (GROUPS.includes('pings')) {
    await ping(4, [], 3, otherFirst);
    await ping(8, ['-S', 'tbon.fanout=2'], 7, otherFirst);
  }
}
