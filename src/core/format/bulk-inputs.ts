// flux bulksubmit's inputs and their substitution: the lists after `:::` (words), `::::` (lines of a file, `-` for
// stdin), each combined with the ones before it (every combination), or with `:::+` / `::::+` linked to them (one of
// its items per combination so far, cycled); then Python's str.format of each argument with the combination's
// inputs as positional arguments: `{}` / `{0}` an input, with GNU parallel's attributes `{.%}` (no extension),
// `{./}` (basename), `{./%}` (basename, no extension), `{.//}` (dirname), and `{seq}`, `{seq1}` (the combination's
// number from 0 and from 1) and `{cc}` (left for the --cc pass). A format spec (`{0:>4}`) and a conversion (`!r`)
// are Python's.
import { basename, dirname } from 'node:path';
import { FluxError, EINVAL } from '../errors.js';
import { pyAscii, pyFormat, pyRepr } from './python.js';

export interface InputList {
  items: string[];
  /** one item per combination so far, cycled, instead of every combination with them */
  linked: boolean;
}

/** every combination of the lists, in order: the first list's items vary slowest */
export function combinations(lists: readonly InputList[]): string[][] {
  let out: string[][] = [[]];
  for (const l of lists) {
    if (l.items.length === 0) throw new FluxError(EINVAL, 'an input list is empty');
    out = l.linked ? out.map((c, i) => [...c, l.items[i % l.items.length]!]) : out.flatMap((c) => l.items.map((x) => [...c, x]));
  }
  return out;
}

const noExtension = (s: string) => s.replace(/\.[^./]*$/, '');
const ATTRIBUTES: Record<string, (s: string) => string> = {
  '': (s) => s,
  '.%': noExtension,
  './': (s) => basename(s),
  './%': (s) => noExtension(basename(s)),
  './/': (s) => dirname(s),
};

const FIELD = /^(\d*|seq|seq1|cc)(\.\/\/|\.\/%|\.\/|\.%)?(?:!([rsa]))?(?::(.*))?$/s;

/** `template` with its fields replaced from the combination `inputs` (number `seq`, from 0) */
export function formatInputs(template: string, inputs: readonly string[], seq: number, cc: boolean): string {
  let out = '';
  let auto = 0;
  let numbering: 'auto' | 'manual' | undefined;
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '}') {
      if (template[i + 1] !== '}') throw new FluxError(EINVAL, `${template}: single '}' encountered in format string`);
      out += '}';
      i++;
      continue;
    }
    if (c !== '{') {
      out += c;
      continue;
    }
    if (template[i + 1] === '{') {
      out += '{';
      i++;
      continue;
    }
    const end = template.indexOf('}', i);
    if (end < 0) throw new FluxError(EINVAL, `${template}: single '{' encountered in format string`);
    const field = template.slice(i + 1, end);
    i = end;
    const m = FIELD.exec(field);
    if (!m) throw new FluxError(EINVAL, `${template}: {${field}}: not an input, an input's attribute, seq, seq1 or cc`);
    const [, name, attr, conv, spec] = m as unknown as [string, string, string | undefined, string | undefined, string | undefined];
    let value: string | number;
    if (name === 'seq' || name === 'seq1' || name === 'cc') {
      if (attr !== undefined) throw new FluxError(EINVAL, `${template}: {${field}}: ${name} has no attributes`);
      // {cc} is the --cc pass's: left as it is for the copies, empty without them
      if (name === 'cc') {
        out += cc ? '{cc}' : '';
        continue;
      }
      value = name === 'seq' ? seq : seq + 1;
    } else {
      const kind = name === '' ? 'auto' : 'manual';
      if (numbering !== undefined && numbering !== kind) {
        throw new FluxError(EINVAL, `${template}: cannot switch from ${numbering === 'auto' ? 'automatic field numbering to manual field specification' : 'manual field specification to automatic field numbering'}`);
      }
      numbering = kind;
      const index = name === '' ? auto++ : Number(name);
      if (index >= inputs.length) throw new FluxError(EINVAL, `${template}: {${field}}: there are ${inputs.length} inputs, not ${index + 1}`);
      value = ATTRIBUTES[attr ?? '']!(inputs[index]!);
    }
    const converted = conv === 'r' ? pyRepr(value) : conv === 'a' ? pyAscii(value) : value;
    out += pyFormat(converted, spec ?? '');
  }
  return out;
}
