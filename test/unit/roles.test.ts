// The role checks, in this process: the registry's gate every request passes (the owner always, other roles only
// where a handler admits them), and the rules services enforce themselves on a guest: job-ingest's limits, the
// namespace owner rule of kvs-history and kvs-watch. Requests go through the real registry, as in a broker.
import { describe, it, expect, vi } from 'vitest';
import {
  type Message, makeRequest, jsonPayload, payloadJson, stringPayload, MSGTYPE_RESPONSE, ROLE_OWNER, ROLE_USER, ROLE_LOCAL,
  ROLE_ALL, ROLE_NONE, FLAG_STREAMING, FLAG_NORESPONSE,
} from '../../src/core/wire/message.js';
import { errnoOf, FluxError, EINVAL, ENODATA, ENOSYS, EPERM, EPROTO, EROFS } from '../../src/core/errors.js';
import { Attrs } from '../../src/services/attrs.js';
import { ServiceRegistry } from '../../src/broker/registry.js';
import type { ModuleDef, Payload } from '../../src/services/module.js';
import { jobIngestModule } from '../../src/services/job-ingest.js';
import { kvsHistoryModule } from '../../src/services/kvs-history.js';
import { kvsWatchModule } from '../../src/services/kvs-watch.js';
import type { JournalService } from '../../src/services/journal.js';
import { kvsProjection, namespaceTopic, ENTRY_KVS, KVS, type KvsState } from '../../src/projections/kvs.js';
import { encodeJ } from '../../src/core/jobs/jobspec.js';
import type { Entry } from '../../src/core/journal/entry.js';
import { fakeHost } from '../helpers/module-host.js';

const OWNER = 500;
const GUEST = 4242;
const owner = { userid: OWNER, rolemask: ROLE_OWNER | ROLE_LOCAL };
const guest = (userid = GUEST) => ({ userid, rolemask: ROLE_USER | ROLE_LOCAL });
const ROOT = `sha256-${'1'.repeat(64)}`;

interface Answer {
  errnum: number;
  body: Record<string, unknown> | undefined;
  text: string | undefined;
}

/** a registry on a stand-in host: rpc() is answered by `rpc`, and every answer to a request is collected */
function harness(rpc: (topic: string, body: unknown) => unknown = () => ({}), rank = 0) {
  const attrs = new Attrs();
  attrs.define('security.owner', String(OWNER));
  const answers = new Map<number, Answer[]>();
  const record = (req: Message, a: Answer) => answers.set(req.aux2, [...(answers.get(req.aux2) ?? []), a]);
  const logs: Array<[number, string, string]> = [];
  const host = fakeHost(attrs, {
    rank, size: 2,
    respond: (req, payload?: Payload) => {
      const p = payload === undefined || Buffer.isBuffer(payload) ? payload : jsonPayload(payload);
      record(req, { errnum: 0, body: p && p.length > 0 ? payloadJson({ payload: p } as Message) : undefined, text: undefined });
    },
    respondError: (req, err) => record(req, { errnum: errnoOf(err), body: undefined, text: err instanceof Error ? err.message : undefined }),
    rpc: async (topic, body) => {
      const r = rpc(topic, body);
      if (r instanceof FluxError) throw r;
      return { type: MSGTYPE_RESPONSE, flags: 0, userid: 0, rolemask: 0, aux1: 0, aux2: 0, topic, payload: jsonPayload(r as Record<string, unknown>) };
    },
    log: (level, subsystem, text) => void logs.push([level, subsystem, text]),
  });
  const registry = new ServiceRegistry(host);
  let tag = 0;
  /** every answer to a request, once `settle` turns of the event loop have passed */
  async function send(topic: string, body: Record<string, unknown> | undefined, cred: { userid: number; rolemask: number }, flags = 0): Promise<Answer[]> {
    const req = makeRequest(topic, body === undefined ? undefined : jsonPayload(body), { matchtag: ++tag, flags });
    req.userid = cred.userid;
    req.rolemask = cred.rolemask;
    req.routes = ['client'];
    registry.dispatch(req);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    return answers.get(req.aux2) ?? [];
  }
  const one = async (topic: string, body: Record<string, unknown> | undefined, cred: { userid: number; rolemask: number }, flags = 0) => {
    const got = await send(topic, body, cred, flags);
    expect(got.length, `${topic}: ${JSON.stringify(got)}`).toBe(1);
    return got[0]!;
  };
  return { host, registry, send, one, logs, answered: (tag: number) => answers.get(tag) ?? [] };
}

