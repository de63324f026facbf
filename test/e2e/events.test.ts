// flux event and flux journal against a real size-4 instance: publish and subscribe across processes and
// ranks, history followed by live delivery while a publisher keeps going, and the journal's list, show,
// follow, verify and head.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInstance, run, type Instance, type RunResult } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { subscribeFrom, type FluxEvent } from '../../src/api/events.js';

const REF = /^sha(1|256)-[0-9a-f]+$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('events and the journal in a size-4 instance', () => {
  let inst: Instance;
  /** rank 3's socket: a broker that gets events from rank 0 through its parent */
  let leafUri: string;

  beforeAll(async () => {
    inst = await startInstance(4);
    leafUri = `local://${inst.rundir}/local-3`;
  });

  afterAll(async () => {
    expect(await inst.stop()).toBe(0);
  });

  /** run `flux ARGS` over and over until `done` settles: the subscriber's subscription time is not visible */
  async function keepRunning(done: Promise<RunResult>, args: string[], uri = inst.uri): Promise<RunResult> {
    let finished = false;
    const settled = () => {
      finished = true;
    };
    done.then(settled, settled);
    while (!finished) {
      const r = await inst.flux(args, { env: { FLUX_URI: uri } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      await new Promise((res) => setTimeout(res, 100));
    }
    return done;
  }

  async function pubSync(args: string[], uri = inst.uri): Promise<number> {
    const r = await inst.flux(['event', 'pub', '-s', ...args], { env: { FLUX_URI: uri } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const m = /^seq=(\d+)\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    return Number(m![1]);
  }

  it('sub -c 1 prints the event another process publishes, as flux-core printed it', async () => {
    const sub = inst.flux(['event', 'sub', '--count=1', 'foo']);
    const r = await keepRunning(sub, ['event', 'pub', 'foo.baz']);
    expect(r).toMatchObject({ code: 0, stdout: 'foo.baz\t\n', stderr: '' });
  });

  it('a JSON payload arrives as compact JSON; a raw one as its bytes', async () => {
    const json = await keepRunning(inst.flux(['event', 'sub', '-c', '1', 'pl.json']), ['event', 'pub', 'pl.json', '{"x":', '1}']);
    expect(json).toMatchObject({ code: 0, stdout: 'pl.json\t{"x":1}\n' });
    const raw = await keepRunning(inst.flux(['event', 'sub', '-c', '1', 'pl.raw']), ['event', 'pub', '-r', 'pl.raw', 'not', 'json']);
    expect(raw).toMatchObject({ code: 0, stdout: 'pl.raw\tnot json\n' });
  });

  it('pub refuses a payload that is not a JSON object', async () => {
    expect(await inst.flux(['event', 'pub', 'bad', '[1]'])).toMatchObject({
      code: 1, stdout: '', stderr: 'flux-event: payload must be a JSON object\n',
    });
    const r = await inst.flux(['event', 'pub', 'bad', '{nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^flux-event: payload is not valid JSON: .+\n$/);
  });

  it('pub -s prints the seq the journal gave the event; show returns that entry', async () => {
    const a = await pubSync(['sync.a', '{"n":1}']);
    const b = await pubSync(['sync.b']);
    expect(b).toBeGreaterThan(a);
    const show = await inst.flux(['journal', 'show', String(a)]);
    expect(show.code).toBe(0);
    const entry = JSON.parse(show.stdout) as Record<string, unknown>;
    expect(entry).toMatchObject({ seq: a, topic: 'sync.a', payload: { n: 1 }, userid: process.getuid!() });
    expect(entry.prev).toMatch(REF);
    expect(show.stdout).toContain('\n  "seq": ');
  });

  it('pub -l waits for its own event to come back and prints its seq', async () => {
    const r = await inst.flux(['event', 'pub', '-l', 'loop.back', '{"a":true}']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const seq = Number(/^seq=(\d+)\n$/.exec(r.stdout)![1]);
    expect(JSON.parse((await inst.flux(['journal', 'show', String(seq)])).stdout)).toMatchObject({ topic: 'loop.back' });
  });

  it('pub -p marks the event private; the owner still receives it, live and from history', async () => {
    const live = await keepRunning(inst.flux(['event', 'sub', '-c', '1', 'priv.']), ['event', 'pub', '-p', 'priv.x', '{"s":1}']);
    expect(live).toMatchObject({ code: 0, stdout: 'priv.x\t{"s":1}\n' });
    const seq = await pubSync(['-p', 'priv.y']);
    const entry = JSON.parse((await inst.flux(['journal', 'show', String(seq)])).stdout) as { flags: number };
    expect(entry.flags & 0x20).toBe(0x20);
    const hist = await inst.flux(['event', 'sub', '--from', String(seq), '-c', '1', 'priv.']);
    expect(hist).toMatchObject({ code: 0, stdout: 'priv.y\t\n' });
  });

  it('sub --from delivers history then live, with no gap and no duplicate, while a publisher keeps going', async () => {
    const h = await Flux.open(inst.uri);
    const published: number[] = [];
    let stop = false;
    let i = 0;
    const publisher = (async () => {
      while (!stop) {
        const seq = Number((await h.call('event.publish', { topic: 'hist.x', flags: 0, payload: Buffer.from(`{"i":${i}}\0`).toString('base64') }, { nodeid: 0 })).seq);
        published[i++] = seq;
        // other topics in between: the filter must skip them without disturbing the order
        await h.call('event.publish', { topic: 'histo', flags: 0 }, { nodeid: 0 });
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    try {
      await new Promise((res) => setTimeout(res, 300));
      // enough that the subscriber has to go on live well after it has caught up with the history
      const want = published.length + 200;
      const r = await inst.flux(['event', 'sub', '--from', '1', '--count', String(want), 'hist.']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(Array.from({ length: want }, (_, k) => `hist.x\t{"i":${k}}\n`).join(''));

      // the same through the API on a leaf broker, where the seqs are visible
      const leaf = await Flux.open(leafUri);
      const got: FluxEvent[] = [];
      const count = published.length - 10 + 50;
      await subscribeFrom(leaf, ['hist.'], published[10]!, (ev) => got.push(ev) < count);
      leaf.close();
      stop = true;
      await publisher;
      const seqs = got.map((e) => e.seq);
      expect(seqs.every((q, k) => k === 0 || q > seqs[k - 1]!)).toBe(true);
      expect(seqs).toEqual(published.slice(10, 10 + count));
      expect(got.map((e) => e.payload?.toString())).toEqual(Array.from({ length: count }, (_, k) => `{"i":${k + 10}}\0`));
    } finally {
      stop = true;
      await publisher;
      h.close();
    }
  }, 60_000);

  it('events published on rank 3 reach subscribers on rank 0 and the other way round', async () => {
    const up = await keepRunning(inst.flux(['event', 'sub', '-c', '1', 'xr.up']), ['event', 'pub', 'xr.up', '{"from":3}'], leafUri);
    expect(up).toMatchObject({ code: 0, stdout: 'xr.up\t{"from":3}\n' });
    const down = await keepRunning(
      inst.flux(['event', 'sub', '-c', '1', 'xr.down'], { env: { FLUX_URI: leafUri } }), ['event', 'pub', 'xr.down', '{"from":0}'],
    );
    expect(down).toMatchObject({ code: 0, stdout: 'xr.down\t{"from":0}\n' });
    // synchronous publishing from a leaf is served by rank 0 as well
    const seq = await pubSync(['xr.sync'], leafUri);
    expect(JSON.parse((await inst.flux(['journal', 'show', String(seq)], { env: { FLUX_URI: leafUri } })).stdout))
      .toMatchObject({ seq, topic: 'xr.sync' });
  });

  it('journal list shows aligned columns; --json, --from/--to and --topic narrow it', async () => {
    const a = await pubSync(['lst.one', '{"k":1}']);
    const b = await pubSync(['lst.two']);
    const all = await inst.flux(['journal', 'list']);
    expect(all.code).toBe(0);
    const lines = all.stdout.split('\n').slice(0, -1);
    expect(lines[0]).toMatch(/^ *SEQ {2}TIME {22}TOPIC +REF$/);
    const refAt = lines[0]!.indexOf('REF');
    const rows = lines.slice(1).map((l) => l.trim().split(/ +/));
    expect(rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: rows.length }, (_, k) => k + 1));
    for (const [k, l] of lines.slice(1).entries()) {
      expect(l.substring(refAt), l).toMatch(REF);
      expect(rows[k]![1]).toMatch(ISO);
    }

    const json = await inst.flux(['journal', 'list', '--from', String(a), '--to', String(b), '--json']);
    const objs = json.stdout.split('\n').slice(0, -1).map((l) => JSON.parse(l) as { seq: number; topic: string; ref: string; time: number });
    expect(objs.map((o) => o.seq)).toEqual(Array.from({ length: b - a + 1 }, (_, k) => a + k));
    expect(objs[0]).toMatchObject({ topic: 'lst.one' });
    expect(objs.at(-1)).toMatchObject({ topic: 'lst.two' });
    expect(objs[0]!.ref).toMatch(REF);

    const topic = await inst.flux(['journal', 'list', '--topic', 'lst.', '--json']);
    expect(topic.stdout.split('\n').slice(0, -1).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([a, b]);
  });

  it('journal show of a missing seq fails with the reason', async () => {
    const r = await inst.flux(['journal', 'show', '99999999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^flux-journal: journal has no entry 99999999/);
  });

  it('journal follow --from replays and then streams new entries', async () => {
    const a = await pubSync(['fol.a']);
    const follow = inst.flux(['journal', 'follow', '--from', String(a), '--count', '3', '--json']);
    const r = await keepRunning(follow, ['event', 'pub', 'fol.more']);
    expect(r.code).toBe(0);
    const objs = r.stdout.split('\n').slice(0, -1).map((l) => JSON.parse(l) as { seq: number; topic: string });
    expect(objs.map((o) => o.seq)).toEqual([a, a + 1, a + 2]);
    expect(objs[0]!.topic).toBe('fol.a');

    const plain = await inst.flux(['journal', 'follow', '--from', String(a), '-c', '1']);
    const lines = plain.stdout.split('\n').slice(0, -1);
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(/^ *SEQ {2}TIME {22}TOPIC +REF$/);
    expect(lines[1]).toMatch(new RegExp(`^ *${a}  \\S+Z  fol\\.a +sha`));
  });

  it('journal verify reports an intact chain; head names the connected broker', async () => {
    const seq = await pubSync(['ver.x']);
    const v = await inst.flux(['journal', 'verify']);
    expect(v.stderr).toBe('');
    expect(v.code).toBe(0);
    const m = /^journal: (\d+) entr(?:y|ies) verified, chain intact, head (\d+) (\S+), (\d+) checkpoints?\n$/.exec(v.stdout);
    expect(m, v.stdout).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThanOrEqual(seq);
    expect(m![3]).toMatch(REF);

    const h0 = /^seq=(\d+) ref=(\S+) rank=0\n$/.exec((await inst.flux(['journal', 'head'])).stdout);
    expect(h0).not.toBeNull();
    expect(Number(h0![1])).toBeGreaterThanOrEqual(seq);
    const h3 = (await inst.flux(['journal', 'head'], { env: { FLUX_URI: leafUri } })).stdout;
    expect(h3).toMatch(/^seq=\d+ ref=\S+ rank=3\n$/);
  });
});

/** `flux ARGS` as the unprivileged user nobody: what a guest of the instance sees */
function asGuest(uri: string, args: string[]): Promise<RunResult> {
  return run(args, { user: { name: 'nobody', uid: 65534, gid: 65534 }, env: { FLUX_URI: uri } });
}

// a second uid on one machine needs root: to become nobody, and to open the owner's rundir to it
// runs a process as another user, which needs root (as CI has)
describe('private events and a guest', () => {
  let inst: Instance;

  beforeAll(async () => {
    inst = await startInstance(2, ['-S', 'access.allow-guest-user=1']);
    chmodSync(inst.rundir, 0o755);
    for (const r of [0, 1]) chmodSync(`${inst.rundir}/local-${r}`, 0o777);
  });

  afterAll(async () => {
    expect(await inst.stop()).toBe(0);
  });

  it("a guest never receives the owner's private events, only public ones and its own private ones", async () => {
    for (const uri of [inst.uri, `local://${inst.rundir}/local-1`]) {
      const sub = asGuest(uri, ['event', 'sub', '-c', '2', 'g.']);
      let finished = false;
      const settled = () => {
        finished = true;
      };
      sub.then(settled, settled);
      while (!finished) {
        expect((await inst.flux(['event', 'pub', '-p', 'g.owner', '{"secret":1}'])).code).toBe(0);
        expect((await asGuest(inst.uri, ['event', 'pub', '-p', 'g.guest', '{"mine":1}'])).code).toBe(0);
        expect((await inst.flux(['event', 'pub', 'g.public'])).code).toBe(0);
      }
      const r = await sub;
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const lines = r.stdout.split('\n').slice(0, -1);
      expect(lines.length).toBe(2);
      for (const l of lines) expect(['g.guest\t{"mine":1}', 'g.public\t']).toContain(l);
    }
  }, 60_000);

  it('a guest may publish, privately too, and reads the history it could have received live', async () => {
    const r = await asGuest(inst.uri, ['event', 'pub', '-s', '-p', 'g.sync']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const seq = Number(/^seq=(\d+)\n$/.exec(r.stdout)![1]);
    expect(JSON.parse((await inst.flux(['journal', 'show', String(seq)])).stdout)).toMatchObject({ userid: 65534, flags: 0x20 });
    expect(await asGuest(inst.uri, ['event', 'pub', '-l', '-p', 'g.loop'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^seq=\d+\n$/) });
    const history = await asGuest(inst.uri, ['event', 'sub', '--from', '1', '-c', '4', 'g.']);
    expect(history).toMatchObject({ code: 0, stderr: '' });
    const lines = history.stdout.split('\n').slice(0, -1);
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(['g.guest\t{"mine":1}', 'g.public\t']).toContain(l);
    const owners = (await inst.flux(['journal', 'list', '--json'])).stdout.split('\n').slice(0, -1).map((l) => JSON.parse(l) as { seq: number; topic: string });
    const secret = owners.find((e) => e.topic === 'g.owner')!;
    expect(await asGuest(inst.uri, ['journal', 'show', String(secret.seq)])).toMatchObject({
      code: 1, stdout: '', stderr: `flux-journal: entry ${secret.seq} is not yours: reading it requires the owner role\n`,
    });
  });
});

describe('history after a restart', () => {
  it('sub --from on a rank that started from its parent snapshot reads the history from upstream', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-events-state-'));
    try {
      const first = await run(['start', '-S', `statedir=${state}`, '--size', '2', 'sh', '-c', 'flux event pub -s old.a; flux event pub -s old.b']);
      expect(first).toMatchObject({ code: 0, stdout: 'seq=1\nseq=2\n' });
      // ranks 1-3 join the restarted instance from their parent's snapshot: entries 1-2 are not in their memory
      const again = await run(['start', '-S', `statedir=${state}`, '--size', '4', '-S', 'tbon.fanout=2', 'sh', '-c',
        'for r in 1 3; do FLUX_URI=$(echo "$FLUX_URI" | sed "s/local-0$/local-$r/") flux event sub --from 1 -c 2 old || exit 1; done']);
      expect(again).toMatchObject({ code: 0, stderr: '', stdout: 'old.a\t\nold.b\t\nold.a\t\nold.b\t\n' });
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
