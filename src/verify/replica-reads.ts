// What a read served by a replica (a broker below rank 0, from its own projection) promises, checked against the
// sequencer's record of every version: the value read is the key's value at some version rank 0 made (a replica
// never shows a state rank 0 never had); a client's reads on one connection never go back; they include the
// client's own acknowledged writes; and a connection's first read includes every write acknowledged anywhere
// before it began (it waits until its broker has what rank 0 had). Each read is placed at the earliest version
// that fits, which is the placement that leaves the most room for the reads after it.
import type { KeyTimeline } from './attribution.js';
import { firstWhere } from './bisect.js';

export interface ReplicaRead {
  id: number;
  /** one connection: its reads and writes are in the order they were made, one at a time */
  session: number;
  rank: number;
  key: string;
  call: number;
  ret: number;
  /** the value read, null for a key that does not exist; absent when no answer was seen */
  value?: string | null;
}

export interface AckedWrite {
  session: number;
  /** the version it was acknowledged with */
  version: number;
  ret: number;
}

/** the first version at or after `lo` at which the key has `value`, or undefined */
export function firstVersionWith(t: KeyTimeline | undefined, value: string | null, lo: number): number | undefined {
  if (t === undefined) return value === null ? lo : undefined;
  // the last change at or before lo
  const a = firstWhere(t.versions.length, (i) => t.versions[i]! > lo);
  const atLo = a === 0 ? null : t.values[a - 1]!;
  if (atLo === value) return lo;
  for (let i = a; i < t.versions.length; i++) if (t.values[i] === value) return t.versions[i]!;
  return undefined;
}

/** the writes' returns in order, and the highest version among each prefix: what was acknowledged before a time */
interface Acked {
  rets: number[];
  maxima: number[];
}

/** writes sorted by ret */
function acked(writes: readonly AckedWrite[]): Acked {
  const rets: number[] = [];
  const maxima: number[] = [];
  for (const w of writes) {
    rets.push(w.ret);
    maxima.push(Math.max(w.version, maxima[maxima.length - 1] ?? 0));
  }
  return { rets, maxima };
}

/** the highest version among the writes acknowledged before `t` */
function floorBefore({ rets, maxima }: Acked, t: number): number {
  const a = firstWhere(rets.length, (i) => rets[i]! >= t);
  return a === 0 ? 0 : maxima[a - 1]!;
}

/** every broken promise, one line each; `lines`: every key's timeline (keyTimelines of the journal's setroots) */
export function checkReplicaReads(reads: ReplicaRead[], writes: AckedWrite[], lines: Map<string, KeyTimeline>): string[] {
  const problems: string[] = [];
  const sorted = [...writes].sort((a, b) => a.ret - b.ret);
  const everyone = acked(sorted);
  const bySession = new Map<number, AckedWrite[]>();
  for (const w of sorted) {
    const list = bySession.get(w.session) ?? [];
    list.push(w);
    bySession.set(w.session, list);
  }
  const ownWrites = new Map([...bySession].map(([session, list]) => [session, acked(list)]));
  const sessions = new Map<number, ReplicaRead[]>();
  for (const r of reads) {
    const list = sessions.get(r.session) ?? [];
    list.push(r);
    sessions.set(r.session, list);
  }
  for (const [session, list] of sessions) {
    list.sort((a, b) => a.call - b.call);
    const own = ownWrites.get(session);
    // the version the previous read was placed at
    let floor = 0;
    list.forEach((r, i) => {
      if (r.value === undefined) return;
      // the catch-up is promised to a connection's first read; a first read that got no answer leaves it unknown
      const before = i === 0 ? floorBefore(everyone, r.call) : 0;
      const mine = own ? floorBefore(own, r.call) : 0;
      const lo = Math.max(floor, before, mine);
      const v = firstVersionWith(lines.get(r.key), r.value, lo);
      if (v !== undefined) {
        floor = v;
        return;
      }
      const show = `read #${r.id} of ${r.key} on rank ${r.rank} (connection ${session}) returned ${JSON.stringify(r.value)}`;
      if (firstVersionWith(lines.get(r.key), r.value, 0) === undefined) {
        problems.push(`${show}, a value the key never had at any version rank 0 made`);
      } else if (lo === floor && floor > Math.max(before, mine)) {
        problems.push(`${show}: the same connection had already read version ${floor}, and the key is not that at or after it`);
      } else if (lo === mine && mine > before) {
        problems.push(`${show}: the connection's own write acknowledged with version ${mine} before the read began is not in it`);
      } else {
        problems.push(`${show}: the first read of its connection, older than version ${before}, acknowledged before it began`);
      }
    });
  }
  return problems;
}
