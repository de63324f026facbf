// Journal compaction on real instances: a workload, `flux journal compact` while clients read past and current
// values and a writer commits, a follower that is stopped through it and must start again from a snapshot, verify,
// the stable error below the start, and a restart from the statedir. Every value read is compared with what was
// written at that version.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startInstance, type Instance } from '../helpers/instance.js';
import { type Write, kvsJournal, snapshotAt, readKey } from '../helpers/kvs-journal.js';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore } from '../../src/core/journal/store.js';
import { blobrefOf, digestOf } from '../../src/core/content/blobref.js';
import { Flux } from '../../src/api/handle.js';
import { FluxError, ENOENT } from '../../src/core/errors.js';
import { dirref } from '../../src/core/kvs/treeobj.js';

const KEYS = 6;
const bigValue = (v: number) => `${'big'.repeat(40)}-${v}`;

/** what every version held, recorded when it was committed */
const written = new Map<number, Map<string, string>>();
/** the journal seq of each version's entry */
const seqOf = new Map<number, number>();
let current = new Map<string, string>();

async function commit(h: Flux, puts: Array<[string, string]>): Promise<number> {
  const ops = puts.map(([key, v]) => ({ key, flags: 0, dirent: { ver: 1, type: 'val', data: Buffer.from(v).toString('base64') } }));
  const r = await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops });
  const version = Number(r.rootseq);
  const seq = Number((await h.call('journal.head', undefined, { nodeid: 0 })).seq);
  return record(version, seq, puts);
}

function record(version: number, seq: number, puts: Array<[string, string]>): number {
  // commits are made one after another here: each version is the one before plus its puts
  current = new Map(current);
  for (const [k, v] of puts) current.set(k, v);
  written.set(version, current);
  seqOf.set(version, seq);
  return version;
}

async function valueAt(h: Flux, version: number | undefined, key: string): Promise<string> {
  const body: Record<string, unknown> = { key, flags: 0, namespace: 'primary' };
  if (version !== undefined) {
    const { rootref } = await h.call('kvs.version-root', { namespace: 'primary', rootseq: version });
    body.rootdir = dirref(rootref as string);
  }
  const { val } = await h.call('kvs.lookup', body);
  return Buffer.from((val as { data: string }).data, 'base64').toString();
}

const puts = (i: number): Array<[string, string]> => [[`k${i % KEYS}`, String(i)], [`big.b${i % 3}`, bigValue(i)]];

