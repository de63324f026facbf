// user: the user database (flux user). Roles given to a uid are journal entries (rank 0 makes them); the table is
// the users projection every broker builds, and what each local connector asks when a uid connects.
//
//   user.addrole {userid, rolemask} -> {userid, rolemask}   the roles the uid has now
//   user.delrole {userid, rolemask} -> {userid, rolemask}
//   user.lookup  {userid}           -> {userid, rolemask}   ENOENT for a uid without roles
//   user.list                       -> {users: [{userid, rolemask}]}   the instance owner first
import { FluxError, EINVAL, ENOENT } from '../core/errors.js';
import { ROLE_OWNER, ROLE_USER, USERID_UNKNOWN, payloadJson } from '../core/wire/message.js';
import { USERS, TOPIC_ADDROLE, TOPIC_DELROLE, type UserTable, allUsers, rolesOf } from '../projections/users.js';
import type { JournalService } from './journal.js';
import type { ModuleDef, ModuleHost } from './module.js';

const ROLES = ROLE_OWNER | ROLE_USER;
const USERID = { type: 'integer', minimum: 0, maximum: USERID_UNKNOWN - 1 };
const ROLE_SCHEMA = {
  type: 'object',
  properties: { userid: USERID, rolemask: { type: 'integer', minimum: 1, maximum: 0xffffffff } },
  required: ['userid', 'rolemask'],
  additionalProperties: false,
};

export function userModule(host: ModuleHost, journal: JournalService): ModuleDef {
  const owner = Number(host.attrs.get('security.owner'));
  const table = () => journal.state<UserTable>(USERS);
  /** the owner's roles are the instance's, not the database's: always there, never changed */
  const lookup = (userid: number) => (userid === owner ? ROLE_OWNER : rolesOf(table(), userid));

  async function change(topic: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    // the registry has let only the owner this far: rank 0 makes the entry
    if (host.rank !== 0) return payloadJson(await host.rpc(topic === TOPIC_ADDROLE ? 'user.addrole' : 'user.delrole', body, { nodeid: 0 }));
    const userid = body.userid as number;
    const rolemask = body.rolemask as number;
    if (rolemask & ~ROLES) throw new FluxError(EINVAL, 'Valid roles are owner, user.');
    if (userid === owner) throw new FluxError(EINVAL, `${userid} is the instance owner: its roles do not change`);
    await journal.append(topic, { userid, rolemask }, { userid: owner, rolemask: ROLE_OWNER });
    return { userid, rolemask: lookup(userid) };
  }

  return {
    name: 'user',
    handlers: [
      {
        topic: 'user.addrole',
        schema: ROLE_SCHEMA,
        handler: async (msg, body) => host.respond(msg, await change(TOPIC_ADDROLE, body!)),
      },
      {
        topic: 'user.delrole',
        schema: ROLE_SCHEMA,
        handler: async (msg, body) => host.respond(msg, await change(TOPIC_DELROLE, body!)),
      },
      {
        topic: 'user.lookup',
        schema: { type: 'object', properties: { userid: USERID }, required: ['userid'], additionalProperties: false },
        handler: (msg, body) => {
          const userid = body!.userid as number;
          const rolemask = lookup(userid);
          if (rolemask === 0) throw new FluxError(ENOENT, `userid ${userid} has no roles`);
          host.respond(msg, { userid, rolemask });
        },
      },
      {
        topic: 'user.list',
        handler: (msg) => {
          const users = [{ userid: owner, rolemask: ROLE_OWNER }, ...allUsers(table()).filter((u) => u.userid !== owner)];
          host.respond(msg, { users });
        },
      },
    ],
  };
}
