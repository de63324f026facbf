// flux bulksubmit [OPTIONS] COMMAND... [::: INPUTS... | :::+ INPUTS... | :::: FILE... | ::::+ FILE...]...: one job
// per combination of the inputs (stdin's lines when no list is given), every option and argument formatted with
// it as Python's str.format would (src/core/format/bulk-inputs.ts); --cc copies each in a second pass. --dry-run
// prints what would be submitted, a line a combination.
import { readFileSync } from 'node:fs';
import { FluxError, EINVAL, errnoOf, reasonOf } from '../core/errors.js';
import { type InputList, combinations, formatInputs } from '../core/format/bulk-inputs.js';
import type { Jobspec } from '../core/jobs/jobspec.js';
import { Flux } from '../api/handle.js';
import { program, parse } from './common.js';
import { type SubmitOpts, addSubmitOptions, ccsOf, submitAll } from './submit.js';
import { jobspecOf } from './submit-options.js';

const MARKERS = new Set([':::', ':::+', '::::', '::::+']);
/** bulksubmit's own switches, left out of what --dry-run shows */
const OWN = new Set(['--dry-run', '--quiet', '--wait', '--watch']);

function lines(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new FluxError(errnoOf(err), `${path}: ${reasonOf(err)}`);
  }
  return text.split('\n').filter((l) => l.length > 0);
}

/** the command, and the input lists that follow it */
function split(args: string[]): { command: string[]; lists: InputList[] } {
  const first = args.findIndex((a) => MARKERS.has(a));
  const command = first < 0 ? args : args.slice(0, first);
  const lists: InputList[] = [];
  if (first < 0) return { command, lists: [{ items: lines('-'), linked: false }] };
  let marker = '';
  for (const a of args.slice(first)) {
    if (MARKERS.has(a)) {
      marker = a;
      if (a === ':::' || a === ':::+') lists.push({ items: [], linked: a === ':::+' });
    } else if (marker.startsWith('::::')) {
      lists.push({ items: lines(a), linked: marker.endsWith('+') });
    } else {
      lists.at(-1)!.items.push(a);
    }
  }
  return { command, lists };
}

/** every string of the options formatted with one combination */
function formatOpts(o: SubmitOpts, f: (s: string) => string): SubmitOpts {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = typeof v === 'string' ? f(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? f(x) : x)) : v;
  return out as unknown as SubmitOpts;
}

export async function run(args: string[]): Promise<number> {
  const p = addSubmitOptions(program('bulksubmit', 'submit a job for each combination of inputs'));
  const code = parse(p, args);
  if (code !== undefined) return code;
  const raw = p.opts<SubmitOpts>();
  const { command, lists } = split(p.args);
  if (command.length === 0) throw new FluxError(EINVAL, 'a command is required');
  const combos = combinations(lists);
  const shown = args.slice(0, args.length - (p.args.length - command.length)).filter((a) => !OWN.has(a));
  if (raw.dryRun) {
    combos.forEach((c, seq) => process.stdout.write(`bulksubmit: submit ${shown.map((a) => formatInputs(a, c, seq, false)).join(' ')}\n`));
    return 0;
  }
  const jobspecs: Jobspec[] = [];
  const labels: string[] = [];
  combos.forEach((c, seq) => {
    const o = formatOpts(raw, (s) => formatInputs(s, c, seq, raw.cc !== undefined || raw.bcc !== undefined));
    for (const cc of ccsOf(o)) {
      jobspecs.push(jobspecOf(o, command.map((a) => formatInputs(a, c, seq, cc !== undefined)), cc, o.cc !== undefined));
      labels.push(`${c.join(' ')}${cc === undefined ? '' : ` cc=${cc}`}: `);
    }
  });
  const h = await Flux.open();
  try {
    return await submitAll(h, jobspecs, (i) => labels[i]!, { ...raw, prog: 'bulksubmit' });
  } finally {
    h.close();
  }
}
