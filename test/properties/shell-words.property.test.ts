// Shell words (a batch directive's, a multi-prog line's), however each was quoted, split back into the same
// words: any text, quoted by one of the ways a shell user writes it (single quotes, double quotes with their
// escapes, backslashes), then joined with runs of blanks and followed by a comment.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { splitWords } from '../../src/core/shell-words.js';

const single = (w: string) => w.split("'").map((p) => `'${p}'`).join("\\'");
const double = (w: string) => `"${w.replace(/["\\]/g, (c) => `\\${c}`)}"`;
const backslashed = (w: string) => (w === '' ? "''" : w.replace(/./gsu, (c) => `\\${c}`));

describe('splitWords', () => {
  it('gives back the words that were quoted and joined', () => {
    const word = fc.string({ unit: fc.constantFrom('a', 'Z', '-', '=', ' ', '\t', '#', "'", '"', '\\', '$', 'é', '\n') , maxLength: 8 });
    const quoted = fc.tuple(word, fc.constantFrom(single, double, backslashed));
    const gap = fc.constantFrom(' ', '  ', '\t', ' \t ');
    fc.assert(fc.property(fc.array(quoted, { maxLength: 6 }), gap, fc.boolean(), (words, sep, comment) => {
      const text = words.map(([w, q]) => q(w)).join(sep) + (comment ? `${sep}# a comment "unclosed` : '');
      expect(splitWords(text)).toEqual(words.map(([w]) => w));
    }), { numRuns: 300 });
  });
});
