// flux batch: submit a script to run as the initial program of a new Flux instance, one broker on each node of
// the job's allocation; its output goes to flux-{{id}}.out unless --output names another file. The script is
// copied into the jobspec at submission (RFC 37's file archive; the job shell writes it into the job's temporary
// directory), read from standard input when no file is named, or made of the arguments with --wrap. Its RFC 36
// directives (`# flux: -N2`) are options given before the command line's, which override them.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { FluxError, EINVAL, errnoOf, reasonOf } from '../core/errors.js';
import { parseDirectives } from '../core/jobs/directives.js';
import { fileEntry } from '../core/jobs/file-archive.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { program, parse } from './common.js';
import { type JobOpts, addInstanceOptions, instanceJobspec, submitOne } from './submit-options.js';

type BatchOpts = JobOpts & { brokerOpts: string[]; wrap?: boolean };

const batchProgram = () =>
  addInstanceOptions(program('batch', 'submit a batch script to run in a new Flux instance'))
    .option('--wrap', 'Wrap arguments or stdin in a /bin/sh script');

/** the script's text, and the name flux-core gives it in errors */
function scriptOf(wrap: boolean, args: string[]): { name: string; text: string } {
  if (wrap && args.length > 0) return { name: args[0]!, text: `${args.join(' ')}\n` };
  const name = args[0] ?? 'stdin';
  let bytes: Buffer;
  try {
    bytes = readFileSync(args.length > 0 ? name : 0);
  } catch (err) {
    throw new FluxError(errnoOf(err), `${name}: ${reasonOf(err)}`);
  }
  try {
    return { name, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    throw new FluxError(EINVAL, `${name} does not appear to be a script, or failed to encode as utf-8`);
  }
}

export async function run(args: string[]): Promise<number> {
  const first = batchProgram();
  const code = parse(first, args);
  if (code !== undefined) return code;
  const wrap = first.opts<BatchOpts>().wrap === true;
  const { name, text } = scriptOf(wrap, first.args);
  let directives;
  try {
    directives = parseDirectives(text);
  } catch (err) {
    throw new FluxError(errnoOf(err), `${name}: ${reasonOf(err)}`);
  }
  // each directive alone first, so that a mistake is told by its line
  for (const d of directives) {
    const one = batchProgram();
    const failed = parse(one, d.args) !== undefined;
    if (failed || one.args.length > 0) {
      if (!failed) process.stderr.write(`flux-batch: unexpected argument '${one.args[0]}' in a directive\n`);
      process.stderr.write(`flux-batch: argument parsing failed at ${name} line ${d.lineno}\n`);
      return 2;
    }
  }
  const p = batchProgram();
  const again = parse(p, [...directives.flatMap((d) => d.args), ...args]);
  if (again !== undefined) return again;
  const o = p.opts<BatchOpts>();
  const script = wrap ? `#!/bin/sh\n${text}` : text;
  const jobName = o.jobName ?? (p.args.length === 0 ? 'batch' : wrap ? name : basename(name));
  if (!script.startsWith('#!')) throw new FluxError(EINVAL, `${jobName} does not appear to start with '#!'`);
  const scriptArgs = wrap ? [] : p.args.slice(1);
  const jobspec = instanceJobspec({ ...o, jobName, output: o.output ?? 'flux-{{id}}.out' }, ['{{tmpdir}}/script', ...scriptArgs]);
  jobspec.attributes.system.files = { script: fileEntry(script, 0o700) };
  return submitOne(o, jobspec, async (_h, id) => {
    process.stdout.write(`${encodeFluid(id, 'f58')}\n`);
    return 0;
  });
}
