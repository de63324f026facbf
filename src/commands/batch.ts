// flux batch: submit a script to run as the initial program of a new Flux instance, one broker on each node of
// the job's allocation; its output goes to flux-{{id}}.out unless --output names another file. The script is
// run from where it lies when the job starts (flux-core copies it into the jobspec; that is not done here).
import { accessSync, constants, readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { FluxError, EINVAL, errnoOf, reasonOf } from '../core/errors.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { program, parse } from './common.js';
import { type JobOpts, addInstanceOptions, instanceJobspec, submitOne } from './submit-options.js';

/** the script as the job will run it: an absolute path to an executable file that starts with #! */
function scriptPath(text: string): string {
  const path = resolve(text);
  let head: Buffer;
  try {
    head = readFileSync(path).subarray(0, 2);
    accessSync(path, constants.X_OK);
  } catch (err) {
    throw new FluxError(errnoOf(err), `${text}: ${reasonOf(err)}`);
  }
  if (head.toString('latin1') !== '#!') throw new FluxError(EINVAL, `${text}: not a script: it does not start with #!`);
  return path;
}

export async function run(args: string[]): Promise<number> {
  const p = addInstanceOptions(program('batch', 'submit a batch script to run in a new Flux instance'));
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<JobOpts & { brokerOpts: string[] }>();
  if (p.args.length === 0) throw new FluxError(EINVAL, 'a batch script is required');
  const [script, ...scriptArgs] = p.args as [string, ...string[]];
  const path = scriptPath(script);
  const jobspec = instanceJobspec({ ...o, jobName: o.jobName ?? basename(path), output: o.output ?? 'flux-{{id}}.out' }, [path, ...scriptArgs]);
  return submitOne(o, jobspec, async (_h, id) => {
    process.stdout.write(`${encodeFluid(id, 'f58')}\n`);
    return 0;
  });
}
