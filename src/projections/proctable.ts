// The process table: every process rexec started on any rank, built from the journal's rexec.* entries. Every
// broker builds it, so `flux ps` answers for the whole instance from any rank, and replaying the journal up to
// seq N gives the table as it was then.
//
// Journal entries (sequenced at rank 0, recorded by the rank that ran the process):
//   rexec.started  {rank, pid, cmd: [argv...], label?, userid, cwd, sender?}
//                  userid is the caller's; sender is the client's route id, which lets the client's own broker
//                  find the client's processes on other ranks when the client goes away
//   rexec.finished {rank, pid, status}   status is the wait status (exit code << 8, or the signal number)
//   rexec.lost     {rank?}               every process still running (on that rank) is gone without an exit
//                                        status: rank 0 says so when it starts on a journal from an earlier run
//
// Everything a record holds comes from the entries of its own rank (times come from the entries), so the table
// does not depend on how the ranks' entries were interleaved by the sequencer.
import { produce } from 'immer';
import type { Entry } from '../core/journal/entry.js';
import { FluxError, EPROTO } from '../core/errors.js';
import type { Projection } from './projection.js';

export const PROCTABLE = 'proctable';
export const TOPIC_STARTED = 'rexec.started';
export const TOPIC_FINISHED = 'rexec.finished';
export const TOPIC_LOST = 'rexec.lost';

/** processes that have left kept per rank (at least this many, less than a page more); running ones are all kept */
export const HISTORY = 512;
/** the history is kept in pages of this many: immer copies a whole list it changes, so only the newest, short
 *  page is ever copied, and the oldest goes a page at a time */
export const PAGE = 64;
/** running records of a rank are spread over this many objects, for the same reason */
const SHARDS = 16;

export type ProcState = 'running' | 'exited' | 'lost';

/** a process as the table holds it: what its started entry said, and what became of it */
export interface ProcRecord extends StartedPayload {
  state: ProcState;
  /** the started entry's time (seconds since the epoch) */
  started: number;
  /** the finished (or lost) entry's time */
  ended?: number;
  /** the wait status, for exited processes */
  status?: number;
  /** the how-manieth process started on this rank (from 0): orders a rank's processes */
  ord: number;
}

interface RankTable {
  /** starts so far: the ord of the next one */
  next: number;
  /** pid % SHARDS -> pid -> the running process */
  running: Record<string, Record<string, ProcRecord>>;
  /** processes that have left, in the order they left, in pages of PAGE (all full but the last) */
  history: ProcRecord[][];
}

export interface ProcTable {
  ranks: Record<string, RankTable>;
}

export interface StartedPayload {
  rank: number;
  pid: number;
  cmd: string[];
  label?: string;
  userid: number;
  cwd: string;
  sender?: string;
}

