// Role names as flux user prints and parses them (RFC 12's rolemask bits), and the credential a client may
// present in place of its own (FLUX_HANDLE_USERID / FLUX_HANDLE_ROLEMASK, as flux-core's handle reads them).
import { FluxError, EINVAL } from '../errors.js';
import { ROLE_OWNER, ROLE_USER, ROLE_LOCAL, ROLE_NONE, USERID_UNKNOWN } from '../wire/message.js';

/** the roles a user may be given, in the order they are printed */
const NAMED: Array<[string, number]> = [['owner', ROLE_OWNER], ['user', ROLE_USER]];

export const VALID_ROLES_HINT = 'Valid roles are owner, user.';

/** why a guest is refused a KVS namespace: the same words from every service that checks */
export const NAMESPACE_DENIED = 'namespace access requires the owner role or owning the namespace';

/** `owner,user` style, `none` for no role; bits without a name (LOCAL) are not printed */
export function formatRoles(mask: number): string {
  const names = NAMED.filter(([, bit]) => (mask & bit) !== 0).map(([n]) => n);
  return names.length > 0 ? names.join(',') : 'none';
}

/** a number in any base strtoul takes (0x…, 0…, decimal) or comma-separated role names */
export function parseRoles(text: string): number {
  const t = text.trim();
  if (/^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.test(t)) {
    const n = t.toLowerCase().startsWith('0x') ? parseInt(t, 16) : t.length > 1 && t.startsWith('0') ? parseInt(t, 8) : Number(t);
    if (n <= 0xffffffff) return n >>> 0;
  }
  let mask = ROLE_NONE;
  for (const word of t.split(',')) {
    const hit = NAMED.find(([n]) => n === word.trim());
    if (!hit) throw new FluxError(EINVAL, `${text}: unknown role. ${VALID_ROLES_HINT}`);
    mask |= hit[1];
  }
  return mask;
}

export interface Credential {
  userid: number;
  rolemask: number;
}

/**
 * The credential FLUX_HANDLE_USERID / FLUX_HANDLE_ROLEMASK ask a client's messages to carry, or undefined when
 * neither is set. A userid alone asks for the user role (what acting as another user is for); a rolemask alone
 * keeps the client's own userid, which the broker fills in. Only the instance owner's may be honoured.
 */
/** the user a client speaks for: FLUX_HANDLE_USERID when set, else this process's own */
export function effectiveUserid(env: NodeJS.ProcessEnv): number {
  const u = credentialFromEnv(env)?.userid;
  return u !== undefined && u !== USERID_UNKNOWN ? u : process.getuid?.() ?? 0;
}

export function credentialFromEnv(env: NodeJS.ProcessEnv): Credential | undefined {
  const u = env.FLUX_HANDLE_USERID;
  const r = env.FLUX_HANDLE_ROLEMASK;
  if ((u === undefined || u === '') && (r === undefined || r === '')) return undefined;
  let userid = USERID_UNKNOWN;
  if (u !== undefined && u !== '') {
    if (!/^[0-9]+$/.test(u) || Number(u) >= USERID_UNKNOWN) throw new FluxError(EINVAL, `FLUX_HANDLE_USERID=${u}: not a userid`);
    userid = Number(u);
  }
  let rolemask = userid === USERID_UNKNOWN ? ROLE_NONE : ROLE_USER;
  if (r !== undefined && r !== '') {
    try {
      rolemask = parseRoles(r);
    } catch {
      throw new FluxError(EINVAL, `FLUX_HANDLE_ROLEMASK=${r}: not a rolemask. ${VALID_ROLES_HINT}`);
    }
  }
  return { userid, rolemask: rolemask === ROLE_NONE ? ROLE_NONE : rolemask | ROLE_LOCAL };
}
