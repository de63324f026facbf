// Issue 6 figures: `flux replay --verify` entries/s over a 1,000,000-entry journal (chain, signatures and every
// KVS root recomputed), and `flux replay --to N --show kvs` wall time on it: N a little past one of the newest
// snapshots, and N in the middle of the journal (the store keeps the first snapshot of every 10,000 entries, so
// that one starts near it too). Medians of RUNS; each with the process's own CPU time, the steadier figure on a
// shared machine.
import { rmSync } from 'node:fs';
import { emit, fillStatedir, median, runNode, FLUX } from './lib.mjs';

const N = Number(process.env.BENCH_REPLAY_ENTRIES ?? 1_000_000);
const KVS_EVERY = 100;
const CHECKPOINT_EVERY = 10_000;
const RUNS = 3;

const { dir, seconds } = await fillStatedir(N, { kvsEvery: KVS_EVERY, checkpointEvery: CHECKPOINT_EVERY });
emit('replay-fill-statedir', N / seconds, 'entries/s', { entries: N });

const times = async (args) => {
  const ms = [];
  const cpu = [];
  let stdout = '';
  for (let i = 0; i < RUNS; i++) {
    const r = await runNode([FLUX, 'replay', dir, ...args]);
    ms.push(r.ms);
    cpu.push(r.cpuMs);
    stdout = r.stdout;
  }
  return { ms: median(ms), cpuMs: median(cpu), stdout };
};

const v = await times(['--verify', '--json']);
const report = JSON.parse(v.stdout);
emit('replay-verify', report.checked / (v.ms / 1000), 'entries/s', {
  entries: report.checked, roots: report.roots, ok: report.ok, seconds: Number((v.ms / 1000).toFixed(2)),
  cpu_seconds: Number((v.cpuMs / 1000).toFixed(2)), per_cpu_second: Math.round(report.checked / (v.cpuMs / 1000)), runs: RUNS, target: 50000,
});

const near = N - CHECKPOINT_EVERY / 2;
const a = await times(['--to', String(near), '--show', 'kvs']);
emit('replay-to-show-kvs', a.ms / 1000, 's', {
  entries: N, to: near, keys: a.stdout.split('\n').length - 1, from: 'snapshot', cpu_seconds: Number((a.cpuMs / 1000).toFixed(2)),
  runs: RUNS, target: 2.0,
});

const far = Math.floor(N / 2) + CHECKPOINT_EVERY / 2;
const b = await times(['--to', String(far), '--show', 'kvs']);
emit('replay-to-show-kvs-mid-journal', b.ms / 1000, 's', {
  entries: N, to: far, keys: b.stdout.split('\n').length - 1, from: 'a snapshot kept for its 10,000-entry span',
  cpu_seconds: Number((b.cpuMs / 1000).toFixed(2)), runs: RUNS, target: 2.0,
});
rmSync(dir, { recursive: true, force: true });
