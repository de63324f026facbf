// Issue 3 figures: content store and load of 4 KiB blobs batched through one client on a size-1 instance,
// and the in-process ceiling of the sqlite store itself.
import { randomBytes } from 'node:crypto';
import { Flux } from '../dist/api/handle.js';
import { ContentStore } from '../dist/core/content-store.js';
import { emit, startInstance } from './lib.mjs';

const N = 20000;
const WINDOW = 256;
const blobs = Array.from({ length: N }, () => randomBytes(4096));

async function windowed(n, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < n) await fn(next++);
  }));
}

const inst = await startInstance(1);
const h = await Flux.open(inst.uri);
const digests = new Array(N);
let t0 = process.hrtime.bigint();
await windowed(N, async (i) => { digests[i] = (await h.rpc('content.store', blobs[i])).payload; });
let secs = Number(process.hrtime.bigint() - t0) / 1e9;
emit('content-store-4k', N / secs, 'blobs/s', { blobs: N, window: WINDOW, target: 50000 });
t0 = process.hrtime.bigint();
await windowed(N, async (i) => { await h.rpc('content.load', digests[i]); });
secs = Number(process.hrtime.bigint() - t0) / 1e9;
emit('content-load-4k', N / secs, 'blobs/s', { blobs: N, window: WINDOW, target: 100000 });
h.close();
await inst.stop();

const cs = ContentStore.open(':memory:', 'sha256');
t0 = process.hrtime.bigint();
const ds = cs.storeMany(blobs);
emit('content-store-4k-in-process', N / (Number(process.hrtime.bigint() - t0) / 1e9), 'blobs/s', { blobs: N });
t0 = process.hrtime.bigint();
for (const d of ds) cs.load(d);
emit('content-load-4k-in-process', N / (Number(process.hrtime.bigint() - t0) / 1e9), 'blobs/s', { blobs: N });
cs.close();
