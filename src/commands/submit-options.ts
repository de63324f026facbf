// What `flux submit` and `flux run` share: flux-core's job options, and the jobspec they make.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Commander from 'commander';
import { FluxError, EINVAL } from '../core/errors.js';
import { parseFSD } from '../core/time/fsd.js';
import { parseTimeArg } from '../core/time/arg.js';
import { applyEnvRules } from '../core/jobs/env-rules.js';
import { parseDependencyUri } from '../core/jobs/dependency.js';
import { type Jobspec, type SubmitOptions, buildJobspec } from '../core/jobs/jobspec.js';
import { SUBMIT_WAITABLE, URGENCY_DEFAULT, URGENCY_EXPEDITE, URGENCY_HOLD } from '../core/jobs/state.js';
import { installRoot } from './common.js';
import { Flux } from '../api/handle.js';
import { submit } from '../api/jobs.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export interface JobOpts {
  ntasks?: string;
  coresPerTask?: string;
  gpusPerTask?: string;
  nodes?: string;
  exclusive?: boolean;
  cores?: string;
  tasksPerNode?: string;
  tasksPerCore?: string;
  gpusPerNode?: string;
  timeLimit?: string;
  jobName?: string;
  cwd?: string;
  urgency: string;
  env: string[];
  envRemove: string[];
  envFile: string[];
  input?: string;
  output?: string;
  error?: string;
  labelIo?: boolean;
  unbuffered?: boolean;
  setopt: string[];
  setattr: string[];
  dependency: string[];
  beginTime?: string;
  flags?: string;
  dryRun?: boolean;
}

export function addJobOptions(p: Commander.Command): Commander.Command {
  return p
    .enablePositionalOptions()
    .passThroughOptions()
    .option('-n, --ntasks <N>', 'Number of tasks to start')
    .option('-c, --cores-per-task <N>', 'Number of cores to allocate per task')
    .option('-g, --gpus-per-task <N>', 'Number of GPUs to allocate per task')
    .option('-N, --nodes <N>', 'Distribute allocated resource slots across N individual nodes')
    .option('-x, --exclusive', 'With -N, allocate nodes exclusively')
    .option('--cores <N>', 'Request a total number of cores')
    .option('--tasks-per-node <N>', 'Force number of tasks per node')
    .option('--tasks-per-core <N>', 'Force number of tasks per core')
    .option('--gpus-per-node <N>', 'Request a number of GPUs per node with --nodes')
    .option('-t, --time-limit <MIN|FSD>', 'Time limit in minutes when no units provided, otherwise in Flux standard duration')
    .option('--job-name <NAME>', 'Set an optional name for job to NAME')
    .option('--cwd <DIRECTORY>', 'Set job working directory')
    .option('--urgency <N>', 'Set job urgency (0-31), hold=0, default=16, expedite=31', 'default')
    .option('--env <RULE>', 'Control how environment variables are exported', collect, [])
    .option('--env-remove <PATTERN>', 'Remove environment variables matching PATTERN', collect, [])
    .option('--env-file <FILE>', 'Read a set of environment rules from FILE', collect, [])
    .option('--input <FILENAME>', 'Redirect job stdin from FILENAME')
    .option('--output <FILENAME>', 'Redirect job stdout to FILENAME')
    .option('--error <FILENAME>', 'Redirect job stderr to FILENAME')
    .option('-l, --label-io', 'Add rank labels to stdout, stderr lines')
    .option('-u, --unbuffered', 'Disable buffering of input and output')
    .option('-o, --setopt <OPT>', 'Set shell option OPT. An optional value is supported with OPT=VAL (default VAL=1)', collect, [])
    .option('-S, --setattr <ATTR>', 'Set job attribute ATTR. An optional value is supported with ATTR=VAL (default VAL=1)', collect, [])
    .option('--dependency <URI>', 'Set an RFC 26 dependency URI (after, afterany, afterok, afternotok:JOBID); may be repeated', collect, [])
    .option('--begin-time <TIME>', 'Do not start the job before TIME: +FSD from now, seconds since the epoch, or ISO-8601')
    .option('--flags <FLAGS>', 'Set comma separated list of job submission flags (debug, waitable, novalidate)')
    .option('--dry-run', "Don't actually submit job, just emit jobspec")
    .argument('[command...]', 'the job\'s command and its arguments');
}

function count(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n)) throw new FluxError(EINVAL, `${what}: invalid value '${text}'`);
  return n;
}

/** --begin-time: "+FSD" from now, or a point in time as --at-time takes one */
export function beginTime(text: string): number {
  if (text.startsWith('+')) return Date.now() / 1000 + parseFSD(text.slice(1));
  const t = parseTimeArg(text);
  if (t === undefined) throw new FluxError(EINVAL, `--begin-time: invalid time '${text}': expected +FSD, ISO-8601 or seconds since the epoch`);
  return t;
}

/** -t: minutes when it has no unit, a Flux standard duration when it has one */
export function timeLimit(text: string): number {
  if (/^\d+(\.\d*)?$|^\.\d+$/.test(text.trim())) return Number(text) * 60;
  return parseFSD(text);
}