describe('journal compaction on a running instance', () => {
  let statedir: string;
  let inst: Instance;
  let h0: Flux;
  let h1: Flux;
  let h2: Flux;
  const uri = (rank: number) => `local://${inst.rundir}/local-${rank}`;

  beforeAll(async () => {
    statedir = mkdtempSync(join(tmpdir(), 'flux-compact-e2e-'));
    inst = await startInstance(3, ['-S', `statedir=${statedir}`]);
    h0 = await Flux.open(inst.uri);
    h1 = await Flux.open(uri(1));
    h2 = await Flux.open(uri(2));
  });
  afterAll(async () => {
    h0?.close();
    h1?.close();
    h2?.close();
    await inst?.stop();
    rmSync(statedir, { recursive: true, force: true });
  });

  it('compacts under readers, a writer and a stopped follower; verifies; refuses below the start; survives a restart', async () => {
    for (let i = 1; i <= 40; i++) await commit(h0, puts(i));
    const pid2 = Number((await h2.call('attr.get', { name: 'broker.pid' })).value);
    // rank 2 stops, and loses whatever reaches it afterwards: it can only catch up by asking its parent (without
    // the losses, ZeroMQ would queue every entry for it, as it has no high-water mark, and it would catch up
    // from its queue without ever asking)
    expect((await inst.flux(['setattr', 'journal.drop-fraction', '1'], { env: { FLUX_URI: uri(2) } })).code).toBe(0);
    const stoppedAt = Number((await h2.call('journal.head')).seq);
    process.kill(pid2, 'SIGSTOP');
    let stopped = true;
    try {
      for (let i = 41; i <= 400; i++) await commit(h0, puts(i));
      const lastBefore = 400;
      const floorVersion = 300;
      const SEQ = seqOf.get(floorVersion)!;
      expect(SEQ).toBeGreaterThan(stoppedAt);

      // readers of past and current values, on rank 0 and rank 1, and a writer, all while the compaction runs
      let running = true;
      const wrong: string[] = [];
      let reads = 0;
      const reader = async (h: Flux, n: number) => {
        for (let i = 0; running; i++) {
          const version = 1 + ((i * 7 + n * 13) % lastBefore);
          const key = `k${i % KEYS}`;
          try {
            const got = await valueAt(h, version, key);
            reads++;
            if (got !== written.get(version)!.get(key)) wrong.push(`${key}@${version}: ${got}`);
          } catch (err) {
            // below the new start a read may fail (ENOENT), never above it
            if (!(err instanceof FluxError) || err.errno !== ENOENT || version >= floorVersion) wrong.push(`${key}@${version}: ${String(err)}`);
          }
          const now = await valueAt(h, undefined, 'k0');
          if (!/^\d+$/.test(now)) wrong.push(`k0 now: ${now}`);
        }
      };
      const writer = async () => {
        for (let i = lastBefore + 1; running; i++) await commit(h0, puts(i));
      };
      const loops = [reader(h0, 1), reader(h1, 2), reader(h1, 3), writer()];
      const compacted = await inst.flux(['journal', 'compact', '--before', String(SEQ)]);
      running = false;
      await Promise.all(loops);
      expect(compacted).toMatchObject({ code: 0, stderr: '' });
      expect(compacted.stdout).toMatch(new RegExp(`^journal: starts at ${SEQ}; \\d+ entries and \\d+ objects dropped\\n$`));
      expect(wrong).toEqual([]);
      expect(reads).toBeGreaterThan(0);

      process.kill(pid2, 'SIGCONT');
      stopped = false;
      // rank 2's next entry is below the start now: it must take a snapshot, then follow again
      const head0 = Number((await h0.call('journal.head')).seq);
      for (let t = 0; Number((await h2.call('journal.head')).seq) < head0; t++) {
        expect(t).toBeLessThan(150);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await inst.flux(['setattr', 'journal.drop-fraction', '0'], { env: { FLUX_URI: uri(2) } })).code).toBe(0);
      const dmesg2 = await inst.flux(['dmesg'], { env: { FLUX_URI: uri(2) } });
      expect(dmesg2.stdout).toMatch(/were compacted upstream \(version \d+ has been compacted\): starting from a snapshot/);
      const latest = Math.max(...written.keys());
      await commit(h0, [['k0', 'after']]);
      for (let t = 0; (await valueAt(h2, undefined, 'k0').catch(() => '')) !== 'after'; t++) {
        expect(t).toBeLessThan(100);
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let k = 1; k < KEYS; k++) expect(await valueAt(h2, undefined, `k${k}`)).toBe(written.get(latest + 1)!.get(`k${k}`));

      expect(await inst.flux(['journal', 'verify'])).toMatchObject({ code: 0, stderr: '' });
      await checkReads(inst, floorVersion, SEQ);
      // rank 1 still holds those entries in memory: it refuses them all the same
      const onRank1 = { env: { FLUX_URI: uri(1) } };
      expect(await inst.flux(['event', 'sub', '--from', String(SEQ - 1), '-c', '1', 'kvs'], onRank1))
        .toMatchObject({ code: 1, stderr: `flux-event: version ${SEQ - 1} has been compacted\n` });
      expect(await inst.flux(['kvs', 'get', '--at-version', String(floorVersion - 1), 'k1'], onRank1))
        .toMatchObject({ code: 1, stderr: `flux-kvs: version ${floorVersion - 1} has been compacted\n` });
      expect(await inst.flux(['event', 'sub', '--from', String(SEQ), '-c', '1', 'kvs'], onRank1)).toMatchObject({ code: 0 });

      // a restart from the statedir: the same answers
      h0.close();
      h1.close();
      h2.close();
      expect(await inst.stop()).toBe(0);
      inst = await startInstance(1, ['-S', `statedir=${statedir}`]);
      h0 = await Flux.open(inst.uri);
      h1 = await Flux.open(inst.uri);
      h2 = await Flux.open(inst.uri);
      const v = await inst.flux(['journal', 'verify']);
      expect(v).toMatchObject({ code: 0, stderr: '' });
      expect(v.stdout).toMatch(/^journal: \d+ entries verified, chain intact/);
      await checkReads(inst, floorVersion, SEQ);
      for (const version of [floorVersion, floorVersion + 1, latest, latest + 1]) {
        for (const [k, val] of written.get(version)!) expect(await valueAt(h0, version, k)).toBe(val);
      }
    } finally {
      if (stopped) process.kill(pid2, 'SIGCONT');
    }
  }, 120_000);
});

