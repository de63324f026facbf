// The user database (flux user): the roles the instance gives uids.
import type { Flux } from './handle.js';

export interface UserRoles {
  userid: number;
  rolemask: number;
}

const rolesOf = (r: Record<string, unknown>): UserRoles => ({ userid: Number(r.userid), rolemask: Number(r.rolemask) });

export async function listUsers(h: Flux): Promise<UserRoles[]> {
  const r = await h.call('user.list');
  return (Array.isArray(r.users) ? (r.users as Record<string, unknown>[]) : []).map(rolesOf);
}

export async function lookupUser(h: Flux, userid: number): Promise<UserRoles> {
  return rolesOf(await h.call('user.lookup', { userid }));
}

export async function addRole(h: Flux, userid: number, rolemask: number): Promise<UserRoles> {
  return rolesOf(await h.call('user.addrole', { userid, rolemask }));
}

export async function delRole(h: Flux, userid: number, rolemask: number): Promise<UserRoles> {
  return rolesOf(await h.call('user.delrole', { userid, rolemask }));
}
