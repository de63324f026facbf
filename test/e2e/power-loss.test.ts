// Durable through a power loss. The broker runs with an LD_PRELOAD library (test/fixtures/fsync-shadow.c) that,
// whenever a file of the statedir is fsynced, copies it as it then is: those copies are what a machine that lost
// power at that moment would find on its disk. Rounds of concurrent commits run, each followed by commits of one
// committer alone (whose syncs are made on the broker's own thread); as soon as a round's answers are
// in, the broker is stopped (SIGSTOP) and the copies are taken: the disk of a power loss right after those
// answers. Each such disk is opened as a statedir of its own, and every commit answered by then must be in its
// journal: an answer sent before the sync that holds it had returned shows up as a lost commit. The same run with
// content.synchronous=normal (the write-ahead log synced only at checkpoints) must lose acknowledged commits:
// that shows the copies really model what was synced, so the check could fail.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../../src/api/handle.js';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore } from '../../src/core/journal/store.js';
import { verifyJournal } from '../../src/core/journal/verify.js';
import { ROOT, startInstance } from '../helpers/instance.js';
import { compileC } from '../helpers/pmi-job.js';

const SETROOT = 'kvs.namespace-primary-setroot';
let tmp: string;
let shim: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'flux-power-loss-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function library(): string {
  shim ??= (() => {
    const out = join(tmp, 'fsync-shadow.so');
    compileC('cc', ['-std=c99', '-Wall', '-Wextra', '-shared', '-fPIC', '-o', out, join(ROOT, 'test/fixtures/fsync-shadow.c'), '-ldl'], 'gcc');
    return out;
  })();
  return shim;
}

interface Outcome {
  /** key -> the version its commit was acknowledged with */
  acked: Map<string, number>;
  /** the keys acknowledged before a power loss that the disk after it does not hold */
  lost: string[];
  /** whether the journal of every disk after a power loss verifies */
  verified: boolean;
  /** power losses looked at */
  losses: number;
  /** group commits synced on the broker's event loop thread (a committer alone), not on libuv's */
  onLoop: number;
}

/** the statedir a power loss now would leave: the synced copies, under their own names */
function diskAfterPowerLoss(state: string, image: string): void {
  mkdirSync(image);
  for (const f of readdirSync(state)) {
    if (f.endsWith('.synced')) copyFileSync(join(state, f), join(image, f.slice(0, -'.synced'.length)));
  }
}

/** the keys the journal of a statedir holds, and whether it verifies */
async function journalKeys(image: string): Promise<{ keys: Set<string>; verified: boolean }> {
  const cs = ContentStore.open(join(image, 'content.sqlite'), 'sha256');
  try {
    const js = new JournalStore(cs);
    const keys = new Set<string>();
    for (let seq = js.first() ?? 1; seq <= js.head().seq; seq++) {
      const { entry } = js.entry(seq);
      if (entry.topic !== SETROOT) continue;
      for (const op of (entry.payload as { ops: Array<{ key: string }> }).ops) keys.add(op.key);
    }
    return { keys, verified: (await verifyJournal(js)).ok };
  } finally {
    cs.close();
  }
}

async function powerLoss(name: string, synchronous: 'full' | 'normal'): Promise<Outcome> {
  const dir = join(tmp, name);
  const state = join(dir, 'state');
  mkdirSync(state, { recursive: true });
  const real = realpathSync(state);
  const inst = await startInstance(1, ['-S', `statedir=${state}`, '-S', `content.synchronous=${synchronous}`], {
    env: { LD_PRELOAD: library(), FSYNC_SHADOW_DIR: real },
  });
  const acked = new Map<string, number>();
  const losses: Array<{ image: string; acked: string[] }> = [];
  let pid = 0;
  let onLoop = 0;
  try {
    pid = Number((await inst.flux(['getattr', 'broker.pid'])).stdout);
    const h = await Flux.open(inst.uri);
    try {
      const commit = async (key: string) => {
        const dirent = { ver: 1, type: 'val', data: Buffer.from(key).toString('base64') };
        const r = await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key, flags: 0, dirent }] });
        acked.set(key, Number(r.rootseq));
      };
      // rounds of concurrent commits, several sharing one group commit as under load, then of one committer alone,
      // whose syncs move to the broker's own thread
      for (let round = 0; round < 20; round++) {
        await Promise.all(Array.from({ length: 8 }, (_, i) => commit(`pl.r${round}.c${i}`)));
        for (let i = 0; i < 6; i++) await commit(`pl.r${round}.s${i}`);
        // the power goes right after these answers: the broker does nothing more until the disk is looked at
        const image = join(dir, `after-round-${round}`);
        process.kill(pid, 'SIGSTOP');
        try {
          diskAfterPowerLoss(state, image);
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        losses.push({ image, acked: [...acked.keys()] });
      }
      if (synchronous === 'full') onLoop = ((await h.call('journal.stats-get')) as { syncs: { on_loop: number } }).syncs.on_loop;
    } finally {
      h.close();
    }
  } finally {
    if (pid > 0) process.kill(pid, 'SIGKILL');
    await inst.stop();
    rmSync(inst.rundir, { recursive: true, force: true });
  }
  const lost = new Set<string>();
  let verified = true;
  for (const l of losses) {
    const found = await journalKeys(l.image);
    for (const k of l.acked) if (!found.keys.has(k)) lost.add(k);
    verified &&= found.verified;
  }
  return { acked, lost: [...lost], verified, losses: losses.length, onLoop };
}

describe('durable through a power loss', () => {
  it('synchronous=full (the default): every acknowledged commit was synced before its answer', async () => {
    const r = await powerLoss('full', 'full');
    expect(r.acked.size).toBe(280);
    expect(r.losses).toBe(20);
    expect(r.onLoop).toBeGreaterThan(0);
    expect(r.lost).toEqual([]);
    expect(r.verified).toBe(true);
  }, 60_000);

  it('synchronous=normal: acknowledged commits are lost, so the copies are a real model of the disk', async () => {
    const r = await powerLoss('normal', 'normal');
    expect(r.acked.size).toBe(280);
    expect(r.lost.length).toBeGreaterThan(0);
  }, 60_000);
});
