// flux pkill: cancel the jobs whose name matches a pattern or whose id is in a range (job-match.ts); -w waits for
// them to end. Exit 1 when none matches or one could not be canceled.
import { withHandle } from '../api/handle.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { cancel, result } from '../api/jobs.js';
import { program, parseExit2 } from './common.js';
import { type MatchOpts, addMatchOptions, matchingJobs } from './job-match.js';

export async function run(args: string[]): Promise<number> {
  const p = addMatchOptions(program('pkill', 'Cancel jobs by name or id range'), false)
    .option('-w, --wait', 'Wait for the jobs canceled to end');
  const code = parseExit2(p, args);
  if (code !== undefined) return code;
  const o = p.opts<MatchOpts & { wait?: boolean }>();
  return withHandle(async (h) => {
    const jobs = await matchingJobs(h, o, p.args);
    if (jobs.length === 0) {
      process.stderr.write('flux-pkill: no matching jobs\n');
      return 1;
    }
    let rc = 0;
    const canceled: number[] = [];
    for (const j of jobs) {
      try {
        await cancel(h, j.id);
        canceled.push(j.id);
      } catch (err) {
        process.stderr.write(`flux-pkill: ${encodeFluid(j.id, 'f58')}: ${(err as Error).message}\n`);
        rc = 1;
      }
    }
    if (o.wait) await Promise.all(canceled.map((id) => result(h, id)));
    return rc;
  });
}
