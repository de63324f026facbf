// The KVS service on real instances, through the client api: flux-core 0.88's own requests (kvs-*.jsonl, sent
// byte for byte) get the answers flux-core gave, commits made on any rank are read back on every rank, many
// concurrent commits all land, a restart keeps the KVS, a crash loses no acknowledged commit, and bad input only
// ever gets an error.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLUX, ROOT, startInstance, type Instance } from '../helpers/instance.js';
import { loadVectors, type VectorMessage } from '../helpers/vectors.js';
import { Flux } from '../../src/api/handle.js';
import { FluxError, EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTSUP, EPERM, EPROTO } from '../../src/core/errors.js';
import { type Message, payloadJson } from '../../src/core/wire/message.js';
import { rejectionErrno } from '../helpers/rejection.js';

const val = (s: string) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const put = (key: string, s: string) => ({ key, flags: 0, dirent: val(s) });
const commit = (ops: unknown[], namespace = 'primary', flags = 0) => ({ namespace, flags, ops });
const get = async (h: Flux, key: string, namespace = 'primary', flags = 0) =>
  (await h.call('kvs.lookup', { key, namespace, flags })).val as { data: unknown; type: string };
const text = (v: { data: unknown }) => Buffer.from(v.data as string, 'base64').toString();

const payloadOf = (m: VectorMessage) => Buffer.from(m.payload_hex!, 'hex');
const hexOf = (m: Message) => m.payload?.toString('hex') ?? null;

describe('flux-core 0.88 requests on a size-4 instance with content.hash=sha1 (as the vectors were captured)', () => {
  let inst: Instance;
  let h: Flux;
  beforeAll(async () => {
    inst = await startInstance(4, ['-S', 'content.hash=sha1']);
    h = await Flux.open(inst.uri);
  });
  afterAll(async () => {
    h?.close();
    expect(await inst?.stop()).toBe(0);
  });

  /** send a captured request as it was on the wire; returns our response and the captured one */
  async function replay(name: string, i: number, opts: { nodeid?: number } = {}): Promise<{ ours: Message; theirs: VectorMessage }> {
    const msgs = loadVectors(name).messages;
    const req = msgs[i]!;
    // each of these requests has its one response right after it
    const theirs = msgs[i + 1]!;
    expect([req.dir, theirs.dir, theirs.aux2, theirs.topic]).toEqual(['c2s', 's2c', req.aux2, req.topic]);
    const ours = await h.rpc(req.topic!, req.payload_hex ? payloadOf(req) : undefined, { nodeid: opts.nodeid ?? req.aux1 });
    return { ours, theirs };
  }

  it('kvs put a=1 b.c=hello, get, dir, getroot, missing key: the same answers', async () => {
    const put1 = await replay('kvs-put', 0);
    const r = payloadJson(put1.ours);
    expect(Object.keys(r)).toEqual(Object.keys(JSON.parse(put1.theirs.payload_text!) as object));
    expect(r).toEqual({ rootref: expect.stringMatching(/^sha1-[0-9a-f]{40}$/), rootseq: 1 });
    // values and the directory b: byte for byte (b's dirref is the blobref flux-core computed)
    for (const [name, i] of [['kvs-get', 0], ['kvs-dir', 2], ['kvs-dir', 8], ['kvs-dir', 10]] as const) {
      const { ours, theirs } = await replay(name, i);
      expect(hexOf(ours)).toBe(theirs.payload_hex);
    }
    // the root: flux-core's also held admin.* and resource.* (written by its other modules)
    const root = await replay('kvs-dir', 0);
    const want = JSON.parse(root.theirs.payload_text!) as { val: { data: Record<string, unknown> } };
    delete want.val.data.admin;
    delete want.val.data.resource;
    expect(payloadJson(root.ours)).toEqual(want);
    expect(root.ours.payload!.toString()).toBe(`${JSON.stringify(want)}\0`);
    // ENOENT, with no payload (no error text), as flux-core answers it
    const [req, resp] = loadVectors('kvs-get-missing').messages;
    const err = await h.rpc(req!.topic!, payloadOf(req!)).then(() => undefined, (e: FluxError) => e);
    expect([err?.errno, err?.explicit]).toEqual([resp!.aux1, false]);
  }, 20_000);

  it('kvs getroot, put big=<300 bytes> and get it back, get --at a snapshot', async () => {
    const gr = await replay('kvs-getroot', 0);
    const ours = payloadJson(gr.ours);
    expect(Object.keys(ours)).toEqual(Object.keys(JSON.parse(gr.theirs.payload_text!) as object));
    expect(ours).toMatchObject({ owner: process.getuid!(), flags: 0, namespace: 'primary', rootseq: expect.any(Number) });
    const big = await replay('kvs-put-big', 0);
    expect(payloadJson(big.ours)).toEqual({ rootref: expect.stringMatching(/^sha1-/), rootseq: (ours.rootseq as number) + 1 });
    const back = await replay('kvs-put-big', 2);
    expect(hexOf(back.ours)).toBe(back.theirs.payload_hex);
    // --at: the vectors' snapshot held what ours does under the same keys
    const at = loadVectors('kvs-get-at').messages;
    const body = JSON.parse(at[0]!.payload_text!) as Record<string, unknown>;
    body.rootdir = { data: [payloadJson(big.ours).rootref], type: 'dirref', ver: 1 };
    const r = await h.rpc('kvs.lookup', body);
    expect(hexOf(r)).toBe(at[1]!.payload_hex);
  });

  it('kvs namespace create ns1, namespace list: the same answers', async () => {
    const create = await replay('kvs-namespace', 2);
    expect([create.ours.aux1, create.ours.payload]).toEqual([0, undefined]);
    const list = await replay('kvs-namespace', 4);
    const want = JSON.parse(list.theirs.payload_text!) as { namespaces: Array<{ owner: number }> };
    for (const n of want.namespaces) n.owner = process.getuid!();
    expect(list.ours.payload!.toString()).toBe(`${JSON.stringify(want)}\0`);
    expect(await get(h, '.', 'ns1', 1)).toEqual({ data: {}, type: 'dir', ver: 1 });
  });
});

