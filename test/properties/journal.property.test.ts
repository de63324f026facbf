// Properties of the journal on a real sqlite content store: any appends verify; any damage is found.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore, checkpointMessage, type Head } from '../../src/core/journal/store.js';
import { verifyJournal } from '../../src/core/journal/verify.js';
import { loadOrCreateSigner } from '../../src/core/journal/signing.js';
import { canonical, decodeEntry, encodeEntry, type Entry } from '../../src/core/journal/entry.js';

const jsonValue = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const item = fc.record({
  topic: fc.stringMatching(/^[a-z]{1,8}(\.[a-z0-9-]{1,8}){0,3}$/),
  userid: fc.nat(70000),
  rolemask: fc.constantFrom(1, 2, 5, 6),
  flags: fc.constantFrom(0, 0x20),
  payload: fc.oneof(jsonValue, fc.constant(null)),
});
const batches = fc.array(fc.array(item, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 });

async function build(hash: 'sha1' | 'sha256', bs: Array<Array<Omit<Entry, 'seq' | 'prev' | 'time'>>>) {
  const dir = mkdtempSync(join(tmpdir(), 'flux-prop-'));
  const cs = ContentStore.open(join(dir, 'content.sqlite'), hash);
  const js = new JournalStore(cs);
  let head: Head = js.head();
  let time = 1_700_000_000;
  for (const b of bs) {
    time += 1.25;
    const out = js.appendBatch(head, b.map((x) => ({ ...x, time })));
    head = { seq: out[out.length - 1]!.entry.seq, ref: out[out.length - 1]!.ref };
  }
  const signer = await loadOrCreateSigner(join(dir, 'journal.key'));
  const c = { seq: head.seq, ref: head.ref, time, snapshot: null };
  js.putCheckpoint({ ...c, pubkey: signer.publicKey, sig: await signer.sign(checkpointMessage(c)) });
  return { dir, cs, js, head, signer, total: bs.reduce((n, b) => n + b.length, 0) };
}

const RUNS = { numRuns: 25 };

