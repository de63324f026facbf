// flux jobs: list jobs as flux-core's flux-jobs does (its default columns, status codes, -o FORMAT, -f STATE,
// -a/-A/-u, --name, --queue, --since, -i, --json), now or as the job table was at a past journal position
// (--at-seq) or time (--at-time). What the plain fields of job-list.list cannot say goes as a constraint.
import { effectiveUserid } from '../core/access/roles.js';
import { Flux } from '../api/handle.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { parseJobId } from '../core/jobs/fluid.js';
import { OutputFormat } from '../core/format/output.js';
import { STATE_ACTIVE, STATE_INACTIVE, resultMask, resultName, stateMask, stateName } from '../core/jobs/state.js';
import { USERID_UNKNOWN } from '../core/wire/message.js';
import { type JobListing, info, listAt } from '../api/jobs.js';
import { pastOf } from './replay-at.js';
import { parseTimeArg } from '../core/time/arg.js';
import { parseFSD } from '../core/time/fsd.js';
import { ownerNames, readPasswd, userOf } from './ps.js';
import { program, parse } from './common.js';
import { DEFAULT_FORMAT, JOB_FIELDS, type JobRow, returncode, runtime, status } from './jobs-fields.js';
import { pythonJson } from './submit-options.js';

interface JobsOpts {
  a?: boolean;
  A?: boolean;
  header?: boolean;
  user?: string;
  filter?: string;
  count: string;
  format?: string;
  json?: boolean;
  atSeq?: string;
  atTime?: string;
  name?: string;
  queue?: string;
  since?: string;
  include?: string;
}

/** --since: a time as --at-time takes one, or "-FSD" before now */
export function sinceOf(text: string): number {
  if (text.startsWith('-')) return Date.now() / 1000 - parseFSD(text.slice(1));
  const t = parseTimeArg(text);
  if (t === undefined) throw new FluxError(EINVAL, `--since: invalid time '${text}': expected -FSD, ISO-8601 or seconds since the epoch`);
  return t;
}

/** --name, --queue, --include: the job-list constraint that asks for them, if any does */
function constraintOf(o: JobsOpts): Record<string, unknown> | undefined {
  const and: Array<Record<string, unknown>> = [];
  if (o.name !== undefined) and.push({ name: [o.name] });
  if (o.queue !== undefined) and.push({ queue: [o.queue] });
  if (o.include !== undefined) {
    // ranks when it is an idset, hosts otherwise, as flux-core's -i reads it
    and.push(/^[\d,\-\[\]]+$/.test(o.include) ? { ranks: [o.include] } : { hostlist: [o.include] });
  }
  return and.length > 0 ? { and } : undefined;
}

/** -f: states and results, comma separated, as masks */
export function filterOf(text: string): { states: number; results: number } {
  let states = 0;
  let results = 0;
  for (const word of text.split(',').map((w) => w.trim()).filter((w) => w.length > 0)) {
    const s = stateMask(word);
    const r = resultMask(word);
    if (s !== undefined) states |= s;
    else if (r !== undefined) results |= r;
    else throw new FluxError(EINVAL, `Invalid filter specified: ${word}`);
  }
  return { states, results };
}

/**
 * Which jobs a listing asks job-list for: the caller's, every user's with -A or `-u all`, USER's with -u; active
 * ones, every state with -a (and with -A when `allStatesForA`, as flux jobs has it), or what -f names.
 */
export function jobSelection(
  o: { a?: boolean; A?: boolean; user?: string; filter?: string }, allStatesForA: boolean, passwd?: string,
): { userid: number; states: number; results: number } {
  const userid = o.A || o.user === 'all' ? USERID_UNKNOWN : o.user !== undefined ? userOf(o.user, passwd ?? readPasswd()) : effectiveUserid(process.env);
  if (o.filter !== undefined) return { userid, ...filterOf(o.filter) };
  const all = o.a || (allStatesForA && o.A);
  return { userid, states: all ? STATE_ACTIVE | STATE_INACTIVE : STATE_ACTIVE, results: 0 };
}

/** a count option's value: an integer, 0 or more */
export function countOption(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new FluxError(EINVAL, `${what}: invalid value '${text}'`);
  return n;
}

