// flux bulksubmit's inputs by example: how lists combine, and Python's str.format over a combination with GNU
// parallel's attributes; test/properties/bulk-inputs holds both to references over random inputs.
import { describe, it, expect } from 'vitest';
import { combinations, formatInputs } from '../../src/core/format/bulk-inputs.js';

describe('combinations', () => {
  it('crosses lists, the first varying slowest, and cycles a linked one', () => {
    expect(combinations([{ items: ['1', '2'], linked: false }, { items: ['3', '4'], linked: false }])).toEqual([['1', '3'], ['1', '4'], ['2', '3'], ['2', '4']]);
    expect(combinations([{ items: ['1', '2', '3'], linked: false }, { items: ['a', 'b'], linked: true }])).toEqual([['1', 'a'], ['2', 'b'], ['3', 'a']]);
    expect(() => combinations([{ items: [], linked: false }])).toThrow('an input list is empty');
  });
});

describe('formatInputs', () => {
  it('replaces inputs, attributes, seq and seq1, with Python\'s specs and conversions, and keeps doubled braces', () => {
    expect(formatInputs('{} {} {{x}}', ['a', 'b'], 0, false)).toBe('a b {x}');
    expect(formatInputs('{1}-{0}', ['a', 'b'], 0, false)).toBe('b-a');
    expect(formatInputs('{0./} {0.//} {0.%} {0./%} {1.%}', ['/a/b/c.tar.gz', 'x.y'], 0, false)).toBe('c.tar.gz /a/b /a/b/c.tar c.tar x');
    expect(formatInputs('{./%}', ['d/e.f'], 0, false)).toBe('e');
    expect(formatInputs('{seq}:{seq1}:{seq:03}', ['a'], 4, false)).toBe('4:5:004');
    expect(formatInputs('{0:>4}|{0!r}', ['ab'], 0, false)).toBe('  ab|\'ab\'');
    expect(formatInputs('job{cc}', ['a'], 0, true)).toBe('job{cc}');
    expect(formatInputs('job{cc}', ['a'], 0, false)).toBe('job');
  });

  it('refuses what str.format would, naming the template', () => {
    expect(() => formatInputs('{} {0}', ['a'], 0, false)).toThrow('{} {0}: cannot switch from automatic field numbering to manual field specification');
    expect(() => formatInputs('{0} {}', ['a'], 0, false)).toThrow('cannot switch from manual field specification to automatic field numbering');
    expect(() => formatInputs('{2}', ['a'], 0, false)).toThrow('{2}: {2}: there are 1 inputs, not 3');
    expect(() => formatInputs('{name}', ['a'], 0, false)).toThrow('{name}: not an input');
    expect(() => formatInputs('a}b', ['a'], 0, false)).toThrow("a}b: single '}' encountered in format string");
    expect(() => formatInputs('a{b', ['a'], 0, false)).toThrow("a{b: single '{' encountered in format string");
    expect(() => formatInputs('{seq./}', ['a'], 0, false)).toThrow('seq has no attributes');
  });
});