const REFUSED = { errnum: EPERM, body: undefined, text: 'Request requires owner credentials' };

describe('the registry gate', () => {
  const mod = (calls: string[]): ModuleDef => ({
    name: 'svc',
    handlers: [
      { topic: 'svc.owner', handler: (msg) => void calls.push(`owner:${msg.userid}`) },
      { topic: 'svc.user', allow: ROLE_USER, handler: (msg) => void calls.push(`user:${msg.userid}`) },
      { topic: 'svc.all', allow: ROLE_ALL, handler: (msg) => void calls.push(`all:${msg.userid}`) },
      { topic: 'svc.local', allow: ROLE_LOCAL, handler: (msg) => void calls.push(`local:${msg.userid}`) },
      { topic: 'svc.stream', allow: ROLE_USER, streaming: true, handler: (msg) => void calls.push(`stream:${msg.userid}`) },
      { topic: 'svc.schema', allow: ROLE_USER, schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
        handler: (msg, body) => void calls.push(`schema:${String(body!.n)}`) },
      { topic: 'svc.glob-*', allow: ROLE_USER, handler: (msg) => void calls.push(`glob:${msg.topic}`) },
      { topic: 'svc.fails', allow: ROLE_USER, handler: async () => { throw new FluxError(EINVAL, 'no good'); } },
    ],
  });

  it('lets the owner call every handler and other roles only those that admit them', async () => {
    const calls: string[] = [];
    const h = harness();
    await h.registry.load(mod(calls), 'test');
    // the owner passes everywhere, even with no other role
    for (const t of ['svc.owner', 'svc.user', 'svc.all', 'svc.local']) expect(await h.send(t, undefined, { userid: OWNER, rolemask: ROLE_OWNER })).toEqual([]);
    expect(calls).toEqual([`owner:${OWNER}`, `user:${OWNER}`, `all:${OWNER}`, `local:${OWNER}`]);
    calls.length = 0;
    // a guest (user role, on a local connection)
    expect(await h.one('svc.owner', undefined, guest())).toEqual(REFUSED);
    expect(await h.send('svc.user', undefined, guest())).toEqual([]);
    expect(await h.send('svc.all', undefined, guest())).toEqual([]);
    expect(await h.send('svc.local', undefined, guest())).toEqual([]);
    expect(calls).toEqual([`user:${GUEST}`, `all:${GUEST}`, `local:${GUEST}`]);
    calls.length = 0;
    // a guest arriving over the overlay has no local role; a request with no role at all is refused everywhere
    const remote = { userid: GUEST, rolemask: ROLE_USER };
    expect(await h.one('svc.local', undefined, remote)).toEqual(REFUSED);
    expect(await h.send('svc.user', undefined, remote)).toEqual([]);
    const none = { userid: GUEST, rolemask: ROLE_NONE };
    for (const t of ['svc.user', 'svc.owner', 'svc.all', 'svc.ping']) expect(await h.one(t, undefined, none)).toEqual(REFUSED);
    expect(calls).toEqual([`user:${GUEST}`]);
  });

  it('checks roles before the streaming flag and the payload, and answers what the handler throws', async () => {
    const calls: string[] = [];
    const h = harness();
    await h.registry.load(mod(calls), 'test');
    expect(await h.one('svc.stream', undefined, guest())).toMatchObject({ errnum: EPROTO, text: 'svc.stream requires a streaming request' });
    expect(await h.send('svc.stream', undefined, guest(), FLAG_STREAMING)).toEqual([]);
    expect(await h.one('svc.schema', { n: 'x' }, guest())).toMatchObject({ errnum: EPROTO });
    expect(await h.one('svc.schema', undefined, guest())).toMatchObject({ errnum: EPROTO });
    expect(await h.send('svc.schema', { n: 3 }, guest())).toEqual([]);
    expect(await h.send('svc.glob-abc', undefined, guest())).toEqual([]);
    expect(await h.one('svc.fails', undefined, guest())).toEqual({ errnum: EINVAL, body: undefined, text: 'no good' });
    expect(await h.one('svc.nothing', undefined, owner)).toMatchObject({ errnum: ENOSYS, text: 'No service matching svc.nothing is registered' });
    expect(await h.one('other.thing', undefined, owner)).toMatchObject({ errnum: ENOSYS });
    expect(calls).toEqual([`stream:${GUEST}`, 'schema:3', 'glob:svc.glob-abc']);
    // a refused request never reaches the handler, whatever it carries
    const before = calls.length;
    expect(await h.one('svc.owner', { n: 1 }, guest())).toEqual(REFUSED);
    expect(await h.one('svc.owner', undefined, guest(), FLAG_STREAMING)).toEqual(REFUSED);
    expect(calls.length).toBe(before);
  });

  it('answers the default handlers to any role, and refuses everything the gate refuses', async () => {
    const calls: string[] = [];
    const h = harness();
    await h.registry.load(mod(calls), 'test');
    const ping = await h.one('svc.ping', { x: 1 }, { userid: GUEST, rolemask: ROLE_LOCAL });
    expect(ping).toMatchObject({ errnum: 0, body: { x: 1, userid: GUEST, rolemask: ROLE_LOCAL, rank: 0 } });
    expect((await h.one('svc.stats-get', undefined, guest())).errnum).toBe(0);
    expect(h.registry.handlers().filter((x) => x.module === 'svc').map((x) => [x.topic, x.allow])).toEqual([
      ['svc.all', ROLE_ALL >>> 0], ['svc.debug', 0], ['svc.disconnect', ROLE_ALL >>> 0], ['svc.fails', ROLE_USER], ['svc.glob-*', ROLE_USER],
      ['svc.local', ROLE_LOCAL], ['svc.owner', 0], ['svc.ping', ROLE_ALL >>> 0], ['svc.schema', ROLE_USER],
      ['svc.stats-get', ROLE_ALL >>> 0], ['svc.stream', ROLE_USER], ['svc.user', ROLE_USER],
    ]);
    h.registry.gate = (topic) => (topic === 'svc.all' || topic === '' ? new FluxError(EROFS, 'read-only') : undefined);
    expect(await h.one('svc.all', undefined, owner)).toMatchObject({ errnum: EROFS, text: 'read-only' });
    // said in the log only when the request wants no answer, where no one would see the refusal otherwise
    expect(h.logs).toEqual([]);
    await h.send('svc.all', undefined, owner, FLAG_NORESPONSE);
    expect(h.logs).toEqual([[4, 'broker', 'read-only']]);
    expect(await h.send('svc.user', undefined, owner)).toEqual([]);
    // a request without a topic is asked about as the empty topic
    const bare = makeRequest('x');
    bare.topic = undefined;
    bare.rolemask = ROLE_OWNER;
    bare.aux2 = 999;
    h.registry.dispatch(bare);
    expect(h.answered(999)).toMatchObject([{ errnum: EROFS }]);
  });

  it('answers ENOSYS while a module starts, and notes when each module was last asked', async () => {
    const h = harness();
    let started!: () => void;
    const starting = new Promise<void>((r) => (started = r));
    const calls: string[] = [];
    const loading = h.registry.load({ ...mod(calls), start: () => starting }, 'test');
    expect(await h.one('svc.user', undefined, owner)).toMatchObject({ errnum: ENOSYS });
    started();
    await loading;
    expect(await h.send('svc.user', undefined, owner)).toEqual([]);
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now');
    try {
      clock.mockReturnValue(now + 5000);
      expect(h.registry.list().find((m) => m.name === 'svc')!.idle).toBe(5);
      await h.send('svc.user', undefined, owner);
      clock.mockReturnValue(now + 7000);
      expect(h.registry.list().find((m) => m.name === 'svc')).toMatchObject({ idle: 2, status: 1, services: ['svc'] });
    } finally {
      clock.mockRestore();
    }
  });
});

