// Where each write landed, read from the sequencer's own record: every KVS setroot entry lists its batch's ops in
// the order they were applied. Values are unique per write, so a put or append is found by value: an
// acknowledged one must be in the version it was acknowledged with, a refused one nowhere, and one whose
// outcome was not seen is settled by whether it is there; an unlink, which has no value, by the unlinks no
// acknowledged one took. A write's place in its batch breaks the tie between writes merged into one version (the
// response gives only the version). From all that, the history the checker takes.
import { versionOf, type KvsInput, type KvsOp, type KvsOutput } from './kvs-model.js';
import { firstWhere } from './bisect.js';

export interface SetrootOp {
  key: string;
  flags: number;
  /** the value for a put or append, null for an unlink */
  value: string | null;
}

/** a write as the history records it (its output, when seen, the version it was acknowledged with) */
export interface WriteRecord {
  id: number;
  input: KvsInput;
  output?: KvsOutput;
  refused?: boolean;
  call: number;
}

export interface Attribution {
  /** write id -> version + place in the batch as a fraction (v < exact < v + 1); absent: not in the journal */
  exact: Map<number, number>;
  problems: string[];
}

const APPEND = 32;

/** batches: rootseq -> the batch's ops in order */
export function attribute(writes: WriteRecord[], batches: Map<number, SetrootOp[]>): Attribution {
  const exact = new Map<number, number>();
  const problems: string[] = [];
  const place = (v: number, i: number, n: number) => v + (i + 1) / (n + 1);
  // where each put/append value sits, by kind, key and value: maps of maps, as a key made of the three joined was
  // a new string to hash for every op of the journal and every write of the history (a third of the time here)
  type Place = { v: number; i: number; n: number };
  const byKind = { put: new Map<string, Map<string, Place>>(), append: new Map<string, Map<string, Place>>() };
  const at = (f: 'put' | 'append', key: string) => {
    let m = byKind[f].get(key);
    if (m === undefined) byKind[f].set(key, (m = new Map()));
    return m;
  };
  for (const [v, ops] of batches) {
    ops.forEach((op, i) => {
      if (op.value !== null) at(op.flags & APPEND ? 'append' : 'put', op.key).set(op.value, { v, i, n: ops.length });
    });
  }
  const usedUnlinks = new Set<string>();
  const lostUnlinks = new Map<string, WriteRecord[]>();
  for (const w of writes) {
    const inp = w.input;
    const version = versionOf(w.output);
    if (inp.f === 'put' || inp.f === 'append') {
      const found = byKind[inp.f].get(inp.key)?.get(inp.value);
      if (found) exact.set(w.id, place(found.v, found.i, found.n));
      if (w.refused && found) problems.push(`${inp.f} ${inp.key} ${inp.value} was refused but is in version ${found.v}`);
      if (version !== undefined && found?.v !== version) {
        problems.push(`${inp.f} ${inp.key} ${inp.value} was acknowledged with version ${version} but is ${found ? `in version ${found.v}` : 'not in the journal'}`);
      }
    } else if (inp.f === 'unlink' && version === undefined && !w.refused) {
      const list = lostUnlinks.get(inp.key) ?? [];
      list.push(w);
      lostUnlinks.set(inp.key, list);
    } else if (inp.f === 'unlink' && version !== undefined) {
      // unlinks carry no value: an acknowledged one takes the first unlink of its key in its batch not yet taken
      const ops = batches.get(version) ?? [];
      const i = ops.findIndex((op, j) => op.key === inp.key && op.value === null && !usedUnlinks.has(`${version}\n${j}`));
      if (i < 0) problems.push(`unlink ${inp.key} was acknowledged with version ${version} but that version has no such unlink`);
      else {
        usedUnlinks.add(`${version}\n${i}`);
        exact.set(w.id, place(version, i, ops.length));
      }
    }
  }
  // The journal's unlinks that no acknowledged one took are those whose answer was lost. They all do the same, so
  // the earliest called takes the earliest version: any other matching allows no linearization this one does not.
  // Those left over did not happen. Left unplaced, each would have been a write the search may put anywhere after
  // its call, and a read at a past version far later may be what rules a place out: the search went back that far.
  // (keys the clients did not write are another writer's)
  const keys = new Set(writes.map((w) => w.input.key));
  const orphans = new Map<string, number[]>();
  for (const v of [...batches.keys()].sort((a, b) => a - b)) {
    const ops = batches.get(v)!;
    ops.forEach((op, i) => {
      if (op.value !== null || usedUnlinks.has(`${v}\n${i}`) || !keys.has(op.key)) return;
      const list = orphans.get(op.key) ?? [];
      list.push(place(v, i, ops.length));
      orphans.set(op.key, list);
    });
  }
  for (const [key, places] of orphans) {
    const lost = (lostUnlinks.get(key) ?? []).sort((a, b) => a.call - b.call);
    places.forEach((at, j) => {
      if (j < lost.length) exact.set(lost[j]!.id, at);
      else problems.push(`unlink ${key} in version ${Math.floor(at)} is no unlink a client made (acknowledged or unanswered)`);
    });
  }
  return { exact, problems };
}

