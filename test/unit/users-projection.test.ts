// The user database's rules one by one: roles added and taken away bit by bit, a uid left with none forgotten,
// entries no user service writes ignored (the state kept as it was), the order `flux user list` prints, and a
// saved table read back with whatever is not a uid's roles left out.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { ROLE_OWNER, ROLE_USER } from '../../src/core/wire/message.js';
import {
  allUsers, rolesOf, usersProjection, TOPIC_ADDROLE, TOPIC_DELROLE, USERS, type UserTable,
} from '../../src/projections/users.js';

let seq = 0;
const entry = (topic: string, payload: unknown): Entry => ({ seq: ++seq, prev: null, time: 1000 + seq, topic, userid: 0, rolemask: 1, flags: 0, payload });
const add = (userid: number, rolemask: number) => entry(TOPIC_ADDROLE, { userid, rolemask });
const del = (userid: number, rolemask: number) => entry(TOPIC_DELROLE, { userid, rolemask });
const apply = (state: UserTable, e: Entry) => usersProjection.apply(state, e, 'ref');
const build = (entries: Entry[], from: UserTable = usersProjection.initial()) => entries.reduce(apply, from);

describe('the user database', () => {
  it('is named users and starts empty', () => {
    expect(usersProjection.name).toBe(USERS);
    expect(USERS).toBe('users');
    expect(usersProjection.initial()).toEqual({});
    expect(rolesOf(usersProjection.initial(), 1001)).toBe(0);
  });

  it('adds roles to what a uid had and takes away only the roles named', () => {
    const t = build([add(1001, ROLE_USER), add(1001, ROLE_OWNER)]);
    expect(t).toEqual({ 1001: ROLE_USER | ROLE_OWNER });
    expect(rolesOf(t, 1001)).toBe(ROLE_USER | ROLE_OWNER);
    const less = build([del(1001, ROLE_OWNER)], t);
    expect(less).toEqual({ 1001: ROLE_USER });
    expect(rolesOf(less, 1002)).toBe(0);
  });

  it('forgets a uid left with no role, and keeps the others', () => {
    const t = build([add(1001, ROLE_USER), add(1002, ROLE_USER), del(1001, ROLE_USER)]);
    expect(t).toEqual({ 1002: ROLE_USER });
    expect(Object.keys(t)).toEqual(['1002']);
  });

  it('keeps the same state object when an entry changes nothing, and makes a new one when it does', () => {
    const t = build([add(1001, ROLE_USER)]);
    expect(apply(t, add(1001, ROLE_USER))).toBe(t);
    expect(apply(t, del(1002, ROLE_USER))).toBe(t);
    expect(apply(t, del(1001, ROLE_OWNER))).toBe(t);
    const changed = apply(t, add(1003, ROLE_USER));
    expect(changed).not.toBe(t);
    expect(t).toEqual({ 1001: ROLE_USER });
  });

  it('reads a rolemask as unsigned 32 bits', () => {
    expect(build([add(7, -1)])).toEqual({ 7: 0xffffffff });
    expect(build([add(7, -1), del(7, ROLE_OWNER)])).toEqual({ 7: 0xfffffffe });
  });

  it('ignores entries of other topics and payloads no user service writes', () => {
    const t = build([add(1001, ROLE_USER)]);
    const bad: unknown[] = [null, 'x', 5, [], {}, { userid: 1001 }, { rolemask: 2 }, { userid: '1001', rolemask: 2 },
      { userid: 1001, rolemask: '2' }, { userid: 1.5, rolemask: 2 }, { userid: 1001, rolemask: 2.5 }];
    for (const p of bad) {
      expect(apply(t, entry(TOPIC_ADDROLE, p)), JSON.stringify(p)).toBe(t);
      expect(apply(t, entry(TOPIC_DELROLE, p)), JSON.stringify(p)).toBe(t);
    }
    for (const topic of ['user.other', 'app.addrole', 'user.addrolex']) {
      expect(apply(t, entry(topic, { userid: 1001, rolemask: ROLE_USER })), topic).toBe(t);
      expect(apply(t, entry(topic, { userid: 1002, rolemask: ROLE_USER })), topic).toBe(t);
    }
  });

  it('lists uids in numeric order, as flux user list prints them', () => {
    const t = build([add(20, ROLE_USER), add(3, ROLE_OWNER), add(100, ROLE_USER | ROLE_OWNER)]);
    expect(allUsers(t)).toEqual([
      { userid: 3, rolemask: ROLE_OWNER }, { userid: 20, rolemask: ROLE_USER }, { userid: 100, rolemask: ROLE_USER | ROLE_OWNER },
    ]);
    expect(allUsers({})).toEqual([]);
  });

  it('saves the table as it is and reads back only uids with roles', () => {
    const t = build([add(1001, ROLE_USER), add(1002, ROLE_OWNER)]);
    expect(usersProjection.save(t)).toEqual(t);
    expect(usersProjection.load(usersProjection.save(t))).toEqual(t);
    expect(usersProjection.load(null)).toEqual({});
    expect(usersProjection.load('x')).toEqual({});
    expect(usersProjection.load({ 1001: 2, alice: 2, '-1': 2, 1002: 0, 1003: 1.5, 1004: '2', 1005: 1, '12a': 2, a12: 2 })).toEqual({ 1001: 2, 1005: 1 });
  });
});
