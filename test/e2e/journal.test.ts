// The journal on real instances: replication and repair, restart without loss, crash of rank 0, full disk.
import { describe, it, expect } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { run, startInstance, FLUX, type Instance } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { FluxError, ENOSPC } from '../../src/core/errors.js';

const publish = (h: Flux, topic: string, payload?: string) =>
  h.call('event.publish', { topic, flags: 0, ...(payload ? { payload: Buffer.from(`${payload}\0`).toString('base64') } : {}) }, { nodeid: 0 });

async function heads(rundir: string, size: number): Promise<Array<{ seq: number; ref: string }>> {
  const out = [];
  for (let r = 0; r < size; r++) {
    const h = await Flux.open(`local://${rundir}/local-${r}`);
    out.push((await h.call('journal.head')) as { seq: number; ref: string });
    h.close();
  }
  return out;
}

interface JournalStats {
  ring: number;
  ring_bytes: number;
  from_parent: { messages: number; entries: number };
  dropped: number;
}

async function journalStats(rundir: string, rank: number): Promise<JournalStats> {
  const h = await Flux.open(`local://${rundir}/local-${rank}`);
  const s = await h.call('journal.stats-get') as unknown as JournalStats;
  h.close();
  return s;
}

/** every rank's head at `seq`, the same ref on each, within 15 s */
async function converged(rundir: string, size: number, seq: number): Promise<void> {
  let all: Array<{ seq: number; ref: string }> = [];
  const t0 = Date.now();
  do {
    all = await heads(rundir, size);
    if (all.every((x) => x.seq === seq && x.ref === all[0]!.ref)) break;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() - t0 < 15_000);
  expect(all.map((x) => x.seq)).toEqual(Array.from({ length: size }, () => seq));
  expect(new Set(all.map((x) => x.ref)).size).toBe(1);
}

