// canonical() against a reference written from its definition (keys sorted by code unit at every level, no white
// space, undefined members left out, anything JSON cannot say refused): equal text, or both refuse. The values
// lean on what makes the fast way step aside: index-like keys, __proto__, non-finite numbers, Buffers, holes.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { type JsonPieces, arrayPieces, canonical, canonicalWith, encodeEntry } from '../../src/core/journal/entry.js';

function reference(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('not finite');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!(i in v)) throw new Error('hole');
    return `[${v.map(reference).join(',')}]`;
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(o[k])}`).join(',')}}`;
  }
  throw new Error(`a ${typeof v}`);
}

const key = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('0', '1', '9', '10', '01', '-1', '1.5', '4294967294', '4294967295', '9007199254740993', '__proto__', 'a', 'B', 'é', '\u{1F600}'),
);
/**
 * an object built member by member in the order drawn, so that own-key order is whatever the draw made it, or
 * (`inOrder`) in key order, as canonical() takes as it is unless a member's value must change
 */
const objectOf = (value: fc.Arbitrary<unknown>, inOrder: boolean) => fc.array(fc.tuple(key, fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 6, arbitrary: value })), { maxLength: 6 })
  .map((members) => {
    const o: Record<string, unknown> = {};
    if (inOrder) members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [k, v] of members) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  });
const leaf = fc.oneof(
  { weight: 8, arbitrary: fc.oneof(fc.string({ maxLength: 8 }), fc.boolean(), fc.constant(null), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -0, 2 ** 53 + 2) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from('ab'), () => 1, 10n, Symbol('s')) },
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    objectOf(tie('value'), false),
    objectOf(tie('value'), true),
    fc.array(tie('value'), { maxLength: 4 }).map((a) => {
      const holed = [...a];
      holed.length += 1;
      return holed;
    })),
}));

/**
 * `text` cut after every `every`th code point. Never inside a surrogate pair: each piece is written as UTF-8 on its
 * own, and pieces are whole JSON texts, in which JSON.stringify writes a lone surrogate as an escape.
 */
const cut = (text: string, every: number): string[] => {
  const points = Array.from(text);
  const n = Math.max(1, every);
  const out: string[] = [];
  for (let i = 0; i < points.length; i += n) out.push(points.slice(i, i + n).join(''));
  return out;
};

const outcome = (f: () => string): { text: string } | { refused: true } => {
  try {
    return { text: f() };
  } catch {
    return { refused: true };
  }
};

describe('canonical JSON', () => {
  it('is the reference text for any value, or refused where the reference refuses', () => {
    fc.assert(fc.property(value, (v) => {
      expect(outcome(() => canonical(v))).toEqual(outcome(() => reference(v)));
    }), { numRuns: 3000 });
  });

  it('an object with some members written beforehand is the reference text', () => {
    fc.assert(fc.property(objectOf(value, false), fc.array(fc.boolean(), { maxLength: 6 }), (o, pick) => {
      const known: Record<string, JsonPieces> = {};
      Object.keys(o).forEach((k, i) => {
        if (pick[i] === true && o[k] !== undefined) {
          const written = outcome(() => canonical(o[k]));
          // known text comes whole or in pieces, as a commit's ops do
          if ('text' in written) known[k] = i % 2 === 0 ? written.text : cut(written.text, i);
        }
      });
      expect(outcome(() => canonicalWith(o, known).join(''))).toEqual(outcome(() => reference(o)));
    }), { numRuns: 2000 });
  });

  it('an array in pieces is its JSON text, however many pieces it takes', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1100 }), fc.jsonValue({ maxDepth: 2 }), (n, v) => {
      const a = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? v : i));
      expect(arrayPieces(a).join('')).toBe(JSON.stringify(a));
    }), { numRuns: 200 });
  });

  it('an entry written from its payload in pieces is the entry written from the payload', () => {
    // a long member takes the entry past the size below which its pieces are joined before they are encoded
    fc.assert(fc.property(objectOf(value, true), fc.nat({ max: 40 }), fc.boolean(), (drawn, at, long) => {
      const payload = long ? { ...drawn, '~long': 'é\u{1F600}'.repeat(25_000) } : drawn;
      const text = outcome(() => canonical(payload));
      fc.pre('text' in text);
      const e = { seq: 2, prev: 'sha1-00', time: 1.5, topic: 't\u00e9', userid: 5, rolemask: 1, flags: 0, payload };
      const pieces = cut((text as { text: string }).text, long ? 1000 + at * 100 : at);
      expect(encodeEntry(e, pieces).equals(encodeEntry(e))).toBe(true);
    }), { numRuns: 600 });
  });

  it('a large entry the fast way takes is the reference text', () => {
    const ops = Array.from({ length: 2000 }, (_, i) => ({ key: `k${i}`, flags: 0, dirent: { ver: 1, type: 'val', data: 'dg==' } }));
    const entry = { rootseq: 3, names: ['primary'], ops, keys: ops.map((o) => o.key), nested: { z: { y: [1, { b: 2, a: 1 }] } } };
    expect(canonical(entry)).toBe(reference(entry));
  });
});
