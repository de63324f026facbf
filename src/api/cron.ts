// The cron client: entries that run a command on an interval, on an event or at calendar times, kept by
// rank 0's cron service (all requests go there).
import { FluxError, EPROTO } from '../core/errors.js';
import type { Flux } from './handle.js';
import type { CallOpts } from './kvs.js';

/** a cron entry as the service answers it (flux-core's field names; fields beyond these are kept as they come) */
export interface CronEntry {
  id: number;
  name: string;
  command: string;
  type: string;
  stopped: boolean;
  [k: string]: unknown;
}

/** what cron.create takes: the entry's type and its arguments, the command and its options (RFC-free, as flux-core's) */
export interface CronRequest {
  type: 'interval' | 'event' | 'datetime';
  args: Record<string, unknown>;
  command: string;
  [k: string]: unknown;
}

export interface CronSync {
  sync_event?: string;
  sync_epsilon?: number;
  sync_disabled?: boolean;
}

const RANK0 = { nodeid: 0 };

/** an entry's default name, as flux cron gives it */
const firstWord = (command: string) => command.trim().split(/\s+/)[0]!;

export function asEntry(r: Record<string, unknown>): CronEntry {
  if (typeof r.id !== 'number' || typeof r.stats !== 'object' || !Array.isArray(r.tasks)) {
    throw new FluxError(EPROTO, 'cron service answered with a malformed entry');
  }
  return r as unknown as CronEntry;
}

/** what an entry takes besides its type, arguments and command */
export interface CronCreateOptions {
  /** default: the command's first word */
  name?: string;
  /** run at most this many times */
  repeat?: number;
  cwd?: string;
  /** the environment its tasks get (flux cron's --preserve-env) */
  environ?: Record<string, string>;
  /** timeout, rank, task-history-count, stop-on-failure: as flux cron -o gives them */
  options?: Record<string, unknown>;
}

/** the cron.create request for an entry of `type` with its arguments (interval, topic/nth, datetime fields) */
export function cronRequest(type: CronRequest['type'], args: Record<string, unknown>, command: string, o: CronCreateOptions = {}): CronRequest {
  const req: CronRequest = { type, command, args, ...o.options };
  req.name = o.name ?? firstWord(command);
  if (o.repeat !== undefined) req.repeat = o.repeat;
  if (o.cwd !== undefined) req.cwd = o.cwd;
  if (o.environ !== undefined) req.environ = o.environ;
  return req;
}

export async function cronList(h: Flux, opts: CallOpts = {}): Promise<CronEntry[]> {
  const r = await h.call('cron.list', {}, { ...opts, ...RANK0 });
  if (!Array.isArray(r.entries)) throw new FluxError(EPROTO, 'cron.list response has no entries');
  return (r.entries as Record<string, unknown>[]).map(asEntry);
}

export async function cronCreate(h: Flux, req: CronRequest, opts: CallOpts = {}): Promise<CronEntry> {
  return asEntry(await h.call('cron.create', req, { ...opts, ...RANK0 }));
}

/** stop, start or delete (kill: and its running tasks) the entry `id`; the entry as it was left */
export async function cronAct(
  h: Flux, action: 'stop' | 'start' | 'delete', id: number, opts: CallOpts & { kill?: boolean } = {},
): Promise<CronEntry> {
  return asEntry(await h.call(`cron.${action}`, { id, ...(opts.kill ? { kill: true } : {}) }, { ...opts, ...RANK0 }));
}

/** cron.sync: hold tasks until an event (topic), stop doing so (disable), or (neither) show the setting */
export async function cronSync(
  h: Flux, set: { topic?: string; disable?: boolean; epsilon?: number } = {}, opts: CallOpts = {},
): Promise<CronSync> {
  const body: Record<string, unknown> = {};
  if (set.disable) body.disable = true;
  else if (set.topic !== undefined) body.topic = set.topic;
  if (set.epsilon !== undefined) body.sync_epsilon = set.epsilon;
  return (await h.call('cron.sync', body, { ...opts, ...RANK0 })) as CronSync;
}

/** The cron service, bound to a handle. */
export class Cron {
  constructor(private readonly h: Flux) {}

  list(opts: CallOpts = {}): Promise<CronEntry[]> {
    return cronList(this.h, opts);
  }

  /** an entry running `command` every `interval` seconds */
  interval(interval: number, command: string, opts: CallOpts & { name?: string; count?: number } = {}): Promise<CronEntry> {
    return cronCreate(this.h, cronRequest('interval', { interval }, command, { name: opts.name, repeat: opts.count }), opts);
  }

  /** an entry running `command` on every event `topic` */
  event(topic: string, command: string, opts: CallOpts & { name?: string; count?: number } = {}): Promise<CronEntry> {
    return cronCreate(this.h, cronRequest('event', { topic }, command, { name: opts.name, repeat: opts.count }), opts);
  }

  create(req: CronRequest, opts: CallOpts = {}): Promise<CronEntry> {
    return cronCreate(this.h, req, opts);
  }

  stop(id: number, opts: CallOpts = {}): Promise<CronEntry> {
    return cronAct(this.h, 'stop', id, opts);
  }

  start(id: number, opts: CallOpts = {}): Promise<CronEntry> {
    return cronAct(this.h, 'start', id, opts);
  }

  delete(id: number, opts: CallOpts & { kill?: boolean } = {}): Promise<CronEntry> {
    return cronAct(this.h, 'delete', id, opts);
  }
}
