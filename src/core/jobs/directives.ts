// RFC 36 submission directives: lines of a batch script that carry `flux batch` options, as `# flux: -N4`. A
// directive is a sentinel (a prefix of non-alphanumeric characters, then `flux:` or `FLUX:`) and the words after
// it, split as a POSIX shell splits them, `#` beginning a comment. Every directive of a script has one sentinel, and
// they make one block: once a non-blank line not in the sentinel's comment style follows them, none may come.
import { FluxError, EINVAL } from '../errors.js';
import { splitWords } from '../shell-words.js';

export interface Directive {
  /** 1-based */
  lineno: number;
  args: string[];
}

const SENTINEL = /^([^A-Za-z0-9_]*)(flux|FLUX):(.*)$/;

/** a script's directives with words, in order (a directive whose words are all comment has none and is left out) */
export function parseDirectives(script: string): Directive[] {
  const out: Directive[] = [];
  let sentinel: { prefix: string; tag: string } | undefined;
  let ended = false;
  script.split('\n').forEach((line, i) => {
    const lineno = i + 1;
    const m = SENTINEL.exec(line);
    if (!m) {
      if (sentinel && line.trim() !== '' && !line.startsWith(sentinel.prefix)) ended = true;
      return;
    }
    const [, prefix, tag, rest] = m as unknown as [string, string, string, string];
    sentinel ??= { prefix, tag };
    if (prefix !== sentinel.prefix || tag !== sentinel.tag) {
      throw new FluxError(EINVAL, `line ${lineno}: sentinel '${prefix}${tag}:' is not the script's first, '${sentinel.prefix}${sentinel.tag}:'`);
    }
    if (ended) throw new FluxError(EINVAL, `line ${lineno}: a directive after the block of directives ended`);
    if (rest.includes('"""')) throw new FluxError(EINVAL, `line ${lineno}: triple-quoted strings in directives are not supported`);
    let args: string[];
    try {
      args = splitWords(rest);
    } catch (err) {
      throw new FluxError(EINVAL, `line ${lineno}: ${(err as Error).message}`);
    }
    if (args.length > 0) out.push({ lineno, args });
  });
  return out;
}
