// Content store figures: 4 KiB blobs stored and loaded back through one client with many requests in flight, on
// a size-1 instance (targets: store >= 50,000 blobs/s, load >= 100,000 blobs/s); the same through rank 1's cache
// (messaging alone, no sqlite); and the in-process ceiling of the sqlite store itself, on a file and in memory.
// Blobs are random, so LZ4 never shrinks them: the worst case for the bytes written.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { ContentStore } from '../dist/core/content/store.js';
import { emit, median, startInstance } from './lib.mjs';

const N = Number(process.env.BENCH_CONTENT_BLOBS ?? 20000);
const WINDOW = 256;
const RUNS = 3;
/** what the broker commits per turn of its event loop is about this many; the in-process figure uses the same */
const BATCH = 256;
const blobs = Array.from({ length: N }, () => randomBytes(4096));

async function windowed(n, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < n) await fn(next++);
  }));
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function report(bench, rates, extra = {}) {
  emit(bench, median(rates), 'blobs/s', { runs: rates.map((r) => Math.round(r)), blobs: N, window: WINDOW, ...extra });
}

/** every run stores fresh blobs (a store of a blob already there costs less), then loads them back */
async function throughBroker() {
  const stores = [];
  const loads = [];
  for (let run = 0; run < RUNS; run++) {
    const inst = await startInstance(1);
    const h = await Flux.open(inst.uri);
    const digests = new Array(N);
    stores.push(N / await timed(() => windowed(N, async (i) => { digests[i] = (await h.rpc('content.store', blobs[i])).payload; })));
    loads.push(N / await timed(() => windowed(N, async (i) => { await h.rpc('content.load', digests[i]); })));
    h.close();
    await inst.stop();
  }
  report('content-store', stores, { target: 50000 });
  report('content-load', loads, { target: 100000 });
}

/** loads answered from rank 1's memory cache: the cost of the messaging path without sqlite */
async function throughCache() {
  const inst = await startInstance(2, ['-S', `content.purge-target-size=${2 * N * 4096}`]);
  const h = await Flux.open(inst.uri.replace(/local-0$/, 'local-1'));
  const digests = new Array(N);
  await windowed(N, async (i) => { digests[i] = (await h.rpc('content.store', blobs[i])).payload; });
  const rates = [];
  for (let run = 0; run < RUNS; run++) rates.push(N / await timed(() => windowed(N, async (i) => { await h.rpc('content.load', digests[i]); })));
  h.close();
  await inst.stop();
  report('content-load-rank1-cache', rates);
}

function inProcess(where, path) {
  const cs = ContentStore.open(path, 'sha256');
  const ds = [];
  const st = Date.now();
  for (let i = 0; i < N; i += BATCH) ds.push(...cs.storeMany(blobs.slice(i, i + BATCH)));
  const storeSecs = (Date.now() - st) / 1000;
  const lt = Date.now();
  for (const d of ds) cs.load(d);
  const loadSecs = (Date.now() - lt) / 1000;
  cs.close();
  emit(`content-store-in-process-${where}`, N / storeSecs, 'blobs/s', { blobs: N, batch: BATCH });
  emit(`content-load-in-process-${where}`, N / loadSecs, 'blobs/s', { blobs: N });
}

await throughBroker();
await throughCache();
const dir = mkdtempSync(join(tmpdir(), 'flux-bench-content-'));
inProcess('file', join(dir, 'content.sqlite'));
rmSync(dir, { recursive: true, force: true });
inProcess('memory', ':memory:');
