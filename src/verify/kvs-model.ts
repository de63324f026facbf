// The sequential model of the KVS the checker holds a history to: a map of registers, one per key. Writes (put,
// unlink, append) answer with the version (rootseq) that holds them; a read at version V must return the value
// the key had once version V was made. Keys are independent, so the history is checked one key at a time.
import type { Model, Operation } from './linearizability.js';

export type KvsInput =
  | { f: 'put'; key: string; value: string }
  | { f: 'unlink'; key: string }
  | { f: 'append'; key: string; value: string }
  | { f: 'get'; key: string }
  | { f: 'get-at'; key: string; version: number };

/** writes: the version that holds them; reads: the value, null when the key does not exist */
export type KvsOutput = { version: number } | { value: string | null };

export type KvsOp = Operation<KvsInput, KvsOutput>;

interface Step {
  /** the version that made it, undefined when that is unknown (the write's outcome was not seen) */
  version: number | undefined;
  value: string | null;
}

interface KeyState {
  /** every write linearized so far, oldest first; the first is the empty start */
  hist: readonly Step[];
  /** the highest version that a linearized read-at-version has shown to exist */
  readFloor: number;
}

const isWrite = (i: KvsInput) => i.f === 'put' || i.f === 'unlink' || i.f === 'append';

function lastKnown(hist: readonly Step[]): number {
  for (let i = hist.length - 1; i >= 0; i--) if (hist[i]!.version !== undefined) return hist[i]!.version!;
  return 0;
}

/** the values the key may have had at version v, given the writes in their linearized order */
export function valuesAt(hist: readonly Step[], v: number): Array<string | null> {
  let i = 0;
  for (let j = 0; j < hist.length; j++) if (hist[j]!.version !== undefined && hist[j]!.version! <= v) i = j;
  const out = [hist[i]!.value];
  // writes whose version is unknown, between the last known one at or below v and the first above it
  for (let j = i + 1; j < hist.length && !(hist[j]!.version !== undefined && hist[j]!.version! > v); j++) out.push(hist[j]!.value);
  return out;
}

export const kvsModel: Model<KeyState, KvsInput, KvsOutput> = {
  init: () => ({ hist: [{ version: 0, value: null }], readFloor: 0 }),

  step(s, input, output) {
    const cur = s.hist[s.hist.length - 1]!.value;
    if (isWrite(input)) {
      const version = output && 'version' in output ? output.version : undefined;
      // versions come from one sequencer: writes are linearized in version order, and after any version a read showed
      if (version !== undefined && (version < lastKnown(s.hist) || version <= s.readFloor)) return undefined;
      const value = input.f === 'put' ? input.value : input.f === 'unlink' ? null : (cur ?? '') + input.value;
      return { hist: [...s.hist, { version, value }], readFloor: s.readFloor };
    }
    // a read whose answer was not seen tells nothing
    if (output === undefined || !('value' in output)) return s;
    if (input.f === 'get') return output.value === cur ? s : undefined;
    if (input.f === 'get-at') {
      if (!valuesAt(s.hist, input.version).includes(output.value)) return undefined;
      return input.version > s.readFloor ? { hist: s.hist, readFloor: input.version } : s;
    }
    return undefined;
  },

  key: (s) => `${s.readFloor}|${s.hist.map((h) => `${h.version ?? '?'}=${h.value ?? '∅'}`).join(';')}`,

  partition(ops) {
    const out = new Map<string, KvsOp[]>();
    for (const o of ops) {
      const list = out.get(o.input.key) ?? [];
      list.push(o);
      out.set(o.input.key, list);
    }
    return out;
  },

  describe(o) {
    const i = o.input;
    const arg = i.f === 'put' || i.f === 'append' ? `(${i.value})` : i.f === 'get-at' ? `@${i.version}` : '';
    const res = o.output === undefined ? '?' : 'version' in o.output ? `v${o.output.version}` : JSON.stringify(o.output.value);
    return `#${o.id} client ${o.client} ${i.f} ${i.key}${arg} -> ${res}  [${o.call.toFixed(3)}, ${o.ret === Infinity ? '∞' : o.ret.toFixed(3)}]`;
  },
};
