// flux user: the user database is journal entries; the local connector asks it at each new connection.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startInstance } from '../helpers/instance.js';
import { guestUser, fluxAs } from '../helpers/guest.js';

const ok = (stdout = '') => ({ code: 0, stderr: '', stdout });

describe('flux user', () => {
  const guest = guestUser();

  it('a role given to a uid lets it connect at once, with that role, and taking it away refuses the next connection', async () => {
    const inst = await startInstance(2);
    try {
      const owner = process.getuid!();
      expect(await inst.flux(['user', 'list'])).toMatchObject(ok(`${owner}:owner\n`));
      // nobody else may connect yet: the socket is not even reachable
      expect(await fluxAs(guest, inst.uri, ['getattr', 'size'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^flux-getattr: cannot connect to .*: permission denied/i) });
      expect(await inst.flux(['user', 'addrole', guest.name, 'user'])).toMatchObject(ok());
      expect(await inst.flux(['user', 'lookup', guest.name])).toMatchObject(ok(`${guest.uid}:user\n`));
      expect(await inst.flux(['user', 'addrole', '1001', '0x3'])).toMatchObject(ok());
      expect(await inst.flux(['user', 'list'])).toMatchObject(ok(`${owner}:owner\n${guest.uid}:user\n1001:owner,user\n`));
      // the broker opened its socket to others when the first role was given
      expect(await fluxAs(guest, inst.uri, ['getattr', 'size'])).toMatchObject(ok('2\n'));
      expect((await fluxAs(guest, inst.uri, ['kvs', 'get', 'a'])).stderr).toBe('flux-kvs: a: Operation not permitted\n');
      expect((await fluxAs(guest, inst.uri, ['user', 'list'])).stderr).toBe('flux-user: Request requires owner credentials\n');
      expect(await inst.flux(['user', 'delrole', String(guest.uid), 'user'])).toMatchObject(ok());
      expect(await inst.flux(['user', 'lookup', String(guest.uid)])).toMatchObject({ code: 1, stderr: `flux-user: userid ${guest.uid} has no roles\n` });
      expect((await fluxAs(guest, inst.uri, ['getattr', 'size'])).stderr).toContain('connection refused by the broker');
      expect(await inst.flux(['user', 'delrole', '1001', 'owner'])).toMatchObject(ok());
      expect(await inst.flux(['user', 'lookup', '1001'])).toMatchObject(ok('1001:user\n'));
    } finally {
      expect(await inst.stop()).toBe(0);
    }
  }, 90_000);

  it('refuses unknown roles and users, and changes to the owner, saying why', async () => {
    const inst = await startInstance(1);
    try {
      expect(await inst.flux(['user', 'addrole', '5', 'admin'])).toMatchObject({ code: 1, stderr: 'flux-user: admin: unknown role. Valid roles are owner, user.\n' });
      expect(await inst.flux(['user', 'addrole', 'no-such-user', 'user'])).toMatchObject({ code: 1, stderr: 'flux-user: Invalid user no-such-user\n' });
      const owner = String(process.getuid!());
      expect(await inst.flux(['user', 'delrole', owner, 'owner'])).toMatchObject({ code: 1, stderr: `flux-user: ${owner} is the instance owner: its roles do not change\n` });
      expect(await inst.flux(['event', 'pub', 'user.addrole', '{"userid":5,"rolemask":1}'])).toMatchObject({ code: 1 });
      expect(await inst.flux(['user', 'lookup', '5'])).toMatchObject({ code: 1 });
    } finally {
      expect(await inst.stop()).toBe(0);
    }
  }, 60_000);

  it('survives a restart: the table is rebuilt from the journal', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-user-state-'));
    try {
      expect(await run(['start', '-S', `statedir=${state}`, 'sh', '-c', `flux user addrole ${guest.uid} user && flux user addrole 1001 owner`])).toMatchObject({ code: 0 });
      const again = await run(['start', '-S', `statedir=${state}`, '--size', '2', 'sh', '-c',
        'flux user list; FLUX_URI=$(echo "$FLUX_URI" | sed "s/local-0$/local-1/") flux user lookup 1001']);
      expect(again).toMatchObject(ok(`${process.getuid!()}:owner\n${guest.uid}:user\n1001:owner\n1001:owner\n`));
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 90_000);
});
