// The user database: the roles given to uids other than the instance owner's, built from the journal's user.*
// entries. Every broker builds it, so each local connector asks its own copy who may connect.
//
// Journal entries (made by the user service on rank 0, owner only):
//   user.addrole {userid, rolemask}   the roles are added to what the uid had
//   user.delrole {userid, rolemask}   the roles are taken away; a uid left with none is forgotten
import type { Entry } from '../core/journal/entry.js';
import type { Projection } from './projection.js';

export const USERS = 'users';
export const TOPIC_ADDROLE = 'user.addrole';
export const TOPIC_DELROLE = 'user.delrole';

/** decimal uid -> rolemask (never 0) */
export type UserTable = Readonly<Record<string, number>>;

export interface RolePayload {
  userid: number;
  rolemask: number;
}

function rolePayload(entry: Entry): RolePayload | undefined {
  const p = entry.payload as Partial<RolePayload> | null;
  if (p === null || typeof p !== 'object') return undefined;
  if (!Number.isInteger(p.userid) || !Number.isInteger(p.rolemask)) return undefined;
  return { userid: p.userid!, rolemask: p.rolemask! >>> 0 };
}

export function rolesOf(t: UserTable, userid: number): number {
  return t[String(userid)] ?? 0;
}

/** uid order, as flux user list prints it */
export function allUsers(t: UserTable): RolePayload[] {
  return Object.entries(t).map(([u, r]) => ({ userid: Number(u), rolemask: r })).sort((a, b) => a.userid - b.userid);
}

export const usersProjection: Projection<UserTable> = {
  name: USERS,
  initial: () => ({}),
  apply(state, entry) {
    if (entry.topic !== TOPIC_ADDROLE && entry.topic !== TOPIC_DELROLE) return state;
    const p = rolePayload(entry);
    if (!p) return state;
    const key = String(p.userid);
    const before = state[key] ?? 0;
    const after = (entry.topic === TOPIC_ADDROLE ? before | p.rolemask : before & ~p.rolemask) >>> 0;
    if (after === before) return state;
    const next = { ...state };
    if (after === 0) delete next[key];
    else next[key] = after;
    return next;
  },
  save: (state) => state,
  load: (saved) => {
    const out: Record<string, number> = {};
    if (saved !== null && typeof saved === 'object') {
      for (const [k, v] of Object.entries(saved)) if (/^\d+$/.test(k) && Number.isInteger(v) && v !== 0) out[k] = v as number;
    }
    return out;
  },
};
