// Under Slurm: a single-node Slurm (test/slurm/single-node.sh) launches the brokers with srun. With --mpi=none
// Slurm offers no PMI_FD, only its libpmi.so, which the broker dlopens; with --mpi=pmi2 it offers PMI_FD (its
// pmi2 plugin answers PMI-1 too) and its libpmi2.so. Needs root and Debian's munge, slurmctld, slurmd and
// slurm-client, libpmi0 and libpmi2-0: CI installs them.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT, FLUX, type RunResult } from '../helpers/instance.js';

const SCRIPT = join(ROOT, 'test', 'slurm', 'single-node.sh');
let dir: string | undefined;
let up: Promise<string> | undefined;

/** Slurm started once for the file: the path of its config */
function slurm(): Promise<string> {
  up ??= new Promise((resolve, reject) => {
    dir = mkdtempSync(join(tmpdir(), 'flux-slurm-'));
    const r = spawnSync(SCRIPT, ['start', dir], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) reject(new Error(`single-node Slurm did not start: ${r.stderr || r.error?.message}`));
    else resolve(join(dir, 'slurm.conf'));
  });
  return up;
}

afterAll(() => {
  if (dir === undefined) return;
  spawnSync(SCRIPT, ['stop', dir]);
  rmSync(dir, { recursive: true, force: true });
});

/** a launch that outlives this was hung: a good one takes 1-6 s on a loaded 2-core machine */
const BOUND_MS = 30_000;

/** what Slurm and the step's processes were doing, a line each, short enough to survive a truncated CI log */
function stateOf(conf: string): string {
  const env = { ...process.env, SLURM_CONF: conf };
  const out = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 5_000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`;
  };
  const lines = (text: string) => text.split('\n').filter((l) => l.trim().length > 0);
  const jobs = lines(out('squeue', ['-h', '-a', '-o', '%i %T %r %M'])).map((l) => `job ${l}`);
  const node = lines(out('sinfo', ['-h', '-N', '-o', '%t %E'])).map((l) => `node ${l}`);
  // srun and the step daemons, and what runs under them: other tests' brokers are not this launch's
  const rows = lines(out('ps', ['-eo', 'pid,ppid,stat,wchan:16,args'])).slice(1).map((l) => l.trim().split(/\s+/));
  const ours = new Set(rows.filter((r) => /^(srun|slurmstepd:)$/.test(r[4] ?? '')).map((r) => r[0]));
  for (let grew = true; grew;) {
    grew = false;
    for (const r of rows) {
      if (ours.has(r[0]) || !ours.has(r[1])) continue;
      ours.add(r[0]);
      grew = true;
    }
  }
  const procs = rows.filter((r) => ours.has(r[0])).map((r) => r.join(' ').slice(0, 90));
  const log = join(dirname(conf), 'log', 'slurmd.log');
  const slurmd = existsSync(log) ? lines(readFileSync(log, 'utf8')).slice(-4).map((l) => `slurmd: ${l.slice(0, 110)}`) : [];
  return [...jobs, ...node, ...procs, ...slurmd].join('\n');
}

/** end what a hung launch left, its job, so that the next launch starts clean */
function cancelAll(conf: string): void {
  spawnSync('scancel', ['--signal=KILL', '--full', '--user=root'], { env: { ...process.env, SLURM_CONF: conf }, timeout: 5_000 });
}

/** srun; a launch that hangs is killed, and what it was waiting on is added to what it said */
async function srun(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const conf = await slurm();
  return new Promise((resolve, reject) => {
    // -v: srun says how far the launch got (step created, tasks started, tasks exited), which tells a hang's side
    const child = spawn('srun', ['-v', ...args], { env: { ...process.env, SLURM_CONF: conf, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hung: string | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      hung = stateOf(conf);
      child.kill('SIGKILL');
      cancelAll(conf);
    }, BOUND_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr: hung === undefined ? stderr : `${stderr}\n[hung]\n${hung}` });
    });
  });
}

describe('an instance launched by Slurm', () => {
  it('srun --mpi=none: the brokers bootstrap through Slurm\'s libpmi.so', async () => {
    const r = await srun(['-N1', '-n4', '--mpi=none', FLUX, 'start', 'sh', '-c', 'flux getattr size; flux getattr broker.boot-method']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('4\nlibpmi\n');
  }, 150_000);

  it('srun --mpi=pmi2: through PMI_FD, or Slurm\'s libpmi2.so when asked for it', async () => {
    const r = await srun(['-N1', '-n4', '--mpi=pmi2', FLUX, 'start', 'sh', '-c', 'flux getattr size; flux getattr broker.boot-method']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('4\nsimple\n');
    const lib = await srun(['-N1', '-n4', '--mpi=pmi2', FLUX, 'start', 'sh', '-c', 'flux getattr size; flux getattr broker.boot-method'],
      { FLUX_PMI_CLIENT_METHODS: 'libpmi2' });
    expect(lib.code, lib.stderr).toBe(0);
    expect(lib.stdout).toBe('4\nlibpmi2\n');
  }, 150_000);

  it('runs jobs in an instance Slurm launched', async () => {
    const r = await srun(['-N1', '-n2', '--mpi=none', FLUX, 'start', 'flux', 'run', '-N', '2', '-n', '2', '-l', 'flux', 'getattr', 'rank'],
      { PATH: `${join(ROOT, 'bin')}:${process.env.PATH ?? ''}` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.length > 0).sort()).toEqual(['0: 0', '1: 1']);
  }, 150_000);

  it('says loudly when a launcher is there but no PMI works, and boots a singleton', async () => {
    const r = await srun(['-N1', '-n1', '--mpi=none', FLUX, 'start', 'flux', 'getattr', 'size'], { PMI_LIBRARY: '/nonexistent/libpmi.so' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1\n');
    expect(r.stderr).toMatch(/^flux-broker: WARNING: \S+ is set, so a launcher seems to be present, but no PMI worked .*\/nonexistent\/libpmi\.so/m);
  }, 150_000);
});
