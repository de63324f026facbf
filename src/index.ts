// The package's one entry, `flux-ts`: connect to an instance and use its services from any program, as libflux
// lets C programs do. Its types are its own: nothing of the broker's insides is part of them.
import { Flux } from './api/client.js';
import type { ConnectOptions } from './api/handle.js';

/**
 * Connect to a broker: `uri` (local://PATH, ssh://[USER@]HOST/PATH), or FLUX_URI as a program started in an
 * instance has it. Close the handle when done: `h.close()` ends its streams and the connection. The instance owner
 * may speak for another user with `opts.credential` (or FLUX_HANDLE_USERID / FLUX_HANDLE_ROLEMASK), as flux-core
 * lets it.
 */
export function connect(uri?: string, opts: ConnectOptions = {}): Promise<Flux> {
  return Flux.open(uri, opts);
}

export { Flux } from './api/client.js';
export type { Body, ConnectOptions, RpcOpts } from './api/handle.js';
export type { Credential } from './core/access/roles.js';
export {
  FluxError, strerror, EPERM, ENOENT, ESRCH, EINTR, EIO, EAGAIN, ENOMEM, EACCES, EBUSY, EEXIST, ENOTDIR, EISDIR,
  EINVAL, ENOSPC, EROFS, ERANGE, ENOSYS, ENODATA, ETIMEDOUT, EPROTO, EOVERFLOW, ENOTSUP, ECONNRESET, ECONNREFUSED,
  EHOSTUNREACH, ECANCELED,
} from './core/errors.js';
export { NODEID_ANY, NODEID_UPSTREAM, type Message } from './core/wire/message.js';
export {
  Kvs, Txn, NO_MERGE, SYNC, type CallOpts, type LookupOptions, type CommitOptions, type CommitResult, type WatchOptions,
  type KvsChange,
} from './api/kvs.js';
export { Events, type Event, type FluxEvent, type PublishOptions, type SubscribeOptions } from './api/events.js';
export { Journal, type JournalHead, type JournalRow, type ListRange } from './api/journal.js';
export { Content, type ContentOpts } from './api/content.js';
export { Exec, type ExecResponse, type ProcRow, type RunOptions } from './api/exec.js';
export { Cron, type CronEntry, type CronRequest, type CronSync } from './api/cron.js';
export {
  Jobs, JOBID_ANY, type JobListing, type JobOutput, type JobRequest, type JobResult, type ListOptions, type WaitResult,
} from './api/jobs.js';
export { Attrs, type AttrOpts } from './api/attrs.js';
export { SUBMIT_WAITABLE } from './core/jobs/state.js';
export type { JobEvent } from './core/jobs/kvs.js';
export type { Jobspec, SubmitOptions } from './core/jobs/jobspec.js';
export type { Dependency } from './core/jobs/dependency.js';
