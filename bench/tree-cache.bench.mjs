// What the KVS's cache of decoded tree objects really holds: 20,000 directories of one shape decoded into a
// TreeCache with room for all, the heap and array buffers they add (after full collections) set against the bytes
// of their blobs and against what the cache counts for them (storedFootprint). A ratio of measured to counted
// above 1 is memory the cache's limit does not see.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeStored } from '../dist/core/kvs/wide.js';
import { TreeCache } from '../dist/core/kvs/tree.js';
import { emit } from './lib.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const N = 20_000;
const ref = (i) => `sha256-${i.toString(16).padStart(64, '0')}`;
const val = (s) => ({ data: Buffer.from(s).toString('base64'), type: 'val', ver: 1 });
const SHAPES = {
  // the root of the verify workload's namespace: two directories
  root: (i) => ({ lin: { data: [ref(i)], type: 'dirref', ver: 1 }, job: { data: [ref(i + 1)], type: 'dirref', ver: 1 } }),
  // one of its directories: five short values
  five: (i) => Object.fromEntries([0, 1, 2, 3, 4].map((k) => [`k${k}`, val(`value-${i}-${k}`)])),
  wide: (i) => Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`key${k}`, val(`v${i}.${k}`)])),
};

function held() {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

for (const [shape, data] of Object.entries(SHAPES)) {
  // decoded only (a lookup's), and written as bytes as well (a commit's, or one sent on)
  for (const asBytes of [false, true]) {
    const blobs = Array.from({ length: N }, (_, i) => Buffer.from(JSON.stringify({ data: data(i), type: 'dir', ver: 1 })));
    const cache = new TreeCache(2 ** 40);
    const before = held();
    let blobBytes = 0;
    for (let i = 0; i < N; i++) {
      const s = decodeStored(blobs[i], ref(i));
      if (asBytes) s.blob();
      cache.keep(ref(i), s, blobs[i].length);
      blobBytes += blobs[i].length;
    }
    const added = held() - before;
    // both still in use here: neither may be collected before the reading above
    if (cache.count !== N || blobs.length !== N) throw new Error('cache lost objects');
    emit(`tree-cache-${shape}${asBytes ? '-bytes' : ''}`, added / N, 'bytes/object', {
      blob_bytes: Math.round(blobBytes / N),
      per_blob_byte: Number((added / blobBytes).toFixed(2)),
      measured_over_counted: Number((added / cache.bytes).toFixed(2)),
    });
  }
}
