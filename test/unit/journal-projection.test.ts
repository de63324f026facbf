// A projection a module adds while the journal runs: built from every entry held, joined to the live ones in the
// turn it catches up (none missed, none twice, even while entries keep coming), guarded against reducers that throw.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore } from '../../src/core/journal/store.js';
import { EEXIST } from '../../src/core/errors.js';
import { ROLE_OWNER } from '../../src/core/wire/message.js';
import { Attrs } from '../../src/services/attrs.js';
import { journalModule, type JournalService } from '../../src/services/journal.js';
import { kvsProjection } from '../../src/projections/kvs.js';
import type { Projection } from '../../src/projections/projection.js';
import type { Entry } from '../../src/core/journal/entry.js';
import { fakeHost } from '../helpers/module-host.js';

const OWNER = { userid: 4242, rolemask: ROLE_OWNER };

/** the seqs of the entries a projection was given, in order */
const seqs: Projection<number[]> = {
  name: 'seqs',
  initial: () => [],
  apply: (s, e: Entry) => [...s, e.seq],
  save: (s) => s,
  load: (s) => s as number[],
};

let cs: ContentStore;
let journal: JournalService;
let logged: string[];

beforeEach(async () => {
  const attrs = new Attrs();
  attrs.define('security.owner', String(OWNER.userid));
  logged = [];
  const host = fakeHost(attrs, {
    log: (_sev, app, text) => logged.push(`${app}: ${text}`),
  });
  cs = ContentStore.open(':memory:', 'sha256');
  journal = journalModule(host, { store: new JournalStore(cs), projections: [kvsProjection] });
  await journal.def.start!();
});

afterEach(() => {
  cs.close();
});

const append = (n: number, topic = 't.x') => Promise.all(Array.from({ length: n }, (_, i) => journal.append(topic, { i }, OWNER)));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('a projection added at run time', () => {
  it('is built from every entry, in pages, and then follows the new ones', async () => {
    await append(2500);
    await journal.addProjection(seqs);
    expect(journal.state<number[]>('seqs')).toEqual(range(1, 2500));
    await append(3);
    expect(journal.state<number[]>('seqs')).toEqual(range(1, 2503));
  });

  it('misses no entry made while it catches up, and sees none twice', async () => {
    await append(2000);
    const adding = journal.addProjection(seqs);
    const more: Array<Promise<unknown>> = [];
    for (let turn = 0; turn < 20; turn++) {
      more.push(append(50));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all([adding, ...more]);
    expect(journal.state<number[]>('seqs')).toEqual(range(1, 3000));
  });

  it('keeps its state when its reducer throws, and says so in the log', async () => {
    const picky: Projection<number> = {
      name: 'picky', initial: () => 0, save: (s) => s, load: (s) => s as number,
      apply: (s, e) => {
        if (e.topic === 'picky.bad') throw new Error('cannot take it');
        return s + 1;
      },
    };
    await append(2);
    await append(1, 'picky.bad');
    await journal.addProjection(picky);
    expect(journal.state<number>('picky')).toBe(2);
    await append(1, 'picky.bad');
    await append(1);
    expect(journal.state<number>('picky')).toBe(3);
    expect(logged.filter((l) => l === 'picky: projection: entry 3 (picky.bad) not applied: cannot take it')).toHaveLength(1);
    expect(logged).toContain('picky: projection: entry 4 (picky.bad) not applied: cannot take it');
    expect(journal.head().seq).toBe(5);
  });

  it('owns the topics under its name while it is there, and takes no name already used', async () => {
    await journal.addProjection(seqs);
    expect(journal.reserves('seqs.anything')).toBe(true);
    expect(journal.reserves('seqsx.other')).toBe(false);
    await expect(journal.addProjection(seqs)).rejects.toMatchObject({ errno: EEXIST });
    await expect(journal.addProjection({ ...seqs, name: 'kvs' })).rejects.toMatchObject({ errno: EEXIST });
    journal.removeProjection('seqs');
    expect(journal.reserves('seqs.anything')).toBe(false);
    expect(journal.state('seqs')).toBeUndefined();
  });
});
