// Issue 12's overlay figures, with eight brokers in eight network namespaces on one bridge (test/netns/hosts.sh),
// booted from one config over TCP, fanout 2 (rank 7 is the deepest: 0-1-3-7):
//  - broker.ping round trip, median of many, from rank 0 to rank 7 and from rank 7 to rank 0, against the same
//    on a `flux start --size 8` instance over ipc:// measured in the same run (target: TCP at most 1.3x ipc);
//  - the time from starting the last broker to rank 0 reporting the tree full (target ≤ 1 s), median of a few
//    kill -9 and restart rounds, watched through a streaming overlay.health.
// Needs root and iproute2; otherwise it says so in one line and exits 0.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EHOSTUNREACH } from '../dist/core/errors.js';
import { Flux } from '../dist/api/handle.js';
import { watchHealth } from '../dist/api/overlay.js';
import { FLUX, ROOT, delay, emit, median, startInstance } from './lib.mjs';

const SIZE = 8;
const PINGS = Number(process.env.BENCH_PINGS ?? 300);
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const HOSTS = join(ROOT, 'test', 'netns', 'hosts.sh');
const NET = `fxb${process.pid}`;

if (process.getuid?.() !== 0 || spawnSync('ip', ['netns', 'list']).status !== 0) {
  process.stdout.write(`${JSON.stringify({ bench: 'overlay', skipped: 'needs root and ip netns' })}\n`);
  process.exit(0);
}

function hosts(...args) {
  const r = spawnSync(HOSTS, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hosts.sh ${args.join(' ')}: ${r.stderr}`);
}


async function open(uri) {
  for (let i = 0; ; i++) {
    try {
      return await Flux.open(uri);
    } catch (err) {
      if (i > 300) throw err;
      await delay(50);
    }
  }
}

/** round trips of broker.ping to `nodeid`, ms, appended to `out`; a few first, not counted */
async function pings(h, nodeid, n, out) {
  for (let i = 0; i < 5; i++) await h.rpc('broker.ping', { seq: i }, { nodeid });
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await h.rpc('broker.ping', { seq: i }, { nodeid });
    out.push(performance.now() - t0);
  }
}

const base = mkdtempSync(join(tmpdir(), 'flux-bench-net-'));
const conf = join(base, 'system');
mkdirSync(conf);
const cert = join(base, 'curve.cert');
spawnSync(process.execPath, [FLUX, 'keygen', cert]);
writeFileSync(join(conf, 'bootstrap.toml'), [
  '[bootstrap]', `curve_cert = "${cert}"`, 'default_port = 8050', 'default_bind = "tcp://eth0:%p"', 'hosts = [',
  ...Array.from({ length: SIZE }, (_, i) => `  { host = "node${i}", connect = "tcp://10.77.0.${i + 1}:%p" },`), ']', '',
].join('\n'));
const uri = (rank) => `local://${join(base, `run-${rank}`)}/local-${rank}`;
const procs = [];
function startBroker(rank) {
  procs[rank] = spawn(HOSTS, ['exec', NET, String(rank), `node${rank}`, process.execPath, FLUX, 'broker',
    `--config-path=${conf}`, '-Stbon.fanout=2', '-Stbon.torpid_max=3s', `-Srundir=${join(base, `run-${rank}`)}`],
  { stdio: ['ignore', 'ignore', 'inherit'] });
}

hosts('up', NET, String(SIZE));
const handles = [];
let ipc;
try {
  for (let r = 0; r < SIZE - 1; r++) startBroker(r);
  const h0 = await open(uri(0));
  handles.push(h0);
  // ranks 1-6 up (rank 3 waits for its child 7, so the tree is partial); rank 0's children can be partial while
  // a grandchild is still joining, whose ping then fails with EHOSTUNREACH: each is asked until it answers
  await watchHealth(h0, 0, (hl) => hl.children.every((c) => c.status === 'partial' || c.status === 'full'));
  for (let r = 1; r < SIZE - 1; r++) {
    for (let i = 0; ; i++) {
      try {
        await h0.rpc('broker.ping', {}, { nodeid: r });
        break;
      } catch (err) {
        if (err.errno !== EHOSTUNREACH || i > 200) throw err;
        await delay(50);
      }
    }
  }

  const joins = [];
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    startBroker(SIZE - 1);
    await watchHealth(h0, 0, (hl) => hl.status === 'full');
    joins.push(performance.now() - t0);
    if (round === ROUNDS - 1) break;
    procs[SIZE - 1].kill('SIGKILL');
    await watchHealth(h0, 0, (hl) => hl.status === 'degraded');
  }
  emit('overlay.last-broker-to-full', median(joins), 'ms', { target_ms: 1000, size: SIZE, runs_ms: joins.map(Math.round) });

  const h7 = await open(uri(SIZE - 1));
  ipc = await startInstance(SIZE, ['-o,-Stbon.fanout=2']);
  const i0 = await open(ipc.uri);
  const i7 = await open(`local://${ipc.rundir}/local-${SIZE - 1}`);
  handles.push(h7, i0, i7);
  // interleaved in batches, so that whatever else the machine does weighs on both alike
  const t = { down: [], up: [] };
  const l = { down: [], up: [] };
  const batch = Math.ceil(PINGS / 10);
  for (let b = 0; b < 10; b++) {
    await pings(h0, SIZE - 1, batch, t.down);
    await pings(i0, SIZE - 1, batch, l.down);
    await pings(h7, 0, batch, t.up);
    await pings(i7, 0, batch, l.up);
  }
  for (const [name, way] of [['rank0-to-deepest', 'down'], ['deepest-to-rank0', 'up']]) {
    const tcp = median(t[way]);
    const local = median(l[way]);
    emit(`overlay.ping-tcp-${name}`, tcp, 'ms', { ipc_ms: Number(local.toFixed(4)), ratio: Number((tcp / local).toFixed(3)), target_ratio: 1.3, pings: t[way].length });
  }
} finally {
  for (const h of handles) h.close();
  await ipc?.stop();
  hosts('down', NET, String(SIZE));
  rmSync(base, { recursive: true, force: true });
}
