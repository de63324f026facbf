// A broker's subtree status, as flux-core's overlay reports it: an int on the wire (overlay.hello's `status`,
// a CONTROL_STATUS message's aux2) and a name everywhere else.

export const SUBTREE_STATUS = ['unknown', 'full', 'partial', 'degraded', 'lost', 'offline'] as const;
export type SubtreeStatus = (typeof SUBTREE_STATUS)[number];

export function statusName(code: number): SubtreeStatus {
  return SUBTREE_STATUS[code] ?? 'unknown';
}

export function statusCode(name: SubtreeStatus): number {
  return SUBTREE_STATUS.indexOf(name);
}

export function isStatusName(s: string): s is SubtreeStatus {
  return (SUBTREE_STATUS as readonly string[]).includes(s);
}

/**
 * A broker's own status from its children's: a child lost or degraded below degrades it, one offline or
 * partial makes it partial, and it is full only when every child is.
 */
export function combineStatus(children: Iterable<SubtreeStatus>): SubtreeStatus {
  let status: SubtreeStatus = 'full';
  for (const c of children) {
    if (c === 'lost' || c === 'degraded') return 'degraded';
    if (c !== 'full') status = 'partial';
  }
  return status;
}