/** every way of asking below the start gets the stable error; at the start and after, the recorded values */
async function checkReads(inst: Instance, floorVersion: number, SEQ: number): Promise<void> {
  const below = floorVersion - 1;
  const gone = await inst.flux(['kvs', 'get', '--at-version', String(below), 'k1']);
  expect(gone).toMatchObject({ code: 1, stdout: '', stderr: `flux-kvs: version ${below} has been compacted\n` });
  expect(await inst.flux(['kvs', 'get', '--at-version', String(floorVersion), 'k1', 'big.b0']))
    .toMatchObject({ code: 0, stdout: `${written.get(floorVersion)!.get('k1')}\n${written.get(floorVersion)!.get('big.b0')}\n` });
  const early = await inst.flux(['kvs', 'get', '--at-time', '1000', 'k1']);
  expect(early).toMatchObject({ code: 1, stderr: 'flux-kvs: --at-time 1000: version 0 has been compacted\n' });
  const hist = await inst.flux(['kvs', 'history', 'k1']);
  expect(hist.code).toBe(0);
  const rows = hist.stdout.trimEnd().split('\n').map((l) => l.split('  '));
  expect(rows.filter((r) => Number(r[0]) < floorVersion).every((r) => r[2] === '(compacted)')).toBe(true);
  for (const r of rows.filter((x) => Number(x[0]) >= floorVersion)) expect(r[2]).toBe(written.get(Number(r[0]))!.get('k1'));
  expect(await inst.flux(['journal', 'show', String(SEQ - 1)]))
    .toMatchObject({ code: 1, stderr: `flux-journal: version ${SEQ - 1} has been compacted\n` });
  expect((await inst.flux(['journal', 'show', String(SEQ)])).code).toBe(0);
  const list = await inst.flux(['journal', 'list']);
  expect(list.stdout.split('\n')[1]).toMatch(new RegExp(`^\\s*${SEQ}  `));
  expect(await inst.flux(['journal', 'list', '--from', '1']))
    .toMatchObject({ code: 1, stderr: 'flux-journal: version 1 has been compacted\n' });
  expect(await inst.flux(['event', 'sub', '--from', '1', '-c', '1', 'kvs']))
    .toMatchObject({ code: 1, stderr: 'flux-event: version 1 has been compacted\n' });
  // past process and cron tables start from the snapshot at the start, not from entry 1
  expect(await inst.flux(['ps', '--at-seq', String(SEQ)])).toMatchObject({ code: 0, stderr: '' });
  expect(await inst.flux(['cron', 'list', '--at-seq', String(SEQ)])).toMatchObject({ code: 0, stderr: '' });
  expect(await inst.flux(['ps', '--at-seq', String(SEQ - 1)]))
    .toMatchObject({ code: 1, stderr: `flux-ps: --at-seq ${SEQ - 1}: version ${SEQ - 1} has been compacted\n` });
}

