// flux multi-prog's configuration by example: lines of task idsets (or *) and commands split as shlex splits them,
// %t and %o made per task, and the mistakes told by their line.
import { describe, it, expect } from 'vitest';
import { commandFor, parseMultiProg } from '../../src/core/jobs/multi-prog.js';

const conf = [
  '# the tasks of an MPMD job',
  '',
  '0-1,4 app "an arg" %t/%o   # inline comment',
  '2 other',
  '* rest %t %o',
].join('\n');

describe('multi-prog', () => {
  it('gives each rank its line\'s command, %t its rank and %o its offset in the line\'s idset', () => {
    const lines = parseMultiProg(conf);
    expect(lines.map((l) => l.lineno)).toEqual([3, 4, 5]);
    expect(commandFor(lines, 0)).toEqual(['app', 'an arg', '0/0']);
    expect(commandFor(lines, 4)).toEqual(['app', 'an arg', '4/2']);
    expect(commandFor(lines, 2)).toEqual(['other']);
    expect(commandFor(lines, 7)).toEqual(['rest', '7', '7']);
    expect(commandFor(parseMultiProg('0 a\n'), 1)).toBeUndefined();
  });

  it('refuses a rank on two lines, two wildcards, a line without a command and what is no idset, by line', () => {
    expect(() => parseMultiProg('0-2 a\n2 b\n')).toThrow('line 2: task rank 2 is also on line 1');
    expect(() => parseMultiProg('* a\n* b\n')).toThrow('line 2: * is also on line 1');
    expect(() => parseMultiProg('\n3\n')).toThrow('line 2: no command for 3');
    expect(() => parseMultiProg('x-y a\n')).toThrow(/^line 1: /);
    expect(() => parseMultiProg('0 "a\n')).toThrow('line 1: no closing quotation (")');
  });
});
