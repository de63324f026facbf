// What a guest reads of the past is what it could have received live: random events (public and private),
// namespaces and jobs made by several users; then, through every read path of the journal (journal.fetch,
// journal.list, journal.show, journal.follow, event subscription from seq 1), each guest's view is the owner's
// view filtered by an oracle this test keeps itself: the guest's own entries, the public events published, and of
// the commits that carry job events, a redacted view holding the events of the guest's own jobs alone (the jobs
// the test submitted as that guest). No byte of a secret another user made (a private event, a namespace value, a
// jobspec, a job's name) reaches a guest through the journal, while its own job's name does. Past job tables and
// KVS history follow the live rules: the same job listing for all (flux-core's job-list answers a guest every
// user's jobs), no other's namespace.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { Flux } from '../../src/api/handle.js';
import { subscribeFrom } from '../../src/api/events.js';
import { listAt } from '../../src/api/jobs.js';
import { FluxError, EPERM } from '../../src/core/errors.js';
import { FLAG_PRIVATE, ROLE_LOCAL, ROLE_USER, jsonPayload } from '../../src/core/wire/message.js';
import { ENTRY_REDACTED, REDACTED_NOTE } from '../../src/core/access/visibility.js';
import { parseJobId } from '../../src/core/jobs/fluid.js';
import { STATE_INACTIVE } from '../../src/core/jobs/state.js';
import { startInstance, type Instance } from '../helpers/instance.js';

const GUESTS = [1001, 1002, 1003];
const OWNER = process.getuid!();

interface EntryView {
  seq: number;
  userid: number;
  flags: number;
  topic: string;
}

type Action = { kind: 'pub'; by: number; private: boolean } | { kind: 'ns' | 'job'; by: number };

const byArb = fc.constantFrom(OWNER, ...GUESTS);
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('pub' as const), by: byArb, private: fc.boolean() }),
  fc.record({ kind: fc.constant('ns' as const), by: fc.constantFrom(...GUESTS) }),
  fc.record({ kind: fc.constant('job' as const), by: byArb }),
);

