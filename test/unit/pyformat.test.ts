// Python's format(), str() and repr() as flux-core's listings use them; every expected text here is what
// CPython 3.11 printed for the same value and spec.
import { describe, it, expect } from 'vitest';
import { pyFormat, pyStr, pyRepr, pyAscii, PyFloat } from '../../src/core/format/python.js';
import { FluxError, EINVAL } from '../../src/core/errors.js';

describe('pyFormat', () => {
  const cases: [unknown, string, string | { error: string }][] = [
    ['abc', '', 'abc'],
    ['abc', '>6', '   abc'],
    ['abc', '^7', '  abc  '],
    ['abc', '*<6', 'abc***'],
    ['abcdef', '.3', 'abc'],
    ['abcdef', '<5.2', 'ab   '],
    ['ƒuZZybuNNy', '>12', '  ƒuZZybuNNy'],
    ['😃😄', '>4', '  😃😄'],
    ['ab', '05', 'ab000'],
    ['x', '=5', { error: '\'=\' alignment not allowed in string format specifier' }],
    ['x', '+', { error: 'Sign not allowed in string format specifier' }],
    ['x', 'd', { error: 'Unknown format code \'d\' for object of type \'str\'' }],
    ['x', ',', { error: 'Cannot specify \',\' with \'s\'.' }],
    [42, '', '42'],
    [42, '>6', '    42'],
    [-42, '06', '-00042'],
    [42, '<6', '42    '],
    [42, '^7', '  42   '],
    [42, '+d', '+42'],
    [42, ' d', ' 42'],
    [1234567, ',', '1,234,567'],
    [1234567, '_', '1_234_567'],
    [1234, '08,', '0,001,234'],
    [255, '#x', '0xff'],
    [255, '#010X', '0X000000FF'],
    [10, 'b', '1010'],
    [65, 'c', 'A'],
    [42, '.2', { error: 'Precision not allowed in integer format specifier' }],
    [42, 's', { error: 'Unknown format code \'s\' for object of type \'int\'' }],
    [3, '.1f', '3.0'],
    [3, '%', '300.000000%'],
    [4294967295, '', '4294967295'],
    [new PyFloat(1.5), '', '1.5'],
    [new PyFloat(1.0), '', '1.0'],
    [new PyFloat(1e+16), '', '1e+16'],
    [new PyFloat(1e-05), '', '1e-05'],
    [new PyFloat(0.30000000000000004), '', '0.30000000000000004'],
    [new PyFloat(2.5), '.0f', '2'],
    [new PyFloat(3.5), '.0f', '4'],
    [new PyFloat(0.125), '.2f', '0.12'],
    [new PyFloat(1234.5678), ',.2f', '1,234.57'],
    [new PyFloat(1.0), '.3', '1.0'],
    [new PyFloat(100.0), '.3', '1e+02'],
    [new PyFloat(12345.678), '.4g', '1.235e+04'],
    [new PyFloat(1.234e-05), 'g', '1.234e-05'],
    [new PyFloat(1.5), 'e', '1.500000e+00'],
    [new PyFloat(1.5), '.2E', '1.50E+00'],
    [new PyFloat(0.5), '%', '50.000000%'],
    [new PyFloat(0.0125), '.1%', '1.2%'],
    [new PyFloat(-0.0), '', '-0.0'],
    [new PyFloat(-0.001), 'z.1f', '0.0'],
    [new PyFloat(3.14159), '+10.3f', '    +3.142'],
    [new PyFloat(3.14159), '=+10.3f', '+    3.142'],
    [new PyFloat(3.14159), '010.3f', '000003.142'],
    [new PyFloat(Infinity), '', 'inf'],
    [new PyFloat(-Infinity), '>6', '  -inf'],
    [new PyFloat(NaN), 'F', 'NAN'],
    [new PyFloat(1.5), 'd', { error: 'Unknown format code \'d\' for object of type \'float\'' }],
    [true, '', 'True'],
    [false, '', 'False'],
    [true, '>6', '     1'],
    [true, 'd', '1'],
    [null, '', 'None'],
    [null, '>5', { error: 'unsupported format string passed to NoneType.__format__' }],
    [[1, 'a', null, true, 1.5], '', '[1, \'a\', None, True, 1.5]'],
    [[1], '>5', { error: 'unsupported format string passed to list.__format__' }],
    [{ a: 1, b: 'it\'s' }, '', '{\'a\': 1, \'b\': "it\'s"}'],
  ];
  for (const [value, spec, expected] of cases) {
    it(`format(${pyRepr(value)}, ${JSON.stringify(spec)})`, () => {
      if (typeof expected === 'string') {
        expect(pyFormat(value, spec)).toBe(expected);
        return;
      }
      let err: unknown;
      try {
        pyFormat(value, spec);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FluxError);
      expect((err as FluxError).errno).toBe(EINVAL);
      expect((err as FluxError).message).toBe(expected.error);
    });
  }

  it('reads a bigint as an int of any size', () => {
    expect(pyFormat(18446744073709551615n, ',')).toBe('18,446,744,073,709,551,615');
  });

  it('rounds exact halves to even, as Python does, where toFixed would round up', () => {
    const halves: [number, string, string][] = [[0.5, '.0f', '0'], [1.5, '.0f', '2'], [2.5, '.0f', '2'], [0.125, '.2f', '0.12'], [0.375, '.2f', '0.38']];
    for (const [x, spec, text] of halves) expect(pyFormat(new PyFloat(x), spec)).toBe(text);
  });
});

describe('pyStr, pyRepr, pyAscii', () => {
  it('print values as Python\'s str() and repr() do', () => {
    expect(pyStr(new PyFloat(2))).toBe('2.0');
    expect(pyStr(2)).toBe('2');
    expect(pyStr(0.1)).toBe('0.1');
    expect(pyStr(1e-7)).toBe('1e-07');
    expect(pyStr(new PyFloat(1e22))).toBe('1e+22');
    expect(pyStr(true)).toBe('True');
    expect(pyStr(undefined)).toBe('None');
    expect(pyRepr('it\'s')).toBe('"it\'s"');
    expect(pyRepr('a\'b"c')).toBe("'a\\'b\"c'");
    expect(pyRepr('tab\there\n\u0001\u00ff\u200bƒ')).toBe("'tab\\there\\n\\x01ÿ\\u200bƒ'");
    expect(pyAscii('ƒ😃é')).toBe("'\\u0192\\U0001f603\\xe9'");
    expect(pyStr({ sched: { reason_pending: 'insufficient resources', t_estimate: 1.5 } }))
      .toBe("{'sched': {'reason_pending': 'insufficient resources', 't_estimate': 1.5}}");
  });
});
