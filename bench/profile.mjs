// Where a commit's and a lookup's CPU goes: `node bench/profile.mjs` (after `npm run build`) starts a size-2
// instance whose brokers are profiled by V8 (bench/cpu-prof-preload.cjs), profiles itself as the client, and then, for one commit of
// 10,000 keys, for 10,000 sequential lookups and for 1,000 sequential one-key commits into one directory (sent to
// rank 1, so that both brokers work), prints one JSON line
// per process and phase: its CPU in ms and the largest shares by where the code lives (a package, a module of
// dist/, a Node internal, the garbage collector; a native call counts to the JS function that made it, so sqlite's
// time shows as better-sqlite3's). Profile timestamps and process.hrtime are both the monotonic clock, which is
// what cuts every profile into the same phases. The .cpuprofile files are left in PROFILE_DIR if it is set.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { ROOT, startInstance } from './lib.mjs';
import { brokerPids, brokerRank } from './proc-cpu.mjs';

const KEYS = 10000;
const SEQUENTIAL = 1000;
const keep = process.env.PROFILE_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'flux-profile-'));
const now = () => Number(process.hrtime.bigint() / 1000n);
const val = (s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });

/** where a frame's code lives */
function placeOf({ url, functionName }) {
  if (!url) return functionName.startsWith('(') ? functionName : `native ${functionName || '(anonymous)'}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').split('/').slice(0, 2).join('/');
  const cli = /dist\/cli\/([\w-]+)\.cjs$/.exec(url);
  if (cli) return `${cli[1]}.cjs ${functionName || '(anonymous)'}`;
  return url.replace(/^.*\/dist\//, '');
}

/** self time (ms) by place within [from, to) µs of the monotonic clock */
function summarise(profile, from, to) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const ms = new Map();
  let t = profile.startTime;
  let total = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i];
    const next = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t >= to) return;
    const place = placeOf(byId.get(id).callFrame);
    if (place === '(idle)') return;
    ms.set(place, (ms.get(place) ?? 0) + next / 1000);
    total += next / 1000;
  });
  const top = [...ms].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([p, v]) => [p, Math.round(v * 10) / 10]);
  return { cpu_ms: Math.round(total), top };
}

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.start');

process.env.NODE_OPTIONS = `--require ${join(ROOT, 'bench', 'cpu-prof-preload.cjs')}`;
process.env.PROFILE_OUT = dir;
const inst = await startInstance(2, []);
delete process.env.NODE_OPTIONS;
const rankOf = new Map(brokerPids(inst.rundir).map((pid) => [pid, brokerRank(pid)]));
const uri1 = `local://${inst.rundir}/local-1`;
const h = await Flux.open(uri1);
await h.call('kvs.lookup', { key: 'warm', namespace: 'primary', flags: 0 }).catch(() => {});

const phases = [];
let t0 = now();
await h.call('kvs.commit', {
  namespace: 'primary', flags: 0,
  ops: Array.from({ length: KEYS }, (_, i) => ({ key: `p.d${Math.floor(i / 100)}.k${i % 100}`, flags: 0, dirent: val(`v${i}`) })),
});
phases.push(['commit-10000-keys', t0, now()]);
t0 = now();
for (let i = 0; i < KEYS; i++) await h.call('kvs.lookup', { key: `p.d${Math.floor(i / 100)}.k${i % 100}`, namespace: 'primary', flags: 0 });
phases.push(['lookups-10000-sequential', t0, now()]);
t0 = now();
for (let i = 0; i < SEQUENTIAL; i++) {
  await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: `s.k${i}`, flags: 0, dirent: val(`${i}`) }] });
}
phases.push([`commits-${SEQUENTIAL}-sequential`, t0, now()]);
h.close();

const { profile: client } = await session.post('Profiler.stop');
await inst.stop();
rmSync(inst.rundir, { recursive: true, force: true });

const profiles = [['client', client]];
for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) {
  const pid = Number(f.split('.')[0]);
  if (rankOf.has(pid)) profiles.push([`broker rank ${rankOf.get(pid)}`, JSON.parse(readFileSync(join(dir, f), 'utf8'))]);
}
for (const [phase, from, to] of phases) {
  for (const [who, profile] of profiles) {
    process.stdout.write(`${JSON.stringify({ phase, who, wall_ms: Math.round((to - from) / 1000), ...summarise(profile, from, to) })}\n`);
  }
}
if (!keep) rmSync(dir, { recursive: true, force: true });
