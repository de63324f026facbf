// The kvs-watch service on a real instance of size 4, through the client api: a watch answers once per commit
// touching its key, in commit order, even under a burst of commits from another client; uniq, waitcreate and
// stream; cancel and namespace removal end it with ENODATA and ENOTSUP; a watch below rank 0 sees rank 0's commits.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startInstance, type Instance } from '../helpers/instance.js';
import { loadVectors } from '../helpers/vectors.js';
import { Flux } from '../../src/api/handle.js';
import { FluxError, ENODATA, ENOENT, ENOTSUP, EPROTO } from '../../src/core/errors.js';
import { payloadJson } from '../../src/core/wire/message.js';
import { STREAM, WAITCREATE, WATCH, WATCH_UNIQ } from '../../src/services/kvs-watch.js';
import { rejectionErrno } from '../helpers/rejection.js';

const TXN_NO_MERGE = 1;
const val = (s: string) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const put = (h: Flux, key: string, s: string, namespace = 'primary', flags = 0) =>
  h.call('kvs.commit', { namespace, flags, ops: [{ key, flags: 0, dirent: val(s) }] });
const text = (v: unknown) => Buffer.from((v as { data: string }).data, 'base64').toString();

/** a watch left running: the values it got so far, its matchtag, and how it ended */
function watch(h: Flux, key: string, flags: number, namespace = 'primary') {
  const values: string[] = [];
  let tag = 0;
  const done = h.stream('kvs-watch.lookup', { key, namespace, flags }, {}, (m) => {
    tag = m.aux2;
    values.push(text(payloadJson(m).val));
  });
  return {
    values,
    /** ENODATA when it ended normally, else the errno it ended with */
    ended: done.then(() => ENODATA, (err: unknown) => (err as FluxError).errno),
    cancel: () => h.send('kvs-watch.cancel', { matchtag: tag }),
    /** resolves once `n` values have come */
    async count(n: number, ms = 10_000): Promise<void> {
      const until = Date.now() + ms;
      while (values.length < n) {
        if (Date.now() > until) throw new Error(`got ${values.length} of ${n} values: ${JSON.stringify(values)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

describe('kvs-watch on an instance of size 4', () => {
  let inst: Instance;
  let h: Flux;
  let other: Flux;
  beforeAll(async () => {
    inst = await startInstance(4);
    h = await Flux.open(inst.uri);
    other = await Flux.open(inst.uri);
  });
  afterAll(async () => {
    h?.close();
    other?.close();
    expect(await inst?.stop()).toBe(0);
  });

  it("answers flux-core 0.88's watch as it did, byte for byte, and ends it at cancel with ENODATA", async () => {
    const msgs = loadVectors('kvs-watch').messages;
    const req = msgs.find((m) => m.dir === 'c2s' && m.topic === 'kvs-watch.lookup')!;
    const answers = msgs.filter((m) => m.dir === 's2c' && m.aux1 === 0).map((m) => m.payload_hex);
    await put(h, 'a', '1');
    const got: Array<string | null> = [];
    const ended = h.stream(req.topic!, Buffer.from(req.payload_hex!, 'hex'), {}, (m) => {
      got.push(m.payload?.toString('hex') ?? null);
      if (got.length === 1) void put(other, 'a', '2');
      else h.send('kvs-watch.cancel', { matchtag: m.aux2 });
    });
    await ended;
    expect(got).toEqual(answers);
  });

  it('sees every commit of a burst from another client, in order, once each', async () => {
    await put(h, 'burst', '0');
    const w = watch(h, 'burst', WATCH);
    await w.count(1);
    const n = 50;
    // unmergeable: each commit is its own version, so the watch must answer each of them
    await Promise.all(Array.from({ length: n }, (_, i) => put(other, 'burst', String(i + 1), 'primary', TXN_NO_MERGE)));
    await w.count(n + 1);
    w.cancel();
    expect(await w.ended).toBe(ENODATA);
    expect(w.values).toEqual(Array.from({ length: n + 1 }, (_, i) => String(i)));
  });

  it('sees merged commits as the versions they make: increasing, no repeats, ending at the last', async () => {
    await put(h, 'merged', '0');
    const w = watch(h, 'merged', WATCH);
    await w.count(1);
    await Promise.all(Array.from({ length: 50 }, (_, i) => put(other, 'merged', String(i + 1))));
    const until = Date.now() + 10_000;
    while (w.values[w.values.length - 1] !== '50' && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    w.cancel();
    expect(await w.ended).toBe(ENODATA);
    const nums = w.values.map(Number);
    expect(nums[nums.length - 1]).toBe(50);
    for (let i = 1; i < nums.length; i++) expect(nums[i]).toBeGreaterThan(nums[i - 1]!);
  });

  it('with WATCH_UNIQ answers only when the value changes', async () => {
    await put(h, 'u', 'a');
    const w = watch(h, 'u', WATCH | WATCH_UNIQ);
    await w.count(1);
    for (const v of ['a', 'b', 'b', 'c']) await put(other, 'u', v);
    await w.count(3);
    w.cancel();
    expect(await w.ended).toBe(ENODATA);
    expect(w.values).toEqual(['a', 'b', 'c']);
  });

  it('waits for a key to be created: watching, streaming once, and as a plain request', async () => {
    const watching = watch(h, 'later.w', WATCH | WAITCREATE);
    const once = watch(h, 'later.once', WAITCREATE);
    const plain = h.call('kvs-watch.lookup', { key: 'later.plain', namespace: 'primary', flags: WAITCREATE });
    await new Promise((r) => setTimeout(r, 200));
    expect([watching.values, once.values]).toEqual([[], []]);
    await put(other, 'later.w', 'one');
    await put(other, 'later.once', 'here');
    await put(other, 'later.plain', 'too');
    await put(other, 'later.w', 'two');
    expect(await once.ended).toBe(ENODATA);
    expect(once.values).toEqual(['here']);
    expect(text((await plain).val)).toBe('too');
    await watching.count(2);
    watching.cancel();
    expect(await watching.ended).toBe(ENODATA);
    expect(watching.values).toEqual(['one', 'two']);
  });

  it('streams a value once; a missing key is ENOENT; a watch needs a streaming request', async () => {
    await put(h, 's', 'v');
    const s = watch(h, 's', STREAM);
    expect(await s.ended).toBe(ENODATA);
    expect(s.values).toEqual(['v']);
    expect(await watch(h, 'nosuch', WATCH).ended).toBe(ENOENT);
    expect(await rejectionErrno(h.call('kvs-watch.lookup', { key: 's', namespace: 'primary', flags: WATCH }))).toBe(EPROTO);
  });

  it('cancel ends the watch with ENODATA, and only that watch', async () => {
    await put(h, 'c', '1');
    const a = watch(h, 'c', WATCH);
    const b = watch(h, 'c', WATCH);
    await a.count(1);
    await b.count(1);
    a.cancel();
    expect(await a.ended).toBe(ENODATA);
    await put(other, 'c', '2');
    await b.count(2);
    b.cancel();
    expect(await b.ended).toBe(ENODATA);
    expect([a.values, b.values]).toEqual([['1'], ['1', '2']]);
  });

  it('a watch on rank 3 sees the commits made on rank 0', async () => {
    const h3 = await Flux.open(`local://${inst.rundir}/local-3`);
    try {
      expect(await h3.getRank()).toBe(3);
      const first = await put(h, 'far', 'x0');
      // rank 3 follows rank 0's journal: it has the first value once it has that version
      await h3.call('kvs.wait-version', { namespace: 'primary', rootseq: first.rootseq });
      const w = watch(h3, 'far', WATCH);
      await w.count(1);
      for (let i = 1; i <= 5; i++) await put(h, 'far', `x${i}`);
      await w.count(6);
      w.cancel();
      expect(await w.ended).toBe(ENODATA);
      expect(w.values).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5']);
    } finally {
      h3.close();
    }
  });

  it('removing the namespace ends its watches with ENOTSUP', async () => {
    expect(await inst.flux(['kvs', 'namespace', 'create', 'wns'])).toMatchObject({ code: 0 });
    await put(h, 'k', 'v', 'wns');
    const w = watch(h, 'k', WATCH, 'wns');
    await w.count(1);
    expect(await inst.flux(['kvs', 'namespace', 'remove', 'wns'])).toMatchObject({ code: 0 });
    expect(await w.ended).toBe(ENOTSUP);
    expect(w.values).toEqual(['v']);
  });
});
