// jansson's JSON at the edges the other tests pass by: which byte starts a number, a high surrogate escape not
// followed by its pair, the named escapes on the slow path, and the byte order of lone surrogates.
import { describe, it, expect } from 'vitest';
import { byteCompare, dumpJson, parseJson } from '../../src/core/kvs/format-json.js';

describe('parsing', () => {
  it('a token below "0" is no number: refused as an invalid token', () => {
    for (const t of ['+1', '.5', '/', '*']) {
      expect(() => parseJson(`[${t}]`), t).toThrow(/^invalid JSON: invalid token near position 1$/);
    }
  });

  it('a high surrogate escape must be followed by a backslash and u, not just a u one further on', () => {
    expect(() => parseJson('["\\ud800xudc00"]')).toThrow(/^invalid JSON: invalid Unicode escape near position 8$/);
    expect(parseJson('["\\ud800\\udc00"]')).toEqual(['\u{10000}']);
  });
});

describe('writing', () => {
  it('writes the named escapes where the fast path is not taken', () => {
    const v = new Map([['k', 'a\bb\fc\rd\ne\tf"g\\h\u0001']]);
    expect(dumpJson(v)).toBe('{"k":"a\\bb\\fc\\rd\\ne\\tf\\"g\\\\h\\u0001"}');
    expect(dumpJson('\b\f\r', { sort: true })).toBe('"\\b\\f\\r"');
  });
});

describe('byte order', () => {
  it('lone surrogates are written as U+FFFD in UTF-8, so they compare equal', () => {
    expect(byteCompare('\ud800', '\udc00')).toBe(0);
    expect(byteCompare('\udc00', '\ud800')).toBe(0);
  });
});
