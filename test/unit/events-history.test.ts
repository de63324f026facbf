// subscribeFrom against a simulated broker: a journal that keeps growing while the subscriber subscribes, reads
// the head and pages through the history, with live events arriving at every point in between. Whatever the
// interleaving, the subscriber must see each matching event once, in seq order, with the history's bytes.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { subscribeFrom, type EventSource, type FluxEvent } from '../../src/api/events.js';
import { type Entry, ENTRY_RAW, entryPayloadBytes } from '../../src/core/journal/entry.js';
import { type Message, makeEvent, jsonPayload, FLAG_PRIVATE } from '../../src/core/wire/message.js';
import { FluxError, EPERM } from '../../src/core/errors.js';

const myUid = process.getuid!();
const otherUid = myUid + 1;

interface Pub {
  topic: string;
  /** false: an unsequenced event (heartbeat-like), delivered live only */
  journaled: boolean;
  private: boolean;
  mine: boolean;
  raw: boolean;
}

/**
 * The broker side, as far as subscribeFrom can tell: before answering each request, once more on the next
 * macrotask after it, and on every macrotask of drain(), it publishes the next batch of events in `plan`.
 */
class FakeBroker implements EventSource {
  readonly entries: Entry[] = [];
  readonly unsequenced: Message[] = [];
  private readonly sinks = new Set<(m: Message) => void>();
  private readonly prefixes: string[] = [];
  private step = 0;
  calls: string[] = [];

  constructor(
    private readonly plan: Pub[][],
    private readonly opts: { owner: number; pageMax: number; failFetch?: boolean },
  ) {}

  publish(p: Pub): void {
    const userid = p.mine ? myUid : otherUid;
    const flags = p.private ? FLAG_PRIVATE : 0;
    let m: Message;
    if (p.journaled) {
      const seq = this.entries.length + 1;
      const e: Entry = {
        seq, prev: null, time: 1_700_000_000 + seq, topic: p.topic, userid, rolemask: 1,
        flags: flags | (p.raw ? ENTRY_RAW : 0),
        payload: p.raw ? Buffer.from(`raw-${seq}`).toString('base64') : { n: seq },
      };
      this.entries.push(e);
      m = makeEvent(e.topic, entryPayloadBytes(e), seq, flags);
    } else {
      m = makeEvent(p.topic, jsonPayload({ pulse: this.unsequenced.length }), 0, flags);
      this.unsequenced.push(m);
    }
    m.userid = userid;
    if (!this.prefixes.some((x) => p.topic.startsWith(x))) return;
    // the broker's rule for live private events
    if (p.private && myUid !== this.opts.owner && userid !== myUid) return;
    for (const s of this.sinks) s({ ...m, routes: ['uuid-a', 'uuid-b'] });
  }

  private advance(): void {
    for (const p of this.plan[this.step++] ?? []) this.publish(p);
  }

  private async answer<T>(fn: () => T): Promise<T> {
    await new Promise((r) => setImmediate(r));
    this.advance();
    const v = fn();
    setImmediate(() => this.advance());
    return v;
  }

  /** publishes whatever the plan still holds, one batch per macrotask */
  async drain(): Promise<void> {
    while (this.step < this.plan.length) await this.answer(() => undefined);
  }

  call(topic: string, body?: unknown): Promise<Record<string, unknown>> {
    this.calls.push(topic);
    const b = (body ?? {}) as Record<string, number>;
    return this.answer(() => {
      switch (topic) {
        case 'journal.head':
          return { seq: this.entries.length, ref: null, rank: 0 };
        case 'journal.fetch':
          if (this.opts.failFetch) throw new FluxError(EPERM, 'Request requires owner credentials');
        {
          const page = this.entries.slice(b.from! - 1, b.from! - 1 + Math.min(b.count!, this.opts.pageMax));
          if (myUid === this.opts.owner) return { entries: page };
          // the broker's rule for anyone else: what it may read, and how far the answer looked
          return {
            entries: page.filter((e) => !(e.flags & FLAG_PRIVATE) || e.userid === myUid),
            last: page.length > 0 ? page[page.length - 1]!.seq : b.from! - 1,
          };
        }
        default:
          throw new Error(`unexpected ${topic}`);
      }
    });
  }

  subscribe(prefix: string): Promise<void> {
    return this.answer(() => void this.prefixes.push(prefix));
  }

  unsubscribe(prefix: string): Promise<void> {
    return this.answer(() => void this.prefixes.splice(this.prefixes.indexOf(prefix), 1));
  }

  onEvent(sink: (ev: Message) => void): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  subscribed(): string[] {
    return [...this.prefixes];
  }
}

const pubArb: fc.Arbitrary<Pub> = fc.record({
  topic: fc.constantFrom('hist.a', 'hist.b', 'other', 'histo', 'heartbeat.pulse'),
  journaled: fc.boolean(),
  private: fc.boolean(),
  mine: fc.boolean(),
  raw: fc.boolean(),
}).map((p) => (p.topic === 'heartbeat.pulse' ? { ...p, journaled: false, private: false } : { ...p, journaled: true }));

const END: Pub = { topic: 'hist.end', journaled: true, private: false, mine: false, raw: false };

