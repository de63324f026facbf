// What a rank's content cache costs per blob it keeps: 75,000 blobs (about what a leaf's full 16 MiB cache held
// under the verify workload) of one size kept as a Buffer each, as the cache kept them before (`separate`), and
// packed in slabs (`slabs`, src/core/blob-cache.ts); each in a process of its own, since RSS is the process's.
// Per blob: RSS, V8 heap and array buffers added (after full collections), and the time of a set and of a hit.
import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { emit } from './lib.mjs';

const N = Number(process.env.BLOB_CACHE_N ?? 75_000);
const SIZES = [64, 227, 1024];

async function measure(mode, size) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const { ByteCache } = await import('../dist/core/byte-cache.js');
  const { BlobCache } = await import('../dist/core/blob-cache.js');
  const { ownBytes } = await import('../dist/core/wire/own-bytes.js');
  // keys and blobs made first, and the blobs dropped after: what is measured is what the cache holds of its own
  const keys = Array.from({ length: N }, (_, i) => Buffer.alloc(32, i).fill(i & 255, 0, 4).toString('latin1') + i);
  const frame = Buffer.alloc(size, 7);
  const settle = async () => {
    gc();
    await new Promise((r) => setTimeout(r, 300));
    gc();
    const m = process.memoryUsage();
    return { rss: m.rss, heap: m.heapUsed, buffers: m.arrayBuffers };
  };
  const limit = 2 ** 40;
  const cache = mode === 'slabs' ? new BlobCache(limit) : new ByteCache(limit);
  const set = mode === 'slabs' ? (k, b) => cache.set(k, b) : (k, b) => cache.set(k, ownBytes(b), b.length);
  const before = await settle();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    frame.writeUInt32LE(i, 0);
    set(keys[i], frame);
  }
  const setNs = Number(process.hrtime.bigint() - t0) / N;
  const after = await settle();
  let sum = 0;
  const t1 = process.hrtime.bigint();
  for (let r = 0; r < 3; r++) for (let i = 0; i < N; i++) sum += cache.get(keys[i]).length;
  const hitNs = Number(process.hrtime.bigint() - t1) / (3 * N);
  if (sum !== 3 * N * size || cache.count !== N) throw new Error('the cache lost blobs');
  const per = (k) => Math.round((after[k] - before[k]) / N);
  return { rss_per_blob: per('rss'), heap_per_blob: per('heap'), buffers_per_blob: per('buffers'), set_ns: Math.round(setNs), hit_ns: Math.round(hitNs) };
}

if (process.argv[2] === '--one') {
  process.stdout.write(`${JSON.stringify(await measure(process.argv[3], Number(process.argv[4])))}\n`);
} else {
  for (const size of SIZES) {
    const got = {};
    for (const mode of ['separate', 'slabs']) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--one', mode, String(size)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${mode} ${size}: ${r.stderr}`);
      got[mode] = JSON.parse(r.stdout);
    }
    emit(`blob-cache-${size}b`, got.slabs.rss_per_blob, 'bytes', {
      blobs: N, separate: got.separate, slabs: got.slabs,
      rss_ratio: Number((got.slabs.rss_per_blob / got.separate.rss_per_blob).toFixed(3)),
    });
  }
}
