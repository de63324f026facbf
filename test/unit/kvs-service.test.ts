// The KVS master on rank 0, driven in one process: the real journal, content and kvs modules over an in-memory
// store, requests through the service registry (so schemas and roles apply as in a broker). What is hard to
// provoke from outside is checked here: merging, the one-at-a-time fallback, the entries and index rows made.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type Database from 'better-sqlite3';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore } from '../../src/core/journal/store.js';
import {
  type Message, makeRequest, jsonPayload, payloadJson, stringPayload, MSGTYPE_RESPONSE, ROLE_OWNER, ROLE_USER, ROLE_LOCAL,
} from '../../src/core/wire/message.js';
import { errnoOf, EEXIST, EINVAL, EISDIR, ENOENT, ENOTSUP, EPERM, EPROTO } from '../../src/core/errors.js';
import { Attrs } from '../../src/services/attrs.js';
import { ServiceRegistry } from '../../src/broker/registry.js';
import type { Payload } from '../../src/services/module.js';
import { journalModule, type JournalService } from '../../src/services/journal.js';
import { contentModule } from '../../src/services/content.js';
import { kvsModule } from '../../src/services/kvs/index.js';
import { kvsProjection, namespaceTopic, ENTRY_KVS } from '../../src/projections/kvs.js';
import { blobrefOf } from '../../src/core/content/blobref.js';
import { EMPTY_DIR_BLOB } from '../../src/core/kvs/tree.js';
import { fakeHost } from '../helpers/module-host.js';

const OWNER = 4242;
const GUEST = 1000;

interface Harness {
  registry: ServiceRegistry;
  journal: JournalService;
  cs: ContentStore;
  js: JournalStore;
  /** send a request; resolves with the response (errnum in aux1) */
  send(topic: string, body?: unknown, cred?: { userid: number; rolemask: number }): Promise<Message>;
  call(topic: string, body?: unknown, cred?: { userid: number; rolemask: number }): Promise<Record<string, unknown>>;
}

/** `before` runs on the store before any module opens it: a store made by an earlier version, say */
async function harness(before?: (db: Database.Database) => void): Promise<Harness> {
  const attrs = new Attrs();
  attrs.define('security.owner', String(OWNER));
  const waiting = new Map<number, (m: Message) => void>();
  const host = fakeHost(attrs, {
    respond: (req, payload?: Payload) => {
      const p = payload === undefined || Buffer.isBuffer(payload) ? payload : jsonPayload(payload);
      waiting.get(req.aux2)?.({ type: MSGTYPE_RESPONSE, flags: 0, userid: 0, rolemask: 0, aux1: 0, aux2: req.aux2, payload: p });
    },
    respondError: (req, err) => {
      const text = err instanceof Error ? err.message : undefined;
      waiting.get(req.aux2)?.({
        type: MSGTYPE_RESPONSE, flags: 0, userid: 0, rolemask: 0, aux1: errnoOf(err), aux2: req.aux2,
        payload: text ? stringPayload(text) : undefined,
      });
    },
    rpc: () => Promise.reject(new Error('rank 0 asks nobody')),
  });
  const cs = ContentStore.open(':memory:', 'sha256');
  const js = new JournalStore(cs);
  before?.(js.database);
  const registry = new ServiceRegistry(host);
  const content = contentModule(host, cs, 'sha256');
  const journal = journalModule(host, { store: js, projections: [kvsProjection] });
  await registry.load(content.def, 'builtin');
  await registry.load(journal.def, 'builtin');
  await registry.load(kvsModule(host, { journal, content, store: js }), 'builtin');
  let tag = 1;
  const send = (topic: string, body?: unknown, cred = { userid: OWNER, rolemask: ROLE_OWNER | ROLE_LOCAL }) =>
    new Promise<Message>((resolve) => {
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : jsonPayload(body);
      const msg = makeRequest(topic, payload, { matchtag: tag++ });
      msg.userid = cred.userid;
      msg.rolemask = cred.rolemask;
      msg.routes = ['client'];
      waiting.set(msg.aux2, resolve);
      registry.dispatch(msg);
    });
  const call = async (topic: string, body?: unknown, cred?: { userid: number; rolemask: number }) => {
    const m = await send(topic, body, cred);
    if (m.aux1 !== 0) throw Object.assign(new Error(`${topic}: errno ${m.aux1}`), { errno: m.aux1 });
    return m.payload ? payloadJson(m) : {};
  };
  return { registry, journal, cs, js, send, call };
}

