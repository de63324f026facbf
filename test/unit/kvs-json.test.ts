// jansson's JSON in detail: each refusal of the parser with its reason and position, every escape and the
// surrogate pairs at their bounds, whitespace, integers at the int64 bounds; the writer's fast path
// (JSON.stringify) taken only where it writes what jansson writes; C's %g on subnormals and where Math.log10
// misjudges the exponent.
import { describe, it, expect } from 'vitest';
import { JReal, byteCompare, cString, dumpJson, formatG, janssonReal, parseJson } from '../../src/core/kvs/format-json.js';

const refusal = (text: string, opts = {}): string => {
  try {
    parseJson(text, opts);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
};

describe('the parser', () => {
  it('names why and where it stops', () => {
    const cases: Array<[string, string]> = [
      ['1', "'[' or '{' expected near position 0"],
      ['', "'[' or '{' expected near position 0"],
      ['[1] x', 'end of file expected near position 4'],
      ['[fals]', 'invalid token near position 1'],
      ['[x]', 'invalid token near position 1'],
      ['[', 'invalid token near position 1'],
      ['{1:2}', "string or '}' expected near position 1"],
      ['{"a" 1}', "':' expected near position 5"],
      ['{"a":1 "b"}', "'}' expected near position 8"],
      ['[1 2]', "']' expected near position 4"],
      ['["\\u12"]', 'invalid escape near position 4'],
      ['["\\u012g"]', 'invalid escape near position 4'],
      ['["abc', 'premature end of input near position 5'],
      ['["a\tb"]', 'control character in string near position 3'],
      ['["\\x"]', 'invalid escape near position 4'],
      ['["\\udc00"]', 'invalid Unicode escape near position 8'],
      ['["\\udfff"]', 'invalid Unicode escape near position 8'],
      ['["\\ud800x"]', 'invalid Unicode escape near position 8'],
      ['["\\ud800\\n"]', 'invalid Unicode escape near position 8'],
      ['["\\ud800\\u0041"]', 'invalid Unicode escape near position 14'],
      ['["\\ud800\\udbff"]', 'invalid Unicode escape near position 14'],
      ['["\\ud800\\ue000"]', 'invalid Unicode escape near position 14'],
      ['["\\u0000"]', '\\u0000 is not allowed without JSON_ALLOW_NUL near position 8'],
      ['[-]', 'invalid number near position 1'],
      ['[-x1]', 'invalid number near position 1'],
      ['[1.5.2]', 'invalid number near position 4'],
      ['[1.]', 'invalid number near position 2'],
      ['[1e]', 'invalid number near position 2'],
      ['[01]', 'invalid number near position 2'],
      ['[9223372036854775808]', 'too big integer near position 20'],
      ['[-9223372036854775809]', 'too big integer near position 21'],
      ['[1e400]', 'real number overflow near position 6'],
    ];
    for (const [text, why] of cases) expect(refusal(text), text).toBe(`invalid JSON: ${why}`);
    expect(refusal('{"a\\u0000b":1}', { allowNul: true })).toBe('invalid JSON: NUL byte in object key not supported near position 11');
  });

  it('reads every escape, surrogate pairs at their bounds, and the characters just outside them as themselves', () => {
    expect(parseJson('["\\"\\\\\\/\\b\\f\\n\\r\\t", " ~"]')).toEqual(['"\\/\b\f\n\r\t', ' ~']);
    expect(parseJson('["\\ud800\\udc00", "\\udbff\\udfff", "\\ud7ff", "\\ue000", "\\u00e9\\u0041"]'))
      .toEqual(['\u{10000}', '\u{10ffff}', '\ud7ff', '\ue000', 'éA']);
  });

  it('skips spaces, tabs, newlines and carriage returns between tokens', () => {
    expect(parseJson('\t[\n1\r,\r\n2 ,\ttrue,false , null]\n')).toEqual([1n, 2n, true, false, null]);
    expect(parseJson('{ "a" :\t1 ,\n"b":[ ] , "c" : { } }')).toEqual(new Map<string, unknown>([['a', 1n], ['b', []], ['c', new Map()]]));
  });

  it('reads integers to the int64 bounds, reals as reals, and a bare value when any is asked', () => {
    expect(parseJson('[9223372036854775807,-9223372036854775808,-0,12]')).toEqual([(1n << 63n) - 1n, -(1n << 63n), 0n, 12n]);
    expect(parseJson('[1E+2,1e-2,0.5]')).toEqual([new JReal(100), new JReal(0.01), new JReal(0.5)]);
    expect(parseJson('1', { any: true })).toBe(1n);
    expect(parseJson('false', { any: true })).toBe(false);
  });
});

describe('the writer', () => {
  it('writes what jansson writes, where JSON.stringify would not', () => {
    // jansson escapes control characters in upper case
    expect(dumpJson({ c: '\u001f' })).toBe('{"c":"\\u001F"}');
    // integers past 2^53 and reals: digits, and %.17g
    expect(dumpJson({ n: 1e21 })).toBe('{"n":1000000000000000000000}');
    expect(dumpJson({ r: 0.1 })).toBe('{"r":0.10000000000000001}');
    expect(dumpJson({ n: 10n })).toBe('{"n":10}');
    expect(dumpJson({ r: new JReal(3) })).toBe('{"r":3.0}');
    expect(dumpJson([new JReal(0.5)])).toBe('[0.5]');
    expect(dumpJson(new Map([['b', 1n], ['a', 2n]]))).toBe('{"b":1,"a":2}');
    expect(dumpJson({ b: 1, a: 2 }, { sort: true })).toBe('{"a":2,"b":1}');
    expect(dumpJson(true)).toBe('true');
    expect(dumpJson(false)).toBe('false');
    expect(dumpJson([true, false, null, 'x'])).toBe('[true,false,null,"x"]');
    expect(() => dumpJson({ x: Infinity })).toThrow('JSON numbers must be finite');
    expect(() => dumpJson([NaN])).toThrow('JSON numbers must be finite');
  });

  it('formats subnormals and values whose logarithm misjudges their exponent as %.17g does', () => {
    expect(formatG(5e-324, 17)).toBe('4.9406564584124654e-324');
    expect(formatG(2.2250738585072014e-308, 17)).toBe('2.2250738585072014e-308');
    expect(formatG(1e-20, 17)).toBe('9.9999999999999995e-21');
    expect(janssonReal(1e-20)).toBe('9.9999999999999995e-21');
  });

  it('orders keys by their bytes, and cuts a C string at its first NUL', () => {
    expect([byteCompare('a', 'b'), byteCompare('b', 'a'), byteCompare('a', 'a')]).toEqual([-1, 1, 0]);
    expect([byteCompare('\uffff', '😀'), byteCompare('😀', '\uffff'), byteCompare('😀', '😀')]).toEqual([-1, 1, 0]);
    expect(cString(Buffer.from('\0ab')).length).toBe(0);
    expect(cString(Buffer.from('ab')).toString()).toBe('ab');
  });
});
