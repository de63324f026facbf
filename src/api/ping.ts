// service.ping (flux_ping): every service answers it, echoing the request's members and adding the route the
// request took and the userid and rolemask it was sent with.
import type { Flux } from './handle.js';
import type { CallOpts } from './kvs.js';

export interface PingOptions extends CallOpts {
  /** a rank, NODEID_ANY or NODEID_UPSTREAM */
  nodeid?: number;
  /** a sequence number echoed back */
  seq?: number;
  /** bytes of padding, to ping with a larger message */
  pad?: string;
}

/**
 * Ping `service` with a monotonic timestamp, as flux-core's flux ping does: only this process reads the stamp
 * the service echoes back. The response's members as they came.
 */
export async function ping(h: Flux, service: string, o: PingOptions = {}): Promise<Record<string, unknown>> {
  const t = process.hrtime.bigint();
  const body = { seq: o.seq ?? 0, 'time.tv_sec': Number(t / 1_000_000_000n), 'time.tv_nsec': Number(t % 1_000_000_000n), pad: o.pad ?? '' };
  return h.call(`${service}.ping`, body, o);
}
