// The resource module of several ranks in one process, each behind its own service registry, with the
// brokers' RPCs between them stood in for: what is hard to provoke with real brokers is checked here (a rank
// that never answers, one not yet reachable, a missing lstopo, a discovery that has not finished).
import { describe, it, expect, afterEach } from 'vitest';
import { fileURLToPath } from 'node:url';
import { FluxError, EHOSTUNREACH, ENOENT, errnoOf } from '../../src/core/errors.js';
import { type Message, MSGTYPE_RESPONSE, ROLE_OWNER, jsonPayload, makeRequest, payloadJson } from '../../src/core/wire/message.js';
import { Attrs } from '../../src/services/attrs.js';
import { ServiceRegistry } from '../../src/broker/registry.js';
import type { Payload } from '../../src/services/module.js';
import { resourceModule, type ResourceService } from '../../src/services/resource.js';
import { decodeR, encodeR, rankIdset } from '../../src/core/resource/rset.js';
import { fakeHost } from '../helpers/module-host.js';

const VM = fileURLToPath(new URL('../fixtures/hwloc/vm-2core.xml', import.meta.url));
const TWO_PACKAGES = fileURLToPath(new URL('../fixtures/hwloc/two-package-gpus.xml', import.meta.url));
const NO_LSTOPO = ['flux-test-no-such-lstopo'];
const CAT_VM = ['cat', VM];

type Behaviour = 'answer' | 'silent' | 'unreachable';

