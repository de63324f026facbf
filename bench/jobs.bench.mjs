// Issue 11's job figures at size 1, each the median of several runs on one instance, beside `node -e 0` timed in
// the same run (a command's floor): jobs/s end to end (`flux submit --cc=1-200 --wait true`), submissions/s
// (`flux submit --cc=1-1000 true`, until every id is printed), `flux run true` and `flux run -n 2 hostname` as
// whole processes, `flux jobs -a` of 1,000 jobs, and the same listing as it was at a past journal position
// (`--at-seq`, the ratio to the current listing measured in the same run).
import { Flux } from '../dist/api/handle.js';
import { FLUX, emit, median, startInstance, timeProcess } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

async function timed(env, args, runs = RUNS) {
  // one run first, not counted: the page cache and the broker's first-use work (schema compiles) are not the figure
  await timeProcess(process.execPath, [FLUX, ...args], env);
  const out = [];
  for (let i = 0; i < runs; i++) out.push(await timeProcess(process.execPath, [FLUX, ...args], env));
  return out;
}

/** until no job is pending or running: the next figure starts on an idle instance */
async function idle(h) {
  for (;;) {
    const r = await h.call('job-list.list', { states: 62 });
    if (r.jobs.length === 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

const inst = await startInstance(1);
const env = { FLUX_URI: inst.uri };
const h = await Flux.open(inst.uri);
try {
  const nodeRuns = [];
  for (let i = 0; i < RUNS; i++) nodeRuns.push(await timeProcess(process.execPath, ['-e', '0']));
  const nodeMs = median(nodeRuns);

  const run = await timed(env, ['run', 'true']);
  emit('jobs.run-true', median(run), 'ms', { target_ms: 131, flux_core_ms: 131, node_e_0_ms: Math.round(nodeMs), runs_ms: run.map(Math.round) });

  const hostname = await timed(env, ['run', '-n', '2', 'hostname']);
  emit('jobs.run-n2-hostname', median(hostname), 'ms', { flux_core_ms: 250, runs_ms: hostname.map(Math.round) });

  const e2e = [];
  for (let i = 0; i < RUNS; i++) {
    await idle(h);
    const ms = await timeProcess(process.execPath, [FLUX, 'submit', '--cc=1-200', '--wait', 'true'], env);
    e2e.push(200 / (ms / 1000));
  }
  emit('jobs.submit-wait-200', median(e2e), 'jobs/s', { target: 120, flux_core: 60.5, runs: e2e.map(Math.round) });

  const ingest = [];
  for (let i = 0; i < RUNS; i++) {
    await idle(h);
    const ms = await timeProcess(process.execPath, [FLUX, 'submit', '--cc=1-1000', 'true'], env);
    ingest.push(1000 / (ms / 1000));
  }
  emit('jobs.submit-1000', median(ingest), 'submissions/s', { target: 2000, flux_core: 880, runs: ingest.map(Math.round) });
  await idle(h);

  // the table now holds well over 1,000 jobs; list the newest 1,000 inactive ones, now and as they were one entry ago
  const head = Number((await h.call('journal.head')).seq);
  const listNow = await timed(env, ['jobs', '-a', '-c', '1000']);
  const listPast = await timed(env, ['jobs', '-a', '-c', '1000', '--at-seq', String(head - 1)]);
  // further back than the entries a broker keeps in memory: from the nearest snapshot in sqlite
  const oldSeq = Math.max(1, head - 9000);
  const listOld = await timed(env, ['jobs', '-a', '-c', '1000', '--at-seq', String(oldSeq)]);
  const total = (await h.call('job-list.list', { states: 64 })).jobs.length;
  emit('jobs.list-1000', median(listNow) / 1000, 's', { target_s: 0.25, flux_core_s: 0.32, jobs_in_table: total, runs_ms: listNow.map(Math.round) });
  emit('jobs.list-1000-at-seq', median(listPast) / 1000, 's', {
    seq: head - 1, ratio_to_current: Number((median(listPast) / median(listNow)).toFixed(2)), target_ratio: 1.5, runs_ms: listPast.map(Math.round),
  });
  emit('jobs.list-1000-at-old-seq', median(listOld) / 1000, 's', {
    seq: oldSeq, head, ratio_to_current: Number((median(listOld) / median(listNow)).toFixed(2)), target_ratio: 1.5, runs_ms: listOld.map(Math.round),
  });
} finally {
  h.close();
  await inst.stop();
}
