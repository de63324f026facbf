// A linearizability checker in the Wing–Gong style with Porcupine's two speed-ups: the search remembers every
// (set of linearized operations, model state) pair it has already explored, and the history is split into
// independent parts (one per key) that are checked one at a time, which is sound because linearizability is
// compositional (P-compositionality: a history is linearizable iff each per-key sub-history is).

/** one operation of a history: when it was called, when it returned, and with what */
export interface Operation<I, O> {
  id: number;
  client: number;
  input: I;
  /** undefined when the outcome is unknown (timed out, connection lost): the operation may or may not have taken effect */
  output: O | undefined;
  call: number;
  /** Infinity for an operation that never returned: it may take effect any time after `call`, or never */
  ret: number;
}

export interface Model<S, I, O> {
  init(): S;
  /** the state after applying `input` with result `output` in state `s`, or undefined when that result is impossible there */
  step(s: S, input: I, output: O | undefined): S | undefined;
  /** a string that is equal for equal states (memoization) */
  key(s: S): string;
  /** the independent sub-histories; the whole history when absent */
  partition?(ops: Array<Operation<I, O>>): Map<string, Array<Operation<I, O>>>;
  describe?(op: Operation<I, O>): string;
}

export type CheckResult<I, O> =
  | { ok: true; explored: number }
  | { ok: false; partition: string; explored: number; reason: string; linearized: Array<Operation<I, O>>; stuck: Array<Operation<I, O>> }
  | { ok: 'unknown'; partition: string; explored: number; reason: string };

export interface CheckOptions {
  /** give up (result 'unknown') after exploring this many states in one partition */
  maxStates?: number;
}

/** whether the history has a linearization that the model accepts */
export function check<S, I, O>(model: Model<S, I, O>, history: Array<Operation<I, O>>, opts: CheckOptions = {}): CheckResult<I, O> {
  const parts = model.partition ? model.partition(history) : new Map([['', history]]);
  let explored = 0;
  let undecided: CheckResult<I, O> | undefined;
  for (const [name, ops] of parts) {
    const r = checkPart(model, name, ops, opts.maxStates ?? 2_000_000);
    explored += r.explored;
    if (r.ok === false) return { ...r, explored };
    // the other parts may still hold a violation
    if (r.ok === 'unknown') undecided ??= r;
  }
  return undecided ? { ...undecided, explored } : { ok: true, explored };
}

function checkPart<S, I, O>(model: Model<S, I, O>, name: string, history: Array<Operation<I, O>>, maxStates: number): CheckResult<I, O> {
  const ops = [...history].sort((a, b) => a.call - b.call || a.ret - b.ret);
  const n = ops.length;
  const done = new Uint8Array(n);
  /** operations that returned and are not yet linearized: the search is over when none is left */
  let open = ops.filter((o) => o.ret !== Infinity).length;
  const seen = new Set<string>();
  /** every op below this index is linearized: keys and candidate scans start here, so a long history stays cheap */
  let lo = 0;
  let doneCount = 0;
  /** the linearized set as (lo, the linearized ops above lo): all that can differ lies in a window at lo */
  const memoKey = (s: S) => {
    const above: number[] = [];
    for (let i = lo, want = doneCount - lo; above.length < want; i++) if (done[i]) above.push(i - lo);
    return `${lo}:${above.join(',')}|${model.key(s)}`;
  };

  interface Frame { state: S; candidates: number[]; next: number; chosen: number }
  const stack: Frame[] = [];
  let best: number[] = [];
  const trail: number[] = [];

  /**
   * ops that may be linearized next: not done, called no later than every not-done op has returned. In call
   * order, an op called after the smallest return so far cannot lower it (it returns after its call), so the
   * scan stops there.
   */
  const candidatesOf = (): number[] => {
    let minRet = Infinity;
    const out: number[] = [];
    for (let i = lo; i < n && ops[i]!.call <= minRet; i++) {
      if (done[i]) continue;
      out.push(i);
      if (ops[i]!.ret < minRet) minRet = ops[i]!.ret;
    }
    return out;
  };
  const mark = (i: number, on: boolean) => {
    done[i] = on ? 1 : 0;
    doneCount += on ? 1 : -1;
    if (on) while (lo < n && done[lo]) lo++;
    else if (i < lo) lo = i;
    if (ops[i]!.ret !== Infinity) open += on ? -1 : 1;
  };

  let state = model.init();
  seen.add(memoKey(state));
  stack.push({ state, candidates: candidatesOf(), next: 0, chosen: -1 });
  while (stack.length > 0) {
    if (open === 0) return { ok: true, explored: seen.size };
    if (seen.size > maxStates) {
      return { ok: 'unknown', partition: name, explored: seen.size, reason: `gave up after ${seen.size} states` };
    }
    const top = stack[stack.length - 1]!;
    let advanced = false;
    while (top.next < top.candidates.length) {
      const i = top.candidates[top.next++]!;
      const op = ops[i]!;
      const after = model.step(top.state, op.input, op.output);
      if (after === undefined) continue;
      mark(i, true);
      const k = memoKey(after);
      if (seen.has(k)) {
        mark(i, false);
        continue;
      }
      seen.add(k);
      trail.push(i);
      if (trail.length > best.length) best = [...trail];
      stack.push({ state: after, candidates: candidatesOf(), next: 0, chosen: i });
      advanced = true;
      break;
    }
    if (advanced) continue;
    stack.pop();
    if (top.chosen >= 0) {
      mark(top.chosen, false);
      trail.pop();
    }
  }
  // what could not follow the longest prefix found
  for (const i of best) mark(i, true);
  const bestStuck = candidatesOf();
  for (const i of best) mark(i, false);
  const linearized = best.map((i) => ops[i]!);
  const stuck = bestStuck.map((i) => ops[i]!);
  const show = (o: Operation<I, O>) => (model.describe ? model.describe(o) : JSON.stringify(o));
  const reason = `no linearization of ${n} operations${name ? ` on ${name}` : ''}: the longest linearizable prefix has ` +
    `${linearized.length}; none of these can follow it:\n${stuck.map((o) => `  ${show(o)}`).join('\n')}`;
  return { ok: false, partition: name, explored: seen.size, reason, linearized, stuck };
}