describe('history by role', () => {
  let inst: Instance;
  let owner: Flux;
  const guests = new Map<number, Flux>();
  /** seqs of the public events this test published: what every guest may read */
  const publicSeqs = new Set<number>();
  /** secret text -> the one guest that may read it (undefined: nobody but the owner) */
  const secrets = new Map<string, number | undefined>();
  /** job id -> the user that submitted it */
  const jobOwners = new Map<number, number>();
  let made = 0;

  beforeAll(async () => {
    inst = await startInstance(2);
    owner = await Flux.open(inst.uri);
    for (const g of GUESTS) guests.set(g, await Flux.open(inst.uri, { credential: { userid: g, rolemask: ROLE_USER | ROLE_LOCAL } }));
  }, 60_000);

  afterAll(async () => {
    owner?.close();
    for (const h of guests.values()) h.close();
    expect(await inst.stop()).toBe(0);
  });

  const handleOf = (uid: number) => (uid === OWNER ? owner : guests.get(uid)!);
  const asUser = (uid: number) => (uid === OWNER ? {} : { FLUX_HANDLE_USERID: String(uid) });

  async function publish(by: number, topic: string, priv: boolean, body: Record<string, unknown>): Promise<number> {
    const payload = jsonPayload(body).toString('base64');
    const r = await handleOf(by).call('event.publish', { topic, flags: priv ? FLAG_PRIVATE : 0, payload });
    return Number(r.seq);
  }

  async function perform(a: Action): Promise<void> {
    const n = ++made;
    const secret = `secret-${n}-by-${a.by}`;
    if (a.kind === 'pub') {
      const seq = await publish(a.by, `pt.${n}`, a.private, { text: a.private ? secret : `public-${n}` });
      if (a.private) secrets.set(secret, a.by === OWNER ? undefined : a.by);
      else publicSeqs.add(seq);
    } else if (a.kind === 'ns') {
      expect(await inst.flux(['kvs', 'namespace', 'create', '-o', String(a.by), `ns${n}`])).toMatchObject({ code: 0 });
      expect(await inst.flux(['kvs', 'put', '-N', `ns${n}`, `k=${secret}`], { env: asUser(a.by) })).toMatchObject({ code: 0 });
      secrets.set(secret, a.by);
    } else {
      // a job's entries are commits to the primary namespace: its jobspec is the owner's alone, its events (the
      // name rides in the submit event) its submitter's too
      const name = `jobname-${n}-by-${a.by}`;
      const r = await inst.flux(['submit', `--job-name=${name}`, 'echo', secret], { env: asUser(a.by) });
      expect(r).toMatchObject({ code: 0 });
      jobOwners.set(parseJobId(r.stdout.trim()), a.by);
      secrets.set(secret, undefined);
      secrets.set(name, a.by === OWNER ? undefined : a.by);
    }
  }

  /** every entry journal.fetch answers `h`, following `last` past what it may not read */
  async function fetchAll(h: Flux, head: number): Promise<Array<EntryView & Record<string, unknown>>> {
    const out: Array<EntryView & Record<string, unknown>> = [];
    for (let next = 1; next <= head; ) {
      const r = await h.call('journal.fetch', { from: next, count: 100 });
      const entries = r.entries as Array<EntryView & Record<string, unknown>>;
      out.push(...entries);
      next = typeof r.last === 'number' ? r.last + 1 : entries[entries.length - 1]!.seq + 1;
    }
    return out;
  }

  /** journal.list in small pages, as flux journal list goes on: from where a guest's answer says it stopped */
  async function listAll(h: Flux, to: number): Promise<EntryView[]> {
    const out: EntryView[] = [];
    for (let from = 1; ;) {
      const r = await h.call('journal.list', { from, to, limit: 7 });
      const rows = r.entries as EntryView[];
      out.push(...rows);
      if (typeof r.last === 'number') from = r.last + 1;
      else if (rows.length < 7) return out;
      else from = rows[rows.length - 1]!.seq + 1;
    }
  }

  async function followUntil(h: Flux, marker: number): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    await h.stream('journal.follow', { from: 1 }, {}, (m) => {
      const e = JSON.parse(m.payload!.subarray(0, -1).toString()).entry as Record<string, unknown>;
      out.push(e);
      return (e.seq as number) < marker;
    });
    return out;
  }

  async function subscribedUntil(h: Flux, marker: number): Promise<Array<{ seq: number; text: string }>> {
    const out: Array<{ seq: number; text: string }> = [];
    await subscribeFrom(h, [''], 1, (ev) => {
      if (ev.seq === 0) return true;
      out.push({ seq: ev.seq, text: ev.payload?.toString('latin1') ?? '' });
      return ev.seq < marker;
    });
    return out;
  }

  it("a guest's view on every read path is the owner's view filtered to its own entries and public events", async () => {
    // every run has a guest's job among its actions
    const runArb = fc.tuple(fc.array(actionArb, { maxLength: 6 }), fc.constantFrom(...GUESTS))
      .map(([actions, by]): Action[] => [...actions, { kind: 'job', by }]);
    let redactedSeen = 0;
    await fc.assert(fc.asyncProperty(runArb, async (actions) => {
      // each guest follows live from here on, up to the marker: the same views as read afterwards
      const live = new Map<number, { from: number; got: Array<Record<string, unknown>>; done: Promise<void> }>();
      for (const g of GUESTS) {
        const h = guests.get(g)!;
        const got: Array<Record<string, unknown>> = [];
        const done = h.stream('journal.follow', {}, {}, (m) => {
          const e = JSON.parse(m.payload!.subarray(0, -1).toString()).entry as Record<string, unknown>;
          got.push(e);
          return e.topic !== 'pt.marker';
        });
        // answered after the follow request on the same connection: the follow is registered by then
        live.set(g, { from: Number((await h.call('journal.head')).seq) + 1, got, done });
      }
      for (const a of actions) await perform(a);
      // every job has ended: nothing more is journaled after the marker
      while (((await owner.call('job-list.list', {})).jobs as Array<{ state: number }>).some((j) => j.state !== STATE_INACTIVE)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      // everyone reads this one: where the streams stop
      const marker = await publish(OWNER, 'pt.marker', false, { marker: made });
      publicSeqs.add(marker);
      const head = marker;
      const all = (await fetchAll(owner, head)).filter((e) => e.seq <= head);
      expect(all.map((e) => e.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));

      for (const g of GUESTS) {
        const h = guests.get(g)!;
        /** the owner's view filtered: what the guest may read whole, and the redacted commits of its jobs */
        const itemsOf = (e: Record<string, unknown>) => ((e.payload as { jobs?: Array<{ id: number }> } | null)?.jobs ?? []);
        const ownItems = (e: Record<string, unknown>) =>
          e.userid === OWNER && (e.flags as number) & 0x20000 ? itemsOf(e).filter((it) => jobOwners.get(it.id) === g) : [];
        const whole = all.filter((e) => e.userid === g || publicSeqs.has(e.seq));
        const redacted = all.filter((e) => !whole.includes(e) && ownItems(e).length > 0);
        const want = all.filter((e) => whole.includes(e) || redacted.includes(e)).map((e) => e.seq);
        const wantEvents = whole.map((e) => e.seq);
        redactedSeen += redacted.length;
        const expectView = (what: string, got: Array<Record<string, unknown>>) => {
          for (const e of got) {
            const o = all.find((x) => x.seq === e.seq)!;
            if (whole.includes(o)) expect(e, `${what} ${e.seq}`).toEqual(o);
            else {
              expect(e, `${what} ${e.seq}`).toEqual({
                ...o, flags: (o.flags & ~0x20000) | ENTRY_REDACTED, payload: { redacted: REDACTED_NOTE, jobs: ownItems(o) },
              });
            }
          }
        };
        // its own jobs' names reach it, when it has jobs
        const ownNames = [...secrets].filter(([s, reader]) => reader === g && s.startsWith('jobname-')).map(([s]) => s);
        const forbidden = [...secrets].filter(([, reader]) => reader !== g).map(([s]) => s);
        const leaks = (what: string, view: unknown) => {
          const text = JSON.stringify(view);
          // payloads travel as JSON or base64: look for both spellings
          for (const s of forbidden) {
            expect(text.includes(s), `${what} of ${g} holds ${s}`).toBe(false);
            expect(text.includes(Buffer.from(s).toString('base64').slice(0, 16)), `${what} of ${g} holds ${s} (base64)`).toBe(false);
          }
        };

        const fetched = (await fetchAll(h, head)).filter((e) => e.seq <= head);
        expect(fetched.map((e) => e.seq), 'journal.fetch').toEqual(want);
        leaks('journal.fetch', fetched);
        expectView('journal.fetch', fetched);
        for (const name of ownNames) expect(JSON.stringify(fetched), `journal.fetch of ${g}`).toContain(name);

        const listed = await listAll(h, head);
        expect(listed.map((e) => e.seq), 'journal.list').toEqual(want);

        const shown: number[] = [];
        for (const e of all) {
          try {
            const r = await h.call('journal.show', { seq: e.seq });
            shown.push(e.seq);
            leaks('journal.show', r);
            expectView('journal.show', [r.entry as Record<string, unknown>]);
          } catch (err) {
            expect((err as FluxError).errno).toBe(EPERM);
          }
        }
        expect(shown, 'journal.show').toEqual(want);

        const followed = await followUntil(h, marker);
        expect(followed.map((e) => e.seq), 'journal.follow').toEqual(want);
        leaks('journal.follow', followed);
        expectView('journal.follow', followed);
        const { from, got, done } = live.get(g)!;
        await done;
        expect(got.map((e) => e.seq), 'journal.follow live').toEqual(want.filter((seq) => seq >= from));
        leaks('journal.follow live', got);
        expectView('journal.follow live', got);

        // a redacted commit is no event: a guest's history of events is what it could have received live
        const events = await subscribedUntil(h, marker);
        expect(events.map((e) => e.seq), 'event subscription from 1').toEqual(wantEvents);
        leaks('event subscription', events);

        // a past job table is what the live one is: the same listing for everybody
        const at = Math.max(1, marker - 1);
        expect((await listAt(h, { seq: at })).jobs).toEqual((await listAt(owner, { seq: at })).jobs);
        // and another's namespace has no history for this guest
        for (let n = 1; n <= made; n++) {
          const nsOwner = [...secrets].find(([s]) => s.startsWith(`secret-${n}-by-`))?.[0];
          if (nsOwner === undefined || !(await namespaceExists(`ns${n}`))) continue;
          const by = Number(nsOwner.split('-by-')[1]);
          const r = await h.call('kvs-history.key', { namespace: `ns${n}`, key: 'k', values: true }).then(
            (v) => ({ ok: true as const, v }), (err: unknown) => ({ ok: false as const, errno: (err as FluxError).errno }));
          if (by === g) {
            expect(r.ok).toBe(true);
          } else {
            expect(r).toEqual({ ok: false, errno: EPERM });
          }
        }
      }
    }), { numRuns: 4 });
    // the redacted views were there to check: a guest's job has events in the commits of the primary namespace
    expect(redactedSeen).toBeGreaterThanOrEqual(4);
  }, 240_000);

  async function namespaceExists(ns: string): Promise<boolean> {
    const r = await owner.call('kvs.namespace-list');
    return (r.namespaces as Array<{ namespace: string }>).some((x) => x.namespace === ns);
  }
});
