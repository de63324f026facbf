// Issue 3 figures: durable (acknowledged) events/s from 16 concurrent publishers at size 1; journal verify
// entries/s; restart time of an instance whose journal holds many entries.
import { rmSync } from 'node:fs';
import { Flux } from '../dist/api/handle.js';
import { emit, startInstance, timeProcess, fillStatedir, FLUX } from './lib.mjs';

const PUBLISHERS = 16;
const WINDOW = 64; // outstanding publishes per publisher
const SECONDS = 3;

async function publishRate() {
  const inst = await startInstance(1);
  const handles = await Promise.all(Array.from({ length: PUBLISHERS }, () => Flux.open(inst.uri)));
  let acked = 0;
  let stop = false;
  const t0 = process.hrtime.bigint();
  await Promise.all(handles.map(async (h, i) => {
    const lane = async () => {
      while (!stop) {
        await h.call('event.publish', { topic: `bench.p${i}`, flags: 0, payload: Buffer.from(`{"i":${acked}}\0`).toString('base64') }, { nodeid: 0 });
        acked++;
      }
    };
    setTimeout(() => (stop = true), SECONDS * 1000);
    await Promise.all(Array.from({ length: WINDOW }, lane));
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const h = handles[0];
  const t1 = process.hrtime.bigint();
  const report = await h.call('journal.verify', undefined, { nodeid: 0 });
  const vsecs = Number(process.hrtime.bigint() - t1) / 1e9;
  for (const x of handles) x.close();
  await inst.stop();
  emit('events-durable-16-publishers', acked / secs, 'events/s', { acked, seconds: Number(secs.toFixed(2)), target: 20000 });
  emit('journal-verify-rpc', report.checked / vsecs, 'entries/s', { entries: report.checked, ok: report.ok, target: 100000 });
}

await publishRate();
const N = Number(process.env.BENCH_RESTART_ENTRIES ?? 1_000_000);
const { dir, seconds } = await fillStatedir(N);
emit('journal-append-store-direct', N / seconds, 'entries/s', { entries: N });
const t = await timeProcess(process.execPath, [FLUX, 'start', '-S', `statedir=${dir}`, '--size', '1', 'flux', 'journal', 'head']);
emit('restart-with-journal', t / 1000, 's', { entries: N, target: 2.0 });
const tv = await timeProcess(process.execPath, [FLUX, 'start', '-S', `statedir=${dir}`, '--size', '1', 'flux', 'journal', 'verify']);
emit('journal-verify-process', N / (tv / 1000), 'entries/s', { entries: N, seconds: Number((tv / 1000).toFixed(2)), target: 100000 });
rmSync(dir, { recursive: true, force: true });
