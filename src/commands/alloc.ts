// flux alloc: a new Flux instance on the resources the job is given, one broker on each node, running COMMAND
// as its initial program, attached: its output as it happens and its exit code as flux alloc's. A command is
// required: the job shell gives tasks no terminal, which an interactive shell would need.
import { FluxError, EINVAL } from '../core/errors.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { Flux } from '../api/handle.js';
import { submit } from '../api/jobs.js';
import { program, parse } from './common.js';
import { attach } from './job-attach.js';
import { type JobOpts, addJobOptions, flagsOf, instanceJobspec, pythonJson, urgencyOf } from './submit-options.js';

const collect = (v: string, prev: string[]) => [...prev, v];

export async function run(args: string[]): Promise<number> {
  const p = addJobOptions(program('alloc', 'run a command in a new Flux instance of the resources allocated'))
    .option('-B, --broker-opts <OPT>', 'Pass an option to the instance\'s brokers (flux start\'s -o)', collect, []);
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<JobOpts & { brokerOpts: string[] }>();
  if (p.args.length === 0) throw new FluxError(EINVAL, 'a command is required: the job shell gives an interactive shell no terminal');
  const jobspec = instanceJobspec(o, p.args, o.brokerOpts.flatMap((b) => ['-o', b]));
  if (o.dryRun) {
    process.stdout.write(`${pythonJson(jobspec)}\n`);
    return 0;
  }
  const h = await Flux.open();
  try {
    const id = await submit(h, jobspec, { urgency: urgencyOf(o.urgency), flags: flagsOf(o.flags) });
    return await attach(h, id, { label: false, stdin: o.input === undefined, idText: encodeFluid(id, 'f58'), showEvents: false });
  } finally {
    h.close();
  }
}
