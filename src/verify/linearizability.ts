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

/** the operations linearized so far, newest first: a prefix found is kept by reference, not copied */
interface Trail {
  op: number;
  prev: Trail | undefined;
  length: number;
  /** the highest linearized op before this one was */
  below: number;
}

function checkPart<S, I, O>(model: Model<S, I, O>, name: string, history: Array<Operation<I, O>>, maxStates: number): CheckResult<I, O> {
  const ops = [...history].sort((a, b) => a.call - b.call || a.ret - b.ret);
  const n = ops.length;
  /** operations that returned and are not yet linearized: the search is over when none is left */
  let open = ops.filter((o) => o.ret !== Infinity).length;
  const seen = new Set<string>();
  /**
   * The linearized set is every op up to `hi` but the `holes` (ascending), the ops below it not yet linearized: a
   * few concurrent ones, now and then one that returns long after, and those that never returned (which may take
   * effect at any time, or never). Keys and candidate scans cost what the holes do, not the distance from the
   * first of them to hi, which one op left out made the whole rest of the history.
   */
  let hi = -1;
  const holes: number[] = [];
  const memoKey = (s: S) => `${hi}:${holes.join(',')}|${model.key(s)}`;

  interface Frame { state: S; candidates: number[]; next: number; at: Trail | undefined }
  const stack: Frame[] = [];
  let best: Trail | undefined;

  /**
   * ops that may be linearized next: not done, called no later than every not-done op has returned. In call
   * order, an op called after the smallest return so far cannot lower it (it returns after its call), so the
   * scan stops there.
   */
  const candidatesOf = (): number[] => {
    let minRet = Infinity;
    const out: number[] = [];
    const take = (i: number) => {
      if (ops[i]!.call > minRet) return false;
      out.push(i);
      if (ops[i]!.ret < minRet) minRet = ops[i]!.ret;
      return true;
    };
    for (const i of holes) if (!take(i)) return out;
    for (let i = hi + 1; i < n && take(i); i++);
    return out;
  };
  /** linearize op i; undone only in reverse order, by `unmark(i, below)` with what this returned */
  const mark = (i: number): number => {
    const below = hi;
    if (ops[i]!.ret !== Infinity) open--;
    if (i > hi) {
      for (let j = hi + 1; j < i; j++) holes.push(j);
      hi = i;
    } else holes.splice(holes.indexOf(i), 1);
    return below;
  };
  const unmark = (i: number, below: number) => {
    if (ops[i]!.ret !== Infinity) open++;
    if (i === hi) {
      while (holes.length > 0 && holes[holes.length - 1]! > below) holes.pop();
      hi = below;
    } else {
      let at = holes.length;
      while (at > 0 && holes[at - 1]! > i) at--;
      holes.splice(at, 0, i);
    }
  };

  let state = model.init();
  seen.add(memoKey(state));
  stack.push({ state, candidates: candidatesOf(), next: 0, at: undefined });
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
      const below = mark(i);
      const k = memoKey(after);
      if (seen.has(k)) {
        unmark(i, below);
        continue;
      }
      seen.add(k);
      const at = { op: i, prev: top.at, length: (top.at?.length ?? 0) + 1, below };
      if (at.length > (best?.length ?? 0)) best = at;
      stack.push({ state: after, candidates: candidatesOf(), next: 0, at });
      advanced = true;
      break;
    }
    if (advanced) continue;
    stack.pop();
    if (top.at) unmark(top.at.op, top.at.below);
  }
  // what could not follow the longest prefix found
  const prefix: number[] = [];
  for (let t = best; t; t = t.prev) prefix.push(t.op);
  prefix.reverse();
  for (const i of prefix) mark(i);
  const linearized = prefix.map((i) => ops[i]!);
  const stuck = candidatesOf().map((i) => ops[i]!);
  const show = (o: Operation<I, O>) => (model.describe ? model.describe(o) : JSON.stringify(o));
  const reason = `no linearization of ${n} operations${name ? ` on ${name}` : ''}: the longest linearizable prefix has ` +
    `${linearized.length}; none of these can follow it:\n${stuck.map((o) => `  ${show(o)}`).join('\n')}`;
  return { ok: false, partition: name, explored: seen.size, reason, linearized, stuck };
}
