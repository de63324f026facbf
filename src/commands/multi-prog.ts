// flux multi-prog [-n RANKS] CONFIG: the command of a job's tasks when each is to run its own program (MPMD), as in
// `flux run -n4 flux multi-prog app.conf`: it runs this task's line of CONFIG (src/core/jobs/multi-prog.ts), the
// task's rank being FLUX_TASK_RANK. It stays that command's parent (Node cannot exec), passes on the signals the
// task is sent, and exits as the command did. --dry-run prints the commands of RANKS instead.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { FluxError, EINVAL, ENOENT, errnoOf, reasonOf } from '../core/errors.js';
import { commandFor, parseMultiProg, type ProgLine } from '../core/jobs/multi-prog.js';
import { parseIdset } from '../core/resource/idset.js';
import { program, parse } from './common.js';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGALRM', 'SIGUSR1', 'SIGUSR2', 'SIGCONT'];

function configOf(path: string): ProgLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FluxError(errnoOf(err), `${path}: ${reasonOf(err)}`);
  }
  try {
    return parseMultiProg(text);
  } catch (err) {
    if (!(err instanceof FluxError)) throw err;
    throw new FluxError(err.errno, `${path}: ${err.message}`);
  }
}

export async function run(args: string[]): Promise<number> {
  const p = program('multi-prog', 'Run a different command for each task of a job (MPMD)')
    .option('-n, --dry-run <RANKS>', 'Print the commands of these task ranks instead of running one')
    .argument('<config>', 'the configuration: lines of a task idset (or *) and the command');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{ dryRun?: string }>();
  const path = p.args[0]!;
  const lines = configOf(path);
  if (o.dryRun !== undefined) {
    for (const rank of parseIdset(o.dryRun)) {
      const cmd = commandFor(lines, rank);
      process.stdout.write(`${rank}: ${cmd === undefined ? '(no command)' : cmd.join(' ')}\n`);
    }
    return 0;
  }
  const rankText = process.env.FLUX_TASK_RANK;
  if (rankText === undefined || !/^\d+$/.test(rankText)) {
    throw new FluxError(EINVAL, 'FLUX_TASK_RANK is not set: run it as the command of a job, or give --dry-run');
  }
  const cmd = commandFor(lines, Number(rankText));
  if (cmd === undefined) throw new FluxError(ENOENT, `${path}: no command for task rank ${rankText}`);
  const child = spawn(cmd[0]!, cmd.slice(1), { stdio: 'inherit' });
  const handlers = FORWARDED.map((sig) => [sig, () => child.kill(sig)] as const);
  for (const [sig, fn] of handlers) process.on(sig, fn);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on('error', (err) => reject(new FluxError(errnoOf(err), `${cmd[0]}: ${reasonOf(err)}`)));
      child.on('exit', (status, signal) => resolve(status ?? 128 + (signal === null ? 0 : osConstants.signals[signal])));
    });
  } finally {
    for (const [sig, fn] of handlers) process.off(sig, fn);
  }
}
