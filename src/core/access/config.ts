// flux-core's [access] table: who besides the instance owner may connect to the local socket.
//
//   [access]
//   allow-guest-user = true    # any other uid connects with the user role
//   allow-root-owner = true    # root connects with the owner role
import { FluxError, EINVAL } from '../errors.js';
import type { Config } from '../config/load.js';

export interface AccessConfig {
  allowGuestUser: boolean;
  allowRootOwner: boolean;
}

const KEYS: Record<string, keyof AccessConfig> = { 'allow-guest-user': 'allowGuestUser', 'allow-root-owner': 'allowRootOwner' };

/** the [access] table of a loaded config; `where` names the config in errors */
export function parseAccess(config: Config, where: string): AccessConfig {
  const out: AccessConfig = { allowGuestUser: false, allowRootOwner: false };
  const table = config.access;
  if (table === undefined) return out;
  if (typeof table !== 'object' || table === null || Array.isArray(table)) throw new FluxError(EINVAL, `${where}: access must be a table`);
  for (const [key, value] of Object.entries(table)) {
    const field = KEYS[key];
    if (field === undefined) throw new FluxError(EINVAL, `${where}: access.${key} is not a known key`);
    if (typeof value !== 'boolean') throw new FluxError(EINVAL, `${where}: access.${key} must be true or false`);
    out[field] = value;
  }
  return out;
}
