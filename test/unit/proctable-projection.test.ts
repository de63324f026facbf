// The process table's rules one by one: the entries it ignores as written by no rexec service, the shard a
// process is kept in (snapshots depend on it), optional fields left out, processes lost on one rank or all,
// the order of records, and every malformed snapshot refused.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import { EPROTO } from '../../src/core/errors.js';
import {
  applyEntry, initialTable, records, running, proctableProjection, TOPIC_FINISHED, TOPIC_LOST, TOPIC_STARTED, type ProcTable,
} from '../../src/projections/proctable.js';

let seq = 0;
const entry = (topic: string, payload: unknown): Entry => ({ seq: ++seq, prev: null, time: 1000 + seq, topic, userid: 0, rolemask: 1, flags: 0, payload });
const started = (extra: Record<string, unknown> = {}) => entry(TOPIC_STARTED, { rank: 0, pid: 70, cmd: ['true'], userid: 5, cwd: '/', ...extra });
const build = (entries: Entry[], from: ProcTable = initialTable()) => entries.reduce((s, e) => applyEntry(s, e), from);

describe('the process table', () => {
  it('ignores a start, a finish or a loss that no rexec service writes', () => {
    const empty = initialTable();
    const badStarts = [null, 'x', { rank: -1 }, { pid: 1.5 }, { userid: '5' }, { cwd: 5 }, { cmd: 'true' }, { cmd: [1] }, { cmd: ['a', 1] },
      { label: 5 }, { sender: 5 }];
    for (const b of badStarts) {
      const e = b === null || typeof b !== 'object' ? entry(TOPIC_STARTED, b) : started(b);
      expect(build([e], empty), JSON.stringify(b)).toBe(empty);
    }
    const one = build([started()]);
    for (const b of [null, 'x', { rank: 0, pid: 70, status: -1 }, { rank: 0, pid: 70 }, { rank: -1, pid: 70, status: 0 }]) {
      expect(build([entry(TOPIC_FINISHED, b)], one), JSON.stringify(b)).toBe(one);
    }
    for (const b of [null, 'x', { rank: -1 }, { rank: 'all' }, { rank: 3 }]) expect(build([entry(TOPIC_LOST, b)], one), JSON.stringify(b)).toBe(one);
  });

  it('keeps a process in the shard of its pid, and leaves out a label or sender not given', () => {
    const t = build([started(), started({ pid: 3, label: 'L', sender: 's' })]);
    expect(Object.keys(t.ranks['0']!.running).sort()).toEqual(['3', '6']);
    const [a, b] = records(t);
    expect([a!.pid, 'label' in a!, 'sender' in a!]).toEqual([70, false, false]);
    expect([b!.pid, b!.label, b!.sender]).toEqual([3, 'L', 's']);
  });

  it('loses the processes of one rank, or of every rank, in the order they started', () => {
    const t = build([started({ rank: 1, pid: 10 }), started({ rank: 0, pid: 20 }), started({ rank: 1, pid: 5 }), started({ rank: 2, pid: 9 })]);
    expect(records(t).map((r) => [r.rank, r.pid])).toEqual([[0, 20], [1, 10], [1, 5], [2, 9]]);
    const one = build([entry(TOPIC_LOST, { rank: 1 })], t);
    expect(running(one).map((r) => r.pid)).toEqual([20, 9]);
    expect(records(one).filter((r) => r.state === 'lost').map((r) => r.pid)).toEqual([10, 5]);
    // a rank with nothing running among them: the others are still lost
    const all = build([entry(TOPIC_LOST, {})], build([entry(TOPIC_LOST, { rank: 0 })], t));
    expect(running(all)).toEqual([]);
    expect(records(all).map((r) => r.state)).toEqual(['lost', 'lost', 'lost', 'lost']);
  });

  it('refuses every malformed snapshot, and takes back one it saved', () => {
    const t = build([started(), entry(TOPIC_FINISHED, { rank: 0, pid: 70, status: 0 }), started({ pid: 3 })]);
    expect(proctableProjection.load(JSON.parse(JSON.stringify(proctableProjection.save(t))))).toEqual(t);
    const rank = { next: 0, running: {}, history: [] };
    const bad = [null, 5, {}, { ranks: null }, { ranks: 5 }, { ranks: { 0: null } }, { ranks: { 0: 5 } }, { ranks: { 0: { ...rank, next: -1 } } },
      { ranks: { 0: { ...rank, running: null } } }, { ranks: { 0: { ...rank, running: 5 } } }, { ranks: { 0: { ...rank, history: {} } } },
      { ranks: { 0: { ...rank, history: [5] } } }];
    for (const b of bad) {
      expect(() => proctableProjection.load(b), JSON.stringify(b))
        .toThrow(expect.objectContaining({ errno: EPROTO, message: 'process table snapshot is malformed' }));
    }
  });
});