describe('replication', () => {
  it('converges on every rank of a size-8 fanout-2 instance that drops a third of what it receives', async () => {
    const inst = await startInstance(8, ['-S', 'tbon.fanout=2', '-S', 'journal.drop-fraction=0.3']);
    const h = await Flux.open(inst.uri);
    const acked: number[] = [];
    await Promise.all(Array.from({ length: 4 }, async (_, p) => {
      for (let i = 0; i < 75; i++) acked.push(Number((await publish(h, `rep.p${p}`, `{"i":${i}}`)).seq));
    }));
    expect(new Set(acked).size).toBe(300);
    let all: Array<{ seq: number; ref: string }> = [];
    const t0 = Date.now();
    for (;;) {
      all = await heads(inst.rundir, 8);
      if (all.every((x) => x.seq === all[0]!.seq && x.ref === all[0]!.ref)) break;
      if (Date.now() - t0 > 15_000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(all.map((x) => x.seq)).toEqual(Array(8).fill(300));
    expect(new Set(all.map((x) => x.ref)).size).toBe(1);
    h.close();
    expect(await inst.stop()).toBe(0);
  });

  it('sends entries applied together down together, in messages of at most 1 MiB, to every rank of a chain', async () => {
    const inst = await startInstance(4, ['-S', 'tbon.fanout=1']);
    const h = await Flux.open(inst.uri);
    const uri = (r: number) => `local://${inst.rundir}/local-${r}`;
    const stats = (rank: number) => journalStats(inst.rundir, rank);
    // published at once on one connection, they are sequenced in a few group commits of many entries each
    const acked = await Promise.all(Array.from({ length: 60 }, (_, i) => publish(h, `batch.e${i}`)));
    expect(new Set(acked.map((r) => r.seq)).size).toBe(60);
    await converged(inst.rundir, 4, 60);
    for (const rank of [1, 2, 3]) {
      const s = await stats(rank);
      expect(s.dropped).toBe(0);
      expect(s.from_parent.entries).toBeGreaterThanOrEqual(60);
      expect(s.from_parent.messages).toBeLessThan(s.from_parent.entries);
    }
    // rank 2 loses 8 entries of 400 KB; the next entry shows it the gap (or its check of its parent's head does,
    // once a second, sooner), and the repair applies what is missing at once, which goes down to rank 3 in messages
    // of at most 1 MiB of entries: two of the large ones to a message
    const before = (await stats(3)).from_parent;
    expect((await inst.flux(['setattr', 'journal.drop-fraction', '1'], { env: { FLUX_URI: uri(2) } })).code).toBe(0);
    const big = 'x'.repeat(400_000);
    for (let i = 0; i < 8; i++) await publish(h, `batch.big${i}`, `{"b":"${big}"}`);
    expect((await inst.flux(['setattr', 'journal.drop-fraction', '0'], { env: { FLUX_URI: uri(2) } })).code).toBe(0);
    await publish(h, 'batch.last');
    await converged(inst.rundir, 4, 69);
    const after = (await stats(3)).from_parent;
    expect(after.entries - before.entries).toBe(9);
    expect(after.messages - before.messages).toBeGreaterThanOrEqual(4);
    expect(after.messages - before.messages).toBeLessThan(9);
    h.close();
    expect(await inst.stop()).toBe(0);
  });

  it('keeps at most 16 MiB of recent entries on a rank, and repairs from rank 0 what is past its parent\'s', async () => {
    const inst = await startInstance(3, ['-S', 'tbon.fanout=1']);
    const h = await Flux.open(inst.uri);
    const uri = (r: number) => `local://${inst.rundir}/local-${r}`;
    // rank 2 loses 48 entries of 400 KB, ~19 MB: more than rank 1 keeps, so its repair reaches back to rank 0
    expect((await inst.flux(['setattr', 'journal.drop-fraction', '1'], { env: { FLUX_URI: uri(2) } })).code).toBe(0);
    const big = 'y'.repeat(400_000);
    for (let i = 0; i < 48; i++) await publish(h, `ring.big${i}`, `{"b":"${big}"}`);
    for (const rank of [0, 1]) {
      const s = await journalStats(inst.rundir, rank);
      expect(s.ring_bytes).toBeLessThanOrEqual(16 << 20);
      expect(s.ring).toBeGreaterThan(30);
      expect(s.ring).toBeLessThan(48);
    }
    expect((await inst.flux(['setattr', 'journal.drop-fraction', '0'], { env: { FLUX_URI: uri(2) } })).code).toBe(0);
    // the same head ref on every rank: the hash chain says every entry under it is the same
    await converged(inst.rundir, 3, Number((await publish(h, 'ring.last')).seq));
    h.close();
    expect(await inst.stop()).toBe(0);
  });
});

describe('where rank 0 syncs a group commit', () => {
  it("syncs a lone committer's commits on its own thread, but on libuv's while other messages arrive during syncs", async () => {
    const inst = await startInstance(1);
    const h = await Flux.open(inst.uri);
    const pinger = await Flux.open(inst.uri);
    const syncs = async () => ((await h.call('journal.stats-get')) as { syncs: { on_loop: number; on_thread: number } }).syncs;
    const commits = async (prefix: string, n: number) => {
      const s0 = await syncs();
      for (let i = 0; i < n; i++) {
        const dirent = { ver: 1, type: 'val', data: Buffer.from(String(i)).toString('base64') };
        await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: `${prefix}.k${i}`, flags: 0, dirent }] });
      }
      const s1 = await syncs();
      return { on_loop: s1.on_loop - s0.on_loop, on_thread: s1.on_thread - s0.on_thread };
    };
    try {
      const alone = await commits('alone', 40);
      expect(alone.on_loop + alone.on_thread).toBe(40);
      expect(alone.on_loop).toBeGreaterThan(alone.on_thread);
      let pinging = true;
      const pings = (async () => {
        while (pinging) await pinger.call('broker.ping', { seq: 0, pad: '' });
      })();
      const busy = await commits('busy', 80);
      pinging = false;
      await pings;
      expect(busy.on_thread).toBeGreaterThan(busy.on_loop);
      const last = await h.call('kvs.lookup', { key: 'busy.k79', namespace: 'primary', flags: 0 }) as { val: { data: string } };
      expect(last.val.data).toBe(Buffer.from('79').toString('base64'));
    } finally {
      pinger.close();
      h.close();
    }
    expect(await inst.stop()).toBe(0);
  });
});

describe('restart', () => {
  it('resumes the journal, the event sequence and the content of a statedir', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-state-'));
    const a = await run(['start', '-S', `statedir=${state}`, '--size', '4', 'sh', '-c',
      'flux event pub app.start "{\\"n\\":1}" && flux event pub -s app.x']);
    expect(a.stdout).toBe('seq=2\n');
    const b = await run(['start', '-S', `statedir=${state}`, '--size', '4', 'sh', '-c',
      'flux event sub --from 1 --count 1 app && flux journal verify && flux event pub -s app.y']);
    expect(b.stderr).toBe('');
    expect(b.stdout).toMatch(/^app\.start\t\{"n":1\}\njournal: 2 entries verified, chain intact.*\nseq=3\n$/);
    rmSync(state, { recursive: true, force: true });
  });

  it('refuses a second instance on a statedir in use, a damaged store and a newer format', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-state-'));
    const first = await startInstance(1, ['-S', `statedir=${state}`]);
    const second = await run(['start', '-S', `statedir=${state}`, '--size', '1', 'true']);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain(`statedir ${state} is in use by another instance`);
    expect(await first.stop()).toBe(0);

    const db = new Database(join(state, 'content.sqlite'));
    db.prepare("UPDATE journal_meta SET value = '99' WHERE key = 'format'").run();
    db.close();
    const newer = await run(['start', '-S', `statedir=${state}`, '--size', '1', 'true']);
    expect(newer.code).not.toBe(0);
    expect(newer.stderr).toContain('journal format 99 was written by a newer version');

    writeFileSync(join(state, 'content.sqlite'), Buffer.alloc(8192, 0x5a));
    rmSync(join(state, 'content.sqlite-wal'), { force: true });
    const damaged = await run(['start', '-S', `statedir=${state}`, '--size', '1', 'true']);
    expect(damaged.code).not.toBe(0);
    expect(damaged.stderr).toMatch(/damaged/);
    rmSync(state, { recursive: true, force: true });
  });
});