describe('job-ingest.submit', () => {
  const jobspec = {
    resources: [{ type: 'slot', count: 1, label: 'task', with: [{ type: 'core', count: 1 }] }],
    tasks: [{ command: ['true'], slot: 'task', count: { per_slot: 1 } }],
    attributes: { system: { duration: 0 } },
    version: 1,
  };
  const submitted: unknown[] = [];
  const h = harness((topic, body) => {
    const jobs = (body as { jobs: unknown[] }).jobs;
    submitted.push(...jobs);
    return { ids: jobs.map((_, i) => 100 + i) };
  });
  const ready = h.registry.load(jobIngestModule(h.host), 'test');
  const submit = async (userid: number, urgency: number, flags: number, cred: { userid: number; rolemask: number }) => {
    await ready;
    return h.one('job-ingest.submit', { J: encodeJ(jobspec, userid), urgency, flags }, cred);
  };

  it('holds a guest to urgency 16, no waitable or unvalidated flag, and its own signature; the owner is not', async () => {
    expect(await submit(GUEST, 17, 0, guest())).toMatchObject({ errnum: EPERM, text: 'only the instance owner can submit with urgency >16' });
    expect(await submit(GUEST, 16, 4, guest())).toMatchObject({ errnum: EPERM, text: 'only the instance owner can submit with FLUX_JOB_WAITABLE' });
    expect(await submit(GUEST, 16, 8, guest())).toMatchObject({ errnum: EPERM, text: 'only the instance owner can submit with FLUX_JOB_NOVALIDATE' });
    expect(await submit(OWNER, 16, 0, guest())).toMatchObject({ errnum: EPERM, text: 'signer userid does not match the submitting user' });
    expect(submitted).toEqual([]);
    expect(await submit(GUEST, 16, 2, guest())).toMatchObject({ errnum: 0, body: { id: 100 } });
    expect(await submit(GUEST, 0, 0, guest())).toMatchObject({ errnum: 0 });
    expect(await submit(OWNER, 31, 4 | 8 | 2, owner)).toMatchObject({ errnum: 0 });
    expect(await submit(OWNER, 17, 0, owner)).toMatchObject({ errnum: 0 });
    expect(submitted).toMatchObject([
      { urgency: 16, flags: 2, userid: GUEST }, { urgency: 0, flags: 0, userid: GUEST }, { urgency: 31, flags: 14, userid: OWNER },
      { urgency: 17, flags: 0, userid: OWNER },
    ]);
  });

  it('refuses what nobody may ask: urgency outside [0, 31], unknown flags', async () => {
    expect(await submit(OWNER, 32, 0, owner)).toMatchObject({ errnum: EINVAL, text: 'urgency range is [0:31]' });
    expect(await submit(OWNER, -1, 0, owner)).toMatchObject({ errnum: EINVAL, text: 'urgency range is [0:31]' });
    expect(await submit(OWNER, 16, 16, owner)).toMatchObject({ errnum: EINVAL, text: 'invalid job flags' });
    expect(await submit(OWNER, 16, 1, owner)).toMatchObject({ errnum: EINVAL, text: 'invalid job flags' });
  });
});

