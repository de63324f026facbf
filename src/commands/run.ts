// flux run: submit a job and attach to it: its output as it happens, and its exit code as flux run's.
import { encodeFluid } from '../core/jobs/fluid.js';
import { program, parse } from './common.js';
import { attach } from './job-attach.js';
import { type JobOpts, addJobOptions, jobspecOf, submitOne } from './submit-options.js';

export async function run(args: string[]): Promise<number> {
  const p = addJobOptions(program('run', 'run a job interactively'))
    .option('-v, --verbose', 'Increase verbosity on stderr (-v: job id, -vv: job events)', (_v, n: number) => n + 1, 0);
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<JobOpts & { verbose: number }>();
  return submitOne(o, jobspecOf(o, p.args), (h, id) => {
    const idText = encodeFluid(id, 'f58');
    if (o.verbose > 0) process.stderr.write(`jobid: ${idText}\n`);
    return attach(h, id, { label: o.labelIo === true, stdin: o.input === undefined, idText, showEvents: o.verbose > 1 });
  });
}
