// What the verify checker costs as a history grows: histories shaped like `npm run verify`'s (six clients, five
// keys, its mix of puts, appends, unlinks, reads and reads at a past version, overlapping intervals, some answers
// lost, half of the writes among those taking effect) of doubling lengths, each settled against its journal's
// record and checked for linearizability as a verify run does. A checker that stays linear shows the same µs per
// operation at every length; an hour's run holds ~2,000,000 operations.
// CHECKER_OPS: the lengths (25000,50000,100000,200000); CHECKER_LOST: the share of answers lost (0.005).
import { emit } from './lib.mjs';
import { check } from '../dist/verify/linearizability.js';
import { kvsModel } from '../dist/verify/kvs-model.js';
import { attribute, settle } from '../dist/verify/attribution.js';
import { Random } from '../dist/verify/random.js';

const LENGTHS = (process.env.CHECKER_OPS ?? '25000,50000,100000,200000').split(',').map(Number);
const LOST = Number(process.env.CHECKER_LOST ?? 0.005);
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'];
const CLIENTS = 6;
const APPEND = 32;

/**
 * `n` operations taking effect one after another, 10 time units apart, each one's interval stretched up to 25
 * units either way (so up to ~5 overlap), with the sequencer's record of every write that took effect
 */
function workload(n, rng) {
  const values = new Map(KEYS.map((k) => [k, [[0, null]]]));
  const batches = new Map();
  let version = 0;
  const records = [];
  for (let id = 0; id < n; id++) {
    const key = rng.pick(KEYS);
    const point = id * 10;
    const call = point - rng.int(0, 25);
    const ret = point + rng.int(0, 25);
    const lost = rng.next() < LOST;
    const roll = rng.next();
    const h = values.get(key);
    const cur = h[h.length - 1][1];
    let input;
    if (roll < 0.42) input = { f: 'put', key, value: `v${id}` };
    else if (roll < 0.52) input = { f: 'append', key, value: `[${id}]` };
    else if (roll < 0.58) input = { f: 'unlink', key };
    else if (roll < 0.7) input = { f: 'get', key };
    else input = { f: 'get-at', key, version: rng.int(0, version) };
    const rec = { kind: 'kvs', id, client: id % CLIENTS, input, call, ret };
    records.push(rec);
    if (input.f === 'get' || input.f === 'get-at') {
      let i = h.length - 1;
      if (input.f === 'get-at') while (h[i][0] > input.version) i--;
      if (!lost) rec.output = { value: h[i][1] };
      continue;
    }
    if (lost && rng.next() < 0.5) continue;
    version++;
    h.push([version, input.f === 'put' ? input.value : input.f === 'unlink' ? null : (cur ?? '') + input.value]);
    batches.set(version, [{ key, flags: input.f === 'append' ? APPEND : 0, value: input.f === 'unlink' ? null : input.value }]);
    if (!lost) rec.output = { version };
  }
  return { records, batches };
}

for (const n of LENGTHS) {
  const { records, batches } = workload(n, new Random(n));
  const t0 = process.hrtime.bigint();
  const attr = attribute(records, batches);
  const ops = settle(records, attr.exact);
  const r = check(kvsModel, ops, { maxStates: 50_000_000 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (attr.problems.length > 0 || r.ok !== true) throw new Error(`checker: ${n} operations not accepted: ${attr.problems[0] ?? r.reason}`);
  emit('checker-linearizability', (s * 1e6) / n, 'us/op', { operations: n, seconds: Number(s.toFixed(2)), states: r.explored, lost: LOST });
}
