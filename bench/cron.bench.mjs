// Cron figures on a size-4 instance: cron.create latency (each creation a durable journal entry), the whole
// `flux cron list` command with many entries, and how many tasks per second one interval entry gets through
// rexec when its interval is shorter than a task takes (each task start and end is a journal entry).
import { Flux } from '../dist/api/handle.js';
import { emit, median, percentile, startInstance, timeProcess, FLUX } from './lib.mjs';

const ENTRIES = Number(process.env.BENCH_CRON_ENTRIES ?? 200);
const TASKS = Number(process.env.BENCH_CRON_TASKS ?? 300);
const LIST_RUNS = 10;

const inst = await startInstance(4);
const h = await Flux.open(inst.uri);
try {
  const t0 = process.hrtime.bigint();
  const e = await h.call('cron.create', { type: 'interval', command: 'true', args: { interval: 0.001 }, repeat: TASKS }, { nodeid: 0 });
  for (;;) {
    const r = await h.call('cron.list', {}, { nodeid: 0 });
    if (r.entries.find((x) => x.id === e.id).stats.total >= TASKS) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  emit('cron-tasks-per-second', TASKS / secs, 'tasks/s', { tasks: TASKS });

  const lat = [];
  for (let i = 0; i < ENTRIES; i++) {
    const t0 = process.hrtime.bigint();
    await h.call('cron.create', { type: 'interval', command: 'true', args: { interval: 3600 } }, { nodeid: 0 });
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  emit('cron-create-latency', median(lat), 'ms', { p90: Number(percentile(lat, 0.9).toFixed(4)), n: ENTRIES });

  const rpc = [];
  for (let i = 0; i < LIST_RUNS; i++) {
    const t1 = process.hrtime.bigint();
    await h.call('cron.list', {}, { nodeid: 0 });
    rpc.push(Number(process.hrtime.bigint() - t1) / 1e6);
  }
  emit('cron-list-rpc', median(rpc), 'ms', { entries: ENTRIES, runs: LIST_RUNS });

  const env = { FLUX_URI: inst.uri };
  await timeProcess(process.execPath, [FLUX, 'cron', 'list'], env);
  const times = [];
  for (let i = 0; i < LIST_RUNS; i++) times.push(await timeProcess(process.execPath, [FLUX, 'cron', 'list'], env));
  // the same runs of a command that does one small rpc: what a command costs before cron adds anything
  const base = [];
  for (let i = 0; i < LIST_RUNS; i++) base.push(await timeProcess(process.execPath, [FLUX, 'getattr', 'rank'], env));
  emit('cron-list-command', median(times) / 1000, 's', {
    entries: ENTRIES, runs: LIST_RUNS, getattr_s: Number((median(base) / 1000).toFixed(4)),
    ratio: Number((median(times) / median(base)).toFixed(3)),
  });

} finally {
  h.close();
  await inst.stop();
}
