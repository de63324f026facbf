// flux watch [-a|-A|-f STATES|--since WHEN] [-c N] [IDS]: follow jobs of the caller's, running or already ended, as
// flux job attach follows one (their output copied here as it was or is written, their exceptions on stderr) until
// all are done; exits with the highest of their exit codes, 0 when none matched, 2 on a mistake in the options.
import { Flux } from '../api/handle.js';
import { list } from '../api/jobs.js';
import { effectiveUserid } from '../core/access/roles.js';
import { parseJobId } from '../core/jobs/fluid.js';
import { STATE_ACTIVE, STATE_INACTIVE } from '../core/jobs/state.js';
import { program, parseExit2 } from './common.js';
import { watchJob } from './job-attach.js';
import { countOption, filterOf, sinceOf } from './jobs.js';

interface WatchOpts {
  active?: boolean;
  all?: boolean;
  filter?: string;
  since?: string;
  count: string;
}

function usageError(text: string): number {
  process.stderr.write(`flux-watch: ${text}\n`);
  return 2;
}

export async function run(args: string[]): Promise<number> {
  const p = program('watch', 'Follow the output and state of jobs, running or ended')
    .option('-a, --active', 'Watch all active jobs')
    .option('-A, --all', 'Watch all jobs')
    .option('-f, --filter <STATE|RESULT>', 'Watch jobs in these states or with these results (comma separated)')
    .option('--since <WHEN>', 'Watch jobs active since WHEN (-FSD before now, ISO-8601 or seconds since the epoch)')
    .option('-c, --count <N>', 'Watch at most N jobs (0: no limit)', '1000')
    .argument('[ids...]', 'the jobs to watch');
  const code = parseExit2(p, args);
  if (code !== undefined) return code;
  const o = p.opts<WatchOpts>();
  let ids: number[];
  let selection: { states: number; results: number; since?: number; max: number } | undefined;
  try {
    ids = p.args.map((text) => parseJobId(text));
    const max = countOption(o.count, '--count');
    const since = o.since === undefined ? undefined : sinceOf(o.since);
    if (o.filter !== undefined) selection = { ...filterOf(o.filter), since, max };
    else if (o.all || since !== undefined) selection = { states: STATE_ACTIVE | STATE_INACTIVE, results: 0, since, max };
    else if (o.active) selection = { states: STATE_ACTIVE, results: 0, max };
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (ids.length > 0 && selection !== undefined) return usageError('give job ids or a selection (-a, -A, -f, --since), not both');
  if (ids.length === 0 && selection === undefined) return usageError('no jobs to watch: give job ids, or -a, -A, -f or --since');
  const h = await Flux.open();
  try {
    if (selection !== undefined) {
      const { since, ...rest } = selection;
      const jobs = await list(h, { userid: effectiveUserid(process.env), ...rest, ...(since === undefined ? {} : { since }) });
      // oldest first, as they were submitted
      ids = jobs.map((j) => j.id).sort((a, b) => a - b);
    }
    const codes = await Promise.all(ids.map((id) => watchJob(h, id)));
    return Math.max(0, ...codes);
  } finally {
    h.close();
  }
}
