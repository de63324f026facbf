// flux replay --verify on copies of a statedir a real instance wrote, each damaged one way with sqlite: every
// kind of damage is found, at the seq where it is, and reported with exit 1. And --to starts from a snapshot.
import { describe, it, expect, beforeAll } from 'vitest';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore, checkpointMessage } from '../../src/core/journal/store.js';
import type { Entry } from '../../src/core/journal/entry.js';
import { loadOrCreateSigner } from '../../src/core/journal/signing.js';
import { run, startInstance } from '../helpers/instance.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const scratch = scratchDir('flux-replay-verify-');
const live = () => join(scratch.path, 'live');
let copies = 0;
let head = 0;
let eventSeq = 0;
let liveDir = '';

function copy(): string {
  const dst = join(scratch.path, `copy-${copies++}`);
  cpSync(live(), dst, { recursive: true });
  return dst;
}

function edit(dir: string, fn: (db: Database.Database) => void): void {
  const db = new Database(join(dir, 'content.sqlite'));
  try {
    fn(db);
  } finally {
    db.close();
  }
}

const verify = (dir: string) => run(['replay', dir, '--verify']);

/**
 * The journal rewritten with one entry changed and the chain after it made anew, and a checkpoint signed with
 * the instance's own key: the chain and signatures are good, only what the change itself breaks can be found.
 */
async function rewrite(dir: string, change: (e: Entry) => Entry): Promise<void> {
  const cs = ContentStore.open(join(dir, 'content.sqlite'), 'sha256');
  const js = new JournalStore(cs);
  const entries: Entry[] = [];
  for (let s = 1; s <= js.head().seq; s++) entries.push(change(js.entry(s).entry));
  cs.db.exec('DELETE FROM journal; DELETE FROM journal_checkpoint');
  const out = js.appendBatch({ seq: 0, ref: null }, entries.map(({ seq: _s, prev: _p, ...rest }) => rest));
  const last = out[out.length - 1]!;
  const c = { seq: last.entry.seq, ref: last.ref, time: Date.now() / 1000, snapshot: null };
  const signer = await loadOrCreateSigner(join(dir, 'journal.key'));
  js.putCheckpoint({ ...c, pubkey: signer.publicKey, sig: await signer.sign(checkpointMessage(c)) });
  cs.close();
}

beforeAll(async () => {
  const inst = await startInstance(1, ['-S', `statedir=${live()}`, '-S', 'journal.checkpoint-entries=3']);
  for (const s of [['kvs', 'put', 'a=1', 'b.c=2'], ['kvs', 'put', 'a=3'], ['kvs', 'link', 'a', 'l'], ['kvs', 'put', `v=${'y'.repeat(200)}`]]) {
    expect((await inst.flux(s)).code).toBe(0);
  }
  expect((await inst.flux(['event', 'pub', 'foo.bar', '{"x":1}'])).code).toBe(0);
  eventSeq = Number(/seq=(\d+)/.exec((await inst.flux(['journal', 'head'])).stdout)![1]);
  for (const s of [['kvs', 'put', 'a=4'], ['kvs', 'mkdir', 'm'], ['kvs', 'put', 'm.n=5']]) expect((await inst.flux(s)).code).toBe(0);
  liveDir = (await inst.flux(['kvs', 'dir', '-R'])).stdout;
  head = Number(/seq=(\d+)/.exec((await inst.flux(['journal', 'head'])).stdout)![1]);
  expect(await inst.stop()).toBe(0);
}, 120_000);

