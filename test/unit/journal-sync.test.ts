// Where rank 0's journal syncs a group commit: on libuv's thread while anything arrives during syncs, on the event
// loop's own while nothing does, looking again every PROBE_EVERY-th sync; acknowledged only after the sync either way.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore } from '../../src/core/journal/store.js';
import { PROBE_EVERY, QUIET_SYNCS, SyncPolicy } from '../../src/core/journal/sync-policy.js';
import { EIO, FluxError } from '../../src/core/errors.js';
import { ROLE_OWNER } from '../../src/core/wire/message.js';
import { Attrs } from '../../src/services/attrs.js';
import { journalModule, type JournalService } from '../../src/services/journal.js';
import { kvsProjection } from '../../src/projections/kvs.js';
import { fakeHost } from '../helpers/module-host.js';

const OWNER = { userid: 4242, rolemask: ROLE_OWNER };

describe('the sync policy', () => {
  it('keeps syncs on the thread until QUIET_SYNCS of them in a row saw nothing arrive', () => {
    let arrivals = 0;
    const p = new SyncPolicy(() => arrivals);
    for (let i = 0; i < QUIET_SYNCS - 1; i++) {
      expect(p.onLoopNext()).toBe(false);
      p.threadStarts()();
    }
    expect(p.onLoopNext()).toBe(false);
    const end = p.threadStarts();
    arrivals++;
    end();
    // that one saw an arrival: the count starts again
    for (let i = 0; i < QUIET_SYNCS; i++) {
      expect(p.onLoopNext()).toBe(false);
      p.threadStarts()();
    }
    expect(p.onLoopNext()).toBe(true);
  });

  it('sends every PROBE_EVERY-th sync to the thread, and stays on the thread once one saw an arrival', () => {
    let arrivals = 0;
    const p = new SyncPolicy(() => arrivals);
    for (let i = 0; i < QUIET_SYNCS; i++) p.threadStarts()();
    const kinds: boolean[] = [];
    for (let i = 0; i < 2 * PROBE_EVERY; i++) {
      const onLoop = p.onLoopNext();
      kinds.push(onLoop);
      if (!onLoop) p.threadStarts()();
    }
    const probes = kinds.flatMap((k, i) => (k ? [] : [i]));
    expect(probes).toEqual([PROBE_EVERY - 1, 2 * PROBE_EVERY - 1]);
    for (let i = 0; i < PROBE_EVERY - 1; i++) expect(p.onLoopNext()).toBe(true);
    expect(p.onLoopNext()).toBe(false);
    const end = p.threadStarts();
    arrivals += 3;
    end();
    for (let i = 0; i < QUIET_SYNCS; i++) {
      expect(p.onLoopNext()).toBe(false);
      p.threadStarts()();
    }
  });
});

describe("the journal's group commits", () => {
  let cs: ContentStore;
  let journal: JournalService;
  let arrivals: number;
  /** what happened, in order: 'thread' and 'loop' syncs, 'synced' when a thread sync ends, 'ack <i>' */
  let events: string[];
  let threadSyncs: Array<() => void>;
  let failOnLoop: boolean;

  beforeEach(async () => {
    const attrs = new Attrs();
    attrs.define('security.owner', String(OWNER.userid));
    const host = fakeHost(attrs);
    cs = ContentStore.open(':memory:', 'sha256');
    arrivals = 0;
    events = [];
    threadSyncs = [];
    failOnLoop = false;
    journal = journalModule(host, {
      store: new JournalStore(cs),
      projections: [kvsProjection],
      sync: () => new Promise<void>((resolve) => {
        events.push('thread');
        threadSyncs.push(() => {
          events.push('synced');
          resolve();
        });
      }),
      syncNow: () => {
        events.push('loop');
        if (failOnLoop) throw new FluxError(EIO, 'the disk is gone');
      },
      arrivals: () => arrivals,
    });
    await journal.def.start!();
  });

  afterEach(() => {
    cs.close();
  });

  /** one append, acknowledged: `during` runs while its sync is on the thread */
  async function commit(i: number, during = () => {}): Promise<void> {
    const acked = journal.append('t.x', { i }, OWNER).then(() => {
      events.push(`ack ${i}`);
    });
    await new Promise((r) => setImmediate(r));
    if (threadSyncs.length > 0) {
      during();
      threadSyncs.shift()!();
    }
    await acked;
  }

  const syncs = () => (journal.def.stats!() as { syncs: { on_loop: number; on_thread: number } }).syncs;

  it('syncs a lone committer on the loop once it has seen it alone, and answers only after the sync', async () => {
    for (let i = 0; i < QUIET_SYNCS + 3; i++) await commit(i);
    const expected: string[] = [];
    for (let i = 0; i < QUIET_SYNCS; i++) expected.push('thread', 'synced', `ack ${i}`);
    for (let i = QUIET_SYNCS; i < QUIET_SYNCS + 3; i++) expected.push('loop', `ack ${i}`);
    expect(events).toEqual(expected);
    expect(syncs()).toEqual({ on_loop: 3, on_thread: QUIET_SYNCS });
  });

  it('goes back to the thread when something arrives during a probe', async () => {
    let i = 0;
    for (; i < QUIET_SYNCS + PROBE_EVERY; i++) await commit(i, () => (i === QUIET_SYNCS + PROBE_EVERY - 1 ? arrivals++ : undefined));
    expect(syncs()).toEqual({ on_loop: PROBE_EVERY - 1, on_thread: QUIET_SYNCS + 1 });
    events = [];
    for (let n = 0; n < QUIET_SYNCS; n++) await commit(i++);
    expect(events.filter((e) => e === 'loop')).toEqual([]);
    await commit(i++);
    expect(events.at(-2)).toBe('loop');
  });

  it('never syncs on the loop while a batch before still waits for its sync on the thread, and answers in order', async () => {
    for (let i = 0; i < QUIET_SYNCS + PROBE_EVERY - 1; i++) await commit(i);
    expect(events.at(-2)).toBe('loop');
    events = [];
    const turn = () => new Promise((r) => setImmediate(r));
    // the probe: on the thread, and left running while the next batch comes
    const c = journal.append('t.x', { i: 'c' }, OWNER).then(() => events.push('ack c'));
    await turn();
    const d = journal.append('t.x', { i: 'd' }, OWNER).then(() => events.push('ack d'));
    await turn();
    expect(events).toEqual(['thread', 'thread']);
    threadSyncs.pop()!();
    await turn();
    expect(events).toEqual(['thread', 'thread', 'synced']);
    threadSyncs.shift()!();
    await Promise.all([c, d]);
    expect(events).toEqual(['thread', 'thread', 'synced', 'synced', 'ack c', 'ack d']);
  });

  it('fails the batch whose sync on the loop failed, and every append after it', async () => {
    for (let i = 0; i < QUIET_SYNCS; i++) await commit(i);
    failOnLoop = true;
    await expect(journal.append('t.x', { i: 'lost' }, OWNER)).rejects.toMatchObject({ errno: EIO });
    expect(events.at(-1)).toBe('loop');
    failOnLoop = false;
    await expect(journal.append('t.x', { i: 'after' }, OWNER)).rejects.toThrow(/no more entries until the instance restarts/);
  });
});