/** a journal that only holds a KVS state with these namespaces (name -> owner) */
function journalWith(namespaces: Record<string, number>): JournalService {
  let seq = 0;
  const entries: Entry[] = Object.entries(namespaces).map(([namespace, ownerId]) => ({
    seq: ++seq, prev: null, time: 1000, topic: namespaceTopic(namespace, 'created'), userid: 0, rolemask: 1, flags: 0x20 | ENTRY_KVS,
    payload: { namespace, rootseq: 0, rootref: ROOT, owner: ownerId, flags: 0 },
  }));
  const state = entries.reduce((s, e) => kvsProjection.apply(s, e, 'ref'), kvsProjection.initial());
  return {
    state: <S>(name: string) => (name === KVS ? state : undefined) as S,
    head: () => ({ seq, ref: null }),
    onApply: () => () => {},
    readOnly: false,
  } as unknown as JournalService;
}

describe('kvs-history: a guest reads only the namespaces it owns', () => {
  it('refuses a guest primary and namespaces of others, and lets the owner read all', async () => {
    const forwarded: string[] = [];
    // rank 1: past the check, the request goes to rank 0, which this stand-in answers
    const h = harness((topic) => {
      forwarded.push(topic);
      return { versions: [] };
    }, 1);
    await h.registry.load(kvsHistoryModule(h.host, { journal: journalWith({ mine: GUEST, theirs: GUEST + 1 }) }), 'test');
    for (const [topic, body] of [['kvs-history.key', { key: 'k' }], ['kvs-history.at-time', { time: 5 }]] as const) {
      expect(await h.one(topic, { ...body, namespace: 'primary' }, guest())).toMatchObject({ errnum: EPERM });
      expect(await h.one(topic, { ...body, namespace: 'theirs' }, guest())).toMatchObject({ errnum: EPERM });
      expect(await h.one(topic, { ...body, namespace: 'unknown' }, guest())).toMatchObject({ errnum: EPERM });
      expect(await h.one(topic, { ...body, namespace: 'mine' }, guest())).toMatchObject({ errnum: 0 });
      expect(await h.one(topic, { ...body, namespace: 'primary' }, guest(OWNER))).toMatchObject({ errnum: 0 });
      for (const ns of ['primary', 'theirs', 'unknown']) expect(await h.one(topic, { ...body, namespace: ns }, owner)).toMatchObject({ errnum: 0 });
    }
    expect(forwarded.length).toBe(10);
  });
});

