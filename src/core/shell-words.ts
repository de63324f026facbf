// Words as a POSIX shell splits a line of them, the way Python's shlex.split(line, comments=True) does, which is
// how flux-core reads a batch script's directives (RFC 36) and a multi-prog configuration's lines: single and
// double quotes (a backslash escapes only `"` and itself inside the latter), backslashes outside them, and an
// unquoted `#` beginning a comment.
import { FluxError, EINVAL } from './errors.js';

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
