// Issue 6 figures: `flux dump` of a 64K-key KVS (target <= 5 s; flux-core needed 27 s for a 64K-job store),
// as wall time of the command, on a size-1 instance. Two shapes: small values stored inline in the directories
// (a directory load per 256 keys), and values past the inline limit, each its own blob (a content load per key,
// like job eventlogs), laid out as flux-core lays out jobs (job.<a>.<b>.<c>: a directory per job, so 64K
// directory loads as well). Wall time of the command as a user runs it, and, since the machine is shared and
// busy, the CPU seconds the dump (run in this process) and the broker spent: on an idle machine the two work in
// parallel and the wall time is about the larger. Also `flux restore --key` of each archive. Medians of 3 runs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { FLUX, emit, median, startInstance, timeProcess } from './lib.mjs';

const KEYS = Number(process.env.BENCH_DUMP_KEYS ?? 65536);
const RUNS = 3;
const TICKS = 100;

/** CPU seconds a process has used (Linux /proc: user + system clock ticks) */
function cpuOf(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}
const COMMIT_OPS = 4096;

const val = (buf) => ({ ver: 1, type: 'val', data: buf.toString('base64') });

/** KEYS keys under `prefix`, 16 x 16 x 256 directories deep like job ids; value(i) gives each key's bytes */
async function fill(h, prefix, value) {
  for (let i = 0; i < KEYS; i += COMMIT_OPS) {
    const ops = [];
    for (let j = i; j < Math.min(KEYS, i + COMMIT_OPS); j++) {
      const key = `${prefix}.${(j >> 12) & 15}.${(j >> 8) & 15}.k${j & 255}.eventlog`;
      ops.push({ key, flags: 0, dirent: val(value(j)) });
    }
    await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops });
  }
}

const shapes = [
  ['small', (j) => Buffer.from(`v${j}`)],
  ['valref', (j) => Buffer.from(`{"timestamp":${1700000000 + j},"name":"submit","context":{"userid":1000,"urgency":16,"flags":0}}\n`)],
];
// one instance per shape, so that each dump is of exactly KEYS keys
for (const [shape, value] of shapes) {
  const inst = await startInstance(1);
  const env = { FLUX_URI: inst.uri };
  const dir = mkdtempSync(join(tmpdir(), 'flux-dump-bench-'));
  try {
    const h = await Flux.open(inst.uri);
    await fill(h, 'job', value);
    h.close();
    const file = join(dir, 'kvs.tar');
    const dumps = [];
    for (let r = 0; r < RUNS; r++) dumps.push(await timeProcess(FLUX, ['dump', '-q', file], env));
    emit(`dump-64k-keys-${shape}`, median(dumps) / 1000, 's', { keys: KEYS, runs_ms: dumps.map((t) => Math.round(t)) });
    const h2 = await Flux.open(inst.uri);
    const broker = Number((await h2.call('attr.get', { name: 'broker.pid' })).value);
    h2.close();
    process.env.FLUX_URI = inst.uri;
    const { run } = await import('../dist/commands/dump.js');
    const own = [];
    const theirs = [];
    for (let r = 0; r < RUNS; r++) {
      const c0 = process.cpuUsage();
      const b0 = cpuOf(broker);
      if ((await run(['-q', file])) !== 0) throw new Error('dump failed');
      const c = process.cpuUsage(c0);
      own.push((c.user + c.system) / 1e6);
      theirs.push(cpuOf(broker) - b0);
    }
    emit(`dump-64k-keys-${shape}-cpu`, median(own), 'cpu-s', { broker_cpu_s: median(theirs), keys: KEYS });
    const restores = [];
    for (let r = 0; r < RUNS; r++) restores.push(await timeProcess(FLUX, ['restore', '-q', `--key=copy${r}`, file], env));
    emit(`restore-64k-keys-${shape}`, median(restores) / 1000, 's', { keys: KEYS, runs_ms: restores.map((t) => Math.round(t)) });
  } finally {
    await inst.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
