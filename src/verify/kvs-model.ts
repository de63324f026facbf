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

/**
 * writes: the version that holds them (a fraction may follow: the write's place among those merged into that
 * version); reads: the value, null when the key does not exist
 */
export type KvsOutput = { version: number } | { value: string | null };

export type KvsOp = Operation<KvsInput, KvsOutput>;

/** the version a write's answer gave, undefined for a read's answer or none */
export const versionOf = (output: KvsOutput | undefined): number | undefined => (output && 'version' in output ? output.version : undefined);

/** one linearized write, newest first: states share their pasts instead of copying them */
interface Step {
  /** the version that made it, undefined when that is unknown (the write's outcome was not seen) */
  version: number | undefined;
  value: string | null;
  prev: Step | undefined;
  /** the newest write at or below this one whose version is known (this one, when its version is) */
  known: Known;
}

/**
 * A write of known version, linked to the known one before it and to one further back, in skew-binary jumps
 * (Myers' random-access lists): a search back along the known versions, which only grow, takes O(log n) steps,
 * where a walk of the history took one per write, and a read at a past version of a long history walked most of it.
 */
interface Known extends Step {
  version: number;
  down: Known | undefined;
  jump: Known;
  depth: number;
}

function knownStep(version: number, value: string | null, prev: Step | undefined): Known {
  const down = prev?.known;
  const step = { version, value, prev, down, depth: down ? down.depth + 1 : 0 } as Known;
  step.known = step;
  const j = down?.jump;
  step.jump = !down ? step : j && down.depth - j.depth === j.depth - j.jump.depth ? j.jump : down;
  return step;
}

interface KeyState {
  hist: Step;
  /** the highest known version among the linearized writes */
  lastKnown: number;
  /** the highest version that a linearized read-at-version has shown to exist */
  readFloor: number;
  /** a digest of the whole history (memoization compares states by it, not by walking the history) */
  digest: string;
}

const isWrite = (i: KvsInput) => i.f === 'put' || i.f === 'unlink' || i.f === 'append';

/** FNV-1a over `more`, from the two 32-bit halves of `digest` (64 bits: a collision in one run is not a worry) */
function extend(digest: string, more: string): string {
  const [a0, b0] = digest.split(':').map((x) => parseInt(x, 36));
  let a = a0!;
  let b = b0!;
  for (let i = 0; i < more.length; i++) {
    const c = more.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c ^ (a >>> 7), 0x01000193) >>> 0;
  }
  return `${a.toString(36)}:${b.toString(36)}`;
}

/** the values the key may have had at version v, given the writes in their linearized order (newest first) */
export function valuesAt(hist: Step, v: number): Array<string | null> {
  const above = (k: Known) => Math.floor(k.version) > v;
  // the last known write at or below v, and the writes of unknown version after it and before any known above v
  let k: Known | undefined = hist.known;
  let from: Step | undefined = hist;
  if (above(k)) {
    while (k.down && above(k.down)) k = above(k.jump) ? k.jump : k.down;
    from = k.prev;
    k = k.down;
  }
  const unknown: Array<string | null> = [];
  for (let s = from; s && s !== k; s = s.prev) unknown.push(s.value);
  return k ? [k.value, ...unknown] : unknown;
}

export const kvsModel: Model<KeyState, KvsInput, KvsOutput> = {
  init: () => ({ hist: knownStep(0, null, undefined), lastKnown: 0, readFloor: 0, digest: '0:0' }),

  step(s, input, output) {
    const cur = s.hist.value;
    if (isWrite(input)) {
      const version = versionOf(output);
      // versions come from one sequencer: writes are linearized in version order, and after any version a read showed
      if (version !== undefined && (version < s.lastKnown || Math.floor(version) <= s.readFloor)) return undefined;
      const value = input.f === 'put' ? input.value : input.f === 'unlink' ? null : (cur ?? '') + input.value;
      return {
        hist: version === undefined ? { version, value, prev: s.hist, known: s.hist.known } : knownStep(version, value, s.hist),
        lastKnown: version ?? s.lastKnown,
        readFloor: s.readFloor,
        digest: extend(s.digest, `${version ?? '?'}=${value ?? '\u0000'};`),
      };
    }
    // a read whose answer was not seen tells nothing
    if (output === undefined || !('value' in output)) return s;
    if (input.f === 'get') return output.value === cur ? s : undefined;
    if (input.f === 'get-at') {
      if (!valuesAt(s.hist, input.version).includes(output.value)) return undefined;
      return input.version > s.readFloor ? { ...s, readFloor: input.version } : s;
    }
    return undefined;
  },

  key: (s) => `${s.readFloor}|${s.digest}`,

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
