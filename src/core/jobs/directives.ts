// RFC 36 submission directives: lines of a batch script that carry `flux batch` options, as `# flux: -N4`. A
// directive is a sentinel (a prefix of non-alphanumeric characters, then `flux:` or `FLUX:`) and the words after
// it, split as a POSIX shell splits them, `#` beginning a comment. Every directive of a script has one sentinel, and
// they make one block: once a non-blank line not in the sentinel's comment style follows them, none may come.
import { FluxError, EINVAL } from '../errors.js';

export interface Directive {
  /** 1-based */
  lineno: number;
  args: string[];
}

const SENTINEL = /^([^A-Za-z0-9_]*)(flux|FLUX):(.*)$/;

/** words as a POSIX shell splits them (quotes, backslashes), ending at an unquoted `#` */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (quote === '"' && c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i]!;
      else word += c;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#') {
      break;
    } else if (c === '\\') {
      if (i + 1 === text.length) throw new FluxError(EINVAL, 'no character after a backslash');
      word = (word ?? '') + text[++i]!;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote !== undefined) throw new FluxError(EINVAL, `no closing quotation (${quote})`);
  if (word !== undefined) words.push(word);
  return words;
}

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