/** one KVS operation as the workload recorded it */
export interface KvsRecord {
  id: number;
  client: number;
  input: KvsInput;
  call: number;
  ret: number;
  /** absent when no answer was seen */
  output?: KvsOutput;
  refused?: boolean;
}

/**
 * The KVS operations as the checker takes them. Refused ones did nothing, reads whose answer was lost tell nothing,
 * and writes whose answer was lost that the journal does not hold did not happen: all are left out. A write's
 * version is refined by its place in its batch. A write the journal holds whose answer was lost took effect when
 * its version was made, which one sequencer did in order: after every write acknowledged with a version at or
 * below its own was called, and before any acknowledged at or above it returned. That is its interval, so the
 * search must place it, and near where it happened: an operation that never returned may be left out, and one
 * left out, or placed early, was found wrong only where a read at a past version much later needed it.
 */
export function settle(records: readonly KvsRecord[], exact: Map<number, number>): KvsOp[] {
  const acked: Array<{ version: number; call: number; ret: number }> = [];
  for (const r of records) {
    const version = versionOf(r.output);
    if (!r.refused && version !== undefined) acked.push({ version, call: r.call, ret: r.ret });
  }
  acked.sort((a, b) => a.version - b.version);
  /** the latest call among the acknowledged writes up to index i, and the earliest return from index i on */
  const latestCall = acked.map((a) => a.call);
  for (let i = 1; i < latestCall.length; i++) latestCall[i] = Math.max(latestCall[i]!, latestCall[i - 1]!);
  const earliestRet = acked.map((a) => a.ret);
  for (let i = earliestRet.length - 2; i >= 0; i--) earliestRet[i] = Math.min(earliestRet[i]!, earliestRet[i + 1]!);
  /** the first acknowledged write whose version is at or above v (as many as there are when none is) */
  const firstAt = (v: number) => firstWhere(acked.length, (i) => acked[i]!.version >= v);
  const out: KvsOp[] = [];
  for (const r of records) {
    if (r.refused) continue;
    const at = exact.get(r.id);
    const write = r.input.f === 'put' || r.input.f === 'append' || r.input.f === 'unlink';
    if (!write || at === undefined) {
      if (r.output) out.push({ id: r.id, client: r.client, input: r.input, output: r.output, call: r.call, ret: r.ret });
      continue;
    }
    if (r.output) {
      out.push({ id: r.id, client: r.client, input: r.input, output: { version: at }, call: r.call, ret: r.ret });
      continue;
    }
    const v = Math.floor(at);
    const below = firstAt(v + 1) - 1;
    const above = firstAt(v);
    const call = Math.max(r.call, below >= 0 ? latestCall[below]! : -Infinity);
    const ret = above < acked.length ? Math.max(call, earliestRet[above]!) : Infinity;
    out.push({ id: r.id, client: r.client, input: r.input, output: { version: at }, call, ret });
  }
  return out;
}

/** a key's values along the versions that changed it: `versions[i]` made it `values[i]`; before the first, it did not exist */
export interface KeyTimeline {
  versions: number[];
  values: Array<string | null>;
}

/**
 * Every key's timeline, replayed from the setroot ops in one pass (merged ops applied in their order, a version
 * counted once per key): the watch and replica-read checks of an hour's journal (over a million versions) take it.
 */
export function keyTimelines(batches: Map<number, SetrootOp[]>): Map<string, KeyTimeline> {
  const out = new Map<string, KeyTimeline>();
  for (const v of [...batches.keys()].sort((a, b) => a - b)) {
    for (const op of batches.get(v)!) {
      let t = out.get(op.key);
      if (t === undefined) out.set(op.key, (t = { versions: [], values: [] }));
      const last = t.versions.length - 1;
      const before = last < 0 ? null : t.values[last]!;
      const value = op.value === null ? null : op.flags & APPEND ? (before ?? '') + op.value : op.value;
      if (t.versions[last] === v) t.values[last] = value;
      else {
        t.versions.push(v);
        t.values.push(value);
      }
    }
  }
  return out;
}