describe('flux replay --verify finds', () => {
  it('nothing in the untouched statedir', async () => {
    expect(await verify(live())).toMatchObject({ code: 0, stderr: '' });
  });

  it('a flipped byte in an entry', async () => {
    const dir = copy();
    edit(dir, (db) => {
      const ref = db.prepare('SELECT ref FROM journal WHERE seq = ?').pluck().get(eventSeq) as Buffer;
      const obj = db.prepare('SELECT object FROM objects WHERE hash = ?').pluck().get(ref) as Buffer;
      const flipped = Buffer.from(obj);
      flipped[flipped.indexOf('"x":1') + 4] ^= 1;
      db.prepare('UPDATE objects SET object = ? WHERE hash = ?').run(flipped, ref);
    });
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`flux-replay: verify failed at seq ${eventSeq}: entry ${eventSeq} does not hash to its ref ${r.stderr.match(/sha256-[0-9a-f]+/)![0]}\n`);
  });

  it('a removed entry', async () => {
    const dir = copy();
    edit(dir, (db) => db.prepare('DELETE FROM journal WHERE seq = 3').run());
    const r = await verify(dir);
    expect(r).toMatchObject({ code: 1, stderr: 'flux-replay: verify failed at seq 3: entry 3 is missing from the index\n' });
  });

  it('a reordered pair', async () => {
    const dir = copy();
    edit(dir, (db) => {
      const rows = db.prepare('SELECT seq, ref, time, topic FROM journal WHERE seq IN (3, 4) ORDER BY seq').all() as Array<{ ref: Buffer; time: number; topic: string }>;
      const put = db.prepare('UPDATE journal SET ref = ?, time = ?, topic = ? WHERE seq = ?');
      db.transaction(() => {
        put.run(rows[1]!.ref, rows[1]!.time, rows[1]!.topic, 3);
        put.run(rows[0]!.ref, rows[0]!.time, rows[0]!.topic, 4);
      })();
    });
    const r = await verify(dir);
    expect(r).toMatchObject({ code: 1, stderr: 'flux-replay: verify failed at seq 3: entry 3 does not match its index row\n' });
  });

  it('a forged signature, and a checkpoint signed by another key', async () => {
    const dir = copy();
    let seq = 0;
    edit(dir, (db) => {
      const c = db.prepare('SELECT id, seq, sig FROM journal_checkpoint ORDER BY id DESC LIMIT 1').get() as { id: number; seq: number; sig: string };
      seq = c.seq;
      const forged = `${c.sig[0] === '0' ? '1' : '0'}${c.sig.slice(1)}`;
      db.prepare('UPDATE journal_checkpoint SET sig = ? WHERE id = ?').run(forged, c.id);
    });
    const r = await verify(dir);
    expect(r).toMatchObject({ code: 1, stderr: `flux-replay: verify failed at seq ${seq}: checkpoint at ${seq} has a bad signature\n` });

    const other = copy();
    const stranger = await loadOrCreateSigner(join(scratch.path, 'stranger.key'));
    const cs = ContentStore.open(join(other, 'content.sqlite'), 'sha256');
    const js = new JournalStore(cs);
    const h = js.head();
    const c = { seq: h.seq, ref: h.ref, time: Date.now() / 1000, snapshot: null };
    js.putCheckpoint({ ...c, pubkey: stranger.publicKey, sig: await stranger.sign(checkpointMessage(c)) });
    cs.close();
    const r2 = await verify(other);
    expect(r2).toMatchObject({ code: 1, stderr: `flux-replay: verify failed at seq ${h.seq}: checkpoint at ${h.seq} is signed by an unknown key\n` });
  });

  it('a KVS root that its ops do not give, in a chain that is otherwise good', async () => {
    const dir = copy();
    let changed = 0;
    await rewrite(dir, (e) => {
      const p = e.payload as { rootseq?: number; ops?: Array<{ key: string; dirent: { data: string } }> };
      if (e.topic !== 'kvs.namespace-primary-setroot' || p.rootseq !== 2) return e;
      changed = e.seq;
      // the recorded root stays; the value the ops write does not
      return { ...e, payload: { ...p, ops: p.ops!.map((o) => ({ ...o, dirent: { ...o.dirent, data: Buffer.from('9').toString('base64') } })) } };
    });
    expect(changed).toBe(2);
    const r = await verify(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^flux-replay: verify failed at seq 2: entry 2: its ops applied to sha256-[0-9a-f]+ give the root sha256-[0-9a-f]+, but the entry records sha256-[0-9a-f]+\n$/);
    // the same rewrite with nothing changed verifies: the finding above is the op, not the rewriting
    const same = copy();
    await rewrite(same, (e) => e);
    expect(await verify(same)).toMatchObject({ code: 0 });
  });
});

describe('flux replay --to', () => {
  it('starts from the nearest snapshot: the entries before it are not read', async () => {
    const dir = copy();
    let snapSeq = 0;
    edit(dir, (db) => {
      snapSeq = db.prepare('SELECT max(seq) FROM journal_checkpoint WHERE snapshot IS NOT NULL AND seq < ?').pluck().get(head) as number;
      db.prepare('DELETE FROM journal WHERE seq < ?').run(snapSeq);
    });
    expect(snapSeq).toBeGreaterThan(2);
    const r = await run(['replay', dir, '--at-seq', String(head), '--show', 'kvs'], { env: { COLUMNS: '80' } });
    expect(r).toMatchObject({ code: 0, stdout: liveDir, stderr: '' });
    const gone = await run(['replay', dir, '--at-seq', String(snapSeq - 2), '--show', 'kvs']);
    expect(gone).toMatchObject({ code: 1, stderr: `flux-replay: version ${snapSeq - 2} has been compacted\n` });
  });
});
