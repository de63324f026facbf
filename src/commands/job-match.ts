// What flux pgrep and flux pkill share: their options, and the jobs their expressions pick out. An expression is
// a pattern for the job's name (a regular expression, searched for; "name:" forces one that looks like a range) or
// a range of ids "ID1..ID2"; a job matches when it matches one of the patterns given and one of the ranges given.
import type * as Commander from 'commander';
import { FluxError, EINVAL } from '../core/errors.js';
import { parseJobId } from '../core/jobs/fluid.js';
import type { Flux } from '../api/handle.js';
import { type JobListing, listAt } from '../api/jobs.js';
import { countOption, jobSelection } from './jobs.js';

export interface MatchOpts {
  a?: boolean;
  A?: boolean;
  user?: string;
  filter?: string;
  count: string;
  maxEntries: string;
}

export function addMatchOptions(p: Commander.Command, withAll: boolean): Commander.Command {
  if (withAll) p.option('-a', 'Include jobs in all states, inactive ones too');
  return p
    .option('-A', 'Include the jobs of all users')
    .option('-u, --user <USER>', 'Consider the jobs of USER (a name, an id, or "all")')
    .option('-f, --filter <STATE|RESULT>', 'Consider jobs in these states or with these results (comma separated)')
    .option('-c, --count <N>', 'Limit to the first N matches', '1000')
    .option('--max-entries <N>', 'Consider at most N jobs', '1000')
    .argument('<expression...>', 'a name pattern, or a range of job ids ID1..ID2');
}

interface Expressions {
  patterns: RegExp[];
  ranges: Array<[number, number]>;
}

/** the expressions as patterns and ranges; EINVAL for a pattern that is not a regular expression */
export function parseExpressions(texts: readonly string[]): Expressions {
  const out: Expressions = { patterns: [], ranges: [] };
  for (const text of texts) {
    const dots = text.indexOf('..');
    if (!text.startsWith('name:') && dots > 0) {
      try {
        out.ranges.push([parseJobId(text.slice(0, dots)), parseJobId(text.slice(dots + 2))]);
        continue;
      } catch {
        // not two job ids: a pattern
      }
    }
    const pattern = text.startsWith('name:') ? text.slice(5) : text;
    try {
      out.patterns.push(new RegExp(pattern));
    } catch (err) {
      throw new FluxError(EINVAL, `invalid pattern '${pattern}': ${(err as Error).message}`);
    }
  }
  return out;
}

export function matches(e: Expressions, job: JobListing): boolean {
  return (e.patterns.length === 0 || e.patterns.some((re) => re.test(job.name)))
    && (e.ranges.length === 0 || e.ranges.some(([lo, hi]) => job.id >= lo && job.id <= hi));
}

/** the jobs the options consider, those the expressions match, at most --count of them, in flux jobs' order */
export async function matchingJobs(h: Flux, o: MatchOpts, texts: readonly string[]): Promise<JobListing[]> {
  const e = parseExpressions(texts);
  const max = countOption(o.count, '--count');
  // -A means every user here, not every state as it does for flux jobs
  const { userid, states, results } = jobSelection(o, false);
  const { jobs } = await listAt(h, { userid, states, results, max: countOption(o.maxEntries, '--max-entries') });
  return jobs.filter((j) => matches(e, j)).slice(0, max);
}
