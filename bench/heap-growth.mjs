// Whether memory that grows under load is held by live objects: `node bench/heap-growth.mjs` runs the soak's load
// (bench/soak-load.mjs) on a size-4 instance and, at each of HEAP_AT minutes (1,4 by default), has rank 0 and rank
// 1 write a V8 heap snapshot (--heapsnapshot-signal; a snapshot collects garbage first, so it holds only what is
// live). One JSON line per rank: the live heap and the RSS at each minute, and the kinds of object (type and
// name, as DevTools shows them) whose bytes grew most from the first snapshot to the last. A leak shows as a kind
// that keeps growing; RSS that grows while the live heap does not is the heap's sizing, or malloc's.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { delay, emit, startInstance } from './lib.mjs';
import { brokerPids, brokerRank } from './proc-cpu.mjs';
import { memOf } from './proc-mem.mjs';
import { soakLoad } from './soak-load.mjs';

const AT = (process.env.HEAP_AT ?? '1,4').split(',').map(Number);
const RANKS = [0, 1];
const r1 = (x) => Number(x.toFixed(1));

/** bytes by kind of object in a snapshot file */
function kinds(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const bytes = new Map();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const key = `${types[snap.nodes[i + type]]} ${snap.strings[snap.nodes[i + name]].slice(0, 60)}`;
    bytes.set(key, (bytes.get(key) ?? 0) + snap.nodes[i + size]);
  }
  return bytes;
}

/**
 * The snapshot the broker of `rank` writes next into `dir`, once whole: its main thread writes it in one go, so once
 * the file has appeared, a ping that broker answers comes after its end. A broker that writes none within a minute
 * (one started without the signal's option) fails the bench rather than hang it.
 */
async function snapshot(h, rank, pid, dir) {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    await delay(200);
    const file = readdirSync(dir).find((f) => !before.has(f) && f.includes(`.${pid}.`));
    if (file === undefined) continue;
    await h.call('broker.ping', { seq: 0, pad: '' }, { nodeid: rank });
    return join(dir, file);
  }
  throw new Error(`rank ${rank} (pid ${pid}) wrote no heap snapshot within a minute`);
}

const dir = mkdtempSync(join(tmpdir(), 'flux-heap-'));
const given = process.env.NODE_OPTIONS;
process.env.NODE_OPTIONS = `${given ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
const inst = await startInstance(4);
if (given === undefined) delete process.env.NODE_OPTIONS;
else process.env.NODE_OPTIONS = given;
try {
  const pids = new Map(brokerPids(inst.rundir).map((pid) => [brokerRank(pid), pid]));
  const load = await soakLoad(inst);
  const h = await Flux.open(inst.uri);
  const t0 = Date.now();
  const taken = new Map(RANKS.map((r) => [r, []]));
  for (const minute of AT) {
    await delay(Math.max(0, minute * 60_000 - (Date.now() - t0)));
    for (const rank of RANKS) {
      const pid = pids.get(rank);
      const rss = memOf(pid).rss;
      const file = await snapshot(h, rank, pid, dir);
      const bytes = kinds(file);
      rmSync(file);
      taken.get(rank).push({ minute, ops: load.ops(), rss, bytes });
    }
  }
  await load.stop();
  h.close();
  for (const [rank, snaps] of taken) {
    const live = (s) => [...s.bytes.values()].reduce((a, b) => a + b, 0) / 2 ** 20;
    const first = snaps[0];
    const last = snaps.at(-1);
    const grew = [...last.bytes].map(([k, b]) => [k, b - (first.bytes.get(k) ?? 0)]).sort((a, b) => b[1] - a[1]).slice(0, 5);
    emit(`heap-live-rank${rank}`, r1(live(last)), 'MiB', {
      minutes: snaps.map((s) => s.minute),
      live_mib: snaps.map((s) => r1(live(s))),
      rss_mib: snaps.map((s) => r1(s.rss)),
      ops: snaps.map((s) => s.ops),
      grew_most_kib: Object.fromEntries(grew.map(([k, b]) => [k, Math.round(b / 1024)])),
    });
  }
} finally {
  await inst.stop();
  rmSync(dir, { recursive: true, force: true });
}
