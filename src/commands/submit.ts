// flux submit: enqueue a job (or one copy per --cc id) and print its id in F58; with --wait or --watch, wait for
// them to end (--watch copying their output here), exiting with the highest of their exit codes.
import { FluxError, EINVAL } from '../core/errors.js';
import { parseIdset } from '../core/resource/idset.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { exitCodeOf } from '../core/jobs/wait-status.js';
import type { Jobspec } from '../core/jobs/jobspec.js';
import { Flux } from '../api/handle.js';
import { result, submit } from '../api/jobs.js';
import type { Command } from 'commander';
import { program, parse } from './common.js';
import { watchJob } from './job-attach.js';
import { type JobOpts, addJobOptions, flagsOf, jobspecOf, pythonJson, urgencyOf } from './submit-options.js';

export interface SubmitOpts extends JobOpts {
  cc?: string;
  bcc?: string;
  wait?: boolean;
  watch?: boolean;
  quiet?: boolean;
  /** the command named in messages (flux submit's, unless another command submits) */
  prog?: string;
}

/** how one job ended, as `flux submit --wait` counts it: its tasks' exit code, or 1 if it failed without one */
async function waitEnd(h: Flux, id: number): Promise<number> {
  const r = await result(h, id);
  const code = r.waitstatus === undefined ? undefined : exitCodeOf(r.waitstatus);
  const fatal = r.exception_occurred && r.exception_severity === 0;
  return code === undefined || (fatal && code === 0) ? 1 : code;
}

/** one jobspec per cc id when nothing but FLUX_JOB_CC differs between them: built once, the environment copied */
function copies(base: Jobspec, ccs: Array<number | undefined>, ccEnv: boolean): Jobspec[] {
  if (!ccEnv) return ccs.map(() => base);
  const system = base.attributes.system;
  return ccs.map((cc) => ({
    ...base,
    attributes: { ...base.attributes, system: { ...system, environment: { ...system.environment, FLUX_JOB_CC: String(cc) } } },
  }));
}

/** what flux submit and flux bulksubmit add to the job options */
export function addSubmitOptions(p: Command): Command {
  return addJobOptions(p)
    .option('--cc <IDSET>', 'Replicate job for each ID in IDSET (FLUX_JOB_CC=ID will be set for each job submitted)')
    .option('--bcc <IDSET>', 'Like --cc, but FLUX_JOB_CC is not set')
    .option('--wait', 'Wait for all jobs to complete after submission')
    .option('--watch', 'Wait for all jobs to complete, copying their output here as flux watch does')
    .option('--quiet', 'Do not print jobid to stdout on submission');
}

/** the copies --cc or --bcc ask for (one, undefined, without them) */
export function ccsOf(o: SubmitOpts): Array<number | undefined> {
  if (o.cc !== undefined && o.bcc !== undefined) throw new FluxError(EINVAL, 'specify only one of --cc or --bcc');
  return o.cc ?? o.bcc ? parseIdset((o.cc ?? o.bcc)!) : [undefined];
}

export async function run(args: string[]): Promise<number> {
  const p = addSubmitOptions(program('submit', 'enqueue a job'));
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<SubmitOpts>();
  const ccs = ccsOf(o);
  const jobspecs = JSON.stringify([o, p.args]).includes('{cc}')
    ? ccs.map((cc) => jobspecOf(o, p.args, cc, o.cc !== undefined))
    : copies(jobspecOf(o, p.args), ccs, o.cc !== undefined);
  if (o.dryRun) {
    for (const js of jobspecs) process.stdout.write(`${pythonJson(js)}\n`);
    return 0;
  }
  const h = await Flux.open();
  try {
    return await submitAll(h, jobspecs, (i) => (ccs[i] === undefined ? '' : `cc=${ccs[i]}: `), o);
  } finally {
    h.close();
  }
}

/**
 * Submit the jobs at once, print each id in order (unless quiet) and each refusal on stderr; with --wait or --watch
 * wait for them to end. The exit code: 1 if one was refused, else 0, or with a wait the highest of theirs.
 */
export async function submitAll(h: Flux, jobspecs: Jobspec[], label: (i: number) => string, o: SubmitOpts): Promise<number> {
  const urgency = urgencyOf(o.urgency);
  const flags = flagsOf(o.flags);
  const submitted = jobspecs.map((js) => submit(h, js, { urgency, flags }));
  const ids: number[] = [];
  let failed = false;
  for (const [i, s] of submitted.entries()) {
    try {
      const id = await s;
      ids.push(id);
      if (!o.quiet) process.stdout.write(`${encodeFluid(id, 'f58')}\n`);
    } catch (err) {
      failed = true;
      process.stderr.write(`flux-${o.prog ?? 'submit'}: ${label(i)}${(err as Error).message}\n`);
    }
  }
  if (!o.wait && !o.watch) return failed ? 1 : 0;
  const codes = await Promise.all(ids.map((id) => (o.watch
    ? watchJob(h, id)
    : waitEnd(h, id))));
  return Math.max(failed ? 1 : 0, ...codes);
}
