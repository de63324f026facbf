// The broker's log (flux_log, the dmesg ring): lines appended by any process, read back with or without follow.
import { payloadString } from '../core/wire/message.js';
import type { Flux } from './handle.js';
import type { CallOpts } from './kvs.js';

/**
 * Append one RFC 5424 line to the broker's log, as flux-core's flux_log() does: raw bytes without a NUL, a
 * matchtag of 0 and so no reply to wait for. close() ends the socket only after the queued message is written.
 */
export function appendLog(h: Flux, line: string): void {
  h.post('log.append', Buffer.from(line));
}

/** every line of the ring (unless `nobacklog`), and with `follow` every one logged after, until the stream ends */
export async function dmesg(
  h: Flux, o: CallOpts & { follow?: boolean; nobacklog?: boolean }, each: (line: string) => void,
): Promise<void> {
  await h.stream('log.dmesg', { follow: o.follow === true, nobacklog: o.nobacklog === true }, { signal: o.signal }, (m) => {
    const line = payloadString(m);
    if (line !== undefined) each(line);
  });
}

/** empty the ring */
export async function clearLog(h: Flux, opts: CallOpts = {}): Promise<void> {
  await h.rpc('log.clear', undefined, opts);
}
