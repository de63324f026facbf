// Python format() and flux-core's '+' suffix under arbitrary values: a float's str() reads back as the same
// float, fixed-point text is the value correctly rounded, padding and truncation count code points, and a
// truncated column always ends in its mark.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { pyFormat, pyStr, PyFloat, codePoints } from '../../src/core/format/python.js';
import { OutputFormat } from '../../src/core/format/output.js';

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const text = fc.string({ unit: 'grapheme', maxLength: 12 });

describe('pyformat properties', () => {
  it('str() of a float reads back as that float', () => {
    fc.assert(
      fc.property(finite, (x) => {
        expect(Object.is(Number(pyStr(new PyFloat(x))), x)).toBe(true);
      }),
    );
  });

  it('fixed point is within half a unit of the last place', () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 8 }), (x, p) => {
        const out = pyFormat(new PyFloat(x), `.${p}f`);
        expect(out).toMatch(p === 0 ? /^-?\d+$/ : new RegExp(`^-?\\d+\\.\\d{${p}}$`));
        expect(Math.abs(Number(out) - x)).toBeLessThanOrEqual(0.5 * 10 ** -p * (1 + 1e-9) + Math.abs(x) * 1e-15);
      }),
    );
  });

  it('strings pad to the width in code points, on the side the alignment says', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 20 }), fc.constantFrom('<', '>', '^'), (s, width, align) => {
        const out = pyFormat(s, `${align}${width}`);
        const len = codePoints(s).length;
        expect(codePoints(out).length).toBe(Math.max(width, len));
        const at = align === '<' ? 0 : align === '>' ? Math.max(0, width - len) : Math.floor(Math.max(0, width - len) / 2);
        expect(codePoints(out).slice(at, at + len).join('')).toBe(s);
      }),
    );
  });

  it('a "+" column is exactly its width and marks truncation in its last character', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 12 }), (s, width) => {
        const out = new OutputFormat<null>(`{v:<${width}.${width}+}`, { v: { heading: 'V', get: () => s } }).line(null);
        const chars = codePoints(out);
        const len = codePoints(s).length;
        expect(chars.length).toBe(width);
        if (len > width) {
          expect(chars[width - 1]).toBe('+');
          expect(chars.slice(0, -1).join('')).toBe(codePoints(s).slice(0, width - 1).join(''));
        } else {
          expect(chars.slice(0, len).join('')).toBe(s);
        }
      }),
    );
  });
});