export function urgencyOf(text: string): number {
  const words: Record<string, number> = { default: URGENCY_DEFAULT, hold: URGENCY_HOLD, expedite: URGENCY_EXPEDITE };
  const named = words[text.toLowerCase()];
  if (named !== undefined) return named;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 31) throw new FluxError(EINVAL, `--urgency: invalid value '${text}'`);
  return n;
}

export function flagsOf(text: string | undefined): number {
  const bits: Record<string, number> = { debug: 2, waitable: SUBMIT_WAITABLE, novalidate: 8 };
  let flags = 0;
  for (const f of (text ?? '').split(',').filter((s) => s.length > 0)) {
    const b = bits[f];
    if (b === undefined) throw new FluxError(EINVAL, `--flags: Unknown flag ${f}`);
    flags |= b;
  }
  return flags;
}

/** every `{cc}` in the text made the cc id, as Python's str.format would ({{ and }} stay literal braces) */
export function substituteCc(text: string, cc: number | undefined): string {
  if (cc === undefined) return text;
  return text.replace(/\{\{|\}\}|\{cc\}/g, (m) => (m === '{cc}' ? String(cc) : m));
}

/** the jobspec these options describe, for one copy of the job (cc: its --cc id) */
export function jobspecOf(o: JobOpts, command: string[], cc?: number, ccEnv = cc !== undefined): Jobspec {
  const sub = (t: string | undefined) => (t === undefined ? undefined : substituteCc(t, cc));
  const rules = [...o.envRemove.map((p) => `-${p}`), ...o.envFile.map((f) => `^${f}`), ...o.env].map((r) => substituteCc(r, cc));
  const environment = applyEnvRules(process.env as Record<string, string>, rules, (path) => readFileSync(path, 'utf8'));
  if (ccEnv && cc !== undefined) environment.FLUX_JOB_CC = String(cc);
  const s: SubmitOptions = {
    command: command.map((a) => substituteCc(a, cc)),
    ntasks: count(sub(o.ntasks), '--ntasks'),
    coresPerTask: count(sub(o.coresPerTask), '--cores-per-task'),
    gpusPerTask: count(sub(o.gpusPerTask), '--gpus-per-task'),
    nodes: count(sub(o.nodes), '--nodes'),
    exclusive: o.exclusive,
    cores: count(sub(o.cores), '--cores'),
    tasksPerNode: count(sub(o.tasksPerNode), '--tasks-per-node'),
    tasksPerCore: count(sub(o.tasksPerCore), '--tasks-per-core'),
    gpusPerNode: count(sub(o.gpusPerNode), '--gpus-per-node'),
    timeLimit: o.timeLimit === undefined ? undefined : timeLimit(sub(o.timeLimit)!),
    jobName: sub(o.jobName),
    cwd: o.cwd ?? process.cwd(),
    environment,
    input: sub(o.input),
    output: sub(o.output),
    error: sub(o.error),
    labelIo: o.labelIo,
    unbuffered: o.unbuffered,
    setopt: o.setopt.map((s2) => substituteCc(s2, cc)),
    setattr: o.setattr.map((s2) => substituteCc(s2, cc)),
    dependencies: [
      ...o.dependency.map((d) => parseDependencyUri(substituteCc(d, cc))),
      ...(o.beginTime === undefined ? [] : [{ scheme: 'begin-time', value: String(beginTime(o.beginTime)) }]),
    ],
  };
  for (const k of Object.keys(s) as Array<keyof SubmitOptions>) if (s[k] === undefined) delete s[k];
  return buildJobspec(s);
}

/** --dry-run prints the jobspec; otherwise the job is submitted and `then` is given its id (its result is the exit code) */
export async function submitOne(o: JobOpts, jobspec: Jobspec, then: (h: Flux, id: number) => Promise<number>): Promise<number> {
  if (o.dryRun) {
    process.stdout.write(`${pythonJson(jobspec)}\n`);
    return 0;
  }
  const h = await Flux.open();
  try {
    return await then(h, await submit(h, jobspec, { urgency: urgencyOf(o.urgency), flags: flagsOf(o.flags) }));
  } finally {
    h.close();
  }
}

/** what flux batch and flux alloc add to the job options: the new instance's broker options */
export function addInstanceOptions(p: Commander.Command): Commander.Command {
  return addJobOptions(p).option('-B, --broker-opts <OPT>', 'Pass an option to the instance\'s brokers (flux start\'s -o)', collect, []);
}

/**
 * flux batch and flux alloc: a job that is a Flux instance, one broker on each node it is given (-n slots of -c
 * cores, over -N nodes), bootstrapped by the job shell's PMI, running `initial` as its initial program.
 */
export function instanceJobspec(o: JobOpts & { brokerOpts: string[] }, initial: string[]): Jobspec {
  const js = jobspecOf(o, [join(installRoot(), 'bin', 'flux'), 'start', ...o.brokerOpts.flatMap((b) => ['-o', b]), ...initial]);
  const shell = (js.attributes.system.shell ??= {});
  shell.options = { ...shell.options, 'per-resource': { type: 'node', count: 1 } };
  return js;
}

/** JSON as Python's json.dumps writes it by default (", " and ": "), which is how flux-core prints a jobspec */
export function pythonJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pythonJson).join(', ')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pythonJson(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}