describe('crash of rank 0', () => {
  it('loses no acknowledged event when rank 0 is killed with SIGKILL during publishing', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-state-'));
    const rundir = mkdtempSync(join(tmpdir(), 'flux-rd-'));
    const proc = spawn(process.execPath, [FLUX, 'start', '-S', `statedir=${state}`, '--size', '2', '--test-rundir', rundir,
      '--test-exit-timeout=1s', 'sh', '-c', 'echo "$FLUX_URI"; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const uri = await new Promise<string>((resolve) => proc.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
    const exited = new Promise((r) => proc.on('close', r));
    const h0 = await Flux.open(uri);
    const pid = Number((await h0.call('attr.get', { name: 'broker.pid' })).value);
    const acked = new Map<number, string>();
    let killed = false;
    const publishers = Array.from({ length: 6 }, async (_, p) => {
      const h = await Flux.open(uri);
      for (let i = 0; ; i++) {
        try {
          const topic = `crash.p${p}.${i}`;
          acked.set(Number((await publish(h, topic)).seq), topic);
        } catch (err) {
          expect(killed).toBe(true);
          return;
        }
      }
    });
    // killed mid-stream: once a good number of events is acknowledged, however long that takes here
    for (const t0 = Date.now(); acked.size < 60 && Date.now() - t0 < 20_000;) await new Promise((r) => setTimeout(r, 10));
    killed = true;
    process.kill(pid, 'SIGKILL');
    await Promise.all(publishers);
    await exited;
    expect(acked.size).toBeGreaterThan(50);

    const after = await run(['start', '-S', `statedir=${state}`, '--size', '1', 'sh', '-c',
      'flux journal list --json && flux journal verify']);
    expect(after.code).toBe(0);
    const lines = after.stdout.trim().split('\n');
    const verdict = lines.pop()!;
    expect(verdict).toMatch(/chain intact/);
    const listed = new Map(lines.map((l) => JSON.parse(l) as { seq: number; topic: string }).map((e) => [e.seq, e.topic]));
    for (const [seq, topic] of acked) expect(listed.get(seq)).toBe(topic);
    rmSync(state, { recursive: true, force: true });
    rmSync(rundir, { recursive: true, force: true });
  });
});

describe('a statedir that fills up', () => {
  it('fails publishing with ENOSPC, stays readable, and works again once space is freed', async () => {
    const mnt = mkdtempSync(join(tmpdir(), 'flux-small-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
    let inst: Instance | undefined;
    try {
      const state = join(mnt, 'state');
      mkdirSync(state);
      // room that can be given back later: the journal itself never deletes anything
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(1024 * 1024, 1));
      inst = await startInstance(1, ['-S', `statedir=${state}`]);
      const h = await Flux.open(inst.uri);
      // incompressible, so each event really takes its size on disk
      const big = JSON.stringify({ fill: randomBytes(45_000).toString('base64') });
      let err: unknown;
      let n = 0;
      for (; n < 200; n++) {
        try {
          await publish(h, `fill.${n}`, big);
        } catch (e) {
          err = e;
          break;
        }
      }
      expect(err).toBeInstanceOf(FluxError);
      expect((err as FluxError).errno).toBe(ENOSPC);
      expect((err as FluxError).message).toMatch(/no space left on device/);
      expect(await h.call('journal.verify', undefined, { nodeid: 0 })).toMatchObject({ ok: true, checked: n });
      rmSync(join(mnt, 'filler'));
      const again = await publish(h, 'fill.after');
      expect(Number(again.seq)).toBe(n + 1);
      expect(await h.call('journal.verify', undefined, { nodeid: 0 })).toMatchObject({ ok: true, checked: n + 1 });
      h.close();
      expect(await inst.stop()).toBe(0);
      inst = undefined;
    } finally {
      await inst?.stop();
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });
});
