// Comms modules loaded, removed and reloaded at run time on a real size-4 instance: the example plug-in on every
// rank, a plug-in with bugs, built-ins removed and loaded again with their state, stats and debug flags.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { Flux } from '../../src/api/handle.js';
import { EEXIST, EIO, ENOSYS, EPROTO } from '../../src/core/errors.js';
import { background, startInstance, until, ROOT, type Instance } from '../helpers/instance.js';

const COUNTER = join(ROOT, 'examples', 'counter.mjs');
const FAULTY = join(ROOT, 'test', 'fixtures', 'modules', 'faulty.mjs');
const RANKS = [0, 1, 2, 3];

const ok = (stdout = '') => ({ code: 0, stdout, stderr: '' });

describe('modules loaded at run time on a size-4 instance', () => {
  let inst: Instance;
  let h: Flux;
  const modulesOn = async (rank: number) =>
    ((await h.call('module.list', undefined, { nodeid: rank })).mods as Array<{ name: string }>).map((m) => m.name);

  beforeAll(async () => {
    inst = await startInstance(4);
    h = await Flux.open(inst.uri);
  });

  afterAll(async () => {
    h?.close();
    expect(await inst?.stop()).toBe(0);
  });

  it('a rank below 0 starts only the modules it serves: requests for the others go up to rank 0 and get its answers', async () => {
    const upstreamOnly = ['job-info', 'job-ingest', 'kvs-history'];
    for (const m of upstreamOnly) expect(await modulesOn(0)).toContain(m);
    for (const r of [1, 2, 3]) {
      const mods = await modulesOn(r);
      for (const m of upstreamOnly) expect(mods).not.toContain(m);
      for (const m of ['content', 'kvs', 'kvs-watch', 'resource', 'rexec', 'job-shell', 'heartbeat']) expect(mods).toContain(m);
    }
    // from a client of rank 3: a job submitted, its jobspec read back, and the KVS's history asked
    const rank3 = { FLUX_URI: `local://${inst.rundir}/local-3` };
    const sub = await inst.flux(['submit', 'true'], { env: rank3 });
    expect(sub).toMatchObject({ code: 0, stderr: '' });
    const id = sub.stdout.trim();
    const spec = await inst.flux(['job', 'info', id, 'jobspec'], { env: rank3 });
    expect(spec).toMatchObject({ code: 0, stderr: '' });
    expect(spec.stdout).toBe((await inst.flux(['job', 'info', id, 'jobspec'])).stdout);
    expect(await inst.flux(['kvs', 'put', 'asked.from.three=1'], { env: rank3 })).toMatchObject(ok());
    const h3 = await Flux.open(rank3.FLUX_URI);
    try {
      const history = { namespace: 'primary', key: 'asked.from.three' };
      const there = await h3.call('kvs-history.key', history);
      expect(there).toEqual(await h.call('kvs-history.key', history));
      expect((there.versions as unknown[]).length).toBe(1);
    } finally {
      h3.close();
    }
    // addressed to a rank that does not serve it, a request is told so, as flux-core's broker tells it
    await expect(h.call('job-info.lookup', { id: 1, keys: ['jobspec'], flags: 0 }, { nodeid: 2 })).rejects.toMatchObject({ errno: ENOSYS });
    // and the module is still there to load on such a rank
    expect(await inst.flux(['module', 'load', '-r', '2', 'job-info'])).toMatchObject(ok());
    expect(await modulesOn(2)).toContain('job-info');
    expect(await inst.flux(['module', 'remove', '-r', '2', 'job-info'])).toMatchObject(ok());
    expect(await modulesOn(2)).not.toContain('job-info');
  });

  it('loads the example plug-in on every rank, where it answers and shares the counters the journal holds', async () => {
    // history made before the module is on the other ranks: their projections are built from it at load
    expect(await inst.flux(['module', 'load', COUNTER, 'step=2'])).toMatchObject(ok());
    expect(await h.call('counter.add', { name: 'hits' })).toMatchObject({ name: 'hits', value: 2 });
    expect(await inst.flux(['module', 'remove', 'counter'])).toMatchObject(ok());
    expect(await inst.flux(['module', 'load', '--all', COUNTER, 'step=2'])).toMatchObject(ok());
    for (const r of RANKS) {
      expect(await modulesOn(r)).toContain('counter');
      expect(await h.call('counter.get', { name: 'hits' }, { nodeid: r })).toEqual({ name: 'hits', value: 2 });
    }
    // a change asked on any rank is made by rank 0's module and reaches every rank's copy
    for (const r of RANKS) await h.call('counter.add', { name: 'hits', by: 10 }, { nodeid: r });
    for (const r of RANKS) {
      await until(`rank ${r} to count 42`, async () =>
        ((await h.call('counter.get', { name: 'hits' }, { nodeid: r })).value === 42 ? true : undefined));
      const ping = await h.call('counter.ping', {}, { nodeid: r });
      expect(ping.rank).toBe(r);
    }
    const list = await inst.flux(['module', 'list', '-l']);
    expect(list.stdout).toMatch(new RegExp(`^counter +\\d+  R     0     0 +${COUNTER}$`, 'm'));
    // the entries are the module's own while it is loaded: nobody may publish them as events
    const pub = await inst.flux(['event', 'pub', 'counter.added', '{"name":"hits","by":1000}']);
    expect(pub.code).not.toBe(0);
    expect(pub.stderr).toMatch(/reserved/);
    expect((await h.call('counter.get', { name: 'hits' })).value).toBe(42);
  });

  it('reloads a plug-in with new arguments, or with the ones it had', async () => {
    expect(await inst.flux(['module', 'stats', '--parse', 'step', 'counter'])).toMatchObject(ok('2\n'));
    expect(await inst.flux(['module', 'reload', '--all', 'counter', 'step=5'])).toMatchObject(ok());
    for (const r of RANKS) expect((await h.call('counter.stats-get', undefined, { nodeid: r })).step).toBe(5);
    expect(await h.call('counter.add', { name: 'hits' }, { nodeid: 2 })).toMatchObject({ value: 47 });
    expect(await inst.flux(['module', 'reload', 'counter'])).toMatchObject(ok());
    expect(await inst.flux(['module', 'stats', '-p', 'step', 'counter'])).toMatchObject(ok('5\n'));
    expect((await h.call('counter.get', { name: 'hits' })).value).toBe(47);
    expect(await inst.flux(['module', 'reload', 'heartbeat', 'period=0.25s'])).toMatchObject(ok());
    expect(await inst.flux(['module', 'stats', '-p', 'period', 'heartbeat'])).toMatchObject(ok('0.250000\n'));
    expect(await inst.flux(['module', 'stats', '-p', 'period', '-t', 'int', '-s', '1000', 'heartbeat'])).toMatchObject(ok('250\n'));
  });

  it('keeps a plug-in that throws from harming the broker', async () => {
    const factory = await inst.flux(['module', 'load', FAULTY, 'fail=factory']);
    expect(factory).toMatchObject({ code: 1, stderr: `flux-module: load ${FAULTY}: faulty: the factory was told to fail\n` });
    const start = await inst.flux(['module', 'load', '-r', '1', FAULTY, 'fail=start']);
    expect(start).toMatchObject({ code: 1, stderr: `flux-module: load ${FAULTY}: rank 1: faulty: start was told to fail\n` });
    expect(await modulesOn(0)).not.toContain('faulty');
    expect(await modulesOn(1)).not.toContain('faulty');
    // a failed load leaves nothing behind: not its services, not its projection
    await expect(h.rpc('faulty.ok', {}, { nodeid: 1 })).rejects.toMatchObject({ errno: ENOSYS });
    expect(await inst.flux(['module', 'load', '--all', FAULTY])).toMatchObject(ok());

    await expect(h.rpc('faulty.throw', {})).rejects.toMatchObject({ errno: EIO });
    await expect(h.rpc('faulty.reject', {}, { nodeid: 3 })).rejects.toMatchObject({ errno: EIO });
    expect(await h.call('faulty.ok', {}, { nodeid: 3 })).toEqual({ ok: true });
    // its projection and its event handler throw on this entry: both logged, neither stops the journal
    await h.call('faulty.append', { topic: 'faulty.poison' });
    const { seq } = await h.call('faulty.append', { topic: 'faulty.counted' });
    for (const r of RANKS) {
      await until(`rank ${r} to apply ${String(seq)}`, async () =>
        (Number((await h.call('journal.head', undefined, { nodeid: r })).seq) >= Number(seq) ? true : undefined));
      expect(await h.call('faulty.state', {}, { nodeid: r })).toEqual({ entries: 1, events: 2 });
    }
    const dmesg = (await inst.flux(['dmesg'])).stdout;
    expect(dmesg).toMatch(/faulty\.throw: Error: faulty: a handler that throws/);
    expect(dmesg).toMatch(/faulty\.err\[0\]: projection: entry \d+ \(faulty\.poison\) not applied: faulty: a poisoned entry/);
    expect(dmesg).toMatch(/faulty\.err\[0\]: event faulty\.poison: Error: faulty: an event handler that throws/);
    expect(await inst.flux(['kvs', 'put', 'after.faulty=1'])).toMatchObject(ok());
    expect(await inst.flux(['module', 'remove', '--all', 'faulty'])).toMatchObject(ok());
    for (const r of RANKS) expect(await modulesOn(r)).not.toContain('faulty');
  });

  it('removes the KVS and loads it again at the same root and version', async () => {
    expect(await inst.flux(['kvs', 'put', 'kept=yes'])).toMatchObject(ok());
    const root = async (rank: number) => h.call('kvs.getroot', { namespace: 'primary', flags: 0 }, { nodeid: rank });
    const before = await root(0);
    const already = await inst.flux(['module', 'load', 'kvs']);
    expect(already).toMatchObject({ code: 1, stderr: 'flux-module: load kvs: kvs module is already loaded\n' });
    expect(await inst.flux(['module', 'remove', '--all', 'kvs'])).toMatchObject(ok());
    for (const r of RANKS) expect(await modulesOn(r)).not.toContain('kvs');
    await expect(h.rpc('kvs.getroot', { namespace: 'primary', flags: 0 }, { nodeid: 2 })).rejects.toMatchObject({ errno: ENOSYS });
    expect(await inst.flux(['module', 'load', '--all', 'kvs'])).toMatchObject(ok());
    for (const r of RANKS) {
      expect(await root(r)).toMatchObject({ rootref: before.rootref, rootseq: before.rootseq });
      expect(await inst.flux(['kvs', 'get', 'kept'], { env: { FLUX_URI: `local://${inst.rundir}/local-${r}` } })).toMatchObject(ok('yes\n'));
    }
    expect(await inst.flux(['kvs', 'put', 'again=1'], { env: { FLUX_URI: `local://${inst.rundir}/local-3` } })).toMatchObject(ok());
    expect((await root(0)).rootseq).toBe(Number(before.rootseq) + 1);
  });

  it('removes cron and heartbeat and loads them again: the cron table is the journal\'s, so its entries stay', async () => {
    const created = await inst.flux(['cron', 'interval', '1h', 'true']);
    expect(created.code).toBe(0);
    const id = /cron-(\d+)/.exec(created.stdout)![1];
    expect(await inst.flux(['module', 'remove', 'cron'])).toMatchObject(ok());
    expect((await inst.flux(['cron', 'list'])).code).not.toBe(0);
    expect(await inst.flux(['module', 'load', 'cron', 'sync=heartbeat.pulse', 'sync_epsilon=0.5s'])).toMatchObject(ok());
    expect((await inst.flux(['cron', 'list'])).stdout).toMatch(new RegExp(`^ *${id} true +Active `, 'm'));
    expect(await h.call('cron.sync', {})).toEqual({ sync_event: 'heartbeat.pulse', sync_epsilon: 0.5 });
    const notHere = await inst.flux(['module', 'load', '-r', '2', 'cron']);
    expect(notHere).toMatchObject({ code: 1, stderr: 'flux-module: load cron: rank 2: cron runs on rank 0 only\n' });

    expect(await inst.flux(['module', 'remove', 'heartbeat'])).toMatchObject(ok());
    expect(await modulesOn(0)).not.toContain('heartbeat');
    expect(await inst.flux(['module', 'load', 'heartbeat', 'period=0.05s'])).toMatchObject(ok());
    await until('a pulse from the new heartbeat', async () =>
      (Number((await h.call('heartbeat.stats-get')).pulses) > 0 ? true : undefined));
  });

  it('answers module stats --parse with the fields flux-core\'s tests wait on', async () => {
    const stat = (args: string[]) => inst.flux(['module', 'stats', ...args]);
    const watch = background(inst.uri, ['kvs', 'get', '--watch', '--count=2', 'kept']);
    await watch.saw('yes\n');
    expect(await stat(['--parse', 'namespaces.primary.watchers', 'kvs-watch'])).toMatchObject(ok('1\n'));
    expect(await stat(['--parse', 'namespace-count', 'kvs-watch'])).toMatchObject(ok('1\n'));
    const { rootseq } = await h.call('kvs.getroot', { namespace: 'primary', flags: 0 });
    const waiting = h.call('kvs.wait-version', { namespace: 'primary', rootseq: Number(rootseq) + 1 });
    await until('a version waiter', async () => ((await stat(['-p', 'namespace.primary.#versionwaiters', 'kvs'])).stdout === '1\n' ? true : undefined));
    expect(await stat(['-p', 'namespace.primary.#transactions', 'kvs'])).toMatchObject(ok('0\n'));
    expect(await inst.flux(['kvs', 'put', 'kept=still'])).toMatchObject(ok());
    await waiting;
    expect((await watch.done).code).toBe(0);
    expect(await stat(['-p', 'namespace-count', 'kvs-watch'])).toMatchObject(ok('0\n'));
    expect(await stat(['-p', 'namespace.primary.#versionwaiters', 'kvs'])).toMatchObject(ok('0\n'));
    expect(await stat(['-p', 'dirty', 'content'])).toMatchObject(ok('0\n'));
    expect(await stat(['-p', 'active_jobs', 'job-manager'])).toMatchObject(ok('0\n'));
    expect(JSON.parse((await stat(['-p', 'namespace.primary', 'kvs'])).stdout)).toEqual({ '#versionwaiters': 0, '#transactions': 0 });
    expect(await stat(['-p', 'no.such.field', 'kvs'])).toMatchObject({ code: 1, stderr: 'flux-module: stats kvs: no field no.such.field in its statistics\n' });
  });

  it('keeps debug flags per module, and shows them', async () => {
    const debug = (args: string[]) => inst.flux(['module', 'debug', ...args]);
    expect(await debug(['kvs'])).toMatchObject(ok('0x0\n'));
    expect(await debug(['--setbit', '0x5', 'kvs'])).toMatchObject(ok('0x5\n'));
    expect(await debug(['-c', '1', 'kvs'])).toMatchObject(ok('0x4\n'));
    expect(await debug(['-S', '0x30', 'counter'])).toMatchObject(ok('0x30\n'));
    expect(await debug(['kvs'])).toMatchObject(ok('0x4\n'));
    expect(await debug(['-C', 'kvs'])).toMatchObject(ok('0x0\n'));
    expect(await debug(['counter'])).toMatchObject(ok('0x30\n'));
  });

  it('refuses bad input with one line and exit 1, and the broker carries on', async () => {
    const refused = async (args: string[], reason: RegExp) => {
      const r = await inst.flux(['module', ...args]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(reason);
      expect(r.stderr.split('\n')).toHaveLength(2);
    };
    await refused(['load', 'nosuch'], /^flux-module: load nosuch: no built-in module named nosuch/);
    await refused(['load', '/nonexistent/m.mjs'], /^flux-module: load \/nonexistent\/m\.mjs: No such file or directory$/m);
    await refused(['load', join(ROOT, 'package.json')], /^flux-module: load .*package\.json: .*/);
    await refused(['load', join(ROOT, 'test', 'fixtures', 'pmi-card.mjs')], /exports no module factory/);
    await refused(['load', '-r', '1', 'heartbeat', 'period=soon'], /^flux-module: load heartbeat: rank 1: heartbeat module is already loaded$/m);
    await refused(['reload', 'heartbeat', 'period=soon'], /^flux-module: reload heartbeat: period=soon: invalid duration "soon"$/m);
    await refused(['load', 'heartbeat', 'beat=1'], /^flux-module: load heartbeat: unknown argument "beat" \(it takes period=\)$/m);
    await refused(['load', COUNTER, 'step=3'], /^flux-module: load .*: counter module is already loaded$/m);
    await refused(['remove', 'attr'], /^flux-module: remove attr: attr is part of the broker and cannot be removed$/m);
    await refused(['remove', 'nosuch'], /^flux-module: remove nosuch: nosuch module is not loaded$/m);
    await refused(['load', '-r', '7', 'heartbeat'], /^flux-module: rank 7 is not in this instance of size 4$/m);
    await refused(['stats', 'nosuch'], /^flux-module: /);
    await refused(['debug', '-s', 'lots', 'kvs'], /^flux-module: invalid debug flags "lots"$/m);
    expect(await inst.flux(['module', 'remove', '-f', 'nosuch'])).toMatchObject(ok());
    // the reload that failed took the heartbeat out, as a remove would: loading it again brings it back
    expect(await modulesOn(0)).not.toContain('heartbeat');
    expect(await inst.flux(['module', 'load', 'heartbeat'])).toMatchObject(ok());
    // a request with a bad payload is refused by the handler's schema before the module sees it
    await expect(h.rpc('counter.add', { name: '' })).rejects.toMatchObject({ errno: EPROTO });
    await expect(h.rpc('module.load', { path: 7 })).rejects.toMatchObject({ errno: EPROTO });
    await expect(h.rpc('module.load', { path: 'kvs' }, { nodeid: 1 })).rejects.toMatchObject({ errno: EEXIST, message: 'kvs module is already loaded' });
  });
});
