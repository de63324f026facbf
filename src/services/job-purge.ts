// flux job purge, for the job manager: inactive jobs leave the job table and the KVS (their job.<dothex>
// directory), oldest first, past an age or beyond a count of the newest kept, or named by id. Each batch is one
// journal entry: the KVS commit that unlinks the jobs' directories carries the `purge` items that take them out of
// the table, so the two never disagree, and the past (--at-seq, --at-version) still holds them. flux-core's topics:
//
//   job-manager.purge    {age_limit, num_limit, batch, force} -> {count}   owner; a limit < 0 is none. Without
//                        force, the count that would go; with it, at most `batch` go, and the count that did
//   job-manager.purge-id {ids, force}                         -> {count}   owner; ENOENT / EINVAL if one is not
//                        there or still active
//
// And on its own, at every heartbeat, by the limits of the config's [job-manager] table (purge-config.ts).
import { FluxError, EINVAL, ENOENT } from '../core/errors.js';
import { jobDir } from '../core/jobs/kvs.js';
import { PURGE_BATCH_MAX, STATE_INACTIVE } from '../core/jobs/state.js';
import { parsePurgeLimits } from '../core/jobs/purge-config.js';
import { payloadJson } from '../core/wire/message.js';
import { PURGE, type JobTable, allJobs, jobOf } from '../projections/jobs.js';
import type { HandlerDef, ModuleHost } from './module.js';

/**
 * The inactive jobs past the limits, oldest first: older than `ageLimit` seconds, or beyond the `numLimit` newest;
 * how many, and the ids of the first `max`. The jobs the table dropped past its bound come first: they ended
 * before every job it holds, so they are past an age limit when the oldest held one is (or none is held).
 */
export function purgeable(t: JobTable, now: number, ageLimit: number, numLimit: number, max = Infinity): { count: number; ids: number[] } {
  const held = allJobs(t).filter((j) => j.state === STATE_INACTIVE)
    .sort((a, b) => (a.t_inactive ?? 0) - (b.t_inactive ?? 0) || a.id - b.id);
  const pages = t.dropped ?? [];
  const dropped = pages.reduce((n, page) => n + page.length, 0);
  const beyond = numLimit >= 0 ? Math.max(0, dropped + held.length - numLimit) : 0;
  const old = (tInactive: number | undefined) => ageLimit >= 0 && (tInactive === undefined || now - tInactive > ageLimit);
  const droppedGoing = old(held[0]?.t_inactive) ? dropped : Math.min(beyond, dropped);
  const heldGoing = held.filter((j, k) => dropped + k < beyond || old(j.t_inactive ?? 0));
  const ids: number[] = [];
  for (const page of pages) {
    for (const id of page) {
      if (ids.length >= Math.min(max, droppedGoing)) break;
      ids.push(id);
    }
  }
  for (const j of heldGoing) {
    if (ids.length >= max) break;
    ids.push(j.id);
  }
  return { count: droppedGoing + heldGoing.length, ids };
}

/** jobs one heartbeat's purge takes at most (the limits met over a few beats rather than in one long entry) */
const AUTO_BATCH = 50;

export class JobPurge {
  private offPulse: (() => void) | undefined;
  private purging = false;
  /** the last failure of a heartbeat's purge, logged once until it changes */
  private failure = '';

  constructor(private readonly host: ModuleHost, private readonly table: () => JobTable) {}

  /** one journal entry for the jobs: their directories unlinked, their records gone */
  private async purge(ids: number[]): Promise<void> {
    if (ids.length === 0) return;
    const timestamp = Date.now() / 1000;
    await this.host.rpc('kvs.commit', {
      namespace: 'primary', flags: 0,
      ops: ids.map((id) => ({ key: jobDir(id), flags: 0, dirent: null })),
      jobs: ids.map((id) => ({ id, event: { timestamp, name: PURGE } })),
    });
  }

  /** the broker's config's [job-manager] limits, applied at every heartbeat (so a config loaded later counts) */
  start(): void {
    this.offPulse = this.host.subscribe('heartbeat.pulse', () => void this.pulse());
  }

  stop(): void {
    this.offPulse?.();
  }

  private async pulse(): Promise<void> {
    if (this.purging) return;
    this.purging = true;
    try {
      const limits = parsePurgeLimits(payloadJson(await this.host.rpc('config.get', {})), 'config');
      if (limits.ageLimit !== undefined || limits.numLimit !== undefined) {
        await this.purge(purgeable(this.table(), Date.now() / 1000, limits.ageLimit ?? -1, limits.numLimit ?? -1, AUTO_BATCH).ids);
      }
      this.failure = '';
    } catch (err) {
      const text = (err as Error).message;
      if (text !== this.failure) this.host.log(3, 'job-manager', `inactive job purge: ${text}`);
      this.failure = text;
    } finally {
      this.purging = false;
    }
  }

  handlers(): HandlerDef[] {
    return [
      {
        topic: 'job-manager.purge',
        schema: {
          type: 'object',
          properties: {
            age_limit: { type: 'number' },
            num_limit: { type: 'integer' },
            batch: { type: 'integer', minimum: 1, maximum: PURGE_BATCH_MAX },
            force: { type: 'integer', minimum: 0, maximum: 1 },
          },
          required: ['age_limit', 'num_limit', 'batch', 'force'],
        },
        handler: async (msg, body) => {
          const { count, ids } = purgeable(this.table(), Date.now() / 1000, body!.age_limit as number, body!.num_limit as number, body!.batch as number);
          if (body!.force !== 1) {
            this.host.respond(msg, { count });
            return;
          }
          await this.purge(ids);
          this.host.respond(msg, { count: ids.length });
        },
      },
      {
        topic: 'job-manager.purge-id',
        schema: {
          type: 'object',
          properties: {
            ids: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1, maxItems: PURGE_BATCH_MAX },
            force: { type: 'integer', minimum: 0, maximum: 1 },
          },
          required: ['ids', 'force'],
        },
        handler: async (msg, body) => {
          const ids = [...new Set(body!.ids as number[])];
          const t = this.table();
          for (const id of ids) {
            const j = jobOf(t, id);
            if (!j && !(t.dropped ?? []).some((page) => page.includes(id))) throw new FluxError(ENOENT, 'id not found');
            if (j && j.state !== STATE_INACTIVE) throw new FluxError(EINVAL, 'cannot purge active job');
          }
          if (body!.force === 1) await this.purge(ids);
          this.host.respond(msg, { count: ids.length });
        },
      },
    ];
  }
}
