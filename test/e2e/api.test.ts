// The client library as a program uses it: `connect` and the typed clients of the `flux-ts` entry against a real
// size-4 instance, with what the CLI shows of the same state as the other side of each check.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  connect, type Flux, FluxError, ENOENT, ECANCELED, EINVAL, ENOSYS, NO_MERGE, SUBMIT_WAITABLE,
} from '../../src/index.js';
import { startInstance, until, type Instance } from '../helpers/instance.js';

describe('the flux-ts library against a size-4 instance', () => {
  let inst: Instance;
  let h: Flux;

  beforeAll(async () => {
    inst = await startInstance(4);
    h = await connect(inst.uri);
  });

  afterAll(async () => {
    h?.close();
    expect(await inst?.stop()).toBe(0);
  });

  it('puts, commits transactions and reads now, at a version, at a time and at a tree object', async () => {
    const first = await h.kvs.put('lib.a', { x: 1 });
    expect(await h.kvs.get('lib.a')).toEqual({ x: 1 });
    // what a program stores, flux kvs reads as the same JSON text
    expect((await inst.flux(['kvs', 'get', 'lib.a'])).stdout).toBe('{"x":1}\n');
    const root = await h.kvs.getroot();
    expect(root.rootseq).toBe(first.rootseq);
    await new Promise((r) => setTimeout(r, 1100));
    const later = Date.now() / 1000;
    const txn = h.kvs.txn().put('lib.a', { x: 2 }).mkdir('lib.d').symlink('lib.l', 'lib.a').append('lib.log', 'one\n')
      .put('lib.raw', Buffer.from([1, 2, 3]));
    const second = await h.kvs.commit(txn, { flags: NO_MERGE });
    expect(second.rootseq).toBeGreaterThan(first.rootseq);
    await h.kvs.commit(h.kvs.txn().append('lib.log', 'two\n').unlink('lib.raw'));

    expect(await h.kvs.get('lib.a')).toEqual({ x: 2 });
    expect(await h.kvs.get('lib.l')).toEqual({ x: 2 });
    expect(await h.kvs.readlink('lib.l')).toEqual({ target: 'lib.a' });
    expect((await h.kvs.getRaw('lib.log')).toString()).toBe('one\ntwo\n');
    expect(await h.kvs.readdir('lib.d')).toEqual([]);
    expect((await h.kvs.readdir('lib')).sort()).toEqual(['a', 'd', 'l', 'log']);
    expect(await h.kvs.exists('lib.raw')).toBe(false);
    await expect(h.kvs.get('lib.raw')).rejects.toMatchObject({ errno: ENOENT });
    await expect(h.kvs.get('lib.raw', { atVersion: second.rootseq })).resolves.toEqual(Buffer.from([1, 2, 3]));

    expect(await h.kvs.get('lib.a', { atVersion: first.rootseq })).toEqual({ x: 1 });
    expect(await h.kvs.get('lib.a', { at: root.treeobj })).toEqual({ x: 1 });
    expect(await h.kvs.get('lib.a', { atTime: later - 0.5 })).toEqual({ x: 1 });
    expect(await h.kvs.get('lib.a', { atTime: new Date() })).toEqual({ x: 2 });
    await expect(h.kvs.get('lib.a', { atVersion: 1, atTime: 1 })).rejects.toMatchObject({ errno: EINVAL });
    // every rank reads the same value, once it has the version
    for (const rank of [1, 2, 3]) {
      const other = await connect(`local://${inst.rundir}/local-${rank}`);
      try {
        await other.kvs.waitVersion(second.rootseq + 1);
        expect(await other.kvs.get('lib.a')).toEqual({ x: 2 });
      } finally {
        other.close();
      }
    }
  });

  it('watches a key from a past version on, as an async iterator that a break ends', async () => {
    const { rootseq } = await h.kvs.put('w.k', 1);
    await h.kvs.put('w.k', 2);
    const seen: unknown[] = [];
    for await (const change of h.kvs.watch('w.k', { fromVersion: rootseq })) {
      seen.push(change.value);
      if (seen.length === 2) void h.kvs.put('w.k', 3);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([1, 2, 3]);
    // the watcher is gone once the loop is left
    await until('the watch to be cancelled', async () =>
      ((await inst.flux(['module', 'stats', '-p', 'namespace-count', 'kvs-watch'])).stdout === '0\n' ? true : undefined));
  });

  it('publishes events and subscribes from a past seq, without a gap between history and live', async () => {
    const s1 = await h.events.publish('app.one', { n: 1 });
    const s2 = await h.events.publish('app.two', 'text');
    const got: Array<{ topic: string; seq: number; data: unknown }> = [];
    for await (const ev of h.events.subscribe('app', { from: s1 })) {
      got.push({ topic: ev.topic, seq: ev.seq, data: ev.data });
      if (got.length === 2) void h.events.publish('app.three', [3]);
      if (got.length === 3) break;
    }
    expect(got.slice(0, 2)).toEqual([{ topic: 'app.one', seq: s1, data: { n: 1 } }, { topic: 'app.two', seq: s2, data: undefined }]);
    expect(got[2]).toMatchObject({ topic: 'app.three', data: [3] });
    expect(got[2]!.seq).toBeGreaterThan(s2);
    const rows = await h.journal.list({ from: s1, to: got[2]!.seq, topic: 'app.' });
    expect(rows.map((r) => r.seq)).toEqual(got.map((g) => g.seq));
    expect((await h.journal.head()).seq).toBeGreaterThanOrEqual(got[2]!.seq);

    // a journal follower the loop leaves is cancelled at once, not at the next entry
    const followers = async () => (await inst.flux(['module', 'stats', '-p', 'followers', 'journal'])).stdout;
    const rowsSeen: number[] = [];
    for await (const row of h.journal.follow({ from: s1 })) {
      rowsSeen.push(row.seq);
      if (row.seq === s2) break;
    }
    expect(rowsSeen).toEqual([s1, s2]);
    await until('the follower to be gone', async () => ((await followers()) === '0\n' ? true : undefined));
  });

  it('stores and loads blobs, reads attributes, runs processes and lists them', async () => {
    const ref = await h.content.store(Buffer.from('a blob'));
    expect(ref).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect((await h.content.load(ref)).toString()).toBe('a blob');
    expect((await inst.flux(['content', 'load', ref])).stdout).toBe('a blob');
    expect(await h.attrs.get('size')).toBe('4');
    expect(await h.attrs.get('rank', { nodeid: 2 })).toBe('2');
    await expect(h.attrs.get('no.such.attr')).rejects.toMatchObject({ errno: ENOENT });

    const out: string[] = [];
    let status: number | undefined;
    for await (const r of h.exec.run(['sh', '-c', 'cat; echo "rank $FLUX_TASK_RANK" >&2; exit 3'], { rank: 3, stdin: 'in\n' })) {
      if (r.type === 'output' && r.data) out.push(`${r.stream}:${r.data.toString()}`);
      if (r.type === 'finished') status = r.status;
    }
    expect(out[0]).toBe('stdout:in\n');
    expect(status).toBe(3 << 8);
    const run = h.exec.run(['sleep', '30'], { rank: 1 });
    const started = await run.next();
    expect(started.value).toMatchObject({ type: 'started' });
    const pid = (started.value as { pid: number }).pid;
    // the start reaches the process table once rank 0 has journaled it, which the started response does not wait for
    await until('the sleep in the process table', async () =>
      ((await h.exec.ps({ ranks: '1' })).some((p) => p.pid === pid && p.rank === 1) ? true : undefined));
    await run.return!();
    await until('the sleep to be killed', async () => (!(await h.exec.ps()).some((p) => p.pid === pid) ? true : undefined));
  });

  it('creates and deletes cron entries', async () => {
    const e = await h.cron.interval(3600, 'true');
    expect((await h.cron.list()).map((x) => x.id)).toContain(e.id);
    expect((await inst.flux(['cron', 'list'])).stdout).toMatch(new RegExp(`^ *${e.id} true `, 'm'));
    expect((await h.cron.stop(e.id)).stopped).toBe(true);
    await h.cron.delete(e.id);
    expect((await h.cron.list()).map((x) => x.id)).not.toContain(e.id);
  });

  it('submits jobs, attaches to their output, waits for them, lists and cancels them', async () => {
    const id = await h.jobs.submit({ command: ['sh', '-c', 'echo hi from $FLUX_TASK_RANK'], ntasks: 2, flags: SUBMIT_WAITABLE });
    const lines: string[] = [];
    for await (const o of h.jobs.attach(id)) lines.push(o.data.toString().trim());
    expect(lines.sort()).toEqual(['hi from 0', 'hi from 1']);
    expect(await h.jobs.wait(id)).toMatchObject({ id, success: true });
    expect((await h.jobs.list()).map((j) => j.id)).toContain(id);
    const long = await h.jobs.submit({ command: ['sleep', '300'] });
    await h.jobs.cancel(long, 'not today');
    const names: string[] = [];
    for await (const ev of h.jobs.eventlog(long)) {
      names.push(ev.name);
      if (ev.name === 'clean') break;
    }
    expect(names).toContain('exception');
    expect((await h.jobs.info(long)).exception_type).toBe('cancel');
  });

  it('answers raw RPCs on any rank, with errors that carry errno', async () => {
    for (const nodeid of [0, 1, 2, 3]) {
      const m = await h.rpc('attr.get', { name: 'rank' }, { nodeid });
      expect(JSON.parse(m.payload!.toString('utf8').replace(/\0$/, '')).value).toBe(String(nodeid));
    }
    const err = await h.rpc('no-such-service.ping', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FluxError);
    expect(err).toMatchObject({ errno: ENOSYS });
  });

  it('abandons a call when its signal aborts, and close() ends every stream cleanly', async () => {
    const ac = new AbortController();
    const waiting = h.kvs.waitVersion(1_000_000, { signal: ac.signal });
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ errno: ECANCELED });
    await expect(h.kvs.get('lib.a', { signal: AbortSignal.abort() })).rejects.toMatchObject({ errno: ECANCELED });

    const other = await connect(inst.uri);
    const events = other.events.subscribe('never.');
    const watch = other.kvs.watch('lib.a');
    expect((await watch.next()).value).toEqual({ value: { x: 2 } });
    const ended = Promise.all([events.next(), watch.next()]);
    // the subscription is in place once its request was answered: a journal round trip later it surely is
    await other.journal.head();
    other.close();
    expect(await ended).toEqual([{ value: undefined, done: true }, { value: undefined, done: true }]);
    await expect(other.kvs.get('lib.a')).rejects.toBeInstanceOf(FluxError);
    // an aborted watch throws ECANCELED out of the loop
    const ac2 = new AbortController();
    const aborted = (async () => {
      for await (const _ of h.kvs.watch('lib.a', { signal: ac2.signal })) ac2.abort();
    })();
    await expect(aborted).rejects.toMatchObject({ errno: ECANCELED });
    // a watch abandoned before its first value (waiting for the key to exist) is cancelled at the service too
    const watchers = async () => (await inst.flux(['module', 'stats', '-p', 'namespace-count', 'kvs-watch'])).stdout;
    const ac3 = new AbortController();
    const waiting3 = (async () => {
      for await (const _ of h.kvs.watch('not.yet', { waitCreate: true, signal: ac3.signal })) break;
    })();
    await until('the watcher to be there', async () => ((await watchers()) === '1\n' ? true : undefined));
    ac3.abort();
    await expect(waiting3).rejects.toMatchObject({ errno: ECANCELED });
    await until('the watcher to be gone', async () => ((await watchers()) === '0\n' ? true : undefined));
  });
});
