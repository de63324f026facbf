// Where each write landed, read from the sequencer's own record: every KVS setroot entry lists its batch's ops in
// the order they were applied. Values are unique per write, so a put or append is found by value: an
// acknowledged one must be in the version it was acknowledged with, a refused one nowhere, and one whose
// outcome was not seen is settled by whether it is there. A write's place in its batch breaks the tie between
// writes merged into one version (the response gives only the version).
import type { KvsInput } from './kvs-model.js';

export interface SetrootOp {
  key: string;
  flags: number;
  /** the value for a put or append, null for an unlink */
  value: string | null;
}

export interface WriteRecord {
  id: number;
  input: KvsInput;
  /** the version it was acknowledged with */
  version?: number;
  refused?: boolean;
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
  // where each put/append value sits
  const byValue = new Map<string, { v: number; i: number; n: number }>();
  for (const [v, ops] of batches) {
    ops.forEach((op, i) => {
      if (op.value !== null) byValue.set(`${op.key}\n${op.flags & APPEND ? 'append' : 'put'}\n${op.value}`, { v, i, n: ops.length });
    });
  }
  const usedUnlinks = new Set<string>();
  for (const w of writes) {
    const inp = w.input;
    if (inp.f === 'put' || inp.f === 'append') {
      const at = byValue.get(`${inp.key}\n${inp.f}\n${inp.value}`);
      if (at) exact.set(w.id, place(at.v, at.i, at.n));
      if (w.refused && at) problems.push(`${inp.f} ${inp.key} ${inp.value} was refused but is in version ${at.v}`);
      if (w.version !== undefined && at?.v !== w.version) {
        problems.push(`${inp.f} ${inp.key} ${inp.value} was acknowledged with version ${w.version} but is ${at ? `in version ${at.v}` : 'not in the journal'}`);
      }
    } else if (inp.f === 'unlink' && w.version !== undefined) {
      // unlinks carry no value: an acknowledged one takes the first unlink of its key in its batch not yet taken
      const ops = batches.get(w.version) ?? [];
      const i = ops.findIndex((op, j) => op.key === inp.key && op.value === null && !usedUnlinks.has(`${w.version}\n${j}`));
      if (i < 0) problems.push(`unlink ${inp.key} was acknowledged with version ${w.version} but that version has no such unlink`);
      else {
        usedUnlinks.add(`${w.version}\n${i}`);
        exact.set(w.id, place(w.version, i, ops.length));
      }
    }
  }
  return { exact, problems };
}

/** the key's value after each version that touched it (the first: before any), replayed from the setroot ops */
export function keyHistory(key: string, batches: Map<number, SetrootOp[]>): Array<string | null> {
  const out: Array<string | null> = [null];
  let cur: string | null = null;
  for (const v of [...batches.keys()].sort((a, b) => a - b)) {
    const ops = batches.get(v)!.filter((op) => op.key === key);
    if (ops.length === 0) continue;
    for (const op of ops) cur = op.value === null ? null : op.flags & APPEND ? (cur ?? '') + op.value : op.value;
    out.push(cur);
  }
  return out;
}
