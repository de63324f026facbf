// job-ingest (rank 0, and any rank it is loaded on): accepts job submissions where they arrive, checks them
// there (the signed request J must be the submitter's, the jobspec valid RFC 25 V1, urgency and flags within what
// the submitter may ask), and hands them to the job manager on rank 0 in batches, one per turn of the event loop.
// The answer (the job id) comes once the job's submission is in the journal: a submitted job is never lost.
//
//   job-ingest.submit {J, urgency, flags} -> {id}
import { FluxError, EINVAL, EPERM } from '../core/errors.js';
import { type Message, ROLE_OWNER, ROLE_USER, payloadJson } from '../core/wire/message.js';
import { decodeJ, validateJobspec } from '../core/jobs/jobspec.js';
import { SUBMIT_WAITABLE, URGENCY_DEFAULT } from '../core/jobs/state.js';
import type { SubmittedJob } from './job-manager.js';
import type { ModuleDef, ModuleHost } from './module.js';

const FLAG_DEBUG = 2;
const FLAG_NOVALIDATE = 8;
const KNOWN_FLAGS = FLAG_DEBUG | SUBMIT_WAITABLE | FLAG_NOVALIDATE;

interface Queued {
  job: SubmittedJob;
  resolve: (id: number) => void;
  reject: (e: unknown) => void;
}

export function jobIngestModule(host: ModuleHost): ModuleDef {
  let queue: Queued[] = [];
  let count = 0;

  function check(msg: Message, body: Record<string, unknown>): SubmittedJob {
    const owner = (msg.rolemask & ROLE_OWNER) !== 0;
    const urgency = body.urgency as number;
    const flags = body.flags as number;
    if (urgency < 0 || urgency > 31) throw new FluxError(EINVAL, 'urgency range is [0:31]');
    if (!owner && urgency > URGENCY_DEFAULT) throw new FluxError(EPERM, 'only the instance owner can submit with urgency >16');
    if (flags & ~KNOWN_FLAGS) throw new FluxError(EINVAL, 'invalid job flags');
    if (!owner && flags & SUBMIT_WAITABLE) throw new FluxError(EPERM, 'only the instance owner can submit with FLUX_JOB_WAITABLE');
    if (!owner && flags & FLAG_NOVALIDATE) throw new FluxError(EPERM, 'only the instance owner can submit with FLUX_JOB_NOVALIDATE');
    const J = body.J as string;
    const signed = decodeJ(J);
    if (signed.userid !== msg.userid) throw new FluxError(EPERM, 'signer userid does not match the submitting user');
    return { J, jobspec: validateJobspec(signed.jobspec), urgency, flags, userid: msg.userid };
  }

  function forward(): void {
    const batch = queue;
    queue = [];
    host.rpc('job-manager.submit', { jobs: batch.map((q) => q.job as unknown as Record<string, unknown>) }, { nodeid: 0 }).then(
      (r) => {
        // a job the job manager refused (a dependency it cannot take) has why in place of its id
        const ids = payloadJson(r).ids as Array<number | { errnum: number; errstr: string }>;
        batch.forEach((q, i) => {
          const got = ids[i]!;
          if (typeof got === 'number') q.resolve(got);
          else q.reject(new FluxError(got.errnum, got.errstr));
        });
      },
      (err: unknown) => batch.forEach((q) => q.reject(err)),
    );
  }

  return {
    name: 'job-ingest',
    handlers: [
      {
        topic: 'job-ingest.submit',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: { J: { type: 'string', minLength: 1 }, urgency: { type: 'integer' }, flags: { type: 'integer', minimum: 0 } },
          required: ['J', 'urgency', 'flags'],
        },
        handler: async (msg, body) => {
          const job = check(msg, body!);
          const id = await new Promise<number>((resolve, reject) => {
            if (queue.length === 0) setImmediate(forward);
            queue.push({ job, resolve, reject });
          });
          count++;
          host.respond(msg, { id });
        },
      },
    ],
    stats: () => ({ submitted: count }),
  };
}
