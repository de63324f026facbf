// Who may use a namespace, and what a guest may commit: the rules the KVS holds every request to.
import { NAMESPACE_DENIED } from '../../core/access/roles.js';
import { FluxError, EPERM } from '../../core/errors.js';
import { type Message, ROLE_OWNER } from '../../core/wire/message.js';
import type { Op } from '../../core/kvs/tree.js';
import type { NamespaceRoot } from '../../projections/kvs.js';

export interface Cred {
  userid: number;
  rolemask: number;
}

export const credOf = (msg: Message): Cred => ({ userid: msg.userid, rolemask: msg.rolemask });

/** the instance owner may use every namespace; anyone else only the namespaces they own */
export function mayUse(cred: Cred, root: NamespaceRoot): boolean {
  return (cred.rolemask & ROLE_OWNER) !== 0 || cred.userid === root.owner;
}

export function checkAccess(cred: Cred, root: NamespaceRoot): void {
  if (!mayUse(cred, root)) throw new FluxError(EPERM, NAMESPACE_DENIED);
}

/** a guest may store values, unlink and make empty directories: nothing that names objects it did not write */
export function checkGuestOps(cred: Cred, ops: Op[]): void {
  if (cred.rolemask & ROLE_OWNER) return;
  for (const op of ops) {
    const d = op.dirent as { type?: unknown; data?: unknown } | null;
    if (d === null || d.type === 'val') continue;
    if (d.type === 'dir' && typeof d.data === 'object' && d.data !== null && Object.keys(d.data).length === 0) continue;
    throw new FluxError(EPERM, `guests may not commit ${String(d.type)} objects`);
  }
}
