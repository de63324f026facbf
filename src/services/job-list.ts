// job-list (rank 0): the job table as flux-core's job-list module answers it, from the journal's job projection,
// now or at any past journal position. Requests from other ranks reach it through the tree.
//
//   job-list.list    {max_entries?, attrs?, userid?, states?, results?, since?, constraint?, seq?|time?} -> {jobs:[…], time?}
//                    since: active jobs and those inactive since then; constraint: flux-core's (job-constraint.ts);
//                    seq: the table as it was after that journal entry (flux jobs --at-seq); time: after the
//                    last entry made by then (--at-time); the answer then says when that entry was made
//   job-list.list-id {id, attrs?} -> {job}
//                    attrs (both): the attributes answered besides the id, as flux-core's clients name them
//                    ("all", or none named: every one)
//   job-list.job-stats {} -> {job_states:{depend…inactive, total}, successful, failed, timeout, canceled,
//                    inactive_purged, queues}
import { FluxError, ENOENT } from '../core/errors.js';
import { ROLE_USER, USERID_UNKNOWN } from '../core/wire/message.js';
import { STATE_INACTIVE } from '../core/jobs/state.js';
import { JOBTABLE, allJobs, jobOf, type JobTable } from '../projections/jobs.js';
import { jobStats, listOrder, listing } from '../projections/job-listing.js';
import { compileConstraint } from '../projections/job-constraint.js';
import type { JournalService } from './journal.js';
import type { ModuleDef, ModuleHost } from './module.js';

/** the attributes asked for, and the id: all of them when none are named or "all" is */
function only(job: Record<string, unknown>, attrs: string[] | undefined): Record<string, unknown> {
  if (attrs === undefined || attrs.includes('all')) return job;
  const out: Record<string, unknown> = { id: job.id };
  for (const a of attrs) if (a in job) out[a] = job[a];
  return out;
}

export function jobListModule(host: ModuleHost, journal: JournalService): ModuleDef {
  return {
    name: 'job-list',
    handlers: [
      {
        topic: 'job-list.list',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: {
            max_entries: { type: 'integer', minimum: 0 },
            userid: { type: 'integer', minimum: 0 },
            states: { type: 'integer', minimum: 0 },
            results: { type: 'integer', minimum: 0 },
            attrs: { type: 'array', items: { type: 'string' } },
            since: { type: 'number', minimum: 0 },
            constraint: { type: 'object' },
            seq: { type: 'integer', minimum: 0 },
            time: { type: 'number', minimum: 0 },
          },
        },
        handler: async (msg, body) => {
          const matches = body!.constraint === undefined ? () => true : compileConstraint(body!.constraint);
          const since = (body!.since as number | undefined) ?? 0;
          const seq = body!.time !== undefined ? journal.seqAtTime(body!.time as number) : body!.seq as number | undefined;
          const t = seq === undefined ? journal.state<JobTable>(JOBTABLE) : await journal.stateAt<JobTable>(JOBTABLE, seq);
          const userid = (body!.userid as number | undefined) ?? USERID_UNKNOWN;
          const states = (body!.states as number | undefined) ?? 0;
          const results = (body!.results as number | undefined) ?? 0;
          const max = (body!.max_entries as number | undefined) ?? 0;
          const jobs = allJobs(t).filter((j) => {
            if (userid !== USERID_UNKNOWN && j.userid !== userid) return false;
            if (since > 0 && j.state === STATE_INACTIVE && (j.t_inactive ?? 0) <= since) return false;
            if (!matches(j)) return false;
            if (states === 0 && results === 0) return true;
            // a result names inactive jobs that ended so; states and results together are either
            return (j.state & states) !== 0 || (j.state === STATE_INACTIVE && ((j.result ?? 0) & results) !== 0);
          }).sort(listOrder);
          const attrs = body!.attrs as string[] | undefined;
          const out: Record<string, unknown> = { jobs: (max > 0 ? jobs.slice(0, max) : jobs).map((j) => only(listing(j), attrs)) };
          // a past table is seen from its own moment: running times are told up to then
          if (seq !== undefined) out.time = await journal.timeAt(seq);
          host.respond(msg, out);
        },
      },
      {
        topic: 'job-list.job-stats',
        allow: ROLE_USER,
        handler: (msg) => host.respond(msg, jobStats(journal.state<JobTable>(JOBTABLE))),
      },
      {
        topic: 'job-list.list-id',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: { id: { type: 'integer', minimum: 0 }, attrs: { type: 'array', items: { type: 'string' } } },
          required: ['id'],
        },
        handler: (msg, body) => {
          const j = jobOf(journal.state<JobTable>(JOBTABLE), body!.id as number);
          if (!j) throw new FluxError(ENOENT, 'unknown job id');
          host.respond(msg, { job: only(listing(j), body!.attrs as string[] | undefined) });
        },
      },
    ],
  };
}