/** resolves once cond() holds, checking every macrotask */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

const journaled = (topic: string): Pub => ({ topic, journaled: true, private: false, mine: true, raw: false });

describe('subscribeFrom', () => {
  it('delivers history then live: every matching event once, in seq order, whatever the interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(pubArb, { maxLength: 12 }),
        fc.array(fc.array(pubArb, { maxLength: 4 }), { maxLength: 12 }),
        fc.nat({ max: 14 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        async (before, plan, from, pageMax, owner) => {
          const b = new FakeBroker(plan, { owner: owner ? myUid : otherUid, pageMax });
          for (const p of before) b.publish(p);
          const got: FluxEvent[] = [];
          const done = subscribeFrom(b, ['hist.', 'heartbeat'], from, (ev) => {
            got.push(ev);
            return ev.topic !== 'hist.end';
          });
          // the rest of the plan goes out on its own, racing the subscriber's requests
          await b.drain();
          await until(() => b.subscribed().length === 2);
          while (b.entries.length + 1 < from) b.publish(journaled('other'));
          b.publish(END);
          await done;
          const sequenced = got.filter((e) => e.seq !== 0);
          const want = b.entries.filter((e) => e.seq >= from && /^(hist\.|heartbeat)/.test(e.topic)
            && (!(e.flags & FLAG_PRIVATE) || owner || e.userid === myUid));
          expect(sequenced.map((e) => e.seq)).toEqual(want.map((e) => e.seq));
          for (const ev of sequenced) {
            const e = b.entries[ev.seq - 1]!;
            expect(ev).toEqual({
              topic: e.topic, seq: e.seq, payload: entryPayloadBytes(e), userid: e.userid, flags: e.flags & FLAG_PRIVATE,
            });
          }
          // unsequenced events pass only while subscribed, never twice
          expect(got.filter((e) => e.seq === 0).length).toBeLessThanOrEqual(b.unsequenced.length);
          expect(b.subscribed()).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('without from is live only and subscribes to everything when no prefix is given', async () => {
    const b = new FakeBroker([], { owner: myUid, pageMax: 10 });
    b.publish(journaled('before'));
    const seqs: number[] = [];
    const done = subscribeFrom(b, [], undefined, (ev) => {
      seqs.push(ev.seq);
      return ev.topic !== 'hist.end';
    });
    await until(() => b.subscribed().length === 1);
    b.publish(journaled('x'));
    b.publish(END);
    await done;
    expect(seqs).toEqual([2, 3]);
    expect(b.calls).toEqual([]);
  });

  it('stops in the middle of the history when each says so, and unsubscribes', async () => {
    const b = new FakeBroker([], { owner: myUid, pageMax: 2 });
    for (let i = 0; i < 7; i++) b.publish(journaled('hist.a'));
    const seqs: number[] = [];
    await subscribeFrom(b, ['hist'], 2, (ev) => seqs.push(ev.seq) < 3);
    expect(seqs).toEqual([2, 3, 4]);
    expect(b.calls.filter((c) => c === 'journal.fetch').length).toBe(2);
    expect(b.subscribed()).toEqual([]);
  });

  it("a guest's history goes on past pages the broker left empty, from the seq the answer covers", async () => {
    const b = new FakeBroker([], { owner: otherUid, pageMax: 2 });
    for (let i = 0; i < 5; i++) b.publish({ topic: 'hist.secret', journaled: true, private: true, mine: false, raw: false });
    b.publish({ topic: 'hist.mine', journaled: true, private: true, mine: true, raw: false });
    b.publish(END);
    const topics: string[] = [];
    await subscribeFrom(b, ['hist'], 1, (ev) => topics.push(ev.topic) > 0 && ev.topic !== 'hist.end');
    expect(topics).toEqual(['hist.mine', 'hist.end']);
    expect(b.calls.filter((c) => c === 'journal.fetch').length).toBe(4);
  });

  it('rejects when the history cannot be read', async () => {
    const b = new FakeBroker([], { owner: myUid, pageMax: 10, failFetch: true });
    b.publish(journaled('hist.a'));
    await expect(subscribeFrom(b, ['hist'], 1, () => {})).rejects.toThrow(/owner credentials/);
  });

  it('rejects with what each throws', async () => {
    const b = new FakeBroker([], { owner: myUid, pageMax: 10 });
    const done = subscribeFrom(b, ['hist'], undefined, () => {
      throw new Error('printer on fire');
    });
    await until(() => b.subscribed().length === 1);
    b.publish(journaled('hist.a'));
    await expect(done).rejects.toThrow('printer on fire');
  });

  it('ignores events for other subscriptions on the same handle', async () => {
    const b = new FakeBroker([], { owner: myUid, pageMax: 10 });
    await b.subscribe('zzz');
    const topics: string[] = [];
    const done = subscribeFrom(b, ['hist'], undefined, (ev) => {
      topics.push(ev.topic);
      return ev.topic !== 'hist.end';
    });
    await until(() => b.subscribed().length === 2);
    b.publish(journaled('zzz'));
    b.publish(END);
    await done;
    expect(topics).toEqual(['hist.end']);
    expect(b.subscribed()).toEqual(['zzz']);
  });
});
