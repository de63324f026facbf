// What applying commits to a tree costs in process, apart from messaging, sqlite and the machine's noise:
// `node bench/apply.mjs` (after `npm run build`) applies, with the tree's own code and blobs hashed into a Map,
//  - batches of 16 one-key commits into 16 directories that grow to 250 keys each (what 16 committers make);
//  - 10,000 new keys into 100 new directories (one commit of 10,000 keys);
//  - 10,000 keys into one directory of 10,000, kept hashed (`flux kvs put` of 10,000 keys, again and again);
// APPLY_ROUNDS times each (12), printing the median time per batch or commit after the first. APPLY_AB=dir (another
// build's checkout, built) applies the same with that build's code in the same process, alternating round by round.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, emit, median, turnOrder } from './lib.mjs';
import { val } from './commits.mjs';

const ROUNDS = Number(process.env.APPLY_ROUNDS ?? 12);
const roots = [['this', ROOT]];
if (process.env.APPLY_AB) roots.push(['ab', process.env.APPLY_AB]);
const trees = await Promise.all(roots.map(([, dir]) => import(pathToFileURL(join(dir, 'dist', 'core', 'kvs', 'tree.js')).href)));

const WORKLOADS = {
  /** 250 batches of 16 one-key commits, one per directory: µs per batch */
  'apply-16-committers-batch': (t, s, r) => {
    const t0 = performance.now();
    for (let i = 0; i < 250; i++) {
      const ops = Array.from({ length: 16 }, (_, c) => ({ key: `cc${r}.c${c}.k${i}`, flags: 0, dirent: val(`${i}`) }));
      s.root = t.applyOps(s.root, ops, s.access, 'primary').rootref;
    }
    return ((performance.now() - t0) / 250) * 1000;
  },
  /** ms */
  'apply-10000-new-keys': (t, s, r) => once(t, s, Array.from({ length: 10000 }, (_, i) => ({ key: `one${r}.d${Math.floor(i / 100)}.k${i % 100}`, flags: 0, dirent: val(`v${i}-${r}`) }))),
  /** ms */
  'apply-10000-keys-one-hashed-dir': (t, s, r) => once(t, s, Array.from({ length: 10000 }, (_, i) => ({ key: `bulk.k${i}`, flags: 0, dirent: val(`v${i}-${r}`) }))),
};

function once(t, s, ops) {
  const t0 = performance.now();
  s.root = t.applyOps(s.root, ops, s.access, 'primary').rootref;
  return performance.now() - t0;
}

for (const [name, run] of Object.entries(WORKLOADS)) {
  const states = trees.map((t) => {
    const blobs = new Map();
    const access = {
      cache: new t.TreeCache(64 << 20),
      load: (ref) => blobs.get(ref),
      store: (b) => {
        const ref = `sha256-${createHash('sha256').update(b).digest('hex')}`;
        blobs.set(ref, b);
        return ref;
      },
    };
    return { access, root: access.store(t.EMPTY_DIR_BLOB), times: [] };
  });
  for (let r = 0; r < ROUNDS; r++) {
    for (const i of turnOrder(trees.length, r)) states[i].times.push(run(trees[i], states[i], r));
  }
  roots.forEach(([build], i) => {
    emit(`apply.${name}`, median(states[i].times.slice(1)), name.endsWith('batch') ? 'µs' : 'ms', { build, first: Number(states[i].times[0].toFixed(2)) });
  });
}
