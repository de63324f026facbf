// The journal's spine piece by piece: canonical entries and event payloads, the store's index and its refusals,
// the verifier's findings one by one (each named by seq and reason), and the replica's ordering rule.
import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore, type Checkpoint, type Head } from '../../src/core/journal/store.js';
import { verifyJournal } from '../../src/core/journal/verify.js';
import {
  canonical, checkpointMessage, decodeEntry, encodeEntry, entryFromJson, entryPayloadBytes, payloadForEntry, ENTRY_RAW, type Entry,
} from '../../src/core/journal/entry.js';
import { ReplicaOrder } from '../../src/core/journal/replica.js';
import { blobrefOf } from '../../src/core/content/blobref.js';
import { loadOrCreateSigner, type Signer } from '../../src/core/journal/signing.js';
import { EINVAL, ENOENT, EPROTO, FluxError } from '../../src/core/errors.js';
import { thrownError } from '../helpers/rejection.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const scratch = scratchDir('flux-spine-');
let signerP: Promise<Signer> | undefined;
const signer = () => (signerP ??= loadOrCreateSigner(join(scratch.path, 'journal.key')));

const base = (n: number) => ({ time: 0, topic: `t.${n}`, userid: 5, rolemask: 1, flags: 0, payload: { n } });

function journal(n: number, hash: 'sha1' | 'sha256' = 'sha256') {
  const cs = ContentStore.open(':memory:', hash);
  const js = new JournalStore(cs);
  let head: Head = js.head();
  for (let i = 1; i <= n; i++) {
    const [a] = js.appendBatch(head, [{ ...base(i), time: 100 + i }]);
    head = { seq: a!.entry.seq, ref: a!.ref };
  }
  return { cs, js, head };
}

async function checkpointAt(js: JournalStore, seq: number, ref: string | null, s?: Signer): Promise<void> {
  const sg = s ?? (await signer());
  const c = { seq, ref, time: 7, snapshot: null };
  js.putCheckpoint({ ...c, pubkey: sg.publicKey, sig: await sg.sign(checkpointMessage(c)) });
}

const errOf = thrownError;