interface Cluster {
  services: ResourceService[];
  logs: Array<{ rank: number; severity: number; text: string }>;
  /** a request from a client to `rank`'s broker; rejects with the error response */
  call(rank: number, topic: string, body?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** how requests to each rank fare from now on */
  behaviour: Behaviour[];
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

interface ClusterOptions {
  command?: (rank: number) => string[];
  xmlFile?: (rank: number) => string | undefined;
  gatherTimeoutMs?: number;
}

async function cluster(size: number, opts: ClusterOptions = {}): Promise<Cluster> {
  const pending = new Map<number, { resolve: (m: Message) => void; reject: (e: unknown) => void }>();
  const registries: ServiceRegistry[] = [];
  const logs: Cluster['logs'] = [];
  const behaviour: Behaviour[] = Array.from({ length: size }, () => 'answer');
  let tag = 1;

  const send = (rank: number, topic: string, payload: Payload) => new Promise<Message>((resolve, reject) => {
    const body = payload === undefined || Buffer.isBuffer(payload) ? payload : jsonPayload(payload);
    const msg = makeRequest(topic, body, { matchtag: tag++, nodeid: rank });
    msg.userid = 0;
    msg.rolemask = ROLE_OWNER;
    msg.routes = ['client'];
    pending.set(msg.aux2, { resolve, reject });
    registries[rank]!.dispatch(msg);
  });

  const services: ResourceService[] = [];
  for (let rank = 0; rank < size; rank++) {
    const attrs = new Attrs();
    attrs.define('hostname', `host${rank}`);
    const host = fakeHost(attrs, {
      rank, size, uuid: `u${rank}`,
      respond: (req, payload?: Payload) => {
        const p = payload === undefined || Buffer.isBuffer(payload) ? payload : jsonPayload(payload);
        pending.get(req.aux2)?.resolve({ type: MSGTYPE_RESPONSE, flags: 0, userid: 0, rolemask: 0, aux1: 0, aux2: req.aux2, payload: p });
      },
      respondError: (req, err) => pending.get(req.aux2)?.reject(new FluxError(errnoOf(err), (err as Error).message)),
      rpc: (topic, payload, o = {}) => {
        // no KVS here: resource.eventlog, where drains are kept, has nothing yet
        if (topic === 'kvs.lookup') return Promise.reject(new FluxError(ENOENT));
        const to = o.nodeid ?? rank;
        if (behaviour[to] === 'silent') return new Promise<Message>(() => {});
        if (behaviour[to] === 'unreachable') return Promise.reject(new FluxError(EHOSTUNREACH));
        return send(to, topic, payload);
      },
      log: (severity, _app, text) => logs.push({ rank, severity, text }),
    });
    const registry = new ServiceRegistry(host);
    registries.push(registry);
    const svc = resourceModule(host, {
      command: (opts.command ?? (() => CAT_VM))(rank), xmlFile: opts.xmlFile?.(rank), gatherTimeoutMs: opts.gatherTimeoutMs,
    });
    services.push(svc);
    await registry.load(svc.def, 'builtin');
    stops.push(() => registry.removeAll());
  }
  return {
    services,
    logs,
    behaviour,
    call: async (rank, topic, body = {}) => payloadJson(await send(rank, topic, body)),
  };
}

describe('resource module', () => {
  it('gathers every rank\'s discovery into the instance\'s R', async () => {
    const c = await cluster(3);
    const set = await c.services[0]!.resources();
    expect(encodeR(set)).toEqual({
      version: 1,
      execution: { R_lite: [{ rank: '0-2', children: { core: '0-1' } }], starttime: 0, expiration: 0, nodelist: ['vm,vm,vm'] },
    });
    expect(decodeR((await c.call(0, 'resource.R')).R)).toEqual(set);
    // another rank passes the request on to rank 0
    expect(decodeR((await c.call(2, 'resource.R')).R)).toEqual(set);
    expect(await c.services[1]!.resources()).toEqual(set);
    expect(c.logs.filter((l) => l.severity <= 3)).toEqual([]);
  });

  it('answers topo-get with this rank\'s summary, and the XML when asked', async () => {
    const c = await cluster(2);
    const t = await c.call(1, 'resource.topo-get');
    expect(t).toMatchObject({ rank: 1, hostname: 'host1', summary: { hostname: 'vm', cores: [0, 1], pus: [0, 1], gpus: [] } });
    expect(t.xml).toBeUndefined();
    expect(String((await c.call(1, 'resource.topo-get', { xml: true })).xml)).toMatch(/^<\?xml/);
  });

  it('answers get-xml in rank order, for all ranks or some', async () => {
    const c = await cluster(3, { command: (r) => (r === 1 ? ['flux-test-no-such-lstopo'] : CAT_VM) });
    const all = (await c.call(0, 'resource.get-xml')).xml as string[];
    expect(all.map((x) => x.startsWith('<?xml'))).toEqual([true, false, true]);
    expect(all[1]).toBe('');
    expect(((await c.call(2, 'resource.get-xml', { ranks: '2' })).xml as string[]).length).toBe(1);
    await expect(c.call(0, 'resource.get-xml', { ranks: '0-5' })).rejects.toThrow(/rank 3 is not in this instance/);
  });

  it('reports no cores, with one error line, when lstopo is missing', async () => {
    const c = await cluster(2, { command: (r) => (r === 1 ? ['flux-test-no-such-lstopo'] : CAT_VM) });
    const set = await c.services[0]!.resources();
    expect(rankIdset(set)).toBe('0');
    const errors = c.logs.filter((l) => l.severity <= 3);
    expect(errors).toEqual([{ rank: 1, severity: 3, text: expect.stringMatching(/^flux-test-no-such-lstopo not found .*: this rank reports no cores$/) }]);
    expect((await c.call(1, 'resource.topo-get')).summary).toEqual({ counts: {}, cores: [], pus: [], gpus: [] });
  });

  it('answers without a rank that does not answer in time, and takes it in once it does', async () => {
    const c = await cluster(3, { gatherTimeoutMs: 300 });
    c.behaviour[2] = 'silent';
    const partial = await c.services[0]!.resources();
    expect(rankIdset(partial)).toBe('0-1');
    expect(c.logs.filter((l) => l.severity <= 3).map((l) => l.text)).toEqual([
      'no topology from rank 2 within 0.3s (no answer): answering without it',
    ]);
    c.behaviour[2] = 'answer';
    expect(rankIdset(await c.services[0]!.resources())).toBe('0-2');
  });

  it('asks a rank that is not reachable yet again until it is', async () => {
    const c = await cluster(2, { gatherTimeoutMs: 10_000 });
    c.behaviour[1] = 'unreachable';
    const set = c.services[0]!.resources();
    setTimeout(() => (c.behaviour[1] = 'answer'), 300);
    expect(rankIdset(await set)).toBe('0-1');
  });

  it('does not hold up start-up for a discovery that has not finished', async () => {
    const c = await cluster(1, { command: () => ['sleep', '30'] });
    let answered = false;
    const t = c.call(0, 'resource.topo-get').then(() => (answered = true), () => (answered = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    // stopping the module ends the discovery, and the request with it
    await stops.pop()!();
    await t;
    expect(c.logs.filter((l) => l.severity <= 3)).toEqual([]);
  });

  it('reads the topology from the file it is given (FLUX_HWLOC_XMLFILE) and runs no discovery', async () => {
    const c = await cluster(2, { command: () => NO_LSTOPO, xmlFile: (r) => (r === 1 ? TWO_PACKAGES : VM) });
    expect(await c.call(1, 'resource.topo-get')).toMatchObject({ rank: 1, summary: { cores: [0, 1, 2, 3], pus: [0, 4, 1, 5, 2, 6, 3, 7] } });
    expect(await c.call(0, 'resource.topo-get')).toMatchObject({ rank: 0, summary: { hostname: 'vm', cores: [0, 1] } });
    expect(String((await c.call(1, 'resource.topo-get', { xml: true })).xml)).toMatch(/hand-written: 2 packages/);
    expect(c.logs.filter((l) => l.severity <= 3)).toEqual([]);
  });

  it('reports no cores, with one error line naming the file, when that file cannot be read or parsed', async () => {
    const c = await cluster(3, { command: () => CAT_VM, xmlFile: (r) => [undefined, '/nonexistent/flux-test.xml', fileURLToPath(import.meta.url)][r] });
    expect(await c.call(1, 'resource.topo-get')).toMatchObject({ summary: { cores: [] } });
    expect(await c.call(2, 'resource.topo-get')).toMatchObject({ summary: { cores: [] } });
    expect(await c.call(0, 'resource.topo-get')).toMatchObject({ summary: { cores: [0, 1] } });
    // the two ranks read their files at once: their lines come in either order
    expect(c.logs.filter((l) => l.severity <= 3).sort((a, b) => a.rank - b.rank)).toEqual([
      { rank: 1, severity: 3, text: 'FLUX_HWLOC_XMLFILE /nonexistent/flux-test.xml: ENOENT: this rank reports no cores' },
      { rank: 2, severity: 3, text: expect.stringMatching(/^\/.*resource-service.test.ts holds no usable topology: .*: this rank reports no cores$/) },
    ]);
  });
});
