// flux pgrep: the ids of the jobs whose name matches a pattern or whose id is in a range (job-match.ts), one a
// line (or as -o FORMAT, flux jobs' format language); exit 1 when none matches, 2 on a usage error.
import { withHandle } from '../api/handle.js';
import { OutputFormat } from '../core/format/output.js';
import { program, parseExit2 } from './common.js';
import { JOB_FIELDS, type JobRow } from './jobs-fields.js';
import { ownerNames, readPasswd } from './ps.js';
import { type MatchOpts, addMatchOptions, matchingJobs } from './job-match.js';

export async function run(args: string[]): Promise<number> {
  const p = addMatchOptions(program('pgrep', 'List jobs by name or id range'), true)
    .option('-o, --format <FORMAT>', 'Specify output format using Python\'s string format syntax')
    .option('-n, --no-header', 'Suppress printing of the header line');
  const code = parseExit2(p, args);
  if (code !== undefined) return code;
  const o = p.opts<MatchOpts & { format?: string; header?: boolean }>();
  // the default format is the ids alone, without a header
  const format = new OutputFormat<JobRow>(o.format ?? '{id.f58}', JOB_FIELDS);
  const jobs = await withHandle((h) => matchingJobs(h, o, p.args));
  if (jobs.length === 0) return 1;
  const username = ownerNames(readPasswd());
  const now = Date.now() / 1000;
  const lines = format.render(jobs.map((job) => ({ job, username, now })), { noHeader: o.format === undefined || o.header === false });
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
