// Issue 3 figures: durable (acknowledged) events/s from 16 concurrent publishers at size 1; journal verify
// entries/s; restart time of an instance whose journal holds many entries.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { ContentStore } from '../dist/core/content-store.js';
import { JournalStore, checkpointMessage } from '../dist/core/journal-store.js';
import { canonical } from '../dist/core/journal-entry.js';
import { blobref } from '../dist/core/blobref.js';
import { loadOrCreateSigner } from '../dist/core/signing.js';
import { emit, startInstance, timeProcess, FLUX } from './lib.mjs';

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

/** a statedir whose journal holds N entries, written straight through the store (as rank 0 would) */
async function fillStatedir(n) {
  const dir = mkdtempSync(join(tmpdir(), 'flux-bench-state-'));
  const cs = ContentStore.open(join(dir, 'content.sqlite'), 'sha256');
  const js = new JournalStore(cs);
  let head = js.head();
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < n; ) {
    const k = Math.min(10000, n - done);
    const items = [];
    for (let i = 0; i < k; i++) items.push({ time: 1.7e9 + done + i, topic: 'bench.fill', userid: 0, rolemask: 1, flags: 0, payload: { i: done + i } });
    const out = js.appendBatch(head, items);
    head = { seq: out[out.length - 1].entry.seq, ref: out[out.length - 1].ref };
    done += k;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  // a clean shutdown leaves a signed checkpoint with a snapshot of the projections at the head
  const snapshot = blobref('sha256', cs.store(Buffer.from(canonical({ seq: head.seq, ref: head.ref, states: {} }))));
  const c = { seq: head.seq, ref: head.ref, time: Date.now() / 1000, snapshot };
  const signer = await loadOrCreateSigner(join(dir, 'journal.key'));
  js.putCheckpoint({ ...c, pubkey: signer.publicKey, sig: await signer.sign(checkpointMessage(c)) });
  cs.close();
  emit('journal-append-store-direct', n / secs, 'entries/s', { entries: n });
  return dir;
}

await publishRate();
const N = Number(process.env.BENCH_RESTART_ENTRIES ?? 1_000_000);
const dir = await fillStatedir(N);
const t = await timeProcess(process.execPath, [FLUX, 'start', '-S', `statedir=${dir}`, '--size', '1', 'flux', 'journal', 'head']);
emit('restart-with-journal', t / 1000, 's', { entries: N, target: 2.0 });
const tv = await timeProcess(process.execPath, [FLUX, 'start', '-S', `statedir=${dir}`, '--size', '1', 'flux', 'journal', 'verify']);
emit('journal-verify-process', N / (tv / 1000), 'entries/s', { entries: N, seconds: Number((tv / 1000).toFixed(2)), target: 100000 });
rmSync(dir, { recursive: true, force: true });
