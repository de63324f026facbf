import { describe, it, expect } from 'vitest';
import { credentialFromEnv, formatRoles, parseRoles } from '../../src/core/access/roles.js';
import { EINVAL } from '../../src/core/errors.js';
import { ROLE_LOCAL, ROLE_OWNER, ROLE_USER, USERID_UNKNOWN } from '../../src/core/wire/message.js';
import { parseAccess } from '../../src/core/access/config.js';

describe('role names', () => {
  it('prints owner and user in that order, none for no role', () => {
    expect(formatRoles(ROLE_OWNER | ROLE_USER | ROLE_LOCAL)).toBe('owner,user');
    expect(formatRoles(ROLE_USER)).toBe('user');
    expect(formatRoles(0)).toBe('none');
  });

  it('parses numbers in any base strtoul takes, and role names', () => {
    expect(parseRoles('2')).toBe(ROLE_USER);
    expect(parseRoles('0x3')).toBe(3);
    expect(parseRoles('01')).toBe(1);
    expect(parseRoles('user,owner')).toBe(3);
    expect(() => parseRoles('admin')).toThrow(/Valid roles are owner, user\./);
    expect(() => parseRoles('0x1ffffffff')).toThrow(expect.objectContaining({ errno: EINVAL }));
  });
});

describe('FLUX_HANDLE_USERID / FLUX_HANDLE_ROLEMASK', () => {
  it('are nothing when unset or empty', () => {
    expect(credentialFromEnv({})).toBeUndefined();
    expect(credentialFromEnv({ FLUX_HANDLE_USERID: '', FLUX_HANDLE_ROLEMASK: '' })).toBeUndefined();
  });

  it('a userid alone asks for the user role; a rolemask alone keeps the userid for the broker to fill', () => {
    expect(credentialFromEnv({ FLUX_HANDLE_USERID: '1001' })).toEqual({ userid: 1001, rolemask: ROLE_USER | ROLE_LOCAL });
    expect(credentialFromEnv({ FLUX_HANDLE_ROLEMASK: 'user' })).toEqual({ userid: USERID_UNKNOWN, rolemask: ROLE_USER | ROLE_LOCAL });
    expect(credentialFromEnv({ FLUX_HANDLE_USERID: '7', FLUX_HANDLE_ROLEMASK: '0x1' })).toEqual({ userid: 7, rolemask: ROLE_OWNER | ROLE_LOCAL });
  });

  it('refuse what is not a userid or a rolemask, naming the variable', () => {
    expect(() => credentialFromEnv({ FLUX_HANDLE_USERID: 'alice' })).toThrow('FLUX_HANDLE_USERID=alice: not a userid');
    expect(() => credentialFromEnv({ FLUX_HANDLE_USERID: '4294967295' })).toThrow(/not a userid/);
    expect(() => credentialFromEnv({ FLUX_HANDLE_ROLEMASK: 'root' })).toThrow(/FLUX_HANDLE_ROLEMASK=root: not a rolemask/);
  });
});

describe('[access]', () => {
  it('reads flux-core keys as booleans, defaulting to false', () => {
    expect(parseAccess({}, 'f')).toEqual({ allowGuestUser: false, allowRootOwner: false });
    expect(parseAccess({ access: { 'allow-guest-user': true } }, 'f')).toEqual({ allowGuestUser: true, allowRootOwner: false });
    expect(parseAccess({ access: { 'allow-root-owner': true } }, 'f').allowRootOwner).toBe(true);
  });

  it('refuses unknown keys and values that are not booleans, naming the file', () => {
    expect(() => parseAccess({ access: { 'allow-guest': true } }, 'conf.toml')).toThrow('conf.toml: access.allow-guest is not a known key');
    expect(() => parseAccess({ access: { 'allow-guest-user': 1 } }, 'conf.toml')).toThrow('conf.toml: access.allow-guest-user must be true or false');
    expect(() => parseAccess({ access: 3 }, 'conf.toml')).toThrow(/access must be a table/);
  });
});
