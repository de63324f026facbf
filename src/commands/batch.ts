// flux batch: submit a script to run as the initial program of a new Flux instance, one broker on each node of
// the job's allocation; its output goes to flux-{{id}}.out unless --output names another file. The script is
// run from where it lies when the job starts (flux-core copies it into the jobspec; that is not done here).
import { accessSync, constants, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { FluxError, EINVAL } from '../core/errors.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { Flux } from '../api/handle.js';
import { submit } from '../api/jobs.js';
import { program, parse } from './common.js';
import { type JobOpts, addJobOptions, flagsOf, instanceJobspec, pythonJson, urgencyOf } from './submit-options.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** the script as the job will run it: an absolute path to an executable file that starts with #! */
function scriptPath(text: string): string {
  const path = resolve(text);
  let head: Buffer;
  try {
    head = readFileSync(path).subarray(0, 2);
    accessSync(path, constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : (err as Error).message;
    throw new FluxError(EINVAL, `${text}: ${why}`);
  }
  if (head.toString('latin1') !== '#!') throw new FluxError(EINVAL, `${text}: not a script: it does not start with #!`);
  return path;
}

export async function run(args: string[]): Promise<number> {
  const p = addJobOptions(program('batch', 'submit a batch script to run in a new Flux instance'))
    .option('-B, --broker-opts <OPT>', 'Pass an option to the instance\'s brokers (flux start\'s -o)', collect, []);
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<JobOpts & { brokerOpts: string[] }>();
  if (p.args.length === 0) throw new FluxError(EINVAL, 'a batch script is required');
  const [script, ...scriptArgs] = p.args as [string, ...string[]];
  const path = scriptPath(script);
  const jobspec = instanceJobspec({ ...o, jobName: o.jobName ?? basename(path), output: o.output ?? 'flux-{{id}}.out' }, [path, ...scriptArgs],
    o.brokerOpts.flatMap((b) => ['-o', b]));
  if (o.dryRun) {
    process.stdout.write(`${pythonJson(jobspec)}\n`);
    return 0;
  }
  const h = await Flux.open();
  try {
    const id = await submit(h, jobspec, { urgency: urgencyOf(o.urgency), flags: flagsOf(o.flags) });
    process.stdout.write(`${encodeFluid(id, 'f58')}\n`);
    return 0;
  } finally {
    h.close();
  }
}
