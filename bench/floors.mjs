// What this machine allows, measured in the same run as the figures held against it: a figure below its floor
// says something about the machine, not about flux-ts.
import { execFileSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib.mjs';

/**
 * Seconds for `n` round trips between two bare Node processes over a UNIX socket; with `oneCpu` both run on CPU 0
 * (taskset), where a message wakes a process without waking another CPU, which on a virtual machine is most of
 * the cost of a round trip.
 */
export function echoFloor(n, { oneCpu = false } = {}) {
  const args = [join(ROOT, 'bench', 'echo-floor.mjs'), String(n)];
  const out = oneCpu ? execFileSync('taskset', ['-c', '0', process.execPath, ...args]) : execFileSync(process.execPath, args);
  return Number(out.toString().trim());
}

/** seconds for `n` round trips between two bare Node processes through zeromq.js over ipc://, as a tree link */
export function zmqEchoFloor(n) {
  return Number(execFileSync(process.execPath, [join(ROOT, 'bench', 'zmq-echo-floor.mjs'), String(n)]).toString().trim());
}

/** µs for one 4 KiB write and fdatasync in the temp dir, where the benches' instances keep their stores */
export function fsyncFloor(n = 500) {
  const dir = mkdtempSync(join(tmpdir(), 'flux-fsync-'));
  const fd = openSync(join(dir, 'f'), 'w');
  try {
    const block = Buffer.alloc(4096, 1);
    for (let i = 0; i < 20; i++) {
      writeSync(fd, block);
      fdatasyncSync(fd);
    }
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      writeSync(fd, block);
      fdatasyncSync(fd);
    }
    return Number(process.hrtime.bigint() - t0) / 1e3 / n;
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}
