// Under Slurm: a single-node Slurm (test/slurm/single-node.sh) launches the brokers with srun. With --mpi=none
// Slurm offers no PMI_FD, only its libpmi.so, which the broker dlopens; with --mpi=pmi2 it offers PMI_FD (its
// pmi2 plugin answers PMI-1 too) and its libpmi2.so. Needs root and Debian's munge, slurmctld, slurmd and
// slurm-client, libpmi0 and libpmi2-0: CI installs them.
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** the jobs Slurm knows, its node, and the processes of its job steps */
function stateOf(conf: string): string {
  const env = { ...process.env, SLURM_CONF: conf };
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 5_000 });
    return `$ ${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`;
  };
  return [
    run('squeue', ['-a', '-o', '%i %T %r %M %N']),
    run('scontrol', ['show', 'node']),
    run('ps', ['-eo', 'pid,ppid,stat,etime,wchan:20,args']).split('\n').filter((l) => /PID|flux|slurm|srun|sh -c/.test(l)).join('\n'),
  ].join('');
}

async function srun(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  const conf = await slurm();
  return new Promise((resolve, reject) => {
    const child = spawn('srun', args, { env: { ...process.env, SLURM_CONF: conf, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      // a hung run is told by what Slurm and the tasks were doing when it was killed, not by an empty stderr
      stderr += `\n[killed after 60 s]\n${stateOf(conf)}`;
      child.kill('SIGKILL');
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('an instance launched by Slurm', () => {
  it('srun --mpi=none: the brokers bootstrap through Slurm\'s libpmi.so', async () => {
    const r = await srun(['-N1', '-n4', '--mpi=none', FLUX, 'start', 'sh', '-c', 'flux getattr size; flux getattr broker.boot-method']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('4\nlibpmi\n');
  }, 90_000);

  it('srun --mpi=pmi2: through PMI_FD, or Slurm\'s libpmi2.so when asked for it', async () => {
    const r = await srun(['-N1', '-n4', '--mpi=pmi2', FLUX, 'start', 'sh', '-c', 'flux getattr size; flux getattr broker.boot-method']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('4\nsimple\n');
    const lib = await srun(['-N1', '-n4', '--mpi=pmi2', FLUX, 'start', 'sh', '-c', 'flux getattr size; flux getattr broker.boot-method'],
      { FLUX_PMI_CLIENT_METHODS: 'libpmi2' });
    expect(lib.code, lib.stderr).toBe(0);
    expect(lib.stdout).toBe('4\nlibpmi2\n');
  }, 90_000);

  it('runs jobs in an instance Slurm launched', async () => {
    const r = await srun(['-N1', '-n2', '--mpi=none', FLUX, 'start', 'flux', 'run', '-N', '2', '-n', '2', '-l', 'flux', 'getattr', 'rank'],
      { PATH: `${join(ROOT, 'bin')}:${process.env.PATH ?? ''}` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.length > 0).sort()).toEqual(['0: 0', '1: 1']);
  }, 90_000);

  it('says loudly when a launcher is there but no PMI works, and boots a singleton', async () => {
    const r = await srun(['-N1', '-n1', '--mpi=none', FLUX, 'start', 'flux', 'getattr', 'size'], { PMI_LIBRARY: '/nonexistent/libpmi.so' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('1\n');
    expect(r.stderr).toMatch(/^flux-broker: WARNING: \S+ is set, so a launcher seems to be present, but no PMI worked .*\/nonexistent\/libpmi\.so/m);
  }, 90_000);
});
