// Our PMI-1 client under a real process manager: MPICH's mpiexec.hydra (Debian package mpich).
// No skipping: CI installs mpich, so a missing mpiexec.hydra is a failure to report, not a reason to pass.
import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ENOENT } from '../../src/core/errors.js';
import { card } from '../fixtures/pmi-card.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const probe = path.join(root, 'test/fixtures/pmi-probe.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function hydra(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    // -launcher fork: every rank is local, so hydra must never try ssh
    const child = spawn('mpiexec.hydra', ['-launcher', 'fork', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: Run = { code: null, stdout: '', stderr: '' };
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.stdout.on('data', (d) => (run.stdout += d));
    child.stderr.on('data', (d) => (run.stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new Error('mpiexec.hydra is not installed (Debian: apt-get install mpich)') : err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      run.code = code;
      resolve(run);
    });
  });
}

describe('PMI client under mpiexec.hydra', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.join(root, 'dist/transport/pmi-client.js'))) {
      throw new Error('dist/transport/pmi-client.js is missing: run `npx tsc -p .` before these tests');
    }
  });

  it('4 ranks see every rank business card intact', async () => {
    const size = 4;
    const run = await hydra(['-n', String(size), process.execPath, probe, 'exchange']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const results = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { rank: number; kvsname: string; cards: string[]; mapping: string; missing: number })
      .sort((a, b) => a.rank - b.rank);
    expect(results.map((r) => r.rank)).toEqual([0, 1, 2, 3]);
    const expected = Array.from({ length: size }, (_, r) => card(r));
    for (const r of results) {
      expect(r).toMatchObject({ size, cards: expected, missing: ENOENT });
      expect(r.kvsname).toBe(results[0]!.kvsname);
      // hydra computes the mapping from its host slots, not from where ranks run: `-n 4` alone on one host
      // gives (vector,(0,1,1)); only its shape is ours to check
      expect(r.mapping).toMatch(/^\(vector,\(\d+,\d+,\d+\)\)$/);
    }
  });

  it('abort ends the job with the exit code asked for', async () => {
    const run = await hydra(['-n', '2', process.execPath, probe, 'abort']);
    expect(run.code, run.stdout + run.stderr).toBe(42);
  });
});