export interface FinishedPayload {
  rank: number;
  pid: number;
  status: number;
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function asStarted(p: unknown): StartedPayload | undefined {
  const o = p as Partial<StartedPayload> | null;
  if (typeof o !== 'object' || o === null) return undefined;
  if (!isId(o.rank) || !isId(o.pid) || !isId(o.userid) || typeof o.cwd !== 'string') return undefined;
  if (!Array.isArray(o.cmd) || !o.cmd.every((a) => typeof a === 'string')) return undefined;
  if (o.label !== undefined && typeof o.label !== 'string') return undefined;
  if (o.sender !== undefined && typeof o.sender !== 'string') return undefined;
  return o as StartedPayload;
}

function asFinished(p: unknown): FinishedPayload | undefined {
  const o = p as Partial<FinishedPayload> | null;
  if (typeof o !== 'object' || o === null) return undefined;
  return isId(o.rank) && isId(o.pid) && isId(o.status) ? (o as FinishedPayload) : undefined;
}

const shardOf = (pid: number) => String(pid % SHARDS);

function emptyRank(): RankTable {
  return { next: 0, running: {}, history: [] };
}

/** a rank's process left the running state: into the history, whose oldest page goes once the rest hold HISTORY */
function retire(rt: RankTable, rec: ProcRecord): void {
  delete rt.running[shardOf(rec.pid)]![rec.pid];
  const last = rt.history[rt.history.length - 1];
  if (last && last.length < PAGE) last.push(rec);
  else rt.history.push([rec]);
  const kept = (rt.history.length - 1) * PAGE + rt.history[rt.history.length - 1]!.length;
  if (kept - PAGE >= HISTORY) rt.history.shift();
}

export function applyEntry(state: ProcTable, entry: Entry): ProcTable {
  // entries come from rexec.record, which validates them; one that is malformed anyway (an older or foreign
  // writer) changes nothing here, the same way on every broker, rather than stopping the journal
  switch (entry.topic) {
    case TOPIC_STARTED: {
      const p = asStarted(entry.payload);
      if (!p) return state;
      return produce(state, (d) => {
        const rt = (d.ranks[p.rank] ??= emptyRank());
        const shard = (rt.running[shardOf(p.pid)] ??= {});
        const rec: ProcRecord = {
          rank: p.rank, pid: p.pid, cmd: [...p.cmd], userid: p.userid, cwd: p.cwd,
          state: 'running', started: entry.time, ord: rt.next++,
        };
        if (p.label !== undefined) rec.label = p.label;
        if (p.sender !== undefined) rec.sender = p.sender;
        // a pid still running here started again: its exit was never recorded, so it is lost
        const stale = shard[p.pid];
        if (stale) {
          stale.state = 'lost';
          stale.ended = entry.time;
          retire(rt, stale);
        }
        (rt.running[shardOf(p.pid)] ??= {})[p.pid] = rec;
      });
    }
    case TOPIC_FINISHED: {
      const p = asFinished(entry.payload);
      // an exit whose start this table never saw is not shown: no process appears exited before it started
      if (!p || !state.ranks[p.rank]?.running[shardOf(p.pid)]?.[p.pid]) return state;
      return produce(state, (d) => {
        const rt = d.ranks[p.rank]!;
        const r = rt.running[shardOf(p.pid)]![p.pid]!;
        r.state = 'exited';
        r.status = p.status;
        r.ended = entry.time;
        retire(rt, r);
      });
    }
    case TOPIC_LOST: {
      const o = entry.payload as { rank?: unknown } | null;
      if (typeof o !== 'object' || o === null || (o.rank !== undefined && !isId(o.rank))) return state;
      const which = o.rank === undefined ? Object.keys(state.ranks) : [String(o.rank)];
      if (!which.some((r) => runningOf(state.ranks[r]).length > 0)) return state;
      return produce(state, (d) => {
        for (const r of which) {
          const rt = d.ranks[r];
          if (!rt) continue;
          for (const rec of runningOf(rt).sort((a, b) => a.ord - b.ord)) {
            rec.state = 'lost';
            rec.ended = entry.time;
            retire(rt, rec);
          }
        }
      });
    }
    default:
      return state;
  }
}

function runningOf(rt: RankTable | undefined): ProcRecord[] {
  const out: ProcRecord[] = [];
  if (rt) for (const shard of Object.values(rt.running)) out.push(...Object.values(shard));
  return out;
}

/** every record, ordered by rank and then by start */
export function records(state: ProcTable): ProcRecord[] {
  const out: ProcRecord[] = [];
  for (const rt of Object.values(state.ranks)) {
    out.push(...runningOf(rt));
    for (const page of rt.history) out.push(...page);
  }
  return out.sort((a, b) => a.rank - b.rank || a.ord - b.ord);
}

/** the running processes, ordered as records() orders them */
export function running(state: ProcTable): ProcRecord[] {
  const out: ProcRecord[] = [];
  for (const rt of Object.values(state.ranks)) out.push(...runningOf(rt));
  return out.sort((a, b) => a.rank - b.rank || a.ord - b.ord);
}

export function initialTable(): ProcTable {
  return { ranks: {} };
}

function loadTable(saved: unknown): ProcTable {
  const t = saved as ProcTable | null;
  if (typeof t !== 'object' || t === null || typeof t.ranks !== 'object' || t.ranks === null) {
    throw new FluxError(EPROTO, 'process table snapshot is malformed');
  }
  for (const rt of Object.values(t.ranks)) {
    if (typeof rt !== 'object' || rt === null || !isId(rt.next) || typeof rt.running !== 'object' || rt.running === null
      || !Array.isArray(rt.history) || !rt.history.every(Array.isArray)) {
      throw new FluxError(EPROTO, 'process table snapshot is malformed');
    }
  }
  return t;
}

export const proctableProjection: Projection<ProcTable> = {
  name: PROCTABLE,
  initial: initialTable,
  apply: (state, entry) => applyEntry(state, entry),
  save: (state) => state,
  load: loadTable,
};
