// What one client of the local socket may cost the broker. Each limit is a broker attribute (set with -S), so an
// instance can be tuned; the defaults are generous for real clients and stop a runaway or hostile one.
//
//   local.max-message-size        the largest message a client may send, bytes; a larger one ends the connection
//   local.max-inflight            requests of one guest connection awaiting their answer; more are refused EAGAIN
//   local.max-queued-bytes        output queued to a client that does not read it; past this it is disconnected
//   local.max-connections-per-uid connections of one guest uid at a time; more are refused at the handshake
// The owner's connections are not counted against max-inflight and max-connections-per-uid: the owner can stop
// the instance anyway, and its tools (flux proxy, many-job runs) legitimately go far beyond a guest.

export interface LocalLimits {
  maxMessageSize: number;
  maxInflight: number;
  maxQueuedBytes: number;
  maxConnectionsPerUid: number;
}

export const DEFAULT_LIMITS: LocalLimits = {
  maxMessageSize: 64 << 20,
  maxInflight: 1024,
  maxQueuedBytes: 128 << 20,
  maxConnectionsPerUid: 64,
};

export const LIMIT_ATTRS: Record<string, keyof LocalLimits> = {
  'local.max-message-size': 'maxMessageSize',
  'local.max-inflight': 'maxInflight',
  'local.max-queued-bytes': 'maxQueuedBytes',
  'local.max-connections-per-uid': 'maxConnectionsPerUid',
};

/** the limits as attributes give them (`get` answers an attribute's value, undefined when unset) */
export function limitsFrom(get: (name: string) => string | undefined): LocalLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const [attr, key] of Object.entries(LIMIT_ATTRS)) {
    const v = get(attr);
    if (v !== undefined) out[key] = Number(v);
  }
  return out;
}