describe('journal entries', () => {
  it('encode canonically: keys sorted, undefined members left out, finite numbers only', () => {
    expect(canonical({ b: 1, a: [true, false, null, 'x'], c: undefined, d: { z: 0, y: -1.5 } })).toBe('{"a":[true,false,null,"x"],"b":1,"d":{"y":-1.5,"z":0}}');
    expect(errOf(() => canonical({ a: Infinity }))).toMatchObject({ errno: EPROTO, message: 'journal values must be finite numbers' });
    expect(errOf(() => canonical(NaN))).toMatchObject({ errno: EPROTO });
    expect(errOf(() => canonical(() => 1))).toMatchObject({ errno: EPROTO, message: 'journal values cannot hold a function' });
    expect(errOf(() => canonical(1n))).toMatchObject({ errno: EPROTO, message: 'journal values cannot hold a bigint' });
    expect(checkpointMessage({ seq: 3, ref: null, time: 1.5, snapshot: 'sha1-00', extra: 1 } as never)).toBe('{"ref":null,"seq":3,"snapshot":"sha1-00","time":1.5}');
  });

  it('write an entry as its canonical form, and read back only well-formed ones', () => {
    const e: Entry = { seq: 2, prev: `sha1-${'a'.repeat(40)}`, time: 1.25, topic: 'x.y', userid: 3, rolemask: 1, flags: ENTRY_RAW, payload: 'AA==' };
    const bytes = encodeEntry(e);
    expect(bytes.toString('utf8')).toBe(canonical(e));
    expect(decodeEntry(bytes)).toEqual(e);
    expect(decodeEntry(bytes.toString('utf8'))).toEqual(e);
    expect(encodeEntry({ ...e, seq: 1, prev: null }).toString()).toContain('"prev":null');
    expect(errOf(() => encodeEntry({ ...e, time: Infinity }))).toMatchObject({ errno: EPROTO, message: 'journal values must be finite numbers' });
    expect(errOf(() => decodeEntry('{"seq":'))).toMatchObject({ errno: EPROTO, message: 'journal entry is not valid JSON' });
    expect(errOf(() => decodeEntry(JSON.stringify({ ...e, seq: 0 })))).toMatchObject({ errno: EPROTO });
    expect(errOf(() => decodeEntry(JSON.stringify({ ...e, extra: 1 })))).toMatchObject({ errno: EPROTO });
    // an entry a fetch's answer already parsed is held to the same schema
    expect(entryFromJson(JSON.parse(bytes.toString('utf8')))).toEqual(e);
    expect(errOf(() => entryFromJson({ ...e, seq: 0 }))).toMatchObject({ errno: EPROTO });
    expect(errOf(() => entryFromJson({ ...e, topic: undefined }))).toMatchObject({ errno: EPROTO });
    expect(errOf(() => entryFromJson(null))).toMatchObject({ errno: EPROTO });
  });

  it('give back the bytes an event carried: JSON text and a NUL, or the raw bytes', () => {
    const e = (payload: unknown, flags = 0): Entry => ({ seq: 1, prev: null, time: 0, topic: 't', userid: 0, rolemask: 1, flags, payload });
    expect(entryPayloadBytes(e(null))).toBeUndefined();
    expect(entryPayloadBytes(e(undefined))).toBeUndefined();
    expect(entryPayloadBytes(e({ a: 'é' }))).toEqual(Buffer.from('{"a":"é"}\0'));
    expect(entryPayloadBytes(e('AQID', ENTRY_RAW))).toEqual(Buffer.from([1, 2, 3]));
    expect(entryPayloadBytes(e('AQID', ENTRY_RAW | 0x20))).toEqual(Buffer.from([1, 2, 3]));
  });

  it('keep an event payload as JSON only when it reads back to the very same bytes', () => {
    expect(payloadForEntry(undefined)).toEqual({ payload: null, raw: false });
    expect(payloadForEntry(Buffer.alloc(0))).toEqual({ payload: null, raw: false });
    expect(payloadForEntry(Buffer.from('{"a":1}\0'))).toEqual({ payload: { a: 1 }, raw: false });
    // not canonical spacing, not an object, not NUL-terminated, not JSON: raw
    // (the last: without its final byte it would read as JSON, but that byte is not the NUL)
    for (const text of ['{ "a": 1}\0', '[1]\0', '{"a":1}', '{"a":\0', '"s"\0', 'null\0', '{\0', '{"a":1}}']) {
      expect(payloadForEntry(Buffer.from(text))).toEqual({ payload: Buffer.from(text).toString('base64'), raw: true });
    }
  });
});

