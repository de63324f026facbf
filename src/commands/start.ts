// `flux start`: bootstrap an instance. With --size N (or flux-core's --test-size=N) it is the PMI-1 server for
// N brokers it spawns on this node; under a real process manager (PMI_FD set) it runs one broker of that job.
import { FluxError, EINVAL } from '../core/errors.js';
import { parseFSD } from '../core/time/fsd.js';
import { runLocal, runUnderLauncher } from '../api/instance.js';
import { launcherHint } from '../transport/pmi-select.js';
import { resolve } from 'node:path';
import { ATTR_REPLAY_STATEDIR, ATTR_REPLAY_TO } from '../core/journal/read-only.js';
import { commandLineAttrError } from '../core/config/broker-attrs.js';
import { program, parse, renamed } from './common.js';
import { pastOf } from './replay-at.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** the last entry of a stopped instance's journal made by `time` (sqlite is loaded only for this) */
async function seqAtTime(statedir: string, time: number): Promise<number> {
  const { Replay } = await import('../api/replay.js');
  const r = Replay.open(statedir);
  try {
    return r.seqAtTime(time);
  } finally {
    r.close();
  }
}

export async function run(args: string[]): Promise<number> {
  const p = program('start', 'Bootstrap a local Flux instance')
    .enablePositionalOptions()
    .passThroughOptions()
    .option('-s, --size <N>', 'start N brokers on this node')
    .option('--test-size <N>', 'start N brokers on this node (flux-core spelling)')
    .option('-S, --setattr <NAME=VALUE>', 'set a broker attribute (repeatable)', collect, [])
    .option('-o, --broker-opts <OPTS>', 'comma-separated broker options (repeatable)', collect, [])
    .option('-c, --config-path <PATH>', 'the brokers\' configuration: a directory of TOML files, or one file')
    .option('--test-rundir <DIR>', 'use DIR as the instance rundir (kept afterwards)')
    .option('--test-exit-timeout <FSD>', 'after the first broker exits, wait this long for the others', '20s')
    .option('--test-exit-mode <MODE>', 'leader: rank 0 exiting ends the instance; any: any broker exiting does', 'leader')
    .option('--replay <DIR>', 'serve the state a stopped instance\'s statedir (or content.sqlite) holds, read-only')
    .option('--at-seq <SEQ>', 'with --replay: the state as it was right after this journal entry (default: the last)')
    .option('--at-time <TIME>', 'with --replay: the state as it was at TIME (ISO-8601, or seconds since the epoch)')
    .option('-v, --verbose', 'trace the bootstrap (twice: PMI lines too)', (_v, n: number) => n + 1, 0)
    .argument('[command...]', 'initial program (default: an interactive shell)');
  renamed(p, '--to <SEQ>', '--at-seq');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{
    size?: string; testSize?: string; setattr: string[]; brokerOpts: string[]; configPath?: string; testRundir?: string;
    testExitTimeout: string; testExitMode: string; verbose: number; replay?: string; atSeq?: string; atTime?: string;
  }>();
  const command = p.args;
  const brokerArgs = [
    ...o.brokerOpts.flatMap((s) => s.split(',')).filter((s) => s.length > 0),
    ...o.setattr.map((kv) => `-S${kv}`),
    ...(o.configPath !== undefined ? [`--config-path=${o.configPath}`] : []),
  ];
  // every broker would refuse a bad attribute the same way: say it once, before any is started
  for (const kv of o.setattr) {
    if (!/^[^=]+=/.test(kv)) throw new FluxError(EINVAL, `--setattr ${kv}: expected NAME=VALUE`);
    const eq = kv.indexOf('=');
    const why = commandLineAttrError(kv.slice(0, eq), kv.slice(eq + 1));
    if (why !== undefined) throw new FluxError(EINVAL, `${kv.slice(0, eq)}: ${why}`);
  }
  const past = pastOf(o);
  if (past !== undefined && o.replay === undefined) throw new FluxError(EINVAL, `${'seq' in past ? '--at-seq' : '--at-time'} needs --replay`);
  if (o.replay !== undefined) {
    if (o.setattr.some((kv) => kv.startsWith('statedir='))) throw new FluxError(EINVAL, '--replay and statedir exclude each other');
    brokerArgs.push(`-S${ATTR_REPLAY_STATEDIR}=${resolve(o.replay)}`);
    if (past !== undefined) brokerArgs.push(`-S${ATTR_REPLAY_TO}=${'seq' in past ? past.seq : await seqAtTime(o.replay, past.time)}`);
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
  if (!/^\d+$/.test(sizeText ?? '1') || !Number.isSafeInteger(size) || size < 1) {
    throw new FluxError(EINVAL, `--size must be a positive integer, not ${sizeText}`);
  }
  return runLocal({
    size, brokerArgs, command, rundir: o.testRundir, exitTimeoutMs, exitOnAny: o.testExitMode === 'any', verbose: o.verbose,
  });
}

