// Memory under a long steady load: a size-4 instance where each rank's client commits one key of a bounded key
// space, looks it up, and publishes an event every tenth round. RSS of each broker is read once a minute; the
// figure that matters is the growth from the end of minute 1 to the end of the run, which must stay near zero
// (the issue asks for flat memory after the first minutes of a one-hour run).
// SOAK_MINUTES sets the length (3 by default; 60 for the hour).
import { delay, emit, startInstance } from './lib.mjs';
import { brokerMem } from './proc-mem.mjs';
import { soakLoad } from './soak-load.mjs';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 3);
const r1 = (x) => Number(x.toFixed(1));

const inst = await startInstance(4);
const ranks = [0, 1, 2, 3];
const load = await soakLoad(inst, ranks);
const perMinute = [];
for (let m = 1; m <= MINUTES; m++) {
  await delay(60_000);
  perMinute.push(brokerMem(inst.rundir));
}
const ops = await load.stop();
await inst.stop();

const rssAt = (sample, rank) => sample.find((b) => b.rank === rank)?.rss ?? 0;
for (const rank of ranks) {
  const series = perMinute.map((s) => r1(rssAt(s, rank)));
  emit(`soak-rss-rank${rank}`, series[series.length - 1], 'MiB', {
    minutes: MINUTES, ops, per_minute: series, growth_after_minute1: r1(series[series.length - 1] - series[0]),
  });
}