describe('journal.retain', () => {
  it('keeps about the newest N entries, compacting when checkpoints are written', async () => {
    const inst = await startInstance(1, ['-S', 'journal.retain=30', '-S', 'journal.checkpoint-entries=20']);
    const h = await Flux.open(inst.uri);
    try {
      const versions: number[] = [];
      for (let i = 1; i <= 100; i++) {
        const ops = [{ key: 'r', flags: 0, dirent: { ver: 1, type: 'val', data: Buffer.from(String(i)).toString('base64') } }];
        versions.push(Number((await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops })).rootseq));
      }
      const span = async () => {
        const rows = (await inst.flux(['journal', 'list', '--json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number });
        return { first: rows[0]!.seq, last: rows[rows.length - 1]!.seq };
      };
      let s = await span();
      for (let t = 0; s.first === 1; t++) {
        expect(t).toBeLessThan(100);
        await new Promise((r) => setTimeout(r, 100));
        s = await span();
      }
      // compactions run at checkpoints (every 20 entries), one at a time (a checkpoint during one skips it): at
      // least 30 entries are kept, and fewer than 30 plus two checkpoints' worth and the compaction entries
      expect(s.last - s.first + 1).toBeGreaterThanOrEqual(30);
      expect(s.last - s.first + 1).toBeLessThan(30 + 2 * 20 + 5);
      expect((await inst.flux(['journal', 'verify'])).code).toBe(0);
      const old = await inst.flux(['kvs', 'get', '--at-version', '1', 'r']);
      expect(old).toMatchObject({ code: 1, stderr: 'flux-kvs: version 1 has been compacted\n' });
      expect(await inst.flux(['kvs', 'get', '--at-version', String(versions[99]), 'r'])).toMatchObject({ code: 0, stdout: '100\n' });
    } finally {
      h.close();
      await inst.stop();
    }
  }, 60_000);
});

describe('an interrupted compaction', () => {
  it('is finished by the next start: rows below the start and the objects only they reached go', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flux-compact-resume-'));
    try {
      const j = await kvsJournal(dir, Array.from({ length: 30 }, (_, i): Write[] => [[`k${i % 4}`, `${'v'.repeat(100)}${i}`]]));
      const { checkpoint, saved } = await snapshotAt(j, 20);
      // the start moved, and then the broker stopped: nothing below it was deleted yet
      j.js.retire(20, checkpoint, saved);
      const rowsBelow = () => j.js.database.prepare('SELECT count(*) FROM journal WHERE seq < 20').pluck().get() as number;
      expect(rowsBelow()).toBe(19);
      const old = digestOf('sha256', blobrefOf('sha256', Buffer.from(`${'v'.repeat(100)}3`)));
      expect(j.cs.has(old)).toBe(true);
      j.cs.close();
      const r = await run(['start', '-S', `statedir=${dir}`, 'sh', '-c',
        'until flux dmesg | grep -q "compacted below 20"; do sleep 0.2; done; flux journal verify']);
      expect(r).toMatchObject({ code: 0 });
      expect(r.stdout).toMatch(/^journal: \d+ entries verified, chain intact/);
      const cs = ContentStore.open(join(dir, 'content.sqlite'), 'sha256');
      try {
        const js = new JournalStore(cs);
        expect(js.database.prepare('SELECT count(*) FROM journal WHERE seq < 20').pluck().get()).toBe(0);
        expect(js.meta('gc-pending')).toBe('0');
        expect(cs.has(old)).toBe(false);
        for (const v of j.versions.filter((x) => x.seq >= 20)) {
          for (const [k, value] of v.values) expect(await readKey(cs, v.rootref, k)).toBe(value);
        }
      } finally {
        cs.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
