import { Flux } from '../api/handle.js';
import { FluxError, ENOENT, errnoOf } from '../core/errors.js';
import { getAttr, listAttrs } from '../api/attrs.js';
import { program, parse } from './common.js';

/** One `lsattr -v` line: the name padded to 40 columns, "-" for an attribute that has no value. */
export function formatAttr(name: string, value: string | undefined): string {
  return `${name.padEnd(40)}${value ?? '-'}\n`;
}

/** Names in strcmp order (UTF-16 order equals byte order for the ASCII names attributes have). */
export function sortNames(names: string[]): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function run(args: string[]): Promise<number> {
  const p = program('lsattr', 'List broker attributes').option('-v, --values', 'show the value of each attribute');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const h = await Flux.open();
  try {
    const names = sortNames(await listAttrs(h));
    if (!p.opts<{ values?: boolean }>().values) {
      process.stdout.write(names.map((n) => `${n}\n`).join(''));
      return 0;
    }
    // all the gets in flight at once: one round trip instead of one per attribute
    const values = await Promise.all(names.map(async (name) => {
      try {
        return await getAttr(h, name);
      } catch (err) {
        if (err instanceof FluxError && err.errno === ENOENT) return undefined;
        throw new FluxError(errnoOf(err), `${name}: ${(err as Error).message}`);
      }
    }));
    process.stdout.write(names.map((n, i) => formatAttr(n, values[i])).join(''));
    return 0;
  } finally {
    h.close();
  }
}
