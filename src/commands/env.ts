import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { errnoOf, strerror } from '../core/errors.js';
import { fluxEnvironment } from '../core/jobs/flux-env.js';
import { installRoot, program, parse } from './common.js';

/** `export NAME="value"` lines, sorted, quoted so that a shell's eval gives back the exact value. */
export function formatExports(vars: Record<string, string>): string {
  return Object.keys(vars).sort()
    .map((k) => `export ${k}="${vars[k]!.replace(/["\\$`]/g, (c) => `\\${c}`)}"\n`)
    .join('');
}

export async function run(args: string[]): Promise<number> {
  const p = program('env', 'Print the flux environment or run a command in it')
    .argument('[command...]', 'command to run in the flux environment')
    .passThroughOptions();
  const code = parse(p, args);
  if (code !== undefined) return code;
  const vars = fluxEnvironment(process.env, installRoot());
  const argv = p.args;
  if (argv.length === 0) {
    process.stdout.write(formatExports(vars));
    return 0;
  }
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env: { ...process.env, ...vars } });
  // stay alive until the child reports its status: a terminal's ^C already reaches the child through its
  // process group, and TERM/HUP sent to us alone are passed on
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', () => {});
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`flux-env: ${argv[0]}: ${strerror(errnoOf(err))}\n`);
      resolve(1);
    });
    child.on('exit', (status, signal) => {
      resolve(status ?? 128 + (signal ? (constants.signals as Record<string, number>)[signal] ?? 0 : 0));
    });
  });
}
