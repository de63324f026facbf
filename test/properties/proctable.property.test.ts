// The process table against a model: every rank's starts and exits, interleaved by the sequencer in any order,
// give the table that one pass over the ranks one after another gives, and the table built entry by entry
// (with snapshots saved and loaded on the way, as a replica starting from a snapshot does) never shows a process
// exited before its start was applied, nor an exit that had no start.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Entry } from '../../src/core/journal/entry.js';
import {
  applyEntry, initialTable, records, proctableProjection, type ProcTable, type ProcRecord,
} from '../../src/projections/proctable.js';

type Op =
  | { kind: 'start'; pid: number; time: number; cmd: string }
  | { kind: 'exit'; pid: number; time: number; status: number };

/** one rank's ops as its rexec would record them: a pid starts only when it is not running; some exits are
 *  strays (their start never made it to the journal) or repeats */
function rankOps(): fc.Arbitrary<Op[]> {
  return fc.array(
    fc.record({
      pid: fc.integer({ min: 1, max: 6 }),
      exit: fc.boolean(),
      status: fc.constantFrom(0, 1 << 8, 3 << 8, 9, 15, 2 | 0x80),
      dt: fc.integer({ min: 0, max: 5 }),
      cmd: fc.constantFrom('true', 'sleep', 'cat'),
    }),
    { maxLength: 30 },
  ).map((raw) => {
    const running = new Set<number>();
    let time = 1000;
    return raw.map((r): Op => {
      time += r.dt;
      if (!r.exit && !running.has(r.pid)) {
        running.add(r.pid);
        return { kind: 'start', pid: r.pid, time, cmd: r.cmd };
      }
      running.delete(r.pid);
      return { kind: 'exit', pid: r.pid, time, status: r.status };
    });
  });
}

function toEntry(rank: number, op: Op, seq: number): Entry {
  const payload = op.kind === 'start'
    ? { rank, pid: op.pid, cmd: [op.cmd], userid: 1000 + rank, cwd: '/' }
    : { rank, pid: op.pid, status: op.status };
  return {
    seq, prev: null, time: op.time, topic: op.kind === 'start' ? 'rexec.started' : 'rexec.finished',
    userid: 0, rolemask: 1, flags: 0, payload,
  };
}

/** merge the ranks' ops keeping each rank's order, choosing the next rank from `picks` */
function interleave(perRank: Op[][], picks: number[]): Array<[number, Op]> {
  const next = perRank.map(() => 0);
  const out: Array<[number, Op]> = [];
  let p = 0;
  for (;;) {
    const open = perRank.map((ops, r) => r).filter((r) => next[r]! < perRank[r]!.length);
    if (open.length === 0) return out;
    const r = open[(picks.length > 0 ? picks[p++ % picks.length]! : 0) % open.length]!;
    out.push([r, perRank[r]![next[r]!++]!]);
  }
}

const sequence = (ops: Array<[number, Op]>) => ops.map(([r, op], i) => toEntry(r, op, i + 1));

/** the model: every rank's processes in the order they started, as a plain reading of the entries gives them */
interface ModelProc {
  rank: number;
  pid: number;
  state: 'running' | 'exited';
  started: number;
  ended?: number;
  status?: number;
  cmd: string;
}

function modelApply(model: ModelProc[], rank: number, op: Op): void {
  const cur = model.find((p) => p.rank === rank && p.pid === op.pid && p.state === 'running');
  if (op.kind === 'start') model.push({ rank, pid: op.pid, state: 'running', started: op.time, cmd: op.cmd });
  else if (cur) Object.assign(cur, { state: 'exited', ended: op.time, status: op.status });
}

const sortModel = (m: ModelProc[]) => m.map((p, i) => ({ p, i })).sort((a, b) => a.p.rank - b.p.rank || a.i - b.i).map((x) => x.p);

function view(t: ProcTable): ModelProc[] {
  return records(t).map((r) => {
    const p: ModelProc = { rank: r.rank, pid: r.pid, state: r.state as 'running' | 'exited', started: r.started, cmd: r.cmd[0]! };
    if (r.ended !== undefined) p.ended = r.ended;
    if (r.status !== undefined) p.status = r.status;
    return p;
  });
}

const perRankArb = fc.integer({ min: 1, max: 4 }).chain((n) => fc.array(rankOps(), { minLength: n, maxLength: n }));

describe('process table properties', () => {
  it('any interleaving of the ranks gives the table of one pass over the ranks in turn', () => {
    fc.assert(fc.property(perRankArb, fc.array(fc.nat()), (perRank, picks) => {
      const onePass = sequence(perRank.flatMap((ops, r) => ops.map((op): [number, Op] => [r, op])));
      const mixed = sequence(interleave(perRank, picks));
      const a = onePass.reduce(applyEntry, initialTable());
      const b = mixed.reduce(applyEntry, initialTable());
      expect(records(b)).toEqual(records(a));
      expect(b).toEqual(a);
    }), { numRuns: 300 });
  });

  it('entry by entry, with snapshots on the way, the table matches the model and no exit comes before its start', () => {
    fc.assert(fc.property(perRankArb, fc.array(fc.nat()), fc.array(fc.boolean()), (perRank, picks, snaps) => {
      const ops = interleave(perRank, picks);
      const entries = sequence(ops);
      const model: ModelProc[] = [];
      const startedAt = new Map<string, number>();
      let t = initialTable();
      entries.forEach((e, i) => {
        if (snaps[i % Math.max(1, snaps.length)]) {
          t = proctableProjection.load(JSON.parse(JSON.stringify(proctableProjection.save(t))) as unknown);
        }
        t = applyEntry(t, e);
        const [rank, op] = ops[i]!;
        modelApply(model, rank, op);
        if (op.kind === 'start') startedAt.set(`${rank}/${op.pid}`, i);
        expect(view(t)).toEqual(sortModel(model));
        for (const r of records(t) as ProcRecord[]) {
          const s = startedAt.get(`${r.rank}/${r.pid}`);
          expect(s).toBeDefined();
          if (r.state === 'exited') expect(r.ended! >= r.started).toBe(true);
        }
      });
      expect(t).toEqual(entries.reduce(applyEntry, initialTable()));
    }), { numRuns: 200 });
  });
});