/** a job as --json prints it: flux-core's keys, names for states and results, what is unset left out */
function jsonJob(j: JobListing, username: string, now: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['t_depend', 't_run', 't_cleanup', 't_inactive', 'duration', 'expiration', 'name', 'cwd', 'queue', 'dependencies', 'ntasks',
    'ncores', 'nnodes', 'priority', 'ranks', 'nodelist', 'success', 'waitstatus'] as const) {
    const v = j[k];
    if (v !== undefined && v !== '' && !(k.startsWith('t_') && v === 0)) out[k] = v;
  }
  if (j.result !== undefined) out.result = resultName(j.result);
  Object.assign(out, { id: j.id, t_submit: j.t_submit, state: stateName(j.state), username, userid: j.userid, urgency: j.urgency });
  const rt = runtime(j, now);
  if (rt > 0) out.runtime = rt;
  out.status = status(j);
  const rc = returncode(j);
  if (rc !== '') out.returncode = rc;
  out.exception = j.exception_occurred
    ? { occurred: true, severity: j.exception_severity, type: j.exception_type, note: j.exception_note }
    : { occurred: false };
  return out;
}

/** --json: {"jobs": [...]}, or the one job asked for by id */
export function jsonLine(jobs: JobListing[], username: (uid: number) => string, now: number, single: boolean): string {
  const objs = jobs.map((j) => jsonJob(j, username(j.userid), now));
  return `${pythonJson(single ? objs[0] : { jobs: objs })}\n`;
}

export async function run(args: string[]): Promise<number> {
  const p = program('jobs', 'List jobs')
    .option('-a', 'List all jobs of the current user, including inactive ones')
    .option('-A', 'List all jobs of all users, including inactive ones')
    .option('-u, --user <USER>', 'Limit output to jobs of USER (a name, an id, or "all")')
    .option('-f, --filter <STATE|RESULT>', 'List jobs in these states or with these results (comma separated)')
    .option('-n, --no-header', 'Suppress printing of the header line')
    .option('-c, --count <N>', 'Limit output to N jobs', '1000')
    .option('-o, --format <FORMAT>', 'Specify output format using Python\'s string format syntax')
    .option('--json', 'Emit the jobs as JSON')
    .option('--name <NAME>', 'Limit output to jobs named NAME')
    .option('-q, --queue <QUEUE>', 'Limit output to jobs in QUEUE')
    .option('--since <WHEN>', 'Include inactive jobs that ended after WHEN (-FSD before now, ISO-8601 or seconds since the epoch); implies -a')
    .option('-i, --include <HOSTS|RANKS>', 'Limit output to jobs that were allocated these hosts or ranks')
    .option('--at-seq <SEQ>', 'The job table as it was after this journal entry')
    .option('--at-time <TIME>', 'The job table as it was at TIME (ISO-8601, or seconds since the epoch)')
    .argument('[ids...]', 'list only these jobs');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<JobsOpts>();
  const passwd = readPasswd();
  const username = ownerNames(passwd);
  const since = o.since === undefined ? undefined : sinceOf(o.since);
  const { userid, states, results } = jobSelection(since === undefined ? o : { ...o, a: true }, true, passwd);
  const constraint = constraintOf(o);
  const count = countOption(o.count, '--count');
  const format = new OutputFormat<JobRow>(o.format ?? DEFAULT_FORMAT, JOB_FIELDS);
  const past = pastOf(o);
  const seq = past !== undefined && 'seq' in past ? past.seq : undefined;
  const time = past !== undefined && 'time' in past ? past.time : undefined;

  const h = await Flux.open();
  let jobs: JobListing[];
  let now = Date.now() / 1000;
  try {
    if (p.args.length > 0) {
      jobs = [];
      for (const text of p.args) {
        try {
          jobs.push(await info(h, parseJobId(text)));
        } catch {
          process.stderr.write(`JobID ${text} unknown\n`);
        }
      }
    } else {
      const r = await listAt(h, { userid, states, results, max: count, seq, time, since, constraint });
      jobs = r.jobs;
      now = r.time ?? now;
    }
  } finally {
    h.close();
  }
  if (o.json) {
    process.stdout.write(jsonLine(jobs, username, now, p.args.length === 1 && jobs.length === 1));
    return 0;
  }
  const rows = jobs.map((job) => ({ job, username, now }));
  const lines = format.render(rows, { noHeader: o.header === false });
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
