import { FluxError, ENOENT } from '../core/errors.js';
import { COMMANDS, usage } from './index.js';
import { program, parse } from './common.js';

export async function run(args: string[]): Promise<number> {
  const p = program('help', 'Display help information for flux commands').argument('[command]', 'a flux command');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const name = p.args[0];
  if (name === undefined) {
    process.stdout.write(usage());
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, name)) throw new FluxError(ENOENT, `'${name}' is not a flux command.  See 'flux --help'`);
  // table files are relative to dist/, one level up from here
  const url = new URL(`../${COMMANDS[name]!.file}.js`, import.meta.url);
  const mod = (await import(url.href)) as { run(args: string[]): Promise<number> };
  return mod.run(['--help']);
}