describe('journal chain', () => {
  it('entries encode canonically: decode(encode(e)) re-encodes to the same bytes', () => {
    fc.assert(fc.property(item, fc.nat(1e6), fc.double({ min: 0, max: 4e9, noNaN: true }), (it, seq, time) => {
      const e: Entry = { ...it, seq: seq + 1, prev: seq === 0 ? null : `sha256-${'ab'.repeat(32)}`, time };
      const bytes = encodeEntry(e);
      expect(bytes.toString()).toBe(canonical(e));
      expect(encodeEntry(decodeEntry(bytes)).equals(bytes)).toBe(true);
    }), { numRuns: 200 });
  });

  it('any sequence of appends gives a chain that verifies', async () => {
    await fc.assert(fc.asyncProperty(batches, fc.constantFrom('sha1' as const, 'sha256' as const), async (bs, hash) => {
      const j = await build(hash, bs);
      try {
        const r = await verifyJournal(j.js, { trustedKey: j.signer.publicKey });
        expect(r).toMatchObject({ ok: true, checked: j.total, checkpoints: 1, head: j.head });
      } finally {
        j.cs.close();
        rmSync(j.dir, { recursive: true, force: true });
      }
    }), RUNS);
  });

  it('flipping any byte of any stored entry is detected at that entry', async () => {
    await fc.assert(fc.asyncProperty(batches, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (bs, pick, at, mask) => {
      const j = await build('sha256', bs);
      try {
        const seq = (pick % j.total) + 1;
        const row = j.cs.db.prepare('SELECT j.ref AS ref, o.object AS object FROM journal j JOIN objects o ON o.hash = j.ref WHERE j.seq = ?')
          .get(seq) as { ref: Buffer; object: Buffer };
        const damaged = Buffer.from(row.object);
        damaged[at % damaged.length] ^= mask;
        j.cs.db.prepare('UPDATE objects SET object = ? WHERE hash = ?').run(damaged, row.ref);
        const r = await verifyJournal(j.js, { trustedKey: j.signer.publicKey });
        expect(r.ok).toBe(false);
        expect(r.firstBad!.seq).toBe(seq);
      } finally {
        j.cs.close();
        rmSync(j.dir, { recursive: true, force: true });
      }
    }), RUNS);
  });

  it('a removed entry, a reordered pair and a forged checkpoint are detected', async () => {
    await fc.assert(fc.asyncProperty(batches.filter((bs) => bs.flat().length >= 3), fc.nat(), fc.constantFrom('remove', 'swap', 'forge', 'resign'), async (bs, pick, how) => {
      const j = await build('sha256', bs);
      try {
        // any entry may go, the last one too (then the head checkpoint names an entry that is not there)
        const seq = how === 'remove' ? (pick % j.total) + 1 : (pick % (j.total - 1)) + 1;
        const db = j.cs.db;
        if (how === 'remove') {
          db.prepare('DELETE FROM journal WHERE seq = ?').run(seq);
        } else if (how === 'swap') {
          const a = db.prepare('SELECT ref, time, topic FROM journal WHERE seq = ?').get(seq) as { ref: Buffer; time: number; topic: string };
          const b = db.prepare('SELECT ref, time, topic FROM journal WHERE seq = ?').get(seq + 1) as { ref: Buffer; time: number; topic: string };
          db.prepare('UPDATE journal SET ref = ?, time = ?, topic = ? WHERE seq = ?').run(b.ref, b.time, b.topic, seq);
          db.prepare('UPDATE journal SET ref = ?, time = ?, topic = ? WHERE seq = ?').run(a.ref, a.time, a.topic, seq + 1);
        } else if (how === 'forge') {
          db.prepare("UPDATE journal_checkpoint SET seq = seq - 1, ref = NULL").run();
        } else {
          // a checkpoint signed with a key that is not the instance's
          const other = await loadOrCreateSigner(join(j.dir, 'other.key'));
          const c = j.js.checkpoints()[0]!;
          const forged = { seq: c.seq, ref: c.ref, time: c.time + 1, snapshot: null };
          db.prepare('DELETE FROM journal_checkpoint').run();
          j.js.putCheckpoint({ ...forged, pubkey: other.publicKey, sig: await other.sign(checkpointMessage(forged)) });
        }
        const r = await verifyJournal(j.js, { trustedKey: j.signer.publicKey });
        expect(r.ok).toBe(false);
        if (how === 'remove' || how === 'swap') expect(r.firstBad!.seq).toBe(seq);
      } finally {
        j.cs.close();
        rmSync(j.dir, { recursive: true, force: true });
      }
    }), RUNS);
  });

  it('an entry replaced by another well-formed one, its index row pointed at the new blob, is detected', async () => {
    // the new blob hashes to its ref and matches its row: only the chain (the next entry's link, or for the last
    // entry the head checkpoint) tells it from the original. With its link changed too, it fails its own link
    await fc.assert(fc.asyncProperty(batches.filter((bs) => bs.flat().length >= 2), fc.nat(), fc.boolean(), async (bs, pick, relink) => {
      const j = await build('sha256', bs);
      try {
        const seq = (pick % j.total) + 1;
        const { entry } = j.js.entry(seq);
        const other = seq === 1 ? null : j.js.entry(seq === 2 ? 1 : seq - 2).ref;
        const forged: Entry = { ...entry, payload: { replaced: entry.payload }, prev: relink && seq > 1 ? other : entry.prev };
        const digest = j.cs.store(encodeEntry(forged));
        j.cs.db.prepare('UPDATE journal SET ref = ? WHERE seq = ?').run(digest, seq);
        const r = await verifyJournal(j.js, { trustedKey: j.signer.publicKey });
        expect(r.ok).toBe(false);
        const linkBroken = relink && seq > 2;
        expect(r.firstBad!.seq).toBe(linkBroken || seq === j.total ? seq : seq + 1);
        expect(r.firstBad!.reason).toMatch(seq === j.total && !linkBroken ? /checkpoint at \d+ names/ : /does not link/);
      } finally {
        j.cs.close();
        rmSync(j.dir, { recursive: true, force: true });
      }
    }), RUNS);
  });
});