describe('the journal store', () => {
  it('refuses a journal of a newer or unknown format, or of another hash', () => {
    const cs = ContentStore.open(':memory:', 'sha256');
    new JournalStore(cs);
    const set = (v: string) => cs.db.prepare("UPDATE journal_meta SET value = ? WHERE key = 'format'").run(v);
    set('2');
    expect(errOf(() => new JournalStore(cs))).toMatchObject({ errno: EINVAL, message: 'journal format 2 was written by a newer version (this one reads 1)' });
    set('x');
    expect(errOf(() => new JournalStore(cs))).toMatchObject({ errno: EINVAL, message: 'journal format "x" is not one this version knows' });
    set('1');
    cs.db.prepare("UPDATE journal_meta SET value = 'sha1' WHERE key = 'hash'").run();
    expect(errOf(() => new JournalStore(cs))).toMatchObject({ errno: EINVAL, message: 'this statedir uses content.hash=sha1, not sha256' });
    cs.close();
  });

  it('keeps meta values, reads rows and entries, and says why one cannot be read', () => {
    const { cs, js, head } = journal(4);
    js.setMeta('k', 'v');
    expect(js.meta('k')).toBe('v');
    expect(js.meta('none')).toBeUndefined();
    expect(js.row(2)).toMatchObject({ seq: 2, time: 102, topic: 't.2', ref: js.entry(2).ref });
    expect(js.row(9)).toBeUndefined();
    expect(js.rows(2, 3, 10).map((r) => r.seq)).toEqual([2, 3]);
    expect(js.entry(4).ref).toBe(head.ref);
    expect(errOf(() => js.entry(9))).toMatchObject({ errno: ENOENT, message: 'journal has no entry 9' });
    // an index row that names another entry's blob
    cs.db.prepare('UPDATE journal SET ref = (SELECT ref FROM journal WHERE seq = 1) WHERE seq = 3').run();
    expect(errOf(() => js.entry(3))).toMatchObject({ errno: EPROTO, message: 'journal entry 3 holds seq 1' });
    cs.close();
  });

  it('finds the last entry at or before a time by its index', () => {
    const { cs, js } = journal(9);
    expect(js.seqAtTime(50)).toBe(0);
    for (let s = 1; s <= 9; s++) {
      expect(js.seqAtTime(100 + s)).toBe(s);
      expect(js.seqAtTime(100 + s + 0.5)).toBe(s);
    }
    expect(js.seqAtTime(1e9)).toBe(9);
    cs.close();
  });

  it('finds it from a compacted start too', async () => {
    const { cs, js } = journal(9);
    const sg = await signer();
    const c = { seq: 6, ref: js.row(6)!.ref, time: 1, snapshot: `sha256-${'0'.repeat(64)}` };
    const id = js.putCheckpoint({ ...c, pubkey: sg.publicKey, sig: await sg.sign(checkpointMessage(c)) });
    js.retire(6, { id, ...c, pubkey: sg.publicKey, sig: '' }, {});
    js.dropBelow(100);
    // nothing kept is that old
    expect(js.seqAtTime(104)).toBe(0);
    for (let s = 6; s <= 9; s++) expect(js.seqAtTime(100 + s)).toBe(s);
    cs.close();
  });

  it('moves its start only forward, to a snapshot, with its hooks, and reads nothing below it', async () => {
    const { cs, js } = journal(6);
    const hooked: unknown[] = [];
    js.addRetireHook((first, states) => hooked.push([first, states]));
    const sg = await signer();
    const c = { seq: 4, ref: js.row(4)!.ref, time: 1, snapshot: `sha256-${'0'.repeat(64)}` };
    const id = js.putCheckpoint({ ...c, pubkey: sg.publicKey, sig: await sg.sign(checkpointMessage(c)) });
    const cp: Checkpoint = { id, ...c, pubkey: sg.publicKey, sig: '' };
    expect(errOf(() => js.retire(3, cp, {}))).toMatchObject({ errno: EINVAL, message: 'the journal needs a snapshot at 3 to start there' });
    expect(errOf(() => js.retire(4, { ...cp, snapshot: null }, {}))).toMatchObject({ errno: EINVAL });
    js.retire(4, cp, { kvs: 1 });
    expect(hooked).toEqual([[4, { kvs: 1 }]]);
    expect([js.meta('first'), js.meta('base'), js.meta('gc-pending')]).toEqual(['4', String(id), '1']);
    expect(js.expectedFirst()).toBe(4);
    expect(js.first()).toBe(4);
    expect(js.row(3)).toBeUndefined();
    expect(js.rows(1, 9, 10).map((r) => r.seq)).toEqual([4, 5, 6]);
    expect(errOf(() => js.entry(2))).toMatchObject({ errno: ENOENT, message: 'version 2 has been compacted' });
    // the same start again, or an older one, changes nothing
    js.retire(4, cp, { kvs: 2 });
    expect(hooked.length).toBe(1);
    expect(js.dropBelow(2)).toBe(2);
    expect(js.dropBelow(10)).toBe(1);
    expect(js.dropBelow(10)).toBe(0);
    // a new store on the same database reads its start back
    expect(new JournalStore(cs).expectedFirst()).toBe(4);
    cs.close();
  });

  it('stores nothing of a batch whose transaction fails, and reports the sqlite error as a FluxError', () => {
    const { cs, js, head } = journal(2);
    const counted = cs.stats();
    js.addIndexer((e) => {
      if (e.topic === 'bad') throw Object.assign(new Error('disk I/O'), { code: 'SQLITE_IOERR' });
    });
    const err = errOf(() => js.appendBatch(head, [base(3), { ...base(4), topic: 'bad' }]));
    expect(err).toBeInstanceOf(FluxError);
    expect(err.message).toBe('journal: disk I/O (SQLITE_IOERR)');
    expect(js.head()).toEqual(head);
    // the content store counted the batch's blobs as it stored them: not once the transaction failed
    expect(cs.stats()).toEqual(counted);
    cs.close();
  });
});

