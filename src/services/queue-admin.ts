// The anonymous queue's administration, for the job manager: whether submissions are taken (enable/disable) and
// whether jobs are given resources (start/stop), each with the reason given, kept in the KVS (job-manager.queue)
// so that a restart keeps them unless told not to; and the waits for the queue to empty (drain) or for no job to
// be running (idle). flux-core's topics:
//
//   job-manager.queue-status {}                                     -> {enable, start, disable_reason?, stop_reason?}
//   job-manager.queue-enable {enable, reason?, nocheckpoint?}       -> {}   owner
//   job-manager.queue-start  {start, reason?, nocheckpoint?}        -> {}   owner
//   job-manager.drain        {}                                     -> {}   once no job is active
//   job-manager.idle         {}                                     -> {pending}   once no job is running
import { FluxError, EINVAL, ENOENT, ENOSYS, EPROTO } from '../core/errors.js';
import { type Message, ROLE_USER, payloadJson, senderOf } from '../core/wire/message.js';
import { putOp } from '../core/jobs/ops.js';
import type { HandlerDef, ModuleHost } from './module.js';

const KEY = 'job-manager.queue';

export interface QueueState {
  enable: boolean;
  start: boolean;
  disable_reason?: string;
  stop_reason?: string;
}

export interface QueueCounts {
  /** jobs not yet inactive */
  active(): number;
  /** jobs in RUN or CLEANUP, or being given resources */
  running(): number;
  /** jobs in DEPEND, PRIORITY or SCHED */
  pending(): number;
}

export class QueueAdmin {
  private state: QueueState = { enable: true, start: true };
  private readonly drains: Message[] = [];
  private readonly idles: Message[] = [];

  constructor(private readonly host: ModuleHost, private readonly counts: QueueCounts, private readonly restarted: () => void) {}

  /** the state the last change made with a checkpoint left in the KVS (the defaults when there is none) */
  async load(): Promise<void> {
    try {
      const v = payloadJson(await this.host.rpc('kvs.lookup', { namespace: 'primary', key: KEY, flags: 0 })).val as { type?: unknown; data?: unknown };
      if (v?.type !== 'val' || typeof v.data !== 'string') throw new FluxError(EPROTO, `${KEY} is not a value`);
      const s = JSON.parse(Buffer.from(v.data, 'base64').toString('utf8')) as QueueState;
      this.state = { enable: s.enable !== false, start: s.start !== false };
      if (typeof s.disable_reason === 'string') this.state.disable_reason = s.disable_reason;
      if (typeof s.stop_reason === 'string') this.state.stop_reason = s.stop_reason;
    } catch (err) {
      if (!(err instanceof FluxError && err.errno === ENOENT)) throw err;
    }
  }

  get started(): boolean {
    return this.state.start;
  }

  /** why a submission is refused now, if it is */
  refusal(): FluxError | undefined {
    if (this.state.enable) return undefined;
    return new FluxError(EINVAL, `job submission is disabled${this.state.disable_reason ? `: ${this.state.disable_reason}` : ''}`);
  }

  /** jobs changed state: the waits whose condition now holds are answered */
  changed(): void {
    if (this.drains.length > 0 && this.counts.active() === 0) for (const m of this.drains.splice(0)) this.host.respond(m, {});
    if (this.idles.length > 0 && this.counts.running() === 0) {
      const pending = this.counts.pending();
      for (const m of this.idles.splice(0)) this.host.respond(m, { pending });
    }
  }

  /** queue-enable and queue-start: one switch each, with the reason it was turned off */
  private switchHandler(key: 'enable' | 'start', reasonKey: 'disable_reason' | 'stop_reason'): HandlerDef {
    return {
      topic: `job-manager.queue-${key}`,
      schema: {
        type: 'object',
        properties: { [key]: { type: 'boolean' }, reason: { type: 'string' }, nocheckpoint: { type: 'boolean' } },
        required: [key],
      },
      handler: async (msg, body) => {
        const on = body![key] as boolean;
        const reason = body!.reason;
        const next: QueueState = { ...this.state, [key]: on };
        if (on || typeof reason !== 'string' || reason === '') delete next[reasonKey];
        else next[reasonKey] = reason;
        if (body!.nocheckpoint !== true) await this.host.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: [putOp(KEY, JSON.stringify(next))] });
        this.state = next;
        if (key === 'start' && on) this.restarted();
        this.host.respond(msg, {});
      },
    };
  }

  /** the job manager is unloading: nobody will answer the waits */
  stop(): void {
    for (const m of [...this.drains.splice(0), ...this.idles.splice(0)]) this.host.respondError(m, new FluxError(ENOSYS, 'the job manager is unloading'));
  }

  disconnect(sender: string): void {
    for (const list of [this.drains, this.idles]) {
      for (let i = list.length - 1; i >= 0; i--) if (senderOf(list[i]!) === sender) list.splice(i, 1);
    }
  }

  handlers(): HandlerDef[] {
    return [
      {
        topic: 'job-manager.queue-status',
        allow: ROLE_USER,
        handler: (msg) => this.host.respond(msg, { ...this.state }),
      },
      this.switchHandler('enable', 'disable_reason'),
      this.switchHandler('start', 'stop_reason'),
      {
        topic: 'job-manager.drain',
        allow: ROLE_USER,
        handler: (msg) => {
          this.drains.push(msg);
          this.changed();
        },
      },
      {
        topic: 'job-manager.idle',
        allow: ROLE_USER,
        handler: (msg) => {
          this.idles.push(msg);
          this.changed();
        },
      },
    ];
  }
}
