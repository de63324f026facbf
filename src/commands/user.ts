// flux user: the instance's user database, as flux-core's `flux user` printed it: `<uid>:<roles>` lines.
import { withHandle } from '../api/handle.js';
import { type UserRoles, addRole, delRole, listUsers, lookupUser } from '../api/users.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { VALID_ROLES_HINT, formatRoles, parseRoles } from '../core/access/roles.js';
import { program, runChosen } from './common.js';
import { readPasswd, userOf } from './ps.js';

const line = (u: UserRoles) => `${u.userid}:${formatRoles(u.rolemask)}\n`;

function roles(text: string): number {
  const mask = parseRoles(text);
  if (mask === 0) throw new FluxError(EINVAL, `${text}: no role named. ${VALID_ROLES_HINT}`);
  return mask;
}

export async function run(args: string[]): Promise<number> {
  const p = program('user', 'Manage the instance user database');
  let chosen: (() => Promise<number>) | undefined;
  const uid = (text: string) => userOf(text, readPasswd());
  p.command('list').description('List users and their roles').action(() => {
    chosen = () => withHandle(async (h) => {
      for (const u of await listUsers(h)) process.stdout.write(line(u));
      return 0;
    });
  });
  p.command('lookup').description("Print a user's roles").argument('<userid>', 'uid or user name').action((who: string) => {
    chosen = () => withHandle(async (h) => {
      process.stdout.write(line(await lookupUser(h, uid(who))));
      return 0;
    });
  });
  p.command('addrole').description('Give a user roles').argument('<userid>', 'uid or user name')
    .argument('<rolemask>', 'roles: owner,user or a number').action((who: string, mask: string) => {
      chosen = () => withHandle(async (h) => {
        await addRole(h, uid(who), roles(mask));
        return 0;
      });
    });
  p.command('delrole').description('Take roles from a user').argument('<userid>', 'uid or user name')
    .argument('<rolemask>', 'roles: owner,user or a number').action((who: string, mask: string) => {
      chosen = () => withHandle(async (h) => {
        await delRole(h, uid(who), roles(mask));
        return 0;
      });
    });
  return runChosen(p, args, () => chosen);
}