describe('journal verification', () => {
  async function damaged(n: number, damage: (cs: ContentStore, js: JournalStore) => void | Promise<void>, checkpoint = true) {
    const j = journal(n);
    if (checkpoint) await checkpointAt(j.js, n, j.head.ref);
    await damage(j.cs, j.js);
    const r = await verifyJournal(j.js, { trustedKey: (await signer()).publicKey });
    j.cs.close();
    return r;
  }

  it('checks the checkpoints there were when it began: one made while it reads the entries is the next pass\'s', async () => {
    // a broker checkpoints its head every journal.checkpoint-period while a long verification yields to its loop
    const j = journal(6);
    const sg = await signer();
    await checkpointAt(j.js, 3, [...j.js.scan(1)].find((row) => row.seq === 3)!.ref);
    const later = { seq: 6, ref: j.head.ref, time: 7, snapshot: null };
    const made = { ...later, pubkey: sg.publicKey, sig: await sg.sign(checkpointMessage(later)) };
    const r = await verifyJournal(j.js, { trustedKey: sg.publicKey, yieldEvery: 2, check: (e) => void (e.seq === 4 && j.js.putCheckpoint(made)) });
    expect(r).toEqual({ ok: true, checked: 6, head: j.head, checkpoints: 1 });
    expect(await verifyJournal(j.js, { trustedKey: sg.publicKey })).toEqual({ ok: true, checked: 6, head: j.head, checkpoints: 2 });
    j.cs.close();
  });

  it('passes a sound journal, checking every entry and checkpoint, and yields to the event loop as it goes', async () => {
    const j = journal(7, 'sha1');
    await checkpointAt(j.js, 7, j.head.ref);
    await checkpointAt(j.js, 0, null);
    // a turn of the event loop counted at each check phase: the verifier lets it run after every second entry
    let turns = 0;
    let counting = true;
    const tick = () => {
      if (!counting) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const seen: Array<[number, number]> = [];
    const r = await verifyJournal(j.js, { yieldEvery: 2, check: (e) => void seen.push([e.seq, turns]) });
    counting = false;
    expect(r).toEqual({ ok: true, checked: 7, head: j.head, checkpoints: 2 });
    expect(seen).toEqual([[1, 0], [2, 0], [3, 1], [4, 1], [5, 2], [6, 2], [7, 3]]);
    const none = journal(0);
    expect(await verifyJournal(none.js)).toEqual({ ok: true, checked: 0, head: { seq: 0, ref: null }, checkpoints: 0 });
    j.cs.close();
    none.cs.close();
  });

  it('names each kind of damage at its seq', async () => {
    const cases: Array<[string, (cs: ContentStore, js: JournalStore) => void | Promise<void>, { seq: number; reason: string | RegExp }]> = [
      ['a gap', (cs) => void cs.db.prepare('DELETE FROM journal WHERE seq = 3').run(), { seq: 3, reason: 'entry 3 is missing from the index' }],
      ['the first entry gone', (cs) => void cs.db.prepare('DELETE FROM journal WHERE seq = 1').run(), { seq: 1, reason: 'entry 1 is missing from the index' }],
      ['a blob gone', (cs, js) => void cs.db.prepare('DELETE FROM objects WHERE hash = ?').run(Buffer.from(js.row(2)!.ref.slice(7), 'hex')),
        { seq: 2, reason: /^the blob sha256-[0-9a-f]{64} of entry 2 is missing$/ }],
      ['a blob that does not hash to its ref', (cs, js) => void cs.db.prepare('UPDATE objects SET object = ? WHERE hash = ?')
        .run(Buffer.from('{}'), Buffer.from(js.row(2)!.ref.slice(7), 'hex')), { seq: 2, reason: /^entry 2 does not hash to its ref sha256-/ }],
      ['a damaged object', (cs, js) => void cs.db.prepare('UPDATE objects SET size = 99999999 WHERE hash = ?')
        .run(Buffer.from(js.row(2)!.ref.slice(7), 'hex')), { seq: 2, reason: /^entry 2 is damaged: blob sha256-[0-9a-f]+ is damaged/ }],
      ['an index row of another time', (cs) => void cs.db.prepare('UPDATE journal SET time = 1 WHERE seq = 2').run(),
        { seq: 2, reason: 'entry 2 does not match its index row' }],
      ['an index row of another topic', (cs) => void cs.db.prepare("UPDATE journal SET topic = 'x' WHERE seq = 2").run(),
        { seq: 2, reason: 'entry 2 does not match its index row' }],
      ['the last entry gone', (cs) => void cs.db.prepare('DELETE FROM journal WHERE seq = 4').run(), { seq: 4, reason: 'checkpoint at 4 is past the head 3' }],
    ];
    for (const [what, damage, bad] of cases) {
      const r = await damaged(4, damage);
      expect(r.ok, what).toBe(false);
      expect(r.firstBad!.seq, what).toBe(bad.seq);
      if (typeof bad.reason === 'string') expect(r.firstBad!.reason, what).toBe(bad.reason);
      else expect(r.firstBad!.reason, what).toMatch(bad.reason);
    }
  });

  it('finds entries that are not what their index says: another seq, a malformed blob, a first entry with a predecessor', async () => {
    const stored = async (cs: ContentStore, seq: number, blob: Buffer) => {
      const digest = cs.store(blob);
      cs.db.prepare('UPDATE journal SET ref = ? WHERE seq = ?').run(digest, seq);
    };
    let r = await damaged(3, (cs, js) => stored(cs, 2, encodeEntry({ ...js.entry(2).entry, seq: 7 })));
    expect(r.firstBad).toEqual({ seq: 2, reason: 'entry 2 does not match its index row' });
    r = await damaged(3, (cs) => stored(cs, 2, Buffer.from('{"not":"an entry"}')));
    expect(r.firstBad!.seq).toBe(2);
    expect(r.firstBad!.reason).toMatch(/^entry 2 is malformed: /);
    r = await damaged(3, (cs, js) => stored(cs, 1, encodeEntry({ ...js.entry(1).entry, prev: js.entry(3).ref })));
    expect(r.firstBad).toEqual({ seq: 1, reason: 'entry 1 links to a predecessor' });
    r = await damaged(3, (cs, js) => stored(cs, 3, encodeEntry({ ...js.entry(3).entry, prev: js.entry(1).ref })));
    expect(r.firstBad).toEqual({ seq: 3, reason: 'entry 3 does not link to entry 2' });
    // a further check's reason fails its entry
    const j = journal(3);
    expect((await verifyJournal(j.js, { check: (e) => (e.seq === 2 ? 'no good' : undefined) })).firstBad).toEqual({ seq: 2, reason: 'no good' });
    j.cs.close();
  });

  it('holds checkpoints to the instance key, their signature, the entry they name and the head', async () => {
    const other = await loadOrCreateSigner(join(scratch.path, 'other.key'));
    let r = await damaged(3, (cs, js) => checkpointAt(js, 2, js.row(2)!.ref, other), false);
    expect(r.firstBad).toEqual({ seq: 2, reason: 'checkpoint at 2 is signed by an unknown key' });
    r = await damaged(3, (cs) => void cs.db.prepare('UPDATE journal_checkpoint SET time = time + 1').run());
    expect(r.firstBad).toEqual({ seq: 3, reason: 'checkpoint at 3 has a bad signature' });
    r = await damaged(3, async (cs, js) => checkpointAt(js, 2, js.row(1)!.ref), false);
    expect(r.firstBad!.reason).toMatch(/^checkpoint at 2 names sha256-[0-9a-f]+, which is not entry 2$/);
    r = await damaged(3, async (cs, js) => checkpointAt(js, 5, js.row(3)!.ref), false);
    expect(r.firstBad).toEqual({ seq: 5, reason: 'checkpoint at 5 is past the head 3' });
    // a checkpoint of the empty journal (seq 0) and one below a compacted start name nothing to compare
    r = await damaged(3, async (cs, js) => checkpointAt(js, 0, null), false);
    expect(r.ok).toBe(true);
  });

  it('starts at a compacted journal\'s first entry, whose link it cannot check, and requires that entry', async () => {
    const j = journal(6);
    const sg = await signer();
    const c = { seq: 3, ref: j.js.row(3)!.ref, time: 1, snapshot: `sha256-${'0'.repeat(64)}` };
    const id = j.js.putCheckpoint({ ...c, pubkey: sg.publicKey, sig: await sg.sign(checkpointMessage(c)) });
    j.js.retire(3, { id, ...c, pubkey: sg.publicKey, sig: '' }, {});
    j.js.dropBelow(100);
    expect(await verifyJournal(j.js, { trustedKey: sg.publicKey })).toMatchObject({ ok: true, checked: 4, checkpoints: 1 });
    j.cs.db.prepare('DELETE FROM journal WHERE seq = 3').run();
    expect((await verifyJournal(j.js)).firstBad).toEqual({ seq: 3, reason: 'entry 3 is missing from the index' });
    j.cs.close();
  });

  it('takes a checkpoint below a compacted start as it is, and holds one at the start to the entry there', async () => {
    const compacted = async (extra: (js: JournalStore, refs: string[]) => Promise<void>) => {
      const j = journal(6);
      const sg = await signer();
      const c = { seq: 3, ref: j.js.row(3)!.ref, time: 1, snapshot: `sha256-${'0'.repeat(64)}` };
      const refs = [1, 2, 3, 4].map((s) => j.js.row(s)!.ref);
      const id = j.js.putCheckpoint({ ...c, pubkey: sg.publicKey, sig: await sg.sign(checkpointMessage(c)) });
      j.js.retire(3, { id, ...c, pubkey: sg.publicKey, sig: '' }, {});
      j.js.dropBelow(100);
      await extra(j.js, refs);
      const r = await verifyJournal(j.js, { trustedKey: sg.publicKey });
      j.cs.close();
      return r;
    };
    // the entry a checkpoint at 2 names is gone: nothing to compare it with
    expect(await compacted((js, refs) => checkpointAt(js, 2, refs[1]!))).toMatchObject({ ok: true, checked: 4, checkpoints: 2 });
    // one at 3 that names entry 4 is wrong, though the start is at 3
    const r = await compacted((js, refs) => checkpointAt(js, 3, refs[3]!));
    expect(r.firstBad!.seq).toBe(3);
    expect(r.firstBad!.reason).toMatch(/^checkpoint at 3 names sha256-[0-9a-f]+, which is not entry 3$/);
  });
});

describe('the replica order', () => {
  const entryAt = (seq: number, prev: string | null): { entry: Entry; blob: Buffer } => {
    const entry: Entry = { seq, prev, time: seq, topic: 't', userid: 0, rolemask: 1, flags: 0, payload: null };
    return { entry, blob: encodeEntry(entry) };
  };
  const refOf = (b: Buffer) => blobrefOf('sha256', b);
  /** a chain of n entries */
  const chain = (n: number) => {
    const out: Array<{ entry: Entry; blob: Buffer; ref: string }> = [];
    let prev: string | null = null;
    for (let s = 1; s <= n; s++) {
      const e = entryAt(s, prev);
      prev = refOf(e.blob);
      out.push({ ...e, ref: prev });
    }
    return out;
  };

  it('applies only the next entry that links to its head, and reports what is missing as a gap', () => {
    const c = chain(6);
    const o = new ReplicaOrder({ seq: 0, ref: null }, refOf);
    expect(o.gap()).toBeUndefined();
    expect(o.offer(c[2]!.entry, c[2]!.blob)).toEqual([]);
    expect(o.waiting).toBe(1);
    expect(o.gap()).toEqual({ from: 1, count: 2 });
    expect(o.offer(c[0]!.entry, c[0]!.blob).map((a) => a.entry.seq)).toEqual([1]);
    expect(o.gap()).toEqual({ from: 2, count: 1 });
    expect(o.offer(c[1]!.entry, c[1]!.blob).map((a) => [a.entry.seq, a.ref])).toEqual([[2, c[1]!.ref], [3, c[2]!.ref]]);
    expect(o.head).toEqual({ seq: 3, ref: c[2]!.ref });
    expect(o.waiting).toBe(0);
    // again, or older: nothing
    expect(o.offer(c[2]!.entry, c[2]!.blob)).toEqual([]);
    expect(o.offer(c[0]!.entry, c[0]!.blob)).toEqual([]);
    expect(o.waiting).toBe(0);
    // a loss at the tail shows once upstream is heard to hold more
    expect(o.gap()).toBeUndefined();
    o.heard(5);
    expect(o.gap()).toEqual({ from: 4, count: 2 });
    o.heard(2);
    expect(o.gap()).toEqual({ from: 4, count: 2 });
  });

  it('drops an entry that does not link to its head, and what it held at or below its head', () => {
    const c = chain(3);
    const o = new ReplicaOrder({ seq: 1, ref: c[0]!.ref }, refOf);
    const stranger = entryAt(2, `sha256-${'f'.repeat(64)}`);
    expect(o.offer(stranger.entry, stranger.blob)).toEqual([]);
    expect(o.head.seq).toBe(1);
    expect(o.waiting).toBe(0);
    expect(o.offer(c[2]!.entry, c[2]!.blob)).toEqual([]);
    expect(o.offer(c[1]!.entry, c[1]!.blob).map((a) => a.entry.seq)).toEqual([2, 3]);
  });

  it('holds everything until its starting snapshot is known, then applies what follows it', () => {
    const c = chain(5);
    const o = new ReplicaOrder({ seq: 0, ref: null }, refOf, { holding: true });
    for (const i of [4, 3, 1]) expect(o.offer(c[i]!.entry, c[i]!.blob)).toEqual([]);
    expect(o.gap()).toBeUndefined();
    expect(o.start({ seq: 3, ref: c[2]!.ref }).map((a) => a.entry.seq)).toEqual([4, 5]);
    expect(o.waiting).toBe(0);
    expect(o.gap()).toBeUndefined();
  });

  it('while holding, keeps nothing at or below its head; once started, applies what comes next at once', () => {
    const c = chain(5);
    const o = new ReplicaOrder({ seq: 2, ref: c[1]!.ref }, refOf, { holding: true });
    expect(o.offer(c[1]!.entry, c[1]!.blob)).toEqual([]);
    expect(o.offer(c[0]!.entry, c[0]!.blob)).toEqual([]);
    expect(o.waiting).toBe(0);
    // held: 3 and 4; the snapshot turns out to be at 4, so 3 and 4 itself go
    for (const i of [2, 3]) expect(o.offer(c[i]!.entry, c[i]!.blob)).toEqual([]);
    expect(o.waiting).toBe(2);
    expect(o.start({ seq: 4, ref: c[3]!.ref })).toEqual([]);
    expect(o.waiting).toBe(0);
    expect(o.offer(c[4]!.entry, c[4]!.blob).map((a) => a.entry.seq)).toEqual([5]);
  });

  it('keeps at most maxEarly entries ahead, but always the next one', () => {
    const c = chain(6);
    const o = new ReplicaOrder({ seq: 0, ref: null }, refOf, { maxEarly: 2 });
    for (const i of [5, 4, 3]) o.offer(c[i]!.entry, c[i]!.blob);
    expect(o.waiting).toBe(2);
    expect(o.gap()).toEqual({ from: 1, count: 4 });
    expect(o.offer(c[1]!.entry, c[1]!.blob)).toEqual([]);
    expect(o.waiting).toBe(2);
    expect(o.offer(c[0]!.entry, c[0]!.blob).map((a) => a.entry.seq)).toEqual([1]);
    expect(o.gap()).toEqual({ from: 2, count: 3 });
  });
});
