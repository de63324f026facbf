// Issue 5 figures: `flux exec -r all true` on a size-8 instance, the whole command as a user runs it; and
// processes started and reaped through rexec from one client (each start and exit a durable journal entry).
import { Flux } from '../dist/api/handle.js';
import { emit, median, percentile, startInstance, timeProcess, FLUX } from './lib.mjs';

const SIZE = 8;
const RUNS = Number(process.env.BENCH_EXEC_RUNS ?? 15);
const PROCS = Number(process.env.BENCH_EXEC_PROCS ?? 1000);
/** processes in flight at once from the one client */
const WINDOW = 32;

const inst = await startInstance(SIZE);
try {
  // the first run pays for the broker-side schema compilation: warm up once, as a user's second command would
  await timeProcess(process.execPath, [FLUX, 'exec', '-r', 'all', 'true'], { FLUX_URI: inst.uri });
  const times = [];
  for (let i = 0; i < RUNS; i++) times.push(await timeProcess(process.execPath, [FLUX, 'exec', '-r', 'all', 'true'], { FLUX_URI: inst.uri }));
  emit('exec-all-true-size8', median(times) / 1000, 's', {
    p90: Number((percentile(times, 0.9) / 1000).toFixed(4)), runs: RUNS, target: 0.5,
  });

  const h = await Flux.open(inst.uri);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const runOne = (rank) => new Promise((resolve, reject) => {
    let status;
    h.stream('rexec.exec', { cmd: { cwd: '/', cmdline: ['true'], env, opts: {}, channels: [] }, flags: 3, local_flags: 0 },
      { nodeid: rank }, (m) => {
        const r = JSON.parse(m.payload.toString('utf8', 0, m.payload.length - 1));
        if (r.type === 'finished') status = r.status;
      }).then(() => (status === 0 ? resolve() : reject(new Error(`rank ${rank}: status ${status}`))), reject);
  });
  for (const [name, ranks] of [['rexec-procs-one-client-all-ranks', SIZE], ['rexec-procs-one-client-rank0', 1]]) {
    let next = 0;
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: WINDOW }, async () => {
      while (next < PROCS) {
        const i = next++;
        await runOne(i % ranks);
      }
    }));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    emit(name, PROCS / secs, 'procs/s', { procs: PROCS, window: WINDOW, ranks, seconds: Number(secs.toFixed(2)), target: 200 });
  }
  h.close();
} finally {
  await inst.stop();
}
