// `flux start`: bootstrap an instance. With --size N (or flux-core's --test-size=N) it is the PMI-1 server for
// N brokers it spawns on this node; under a real process manager (PMI_FD set) it runs one broker of that job.
import { FluxError, EINVAL } from '../core/errors.js';
import { parseFSD } from '../core/fsd.js';
import { runLocal, runUnderLauncher } from '../api/instance.js';
import { launcherHint } from '../transport/pmi-select.js';
import { resolve } from 'node:path';
import { ATTR_REPLAY_STATEDIR, ATTR_REPLAY_TO } from '../core/read-only.js';
import { parseSeq } from './event.js';
import { program, parse } from './common.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export async function run(args: string[]): Promise<number> {
  const p = program('start', 'Bootstrap a local Flux instance')
    .enablePositionalOptions()
    .passThroughOptions()
    .option('-s, --size <N>', 'start N brokers on this node')
    .option('--test-size <N>', 'start N brokers on this node (flux-core spelling)')
    .option('-S, --setattr <NAME=VALUE>', 'set a broker attribute (repeatable)', collect, [])
    .option('-o, --broker-opts <OPTS>', 'comma-separated broker options (repeatable)', collect, [])
    .option('--test-rundir <DIR>', 'use DIR as the instance rundir (kept afterwards)')
    .option('--test-exit-timeout <FSD>', 'after the first broker exits, wait this long for the others', '20s')
    .option('--test-exit-mode <MODE>', 'leader: rank 0 exiting ends the instance; any: any broker exiting does', 'leader')
    .option('--replay <DIR>', 'serve the state a stopped instance\'s statedir (or content.sqlite) holds, read-only')
    .option('--to <SEQ>', 'with --replay: the state as it was right after this journal entry (default: the last)')
    .option('-v, --verbose', 'trace the bootstrap (twice: PMI lines too)', (_v, n: number) => n + 1, 0)
    .argument('[command...]', 'initial program (default: an interactive shell)');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{
    size?: string; testSize?: string; setattr: string[]; brokerOpts: string[]; testRundir?: string;
    testExitTimeout: string; testExitMode: string; verbose: number; replay?: string; to?: string;
  }>();
  const command = p.args;
  const brokerArgs = [
    ...o.brokerOpts.flatMap((s) => s.split(',')).filter((s) => s.length > 0),
    ...o.setattr.map((kv) => `-S${kv}`),
  ];
  for (const kv of o.setattr) {
    if (!/^[^=]+=/.test(kv)) throw new FluxError(EINVAL, `--setattr ${kv}: expected NAME=VALUE`);
  }
  if (o.to !== undefined && o.replay === undefined) throw new FluxError(EINVAL, '--to needs --replay');
  if (o.replay !== undefined) {
    if (o.setattr.some((kv) => kv.startsWith('statedir='))) throw new FluxError(EINVAL, '--replay and statedir exclude each other');
    brokerArgs.push(`-S${ATTR_REPLAY_STATEDIR}=${resolve(o.replay)}`);
    if (o.to !== undefined) brokerArgs.push(`-S${ATTR_REPLAY_TO}=${parseSeq(o.to, '--to')}`);
  }
  if (o.testExitMode !== 'leader' && o.testExitMode !== 'any') {
    throw new FluxError(EINVAL, `--test-exit-mode must be leader or any, not ${o.testExitMode}`);
  }
  const exitTimeoutMs = parseFSD(o.testExitTimeout) * 1000;
  const sizeText = o.size ?? o.testSize;

  // under a process manager (PMI_FD, or Slurm's srun offering only its PMI library) this process is one rank
  if (sizeText === undefined && (process.env.PMI_FD !== undefined || launcherHint(process.env) !== undefined || process.env.PMI_LIBRARY !== undefined)) {
    return runUnderLauncher(brokerArgs, command);
  }
  const size = sizeText === undefined ? 1 : Number(sizeText);
  if (!Number.isInteger(size) || size < 1) throw new FluxError(EINVAL, `--size must be a positive integer, not ${sizeText}`);
  return runLocal({
    size, brokerArgs, command, rundir: o.testRundir, exitTimeoutMs, exitOnAny: o.testExitMode === 'any', verbose: o.verbose,
  });
}