const val = (s: string) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const put = (key: string, s: string, flags = 0) => ({ key, flags, dirent: val(s) });
const commit = (ops: unknown[], flags = 0, namespace = 'primary') => ({ namespace, flags, ops });
const errno = (m: Message) => m.aux1;

describe('kvs master (rank 0, in process)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.registry.removeAll();
    h.cs.close();
  });

  it('starts with primary at the empty directory, owned by the instance owner, without an entry', async () => {
    expect(await h.call('kvs.getroot', { namespace: 'primary' })).toEqual({
      owner: OWNER, rootseq: 0, rootref: blobrefOf('sha256', EMPTY_DIR_BLOB), flags: 0, namespace: 'primary',
    });
    expect(await h.call('kvs.namespace-list')).toEqual({ namespaces: [{ namespace: 'primary', owner: OWNER, flags: 0 }] });
    expect(await h.call('kvs.version-root', { namespace: 'primary', rootseq: 0 })).toEqual({ rootref: blobrefOf('sha256', EMPTY_DIR_BLOB), seq: 0, time: 0 });
    expect(h.journal.head().seq).toBe(0);
    expect(await h.call('kvs.lookup', { key: '.', namespace: 'primary', flags: 1 })).toEqual({ val: { data: {}, type: 'dir', ver: 1 } });
  });

  it('merges commits that arrive together into one version and one entry', async () => {
    const before = h.journal.head().seq;
    const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => h.call('kvs.commit', commit([put(`k${i}`, `v${i}`)]))));
    expect(new Set(rs.map((r) => r.rootseq))).toEqual(new Set([1]));
    expect(new Set(rs.map((r) => r.rootref)).size).toBe(1);
    expect(h.journal.head().seq).toBe(before + 1);
    const e = h.js.entry(before + 1).entry;
    expect(e).toMatchObject({ topic: namespaceTopic('primary', 'setroot'), flags: 0x20 | ENTRY_KVS, userid: OWNER, rolemask: ROLE_OWNER });
    expect(e.payload).toMatchObject({ namespace: 'primary', rootseq: 1, rootref: rs[0]!.rootref, keys: ['k0', 'k1', 'k2', 'k3', 'k4'], owner: OWNER });
    expect((e.payload as { names: string[] }).names).toHaveLength(5);
    expect((e.payload as { ops: unknown[] }).ops).toHaveLength(5);
    for (let i = 0; i < 5; i++) {
      expect(await h.call('kvs.lookup', { key: `k${i}`, namespace: 'primary', flags: 0 })).toEqual({ val: { data: val(`v${i}`).data, type: 'val', ver: 1 } });
    }
  });

  it('never merges NO_MERGE or SYNC commits', async () => {
    const rs = await Promise.all([1, 1, 4, 4].map((f, i) => h.call('kvs.commit', commit([put(`n${i}`, 'x')], f))));
    expect(rs.map((r) => r.rootseq)).toEqual([1, 2, 3, 4]);
  });

  it('retries a failed merged batch one commit at a time: only the bad one fails', async () => {
    await h.call('kvs.commit', commit([put('d.x', '1')]));
    const [a, bad, c] = await Promise.all([
      h.send('kvs.commit', commit([put('a', '1')])),
      h.send('kvs.commit', commit([put('d', 'x', 32)])),
      h.send('kvs.commit', commit([put('c', '3')])),
    ]);
    expect(errno(a!)).toBe(0);
    expect(errno(bad!)).toBe(EISDIR);
    expect(errno(c!)).toBe(0);
    expect([payloadJson(a!).rootseq, payloadJson(c!).rootseq]).toEqual([2, 3]);
    expect((await h.call('kvs.lookup', { key: 'd', namespace: 'primary', flags: 1 })).val).toMatchObject({ type: 'dir' });
  });

  it('indexes every version and every changed key in the journal transaction, the keys moved later in bulk', async () => {
    const r1 = await h.call('kvs.commit', commit([put('a', '1'), put('b.c', '2')]));
    const r2 = await h.call('kvs.commit', commit([{ key: 'a', flags: 0, dirent: null }]));
    // a version's keys go in by one statement reading a JSON array: names JSON must escape come out as they went in
    const wide = ['w."q"', 'w.\\b', 'w.é\u{1F600}', ...Array.from({ length: 17 }, (_, i) => `w.k${i}`)];
    await h.call('kvs.commit', commit(wide.map((k) => put(k, 'v'))));
    const db = h.js.database;
    expect(db.prepare('SELECT namespace, rootseq, rootref FROM kvs_version WHERE rootseq < 3 ORDER BY rootseq').all()).toEqual([
      { namespace: 'primary', rootseq: 1, rootref: r1.rootref },
      { namespace: 'primary', rootseq: 2, rootref: r2.rootref },
    ]);
    const keys = (table: string) => db.prepare(`SELECT key, rootseq FROM ${table} ORDER BY rootseq, key`).all();
    const changed = [{ key: 'a', rootseq: 1 }, { key: 'b.c', rootseq: 1 }, { key: 'a', rootseq: 2 },
      ...[...wide].sort().map((key) => ({ key, rootseq: 3 }))];
    // first where a commit's rows are adjacent, then, in bulk, where each key's versions are
    expect(keys('kvs_key_recent')).toEqual(changed);
    expect(keys('kvs_key')).toEqual([]);
    // a timer made after the move's fires after it
    await new Promise((r) => setTimeout(r, 300));
    expect(keys('kvs_key')).toEqual(changed);
    expect(keys('kvs_key_recent')).toEqual([]);
    const v = await h.call('kvs.version-root', { namespace: 'primary', rootseq: 1 });
    expect(v).toMatchObject({ rootref: r1.rootref, seq: expect.any(Number), time: expect.any(Number) });
    expect(h.js.entry(v.seq as number).entry.payload).toMatchObject({ rootseq: 1 });
    expect(errno(await h.send('kvs.version-root', { namespace: 'primary', rootseq: 9 }))).toBe(ENOENT);
    // the old version stays readable under its root
    expect(await h.call('kvs.lookup', { key: 'a', flags: 0, rootdir: { data: [r1.rootref], type: 'dirref', ver: 1 } })).toEqual({ val: { data: 'MQ==', type: 'val', ver: 1 } });
  });

  it('keeps the key index of a store made before (a table with a rowid) and moves keys into it; a new one has no rowid', async () => {
    const layout = (db: Database.Database) => db.prepare("SELECT sql FROM sqlite_master WHERE name = 'kvs_key'").pluck().get() as string;
    expect(layout(h.js.database)).toMatch(/WITHOUT ROWID$/);
    const before = 'CREATE TABLE kvs_key(namespace TEXT, key TEXT, rootseq INTEGER, PRIMARY KEY(namespace, key, rootseq))';
    const old = await harness((db) => db.exec(before));
    try {
      await old.call('kvs.commit', commit([put('a', '1'), put('b', '2')]));
      await old.call('kvs.commit', commit([put('a', '3')]));
      await new Promise((r) => setTimeout(r, 300));
      expect(layout(old.js.database)).toBe(before);
      expect(old.js.database.prepare('SELECT key, rootseq FROM kvs_key ORDER BY key, rootseq').all()).toEqual([
        { key: 'a', rootseq: 1 }, { key: 'a', rootseq: 2 }, { key: 'b', rootseq: 1 },
      ]);
    } finally {
      await old.registry.removeAll();
      old.cs.close();
    }
  });

  it('creates, lists and removes namespaces through the journal', async () => {
    const root = blobrefOf('sha256', EMPTY_DIR_BLOB);
    expect(await h.call('kvs.namespace-create', { namespace: 'ns1', rootref: root, owner: -1, flags: 0 })).toEqual({});
    expect(errno(await h.send('kvs.namespace-create', { namespace: 'ns1', rootref: root, owner: -1, flags: 0 }))).toBe(EEXIST);
    expect(errno(await h.send('kvs.namespace-create', { namespace: 'ns2', rootref: `sha256-${'0'.repeat(64)}`, owner: -1, flags: 0 }))).toBe(ENOENT);
    const r = await h.call('kvs.commit', commit([put('x', 'y')], 0, 'ns1'));
    expect(await h.call('kvs.namespace-create', { namespace: 'ns2', rootref: r.rootref, owner: 7, flags: 0 })).toEqual({});
    expect(await h.call('kvs.namespace-list')).toEqual({ namespaces: [
      { namespace: 'primary', owner: OWNER, flags: 0 }, { namespace: 'ns1', owner: OWNER, flags: 0 }, { namespace: 'ns2', owner: 7, flags: 0 },
    ] });
    // a namespace may start from any stored directory: ns2 starts where ns1 is
    expect(await h.call('kvs.lookup', { key: 'x', namespace: 'ns2', flags: 0 })).toEqual({ val: { data: val('y').data, type: 'val', ver: 1 } });
    expect(errno(await h.send('kvs.namespace-remove', { namespace: 'primary' }))).toBe(EINVAL);
    expect(await h.call('kvs.namespace-remove', { namespace: 'ns1' })).toEqual({});
    expect(errno(await h.send('kvs.namespace-remove', { namespace: 'ns1' }))).toBe(ENOTSUP);
    expect(errno(await h.send('kvs.lookup', { key: 'x', namespace: 'ns1', flags: 0 }))).toBe(ENOTSUP);
    expect(errno(await h.send('kvs.commit', commit([put('x', 'z')], 0, 'ns1')))).toBe(ENOTSUP);
    expect(await h.call('kvs.lookup', { key: 'x', namespace: 'ns2', flags: 0 })).toEqual({ val: { data: val('y').data, type: 'val', ver: 1 } });
    // a namespace made again starts over, and so does its index
    expect(await h.call('kvs.namespace-create', { namespace: 'ns1', rootref: root, owner: -1, flags: 0 })).toEqual({});
    expect(await h.call('kvs.getroot', { namespace: 'ns1' })).toMatchObject({ rootseq: 0, rootref: root });
    expect(errno(await h.send('kvs.version-root', { namespace: 'ns1', rootseq: 1 }))).toBe(ENOENT);
  });

  it('lets a guest use only the namespaces it owns, and commit only values, unlinks and empty directories', async () => {
    const guest = { userid: GUEST, rolemask: ROLE_USER };
    const root = blobrefOf('sha256', EMPTY_DIR_BLOB);
    await h.call('kvs.namespace-create', { namespace: 'g', rootref: root, owner: GUEST, flags: 0 });
    expect(errno(await h.send('kvs.lookup', { key: 'a', namespace: 'primary', flags: 0 }, guest))).toBe(EPERM);
    expect(errno(await h.send('kvs.getroot', { namespace: 'primary' }, guest))).toBe(EPERM);
    expect(errno(await h.send('kvs.commit', commit([put('a', '1')]), guest))).toBe(EPERM);
    expect(errno(await h.send('kvs.namespace-list', undefined, guest))).toBe(EPERM);
    expect(errno(await h.send('kvs.namespace-create', { namespace: 'mine', rootref: root, owner: -1, flags: 0 }, guest))).toBe(EPERM);
    const r = await h.call('kvs.commit', commit([put('a', '1'), { key: 'd', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } },
      { key: 'log', flags: 32, dirent: val('x') }, { key: 'gone', flags: 0, dirent: null }], 0, 'g'), guest);
    expect(r.rootseq).toBe(1);
    expect(await h.call('kvs.lookup', { key: 'a', namespace: 'g', flags: 0 }, guest)).toEqual({ val: { data: 'MQ==', type: 'val', ver: 1 } });
    expect(await h.call('kvs.getroot', { namespace: 'g' }, guest)).toMatchObject({ owner: GUEST, rootseq: 1 });
    for (const dirent of [
      { ver: 1, type: 'symlink', data: { target: 'a' } },
      { ver: 1, type: 'dirref', data: [root] },
      { ver: 1, type: 'valref', data: [root] },
      { ver: 1, type: 'dir', data: { x: val('1') } },
      // only a dir may be empty, and only an object is
      { ver: 1, type: 'symlink', data: {} },
      { ver: 1, type: 'dir', data: '' },
      { ver: 1, type: 'dir', data: null },
    ]) {
      const refused = await h.send('kvs.commit', commit([{ key: 'z', flags: 0, dirent }], 0, 'g'), guest);
      expect(errno(refused)).toBe(EPERM);
      expect(refused.payload?.toString()).toBe(`guests may not commit ${dirent.type} objects\0`);
    }
    // the namespace's entries are the guest's own, so its private events reach it
    expect(h.js.entry(h.journal.head().seq).entry).toMatchObject({ userid: GUEST, rolemask: ROLE_USER, flags: 0x20 | ENTRY_KVS });
    // a guest may not forge a relayed commit
    expect(errno(await h.send('kvs.relaycommit', { ...commit([put('a', '1')]), name: 'n', userid: OWNER, rolemask: ROLE_OWNER }, guest))).toBe(EPERM);
  });

  it('answers wait-version once the namespace reaches the version', async () => {
    const waiting = h.call('kvs.wait-version', { namespace: 'primary', rootseq: 2 });
    let done = false;
    void waiting.then(() => (done = true));
    await h.call('kvs.commit', commit([put('a', '1')]));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    const r = await h.call('kvs.commit', commit([put('a', '2')]));
    expect(await waiting).toEqual({ rootseq: 2, rootref: r.rootref });
    expect(await h.call('kvs.wait-version', { namespace: 'primary', rootseq: 1 })).toMatchObject({ rootseq: 2 });
    expect(errno(await h.send('kvs.wait-version', { namespace: 'nope', rootseq: 1 }))).toBe(ENOTSUP);
  });

  it('lookup-plus answers a missing key with its root', async () => {
    const r = await h.call('kvs.commit', commit([put('a', '1')]));
    expect(await h.call('kvs.lookup-plus', { key: 'a', namespace: 'primary', flags: 0 })).toEqual({
      val: { data: 'MQ==', type: 'val', ver: 1 }, rootseq: 1, rootref: r.rootref,
    });
    expect(await h.call('kvs.lookup-plus', { key: 'b', namespace: 'primary', flags: 0 })).toEqual({ errno: ENOENT, rootseq: 1, rootref: r.rootref });
  });

  it('answers bad payloads with EPROTO or EINVAL and keeps going', async () => {
    const cases: Array<[string, unknown, number]> = [
      ['kvs.commit', undefined, EPROTO],
      ['kvs.commit', Buffer.from('not json\0'), EPROTO],
      ['kvs.commit', { namespace: 'primary', flags: 0 }, EPROTO],
      ['kvs.commit', { namespace: 'primary', flags: 0, ops: {} }, EPROTO],
      ['kvs.commit', { namespace: 'primary', flags: -1, ops: [] }, EPROTO],
      ['kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'a', flags: 0 }] }, EPROTO],
      ['kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 1, flags: 0, dirent: null }] }, EPROTO],
      ['kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'a', flags: 0, dirent: { ver: 1, type: 'val', data: '%%' } }] }, EPROTO],
      ['kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'a', flags: 0, dirent: { ver: 1, type: 'bogus' } }] }, EPROTO],
      ['kvs.commit', { namespace: 'primary', flags: 64, ops: [] }, EINVAL],
      ['kvs.commit', { namespace: 'primary', flags: 0, ops: [put('', 'x')] }, EINVAL],
      ['kvs.commit', { namespace: '', flags: 0, ops: [] }, EPROTO],
      ['kvs.lookup', { key: 5, namespace: 'primary', flags: 0 }, EPROTO],
      ['kvs.lookup', { namespace: 'primary', flags: 0 }, EPROTO],
      ['kvs.lookup', { key: 'a', flags: 0, rootdir: { ver: 1, type: 'val', data: '' } }, EINVAL],
      ['kvs.lookup', { key: 'a', flags: 0, rootdir: { ver: 1, type: 'dirref', data: ['sha1-00'] } }, EINVAL],
      ['kvs.getroot', {}, EPROTO],
      ['kvs.wait-version', { namespace: 'primary', rootseq: 'x' }, EPROTO],
      ['kvs.namespace-create', { namespace: 'x', rootref: 'nope', owner: -1, flags: 0 }, EINVAL],
      ['kvs.namespace-create', { namespace: 'x y', rootref: 'nope', owner: -1, flags: 0 }, EPROTO],
      ['kvs.namespace-remove', [], EPROTO],
      ['kvs.version-root', { namespace: 'primary' }, EPROTO],
    ];
    for (const [topic, body, want] of cases) {
      expect([topic, body, errno(await h.send(topic, body))]).toEqual([topic, body, want]);
    }
    expect((await h.call('kvs.commit', commit([put('still', 'alive')]))).rootseq).toBe(1);
  });

  it('takes no root from an event published under a KVS topic, and indexes none', async () => {
    const r = await h.call('kvs.commit', commit([put('a', '1')]));
    const forged = { namespace: 'primary', rootseq: 99, rootref: blobrefOf('sha256', EMPTY_DIR_BLOB), owner: OWNER, keys: ['a'] };
    // what event.publish makes of it: the publisher's topic and payload, no flag but PRIVATE
    await h.journal.append(namespaceTopic('primary', 'setroot'), forged, { userid: OWNER, rolemask: ROLE_OWNER, flags: 0x20 });
    await h.journal.append(namespaceTopic('primary', 'removed'), { namespace: 'primary' }, { userid: OWNER, rolemask: ROLE_OWNER });
    expect(await h.call('kvs.getroot', { namespace: 'primary' })).toMatchObject({ rootseq: 1, rootref: r.rootref });
    expect(errno(await h.send('kvs.version-root', { namespace: 'primary', rootseq: 99 }))).toBe(ENOENT);
    expect(await h.call('kvs.version-root', { namespace: 'primary', rootseq: 1 })).toMatchObject({ rootref: r.rootref });
    expect((await h.call('kvs.commit', commit([put('b', '2')]))).rootseq).toBe(2);
  });

  it('has an empty commit make a new version of the same root', async () => {
    const r0 = await h.call('kvs.getroot', { namespace: 'primary' });
    const r = await h.call('kvs.commit', commit([]));
    expect(r).toEqual({ rootref: r0.rootref, rootseq: 1 });
  });
});
