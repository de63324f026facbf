// A broker gives back to the system what it freed: in a real process, 170 MiB of buffers freed under one still in
// use stay in RSS (glibc returns only the top of an arena). With the trim, the growth is seen while they are in use
// (nothing to give back then), and once they are freed the periodic trim against the lowest RSS gives them back.
import { describe, it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TRIM = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'broker', 'heap-trim.js')).href;

const program = (trim: boolean) => `
import { startHeapTrim } from ${JSON.stringify(TRIM)};
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const errors = [];
const stats = { trims: 0, returned: 0 };
const onTrim = (returned) => {
  stats.trims++;
  stats.returned += returned;
};
const t = ${trim} ? startHeapTrim({ checkMs: 50, growth: 16 << 20, periodMs: 600, onError: (e) => errors.push(e.message), onTrim }) : undefined;
let held = Array.from({ length: 3000 }, () => Buffer.allocUnsafeSlow(60_000).fill(1));
const pin = Buffer.allocUnsafeSlow(60_000).fill(2);
const filled = process.memoryUsage.rss();
// the growth is seen while the buffers are in use: that trim can give nothing back
await sleep(300);
const whileHeld = { ...stats };
held = undefined;
gc();
gc();
await sleep(1500);
console.log(JSON.stringify({ filled, whileHeld, after: process.memoryUsage.rss(), stats, errors, pin: pin.length }));
t?.stop();
`;

interface Run {
  filled: number;
  whileHeld: { trims: number; returned: number };
  after: number;
  stats: { trims: number; returned: number };
  errors: string[];
}

function run(trim: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    // glibc's own thresholds, whatever the environment of the tests says
    const env = { ...process.env };
    delete env.MALLOC_MMAP_THRESHOLD_;
    delete env.MALLOC_TRIM_THRESHOLD_;
    execFile(process.execPath, ['--input-type=module', '-e', program(trim)], { env, timeout: 30_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout) as Run);
    });
  });
}

describe('giving freed memory back', () => {
  it('leaves freed buffers in RSS without the trim; with it, gives them back once they are freed', async () => {
    const MiB = 1 << 20;
    const kept = await run(false);
    expect(kept.filled).toBeGreaterThan(150 * MiB);
    expect(kept.after).toBeGreaterThan(kept.filled - 30 * MiB);
    const trimmed = await run(true);
    expect(trimmed.errors).toEqual([]);
    // the growth was seen, and trimmed, while nothing of it was free
    expect(trimmed.whileHeld.trims).toBeGreaterThanOrEqual(1);
    expect(trimmed.whileHeld.returned).toBeLessThan(30 * MiB);
    // then, the buffers freed and RSS no higher, the periodic trim against the lowest RSS gave them back
    expect(trimmed.stats.trims).toBeGreaterThan(trimmed.whileHeld.trims);
    expect(trimmed.after).toBeLessThan(trimmed.filled - 120 * MiB);
    expect(trimmed.stats.returned - trimmed.whileHeld.returned).toBeGreaterThan(120 * MiB);
  });
});
