// flux alloc: a new Flux instance on the resources the job is given, one broker on each node, running COMMAND
// as its initial program, attached: its output as it happens and its exit code as flux alloc's. A command is
// required: the job shell gives tasks no terminal, which an interactive shell would need.
import { FluxError, EINVAL } from '../core/errors.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { program, parse } from './common.js';
import { attach } from './job-attach.js';
import { type JobOpts, addInstanceOptions, instanceJobspec, submitOne } from './submit-options.js';

export async function run(args: string[]): Promise<number> {
  const p = addInstanceOptions(program('alloc', 'run a command in a new Flux instance of the resources allocated'));
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<JobOpts & { brokerOpts: string[] }>();
  if (p.args.length === 0) throw new FluxError(EINVAL, 'a command is required: the job shell gives an interactive shell no terminal');
  return submitOne(o, instanceJobspec(o, p.args), (h, id) =>
    attach(h, id, { label: false, stdin: o.input === undefined, idText: encodeFluid(id, 'f58'), showEvents: false }));
}
