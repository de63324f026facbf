// Shared bench helpers: start a real instance, time things, print one JSON line per figure.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const FLUX = join(ROOT, 'bin', 'flux');

export function emit(bench, value, unit, extra = {}) {
  process.stdout.write(`${JSON.stringify({ bench, value: Number(value.toFixed(4)), unit, ...extra })}\n`);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

/** `flux start --size N` whose initial program waits on stdin; resolves with {uri, rundir, stop()} */
export async function startInstance(size, extra = []) {
  const rundir = mkdtempSync(join(tmpdir(), 'flux-bench-'));
  const proc = spawn(process.execPath, [FLUX, 'start', '--size', String(size), '--test-rundir', rundir, ...extra,
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
