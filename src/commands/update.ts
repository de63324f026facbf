// flux update [-n] JOBID KEY=VALUE...: change a pending job's jobspec, or a running job's duration (the instance
// owner's to change: it moves the job's expiration). duration=FSD (or +FSD / -FSD from what it is;
// 0 or inf: no limit) and name=NAME, also spelled as their jobspec paths (job.name, attributes.system.duration). -n prints
// the update flux-core's job-manager.update would be sent, as JSON, and sends nothing.
import { Flux } from '../api/handle.js';
import { info, update } from '../api/jobs.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { parseJobId } from '../core/jobs/fluid.js';
import { DURATION_KEY, NAME_KEY, checkUpdates } from '../core/jobs/update.js';
import { parseFSD } from '../core/time/fsd.js';
import { program, parse } from './common.js';

const ALIASES: Record<string, string> = { duration: DURATION_KEY, name: NAME_KEY };

/** a duration as flux update takes one: no limit is 0 */
function seconds(text: string): number {
  const s = parseFSD(text);
  return Number.isFinite(s) ? s : 0;
}

export async function run(args: string[]): Promise<number> {
  const p = program('update', 'Update a job\'s duration or name')
    .option('-n, --dry-run', 'Print the update as JSON instead of sending it')
    .argument('<jobid>')
    .argument('<key=value...>', 'duration=FSD|+FSD|-FSD, name=NAME');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{ dryRun?: boolean }>();
  const [idText, ...pairs] = p.args as [string, ...string[]];
  let id: number;
  try {
    id = parseJobId(idText);
  } catch (err) {
    throw new FluxError(EINVAL, `invalid jobid: ${idText}: ${(err as Error).message}`);
  }
  const h = await Flux.open();
  try {
    const updates: Record<string, unknown> = {};
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new FluxError(EINVAL, `${pair}: expected KEY=VALUE`);
      const given = pair.slice(0, eq);
      // a key without attributes. is the system attributes', as --setattr reads one
      const key = ALIASES[given] ?? (given.startsWith('attributes.') ? given : `attributes.system.${given}`);
      const value = pair.slice(eq + 1);
      if (key !== DURATION_KEY) {
        updates[key] = value;
      } else if (value.startsWith('+') || value.startsWith('-')) {
        const now = (await info(h, id)).duration;
        if (now === 0) throw new FluxError(EINVAL, `duration=${value}: the job's duration has no limit to change`);
        const next = now + (value.startsWith('+') ? 1 : -1) * seconds(value.slice(1));
        if (next <= 0) throw new FluxError(EINVAL, `duration=${value}: the job's duration would be ${next} s`);
        updates[key] = next;
      } else {
        updates[key] = seconds(value);
      }
    }
    checkUpdates(updates);
    if (o.dryRun) {
      process.stdout.write(`${JSON.stringify({ id, updates })}\n`);
      return 0;
    }
    await update(h, id, updates);
    return 0;
  } finally {
    h.close();
  }
}
