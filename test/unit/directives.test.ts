// RFC 36 directives and the shell words they are split into, by example; test/properties/shell-words holds the
// split to a reference quoting of any words.
import { describe, it, expect } from 'vitest';
import { parseDirectives } from '../../src/core/jobs/directives.js';
import { splitWords } from '../../src/core/shell-words.js';
import { checkArchivePath, fileContent, fileEntry } from '../../src/core/jobs/file-archive.js';

describe('splitWords', () => {
  it('splits as a POSIX shell does, an unquoted # beginning a comment', () => {
    expect(splitWords(' -N4  --job-name="a b" x\\ y \'#q\' "\\"\\\\\\n" z#c more')).toEqual(['-N4', '--job-name=a b', 'x y', '#q', '"\\\\n', 'z']);
    expect(splitWords('"" \'\'')).toEqual(['', '']);
    expect(splitWords('   # all comment')).toEqual([]);
  });

  it('refuses an open quote or a trailing backslash', () => {
    expect(() => splitWords('--job-name="a')).toThrow('no closing quotation (")');
    expect(() => splitWords('a \\')).toThrow('no character after a backslash');
  });
});

describe('parseDirectives', () => {
  it('takes the block of directives of one sentinel, skipping blank lines, comments of its style and disabled ones', () => {
    const script = '#!/bin/sh\n# flux: -N2\n\n# plain comment\n# flux: # -x\n# flux: -t 5m\necho hi # flux: -n9\n';
    expect(parseDirectives(script)).toEqual([{ lineno: 2, args: ['-N2'] }, { lineno: 6, args: ['-t', '5m'] }]);
  });

  it('reads a sentinel with no prefix, as in a docstring, and one in capitals', () => {
    expect(parseDirectives('#!/usr/bin/env python3\n"""\nflux: -N2\nflux: -n2\n"""\nprint(1)\n')).toEqual([
      { lineno: 3, args: ['-N2'] }, { lineno: 4, args: ['-n2'] },
    ]);
    expect(parseDirectives('#!/bin/sh\n-- FLUX: -N1\n')).toEqual([{ lineno: 2, args: ['-N1'] }]);
  });

  it('refuses a second sentinel, a directive after the block, a triple-quoted string and a bad quote, by line', () => {
    expect(() => parseDirectives('#!/bin/sh\n# flux: -N1\n## flux: -n1\n')).toThrow("line 3: sentinel '## flux:' is not the script's first, '# flux:'");
    expect(() => parseDirectives('#!/bin/sh\n# flux: -N1\necho\n# flux: -n1\n')).toThrow('line 4: a directive after the block of directives ended');
    expect(() => parseDirectives('#!/bin/sh\n# flux: --setattr=user.c="""\n')).toThrow('line 2: triple-quoted strings in directives are not supported');
    expect(() => parseDirectives("#!/bin/sh\n# flux: -N'1\n")).toThrow("line 2: no closing quotation (')");
  });

  it('finds none in a script without them', () => {
    expect(parseDirectives('#!/bin/sh\necho flux: here\n')).toEqual([]);
  });
});

describe('the file archive', () => {
  it('holds a regular file\'s text and mode, and refuses paths that leave the directory', () => {
    const e = fileEntry('#!/bin/sh\nécho\n', 0o700);
    expect(e).toEqual({ mode: 0o100700, size: 16, encoding: 'utf-8', data: '#!/bin/sh\nécho\n' });
    expect(fileContent(e)).toEqual({ bytes: Buffer.from('#!/bin/sh\nécho\n'), perms: 0o700 });
    expect(fileContent({ mode: 0o100600, size: 2, encoding: 'base64', data: Buffer.from([0, 255]).toString('base64') }).bytes).toEqual(Buffer.from([0, 255]));
    expect(() => fileContent({ mode: 0o040700, size: 0, encoding: 'utf-8', data: '' })).toThrow('only regular files');
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a//b', '.', '']) expect(() => checkArchivePath(bad)).toThrow('relative path');
    expect(checkArchivePath('conf/a.json')).toBe('conf/a.json');
  });
});
