// Builds lib/libpmi.so, the PMI-1 library programs launched by flux may dlopen, with this machine's C compiler
// ($CC, else cc). Run at install time and by `npm run build`. A machine without a C compiler still gets a working
// flux, only without that library: say so in one line and succeed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'pmi', 'libpmi.c');
const target = join(root, 'lib', 'libpmi.so');
// built beside the target and renamed over it, so a program dlopening the library never sees half a file
const partial = `${target}.${process.pid}.tmp`;
// $CC may carry a wrapper or flags ("ccache gcc", "gcc -m64"), as make allows
const cc = (process.env.CC ?? '').trim() || 'cc';
const [ccCommand = 'cc', ...ccArgs] = cc.split(/\s+/);
const flags = ['-std=c99', '-Wall', '-Wextra', '-O2', '-fPIC', '-shared'];

mkdirSync(dirname(target), { recursive: true });
const run = spawnSync(ccCommand, [...ccArgs, ...flags, '-o', partial, source], { stdio: 'inherit' });
if (run.error !== undefined) {
  rmSync(partial, { force: true });
  if (run.error.code !== 'ENOENT') throw run.error;
  console.warn(`flux-ts: warning: no C compiler (${cc}): lib/libpmi.so not built, flux offers its jobs no libpmi.so`);
  process.exit(0);
}
if (run.status !== 0) {
  rmSync(partial, { force: true });
  console.error(`flux-ts: ${cc} failed to build lib/libpmi.so`);
  process.exit(run.status ?? 1);
}
renameSync(partial, target);
