// `npm run verify` interrupted: the instance it started ends and its directories go, whatever the run was doing
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers/scratch-dir.js';

const MAIN = join(__dirname, '..', '..', 'dist', 'verify', 'main.js');
const scratch = scratchDir('flux-verify-interrupt-');

/** processes whose command line names `dir` */
const processesIn = (dir: string) => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(dir));

describe('verify interrupted', () => {
  // disk-full puts the statedir on a tmpfs of its own (root, as CI has)
  it.each([['SIGINT', 130, 'none'], ['SIGTERM', 143, 'none'], ['SIGINT', 130, 'disk-full']] as const)('by %s: no broker, rundir, statedir or mount left, exit %i (faults %s)', async (sig, code, faults) => {
    const tmp = join(scratch.path, `${sig}-${faults}`);
    mkdirSync(tmp);
    const proc = spawn(process.execPath, [MAIN, '--faults', faults, '--duration', '60s', '-v'], { env: { ...process.env, TMPDIR: tmp } });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('close', (c) => resolve(c)));
    // the workload under way: the instance is up and its clients have written
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no instance in 30 s: ${err}`)), 30_000);
      proc.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (/instance 1 up/.test(err)) {
          clearTimeout(timer);
          setTimeout(resolve, 1500);
        }
      });
    });
    expect(processesIn(tmp).length).toBeGreaterThan(0);
    expect(readdirSync(tmp).length).toBeGreaterThan(0);
    expect(readFileSync('/proc/mounts', 'utf8').includes(tmp)).toBe(faults === 'disk-full');
    proc.kill(sig);
    expect(await exited).toBe(code);
    expect(out).toContain(`verify: ${sig}: ending the instance`);
    expect(processesIn(tmp)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(tmp);
  }, 60_000);
});
