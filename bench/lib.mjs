// Shared bench helpers: start a real instance, time things, print one JSON line per figure.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FLUX = join(ROOT, 'bin', 'flux');

/**
 * The builds an A/B bench runs: this checkout's, and with `env` naming another built checkout (with
 * node_modules), that one's too, as [name, its bin/flux] pairs
 */
export function abBuilds(env) {
  const other = process.env[env];
  return other ? [['this', FLUX], ['ab', join(other, 'bin', 'flux')]] : [['this', FLUX]];
}

export function emit(bench, value, unit, extra = {}) {
  process.stdout.write(`${JSON.stringify({ bench, value: Number(value.toFixed(4)), unit, ...extra })}\n`);
}

/** resolves after `ms` milliseconds */
export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** the median of `xs[i] - ys[i]`: two builds timed back to back in each round, compared round by round */
export function medianDifference(xs, ys) {
  return median(xs.map((x, i) => x - ys[i]));
}

/**
 * The order in which round `round` runs `n` builds: each in turn, reversed every other round, so that neither build
 * always runs after the other on a machine whose load drifts
 */
export function turnOrder(n, round) {
  const order = Array.from({ length: n }, (_, i) => i);
  return round % 2 === 0 ? order : order.reverse();
}

/** `run(i, round)` for each of `n` builds, `rounds` times in turnOrder: what each build's runs returned, in order */
export async function alternatedRounds(n, rounds, run) {
  const got = Array.from({ length: n }, () => []);
  for (let r = 0; r < rounds; r++) for (const i of turnOrder(n, r)) got[i].push(await run(i, r));
  return got;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

/**
 * `flux start --size N` whose initial program waits on stdin; resolves with {uri, rundir, stop()}. `flux` is the
 * command to start it with: another build's, for an A/B in one run.
 */
export async function startInstance(size, extra = [], flux = FLUX) {
  const rundir = mkdtempSync(join(tmpdir(), 'flux-bench-'));
  const proc = spawn(process.execPath, [flux, 'start', '--size', String(size), '--test-rundir', rundir, ...extra,
    'sh', '-c', 'echo "$FLUX_URI"; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const uri = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    proc.on('exit', (c) => reject(new Error(`instance exited ${c}`)));
  });
  const exited = new Promise((r) => proc.on('close', r));
  return { uri, rundir, stop: () => { proc.stdin.end(); return exited; } };
}

/** run a command to completion, resolving with its wall time in ms */
export function timeProcess(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
  });
}

/**
 * A statedir whose journal holds `n` entries, written straight through the stores as rank 0 would: events, and
 * with `kvsEvery` one KVS commit (a real setroot: ops applied to the previous root) every that many entries;
 * with `checkpointEvery` a signed checkpoint with a snapshot of the projections every that many entries (the
 * store keeps the newest five, as the broker's does); always one at the head, as a clean shutdown leaves.
 * Resolves with {dir, seconds}.
 */
export async function fillStatedir(n, { kvsEvery = 0, checkpointEvery = 0 } = {}) {
  const [{ ContentStore }, { JournalStore, checkpointMessage }, { canonical }, { blobref, blobrefOf, digestOf },
    { loadOrCreateSigner }, { applyOps, TreeCache, EMPTY_DIR_BLOB }, { PROJECTIONS }] = await Promise.all([
    import('../dist/core/content/store.js'), import('../dist/core/journal/store.js'), import('../dist/core/journal/entry.js'),
    import('../dist/core/content/blobref.js'), import('../dist/core/journal/signing.js'), import('../dist/core/kvs/tree.js'),
    import('../dist/projections/index.js'),
  ]);
  const ENTRY_KVS = 0x20000;
  const FLAG_PRIVATE = 0x01;
  const dir = mkdtempSync(join(tmpdir(), 'flux-bench-state-'));
  const cs = ContentStore.open(join(dir, 'content.sqlite'), 'sha256');
  const js = new JournalStore(cs);
  const signer = await loadOrCreateSigner(join(dir, 'journal.key'));
  const access = { cache: new TreeCache(), load: (ref) => cs.load(digestOf('sha256', ref)), store: (b) => blobref('sha256', cs.store(b)) };
  let root = access.store(EMPTY_DIR_BLOB);
  let rootseq = 0;
  let states = new Map(PROJECTIONS.map((p) => [p.name, p.initial()]));
  let head = js.head();
  // without KVS entries or periodic snapshots the projections stay at their initial states: not tracked
  const track = kvsEvery > 0 || checkpointEvery > 0;
  const checkpoint = async () => {
    const saved = {};
    if (track) for (const p of PROJECTIONS) saved[p.name] = p.save(states.get(p.name));
    const snapshot = blobref('sha256', cs.store(Buffer.from(canonical({ seq: head.seq, ref: head.ref, states: saved }))));
    const c = { seq: head.seq, ref: head.ref, time: 1.7e9 + head.seq, snapshot };
    js.putCheckpoint({ ...c, pubkey: signer.publicKey, sig: await signer.sign(checkpointMessage(c)) });
  };
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < n; ) {
    const k = Math.min(checkpointEvery || 10000, 10000, n - done);
    const items = [];
    cs.transaction(() => {
      for (let i = done; i < done + k; i++) {
        const time = 1.7e9 + i;
        if (kvsEvery > 0 && i % kvsEvery === kvsEvery - 1) {
          // 1000 keys in 100 directories, each rewritten in turn
          const key = `d${rootseq % 100}.k${Math.floor(rootseq / 100) % 10}`;
          const op = { key, flags: 0, dirent: { data: Buffer.from(String(i)).toString('base64'), type: 'val', ver: 1 } };
          const r = applyOps(root, [op], access, 'primary');
          root = r.rootref;
          items.push({ time, topic: 'kvs.namespace-primary-setroot', userid: 0, rolemask: 1, flags: ENTRY_KVS | FLAG_PRIVATE,
            payload: { namespace: 'primary', rootseq: ++rootseq, rootref: root, names: [`commit.0.${rootseq}`], keys: r.keys, ops: r.ops, owner: 0 } });
        } else {
          items.push({ time, topic: 'bench.fill', userid: 0, rolemask: 1, flags: 0, payload: { i } });
        }
      }
    });
    const out = js.appendBatch(head, items);
    for (const a of track ? out : []) {
      const next = new Map();
      for (const p of PROJECTIONS) next.set(p.name, p.apply(states.get(p.name), a.entry, a.ref));
      states = next;
    }
    head = { seq: out[out.length - 1].entry.seq, ref: out[out.length - 1].ref };
    done += k;
    if (checkpointEvery > 0 && done % checkpointEvery === 0 && done < n) await checkpoint();
  }
  await checkpoint();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  cs.close();
  return { dir, seconds };
}

/** reports the process's CPU time (user + system, ms) on fd 3 as it exits */
const CPU_HOOK = 'data:text/javascript,import{writeSync}from"node:fs";'
  + 'process.on("exit",()=>{const u=process.cpuUsage();writeSync(3,String((u.user+u.system)/1000))})';

/**
 * Run `node ARGS` to completion: its wall time and its own CPU time in ms (on a shared machine the CPU time is
 * the steadier figure), and its stdout.
 */
export function runNode(args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(process.execPath, ['--import', CPU_HOOK, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    let out = '';
    let cpu = '';
    p.stdout.on('data', (d) => (out += d));
    p.stdio[3].on('data', (d) => (cpu += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`node ${args.join(' ')} exited ${code}`));
      else resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: Number(cpu), stdout: out });
    });
  });
}