describe('the KVS on a size-4 instance', () => {
  let inst: Instance;
  const handles: Flux[] = [];
  const on = async (rank: number) => {
    const x = await Flux.open(`local://${inst.rundir}/local-${rank}`);
    handles.push(x);
    return x;
  };
  beforeAll(async () => {
    inst = await startInstance(4, ['-S', 'tbon.fanout=2']);
  });
  afterAll(async () => {
    for (const x of handles) x.close();
    expect(await inst?.stop()).toBe(0);
  });

  it('a commit on rank 3 is read back on rank 3 and rank 0 as soon as it returns', async () => {
    const [h0, h3] = [await on(0), await on(3)];
    for (let i = 0; i < 20; i++) {
      const r = await h3.call('kvs.commit', commit([put(`r3.k${i}`, `v${i}`), put('r3.last', String(i))]));
      expect(text(await get(h3, 'r3.last'))).toBe(String(i));
      expect(text(await get(h0, `r3.k${i}`))).toBe(`v${i}`);
      expect((await h3.call('kvs.getroot', { namespace: 'primary' })).rootseq).toBeGreaterThanOrEqual(r.rootseq as number);
    }
  });

  it('200 concurrent commits from 8 clients on every rank all land, one version per batch', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => on(i % 4)));
    const h0 = clients[0]!;
    const start = (await h0.call('kvs.getroot', { namespace: 'primary' })).rootseq as number;
    const head0 = (await h0.call('journal.head')).seq as number;
    const results = await Promise.all(clients.flatMap((c, i) => Array.from({ length: 25 }, (_, j) =>
      c.call('kvs.commit', commit([put(`many.c${i}.k${j}`, `${i}/${j}`)])))));
    const byVersion = new Map<number, Set<string>>();
    for (const r of results) {
      const refs = byVersion.get(r.rootseq as number) ?? new Set();
      refs.add(r.rootref as string);
      byVersion.set(r.rootseq as number, refs);
    }
    // commits merged into a batch share its version and root; versions count batches, not commits
    for (const refs of byVersion.values()) expect(refs.size).toBe(1);
    const versions = [...byVersion.keys()].sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => start + 1 + i));
    expect(versions.length).toBeLessThanOrEqual(200);
    const end = (await h0.call('kvs.getroot', { namespace: 'primary' })).rootseq as number;
    expect(end).toBe(start + versions.length);
    const setroots = ((await h0.call('journal.list', { from: head0 + 1, topic: 'kvs.namespace-primary-setroot' }, { nodeid: 0 })).entries as unknown[]);
    expect(setroots.length).toBe(versions.length);
    // rank 3 has its own commits; the others' may still be on their way to it
    await clients[3]!.call('kvs.wait-version', { namespace: 'primary', rootseq: end });
    for (const [r, c] of [[0, h0], [3, clients[3]!]] as const) {
      const dir = (await get(c, 'many', 'primary', 1)).data as Record<string, unknown>;
      expect(Object.keys(dir).length, `rank ${r}`).toBe(8);
      for (let i = 0; i < 8; i++) {
        const sub = (await get(c, `many.c${i}`, 'primary', 1)).data as Record<string, { data: string }>;
        expect(Object.keys(sub).sort()).toEqual(Array.from({ length: 25 }, (_, j) => `k${j}`).sort());
        for (let j = 0; j < 25; j++) expect(Buffer.from(sub[`k${j}`]!.data, 'base64').toString()).toBe(`${i}/${j}`);
      }
    }
  }, 30_000);

  it('fails lookups and commits with flux-core errnos, on rank 0 and below', async () => {
    for (const c of [await on(0), await on(2)]) {
      await c.call('kvs.commit', commit([put('e.v', 'x'), { key: 'e.link', flags: 0, dirent: { ver: 1, type: 'symlink', data: { target: 'e.v' } } }]));
      expect(await rejectionErrno(get(c, 'e.nope'))).toBe(ENOENT);
      expect(await rejectionErrno(get(c, 'e'))).toBe(EISDIR);
      expect(await rejectionErrno(get(c, 'e.v', 'primary', 1))).toBe(ENOTDIR);
      expect(await rejectionErrno(get(c, 'e.v.x'))).toBe(ENOTDIR);
      expect(await rejectionErrno(get(c, 'e.v', 'primary', 2))).toBe(EINVAL);
      expect(text(await get(c, 'e.link'))).toBe('x');
      expect(await get(c, 'e.link', 'primary', 2)).toEqual({ data: { target: 'e.v' }, type: 'symlink', ver: 1 });
      expect(await rejectionErrno(get(c, 'a', 'nosuchns'))).toBe(ENOTSUP);
      expect(await rejectionErrno(c.call('kvs.commit', commit([put('a', '1')], 'nosuchns')))).toBe(ENOTSUP);
      expect(await rejectionErrno(c.call('kvs.commit', commit([{ key: 'e', flags: 32, dirent: val('x') }])))).toBe(EISDIR);
      expect(await rejectionErrno(c.call('kvs.commit', commit([put('.', 'x')])))).toBe(EINVAL);
    }
  });

  it('creates, lists and removes namespaces from any rank; a new one is readable at once on every rank', async () => {
    const [h0, h1, h3] = [await on(0), await on(1), await on(3)];
    const rootref = (await h0.call('kvs.getroot', { namespace: 'primary' })).rootref;
    const emptyRef = (await h0.call('kvs.version-root', { namespace: 'primary', rootseq: 0 })).rootref;
    await h1.call('kvs.namespace-create', { namespace: 'snap', rootref, owner: -1, flags: 0 });
    expect(text(await get(h3, 'e.v', 'snap'))).toBe('x');
    await h0.call('kvs.namespace-create', { namespace: 'fresh', rootref: emptyRef, owner: 4321, flags: 0 }, { nodeid: 0 });
    expect(await h3.call('kvs.getroot', { namespace: 'fresh' })).toEqual({ owner: 4321, rootseq: 0, rootref: emptyRef, flags: 0, namespace: 'fresh' });
    const r = await h3.call('kvs.commit', commit([put('only.here', 'yes')], 'fresh'));
    expect(r.rootseq).toBe(1);
    expect(text(await get(h0, 'only.here', 'fresh'))).toBe('yes');
    expect(await rejectionErrno(get(h0, 'only.here'))).toBe(ENOENT);
    const list = (await h3.call('kvs.namespace-list')).namespaces as Array<{ namespace: string }>;
    expect(list.map((n) => n.namespace)).toEqual(['primary', 'fresh', 'snap']);
    expect(await rejectionErrno(h3.call('kvs.namespace-create', { namespace: 'fresh', rootref: emptyRef, owner: -1, flags: 0 }))).toBe(EEXIST);
    await h3.call('kvs.namespace-remove', { namespace: 'fresh' });
    expect(await rejectionErrno(get(h3, 'only.here', 'fresh'))).toBe(ENOTSUP);
    expect(await rejectionErrno(get(h0, 'only.here', 'fresh'))).toBe(ENOTSUP);
    expect(await rejectionErrno(h0.call('kvs.namespace-remove', { namespace: 'primary' }))).toBe(EINVAL);
  });

  it('reads past versions on any rank: version-root, then a lookup under that root', async () => {
    const [h0, h2] = [await on(0), await on(2)];
    const r1 = await h0.call('kvs.commit', commit([put('hist', 'one')]));
    await h2.call('kvs.commit', commit([put('hist', 'two')]));
    const v = await h2.call('kvs.version-root', { namespace: 'primary', rootseq: r1.rootseq });
    expect(v).toMatchObject({ rootref: r1.rootref, seq: expect.any(Number), time: expect.any(Number) });
    const old = await h2.call('kvs.lookup', { key: 'hist', flags: 0, rootdir: { data: [v.rootref], type: 'dirref', ver: 1 } });
    expect(text(old.val as { data: string })).toBe('one');
    expect(text(await get(h2, 'hist'))).toBe('two');
    expect(await rejectionErrno(h2.call('kvs.version-root', { namespace: 'primary', rootseq: 1_000_000 }))).toBe(ENOENT);
  });

  it('wakes kvs.wait-version on rank 3 when the version is reached', async () => {
    const [h0, h3] = [await on(0), await on(3)];
    const now = (await h3.call('kvs.getroot', { namespace: 'primary' })).rootseq as number;
    const waiting = h3.call('kvs.wait-version', { namespace: 'primary', rootseq: now + 2 });
    let woke = false;
    void waiting.then(() => (woke = true));
    await h0.call('kvs.commit', commit([put('w', '1')], 'primary', 1));
    await new Promise((r) => setTimeout(r, 100));
    expect(woke).toBe(false);
    const r = await h0.call('kvs.commit', commit([put('w', '2')], 'primary', 1));
    expect(await waiting).toEqual({ rootseq: now + 2, rootref: r.rootref });
  });

  it('moves no root for an event published under a KVS topic', async () => {
    const [h0, h3] = [await on(0), await on(3)];
    const before = await h0.call('kvs.getroot', { namespace: 'primary' });
    const empty = (await h0.call('kvs.version-root', { namespace: 'primary', rootseq: 0 })).rootref;
    const forged = `${JSON.stringify({ namespace: 'primary', rootseq: 999, rootref: empty, owner: before.owner })}\0`;
    // the service's topics are refused to publishers; a raw event (no reply) is dropped the same way
    await expect(h3.call('event.publish', { topic: 'kvs.namespace-primary-setroot', flags: 0, payload: Buffer.from(forged).toString('base64') }, { nodeid: 0 }))
      .rejects.toMatchObject({ errno: EPERM });
    await expect(h3.call('event.publish', { topic: 'kvs.namespace-primary-removed', flags: 0 }, { nodeid: 0 })).rejects.toMatchObject({ errno: EPERM });
    h3.publishRaw('kvs.namespace-primary-removed');
    // committed through rank 3: answered once rank 3 has it, so both ranks show it now
    const after = await h3.call('kvs.commit', commit([put('after.forged', 'x')]));
    expect(after.rootseq).toBe((before.rootseq as number) + 1);
    for (const c of [h0, h3]) expect(await c.call('kvs.getroot', { namespace: 'primary' })).toMatchObject({ rootseq: after.rootseq, rootref: after.rootref });
  });

  it('answers bad payloads with an error, on rank 0 and rank 3, and keeps serving', async () => {
    for (const c of [await on(0), await on(3)]) {
      for (const [topic, body] of [
        ['kvs.commit', undefined], ['kvs.commit', Buffer.from('{"namespace":\0')], ['kvs.commit', { namespace: 'primary', flags: 0 }],
        ['kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'x', flags: 0, dirent: 7 }] }],
        ['kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'x', flags: 0, dirent: { ver: 1, type: 'val', data: '@' } }] }],
        ['kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'x', flags: 0, dirent: { ver: 1, type: 'dirref', data: ['x'] } }] }],
        ['kvs.lookup', { key: ['a'], flags: 0 }], ['kvs.lookup', Buffer.from([0xff, 0xfe, 0])], ['kvs.getroot', { namespace: 5 }],
        ['kvs.wait-version', { namespace: 'primary' }], ['kvs.namespace-create', { namespace: 'x' }],
      ] as Array<[string, Record<string, unknown> | Buffer | undefined]>) {
        expect([topic, body, await rejectionErrno(c.call(topic, body))]).toEqual([topic, body, EPROTO]);
      }
      expect((await c.call('kvs.commit', commit([put('after.bad', 'ok')]))).rootseq).toEqual(expect.any(Number));
      expect(text(await get(c, 'after.bad'))).toBe('ok');
    }
  });
});

describe('restart and crash', () => {
  it('keeps the KVS across a restart with a statedir: versions continue, values and history readable', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-kvs-state-'));
    try {
      const a = await startInstance(2, ['-S', `statedir=${state}`]);
      const h = await Flux.open(a.uri);
      const r1 = await h.call('kvs.commit', commit([put('kept.a', '1'), { key: 'kept.big', flags: 0, dirent: val('z'.repeat(500)) }]));
      await h.call('kvs.namespace-create', { namespace: 'other', rootref: r1.rootref, owner: -1, flags: 0 });
      const r2 = await h.call('kvs.commit', commit([put('kept.b', '2')]));
      h.close();
      expect(await a.stop()).toBe(0);

      const b = await startInstance(2, ['-S', `statedir=${state}`]);
      const h0 = await Flux.open(b.uri);
      const h1 = await Flux.open(`local://${b.rundir}/local-1`);
      expect(await h0.call('kvs.getroot', { namespace: 'primary' })).toMatchObject({ rootseq: r2.rootseq, rootref: r2.rootref });
      for (const c of [h0, h1]) {
        expect(text(await get(c, 'kept.a'))).toBe('1');
        expect(text(await get(c, 'kept.big'))).toBe('z'.repeat(500));
        expect(text(await get(c, 'kept.a', 'other'))).toBe('1');
      }
      const r3 = await h1.call('kvs.commit', commit([put('kept.c', '3')]));
      expect(r3.rootseq).toBe((r2.rootseq as number) + 1);
      expect((await h1.call('kvs.version-root', { namespace: 'primary', rootseq: r1.rootseq })).rootref).toBe(r1.rootref);
      h0.close();
      h1.close();
      expect(await b.stop()).toBe(0);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 30_000);

  it('loses no acknowledged commit when rank 0 is killed with SIGKILL while committing', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-kvs-state-'));
    const rundir = mkdtempSync(join(tmpdir(), 'flux-kvs-rd-'));
    try {
      const proc = spawn(process.execPath, [FLUX, 'start', '-S', `statedir=${state}`, '--size', '2', '--test-rundir', rundir,
        '--test-exit-timeout=1s', 'sh', '-c', 'echo "$FLUX_URI"; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const exited = new Promise((r) => proc.on('close', r));
      const uri = await new Promise<string>((resolve) => proc.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
      const h0 = await Flux.open(uri);
      const pid = Number((await h0.call('attr.get', { name: 'broker.pid' })).value);
      const acked: string[] = [];
      let killed = false;
      const committers = Array.from({ length: 6 }, async (_, p) => {
        const c = await Flux.open(p % 2 === 0 ? uri : `local://${rundir}/local-1`);
        for (let i = 0; ; i++) {
          try {
            await c.call('kvs.commit', commit([put(`crash.p${p}.k${i}`, `${i}`)]));
            acked.push(`crash.p${p}.k${i}`);
          } catch (err) {
            expect(killed).toBe(true);
            c.close();
            return;
          }
        }
      });
      // killed mid-stream: once a good number of commits is acknowledged, however long that takes here
      for (const t0 = Date.now(); acked.length < 60 && Date.now() - t0 < 20_000;) await new Promise((r) => setTimeout(r, 10));
      killed = true;
      process.kill(pid, 'SIGKILL');
      await Promise.all(committers);
      await exited;
      expect(acked.length).toBeGreaterThan(50);

      const b = await startInstance(1, ['-S', `statedir=${state}`]);
      const h = await Flux.open(b.uri);
      const dirs = new Map<string, Record<string, unknown>>();
      for (const key of acked) {
        const [, p] = key.split('.');
        if (!dirs.has(p!)) dirs.set(p!, (await get(h, `crash.${p}`, 'primary', 1)).data as Record<string, unknown>);
        expect(dirs.get(p!)![key.split('.')[2]!], key).toBeDefined();
      }
      h.close();
      expect(await b.stop()).toBe(0);
    } finally {
      rmSync(state, { recursive: true, force: true });
      rmSync(rundir, { recursive: true, force: true });
    }
  }, 40_000);
});

/** run a list of requests as the unprivileged user nobody; resolves with each one's payload or errno */
function asGuest(uri: string, calls: Array<[string, unknown]>): Promise<Array<Record<string, unknown> | number>> {
  const script = `
    const { Flux } = await import(${JSON.stringify(join(ROOT, 'dist', 'api', 'handle.js'))});
    const h = await Flux.open(process.env.FLUX_URI);
    const out = [];
    for (const [topic, body] of ${JSON.stringify(calls)}) {
      try { out.push(await h.call(topic, body ?? undefined)); } catch (e) { out.push(e.errno ?? String(e)); }
    }
    h.close();
    process.stdout.write(JSON.stringify(out));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534, gid: 65534, env: { ...process.env, FLUX_URI: uri }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`guest script exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout) as Array<Record<string, unknown> | number>);
    });
  });
}

