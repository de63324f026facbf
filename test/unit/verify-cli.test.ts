// `npm run verify` given a bad command line: one line saying what is wrong and the usage, exit 2, no stack
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = join(__dirname, '..', '..', 'dist', 'verify', 'main.js');
const verify = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 10_000 });

describe('verify command line', () => {
  it.each([
    [['--bogus'], /^verify: Unknown option '--bogus'\nusage: npm run verify -- /],
    [['--seed', 'x'], /^verify: --seed: x: a whole number below 2\^31\n$/],
    [['--seed', '4294967296'], /^verify: --seed: 4294967296: a whole number below 2\^31\n$/],
    [['--settle', '1.5'], /^verify: --settle: 1.5: a whole number of minutes\n$/],
    [['--faults', 'nosuch'], /^verify: --faults: unknown fault nosuch \(known: /],
    [['--duration', 'soon'], /^verify: invalid duration "soon"\n$/],
  ])('%j is refused in a line, before any run', (args, said) => {
    const r = verify(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(said);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('--help prints the usage and exits 0', () => {
    const r = verify('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run verify -- \[--duration 10m\]/);
  });
});
