// flux multi-prog's configuration: a different command for each task of a job (MPMD). Each non-empty line is an
// RFC 22 idset of task ranks, or `*` for every rank no other line names, then the command and its arguments,
// split as Python's shlex splits them (quotes, `#` comments). In the words, `%t` is the task's rank and `%o` its
// offset within the line's idset (under `*`, its rank). A rank may be named by one line only.
import { FluxError, EINVAL } from '../errors.js';
import { parseIdset } from '../resource/idset.js';
import { splitWords } from '../shell-words.js';

export interface ProgLine {
  lineno: number;
  /** the ranks in order, or undefined for `*` */
  ranks?: number[];
  args: string[];
}

/** what `f` says is wrong, told by the line */
function atLine<T>(lineno: number, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (!(err instanceof FluxError)) throw err;
    throw new FluxError(err.errno, `line ${lineno}: ${err.message}`);
  }
}

export function parseMultiProg(text: string): ProgLine[] {
  const lines: ProgLine[] = [];
  const owner = new Map<number, number>();
  let wildcard: number | undefined;
  text.split('\n').forEach((line, i) => {
    const lineno = i + 1;
    const words = atLine(lineno, () => splitWords(line));
    if (words.length === 0) return;
    const [target, ...args] = words as [string, ...string[]];
    if (args.length === 0) throw new FluxError(EINVAL, `line ${lineno}: no command for ${target}`);
    if (target === '*') {
      if (wildcard !== undefined) throw new FluxError(EINVAL, `line ${lineno}: * is also on line ${wildcard}`);
      wildcard = lineno;
      lines.push({ lineno, args });
      return;
    }
    const ranks = atLine(lineno, () => parseIdset(target));
    for (const r of ranks) {
      const first = owner.get(r);
      if (first !== undefined) throw new FluxError(EINVAL, `line ${lineno}: task rank ${r} is also on line ${first}`);
      owner.set(r, lineno);
    }
    lines.push({ lineno, ranks, args });
  });
  return lines;
}

/** task `rank`'s command, its %t and %o made; undefined when no line names it and there is no `*` */
export function commandFor(lines: readonly ProgLine[], rank: number): string[] | undefined {
  const named = lines.find((l) => l.ranks?.includes(rank));
  const line = named ?? lines.find((l) => l.ranks === undefined);
  if (line === undefined) return undefined;
  // `*` is every rank's line: a rank's offset in it is the rank
  const offset = named ? named.ranks!.indexOf(rank) : rank;
  return line.args.map((a) => a.replace(/%[to]/g, (m) => String(m === '%t' ? rank : offset)));
}
