// flux cancel: cancel jobs by id, or every pending and running job of a user (--all).
import { effectiveUserid } from '../core/access/roles.js';
import { Flux } from '../api/handle.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { parseJobId } from '../core/jobs/fluid.js';
import { USERID_UNKNOWN } from '../core/wire/message.js';
import { STATE_ACTIVE, stateMask } from '../core/jobs/state.js';
import { cancel, list } from '../api/jobs.js';
import { program, parse } from './common.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export async function run(args: string[]): Promise<number> {
  const p = program('cancel', 'Cancel one or more jobs')
    .option('-m, --message <NOTE>', 'Set the cancel exception note')
    .option('--all', 'Cancel all jobs of the current user (or of --user)')
    .option('-u, --user <USER>', 'With --all, the jobs of this user id ("all" for every user)')
    .option('-S, --states <STATES>', 'With --all, jobs in these states (default pending,running)')
    .option('-n, --dry-run', 'Only say what would be canceled')
    .option('-q, --quiet', 'Suppress the summary line')
    .argument('[ids...]');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{ message?: string; all?: boolean; user?: string; states?: string; dryRun?: boolean; quiet?: boolean }>();
  const selecting = o.all || o.user !== undefined || o.states !== undefined;
  if (selecting && p.args.length > 0) throw new FluxError(EINVAL, 'Do not specify a list of jobids with --all,--user,--states options');
  if (!selecting && p.args.length === 0) throw new FluxError(EINVAL, 'No target jobs were provided');
  const targets = p.args.map((t) => ({ text: t, id: parseJobId(t) }));
  const h = await Flux.open();
  try {
    if (selecting) {
      let states = 0;
      for (const s of (o.states ?? 'pending,running').split(',')) {
        const m = stateMask(s.trim());
        if (m === undefined || (m & ~STATE_ACTIVE) !== 0) throw new FluxError(EINVAL, `Invalid state ${s}`);
        states |= m;
      }
      const userid = o.user === 'all' ? USERID_UNKNOWN : o.user !== undefined ? Number(o.user) : effectiveUserid(process.env);
      if (!Number.isInteger(userid)) throw new FluxError(EINVAL, `Invalid user ${o.user}`);
      for (const j of await list(h, { userid, states })) targets.push({ text: String(j.id), id: j.id });
      if (targets.length === 0) {
        if (!o.quiet) process.stderr.write('flux-cancel: Matched 0 jobs\n');
        return 0;
      }
    }
    if (o.dryRun) {
      process.stderr.write(`flux-cancel: Would cancel ${plural(targets.length, 'job')}\n`);
      return 0;
    }
    let errors = 0;
    for (const t of targets) {
      try {
        await cancel(h, t.id, o.message ?? '');
      } catch (err) {
        errors++;
        process.stderr.write(`flux-cancel: ${t.text}: ${(err as Error).message}\n`);
      }
    }
    if (selecting && !o.quiet) process.stderr.write(`flux-cancel: Canceled ${plural(targets.length - errors, 'job')} (${plural(errors, 'error')})\n`);
    return errors > 0 ? 1 : 0;
  } finally {
    h.close();
  }
}
