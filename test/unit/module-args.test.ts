// flux module load's NAME=VALUE arguments, read against the names a module takes.
import { describe, it, expect } from 'vitest';
import { durationArg, moduleArgs, textArg } from '../../src/core/config/module-args.js';
import { EINVAL } from '../../src/core/errors.js';

const readers = { period: durationArg(0.01), sync: textArg };

describe('module arguments', () => {
  it('reads each NAME=VALUE with its reader; a later word wins', () => {
    expect(moduleArgs([], readers)).toEqual({});
    expect(moduleArgs(['period=2m', 'sync=a=b'], readers)).toEqual({ period: 120, sync: 'a=b' });
    expect(moduleArgs(['period=1', 'period=0.5s'], readers)).toEqual({ period: 0.5 });
  });

  it('refuses unknown names, missing values and values its reader refuses, naming the word', () => {
    const refused = (words: string[], message: string) =>
      expect(() => moduleArgs(words, readers)).toThrow(expect.objectContaining({ errno: EINVAL, message }));
    refused(['beat=1'], 'unknown argument "beat" (it takes period=, sync=)');
    refused(['period'], 'argument period needs a value: period=VALUE');
    refused(['period=soon'], 'period=soon: invalid duration "soon"');
    refused(['period=0'], 'period=0: expected a duration of at least 0.01s');
    refused(['period=inf'], 'period=inf: expected a duration of at least 0.01s');
    refused(['sync='], 'sync=: expected a value');
    expect(() => moduleArgs(['x=1'], {})).toThrow('unknown argument "x" (it takes none)');
  });
});