// a second uid on one machine needs root: to become nobody, and to open the owner's rundir to it
// runs a process as another user, which needs root (as CI has)
describe('a guest', () => {
  let inst: Instance;
  beforeAll(async () => {
    inst = await startInstance(2, ['-S', 'access.allow-guest-user=1']);
    chmodSync(inst.rundir, 0o755);
    for (const r of [0, 1]) chmodSync(`${inst.rundir}/local-${r}`, 0o777);
  });
  afterAll(async () => {
    expect(await inst?.stop()).toBe(0);
  });

  it('uses only namespaces it owns, and commits only values, unlinks and empty directories', async () => {
    const h = await Flux.open(inst.uri);
    const empty = (await h.call('kvs.version-root', { namespace: 'primary', rootseq: 0 })).rootref;
    await h.call('kvs.namespace-create', { namespace: 'job-1', rootref: empty, owner: 65534, flags: 0 }, { nodeid: 0 });
    await h.call('kvs.commit', commit([put('secret', 's')]));
    h.close();
    const link = { ver: 1, type: 'symlink', data: { target: 'a' } };
    for (const uri of [inst.uri, `local://${inst.rundir}/local-1`]) {
      const out = await asGuest(uri, [
        ['kvs.lookup', { key: 'secret', namespace: 'primary', flags: 0 }],
        ['kvs.commit', commit([put('a', '1')])],
        ['kvs.getroot', { namespace: 'primary' }],
        ['kvs.namespace-list', null],
        ['kvs.commit', commit([put('a', '1'), { key: 'd', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } }, { key: 'log', flags: 32, dirent: val('x') }], 'job-1')],
        ['kvs.lookup', { key: 'a', namespace: 'job-1', flags: 0 }],
        ['kvs.commit', commit([{ key: 'l', flags: 0, dirent: link }], 'job-1')],
        ['kvs.commit', commit([{ key: 'l', flags: 0, dirent: { ver: 1, type: 'dirref', data: [empty] } }], 'job-1')],
        ['kvs.getroot', { namespace: 'job-1' }],
      ]);
      expect(out.slice(0, 4)).toEqual([EPERM, EPERM, EPERM, EPERM]);
      expect(out[4]).toEqual({ rootref: expect.any(String), rootseq: expect.any(Number) });
      expect(out[5]).toEqual({ val: { data: 'MQ==', type: 'val', ver: 1 } });
      expect(out.slice(6, 8)).toEqual([EPERM, EPERM]);
      expect(out[8]).toMatchObject({ owner: 65534, namespace: 'job-1' });
    }
  }, 30_000);
});