describe('kvs-watch: a guest watches only the namespaces it owns', () => {
  it('checks the requester against the owner rank 0 names, not the broker that asked', async () => {
    const owners: Record<string, number> = { primary: OWNER, mine: GUEST, theirs: GUEST + 1 };
    const h = harness((topic, body) => {
      const ns = (body as { namespace: string }).namespace;
      if (topic === 'kvs.getroot') return { owner: owners[ns], rootseq: 3, rootref: ROOT };
      return { val: { ver: 1, type: 'val', data: stringPayload('v').subarray(0, 1).toString('base64') } };
    });
    await h.registry.load(kvsWatchModule(h.host, { journal: journalWith({}), content: { hash: 'sha256' } as never }), 'test');
    const watch = (ns: string, cred: { userid: number; rolemask: number }) => h.send('kvs-watch.lookup', { key: 'k', namespace: ns, flags: 0 }, cred);
    expect(await watch('primary', guest())).toEqual([{ errnum: EPERM, body: undefined, text: expect.any(String) }]);
    expect(await watch('theirs', guest())).toEqual([{ errnum: EPERM, body: undefined, text: expect.any(String) }]);
    // let through: the value, then the end of a request that does not watch
    for (const [ns, cred] of [['mine', guest()], ['primary', guest(OWNER)], ['theirs', owner], ['primary', owner]] as const) {
      const got = await watch(ns, cred);
      expect(got[0]).toMatchObject({ errnum: 0, body: { val: { type: 'val' } } });
      expect(got.slice(1).every((a) => a.errnum === ENODATA)).toBe(true);
    }
  });
});
