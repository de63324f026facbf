// The JSON writer's two paths: a plain value goes through JSON.stringify, checked afterwards for the escapes it writes
// otherwise than jansson; anything else is written piece by piece. Both must write the same text for the same value,
// for strings of every kind (control characters, lone and paired surrogates, quotes, backslashes before a u) and for
// numbers past what an integer or a double's shortest text writes alike.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { dumpJson, type JValue } from '../../src/core/kvs/format-json.js';

/** the same value with every object a Map in the object's own order, which only the piece-by-piece path writes */
function asMaps(v: unknown): JValue {
  if (Array.isArray(v)) return v.map(asMaps);
  if (v !== null && typeof v === 'object') return new Map(Object.entries(v).map(([k, x]) => [k, asMaps(x)]));
  return v as JValue;
}

const text = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.constantFrom('\\', 'u', '"', '\u0000', '\u000b', '\u001f', '\u007f', '\ud83d', '\ude00', '\u2028', 'a') }),
);

const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text, fc.boolean(), fc.constant(null), fc.maxSafeInteger(), fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(text, tie('value'), { maxKeys: 4 }),
  ),
}));

describe('the JSON writer', () => {
  it('writes a plain value through JSON.stringify exactly as it writes it piece by piece', () => {
    fc.assert(
      fc.property(fc.oneof(fc.array(value, { maxLength: 5 }), fc.dictionary(text, value, { maxKeys: 5 })), (v) => {
        // the reference inside a Map: written piece by piece even where the value holds no object
        expect(dumpJson({ v } as JValue)).toBe(dumpJson(new Map([['v', asMaps(v)]])));
      }),
      { numRuns: 2000 },
    );
  });
});
