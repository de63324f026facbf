// flux-core's [job-manager] limits on inactive jobs, which the job manager purges on its own as they are passed:
//
//   [job-manager]
//   inactive-age-limit = "7d"    # a Flux standard duration: purge jobs inactive longer than that
//   inactive-num-limit = 10000   # keep at most that many inactive jobs, the newest
//
// Other keys of the table are the job manager's other settings, not read here.
import { FluxError, EINVAL } from '../errors.js';
import type { Config } from '../config/load.js';
import { parseFSD } from '../time/fsd.js';

export interface PurgeLimits {
  /** seconds */
  ageLimit?: number;
  numLimit?: number;
}

/** the limits of a loaded config; `where` names the config in errors */
export function parsePurgeLimits(config: Config, where: string): PurgeLimits {
  const table = config['job-manager'];
  if (table === undefined) return {};
  if (typeof table !== 'object' || table === null || Array.isArray(table)) throw new FluxError(EINVAL, `${where}: job-manager must be a table`);
  const t = table as Record<string, unknown>;
  const out: PurgeLimits = {};
  const age = t['inactive-age-limit'];
  if (age !== undefined) {
    if (typeof age !== 'string') throw new FluxError(EINVAL, `${where}: job-manager.inactive-age-limit: Expected string`);
    try {
      out.ageLimit = parseFSD(age);
    } catch (err) {
      throw new FluxError(EINVAL, `${where}: job-manager.inactive-age-limit: ${(err as Error).message}`);
    }
  }
  const num = t['inactive-num-limit'];
  if (num !== undefined) {
    if (!Number.isInteger(num) || (num as number) < 0) throw new FluxError(EINVAL, `${where}: job-manager.inactive-num-limit must be >= 0`);
    out.numLimit = num as number;
  }
  return out;
}
