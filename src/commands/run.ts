// flux run: submit a job and attach to it: its output as it happens, and its exit code as flux run's.
import { encodeFluid } from '../core/jobs/fluid.js';
import { Flux } from '../api/handle.js';
import { submit } from '../api/jobs.js';
import { program, parse } from './common.js';
import { attach } from './job-attach.js';
import { type JobOpts, addJobOptions, flagsOf, jobspecOf, pythonJson, urgencyOf } from './submit-options.js';

export async function run(args: string[]): Promise<number> {
  const p = addJobOptions(program('run', 'run a job interactively'))
    .option('-v, --verbose', 'Increase verbosity on stderr (-v: job id, -vv: job events)', (_v, n: number) => n + 1, 0);
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<JobOpts & { verbose: number }>();
  const jobspec = jobspecOf(o, p.args);
  if (o.dryRun) {
    process.stdout.write(`${pythonJson(jobspec)}\n`);
    return 0;
  }
  const h = await Flux.open();
  try {
    const id = await submit(h, jobspec, { urgency: urgencyOf(o.urgency), flags: flagsOf(o.flags) });
    const idText = encodeFluid(id, 'f58');
    if (o.verbose > 0) process.stderr.write(`jobid: ${idText}\n`);
    return await attach(h, id, { label: o.labelIo === true, stdin: o.input === undefined, idText, showEvents: o.verbose > 1 });
  } finally {
    h.close();
  }
}
