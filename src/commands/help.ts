import { FluxError, ENOENT } from '../core/errors.js';
import { COMMANDS, usage } from '../command-table.js';
import { program, parse } from './common.js';

export async function run(args: string[]): Promise<number> {
  const p = program('help', 'Display help information for flux commands').argument('[command]', 'a flux command');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const name = p.args[0];
  if (name === undefined) {
    process.stderr.write(usage());
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, name)) throw new FluxError(ENOENT, `'${name}' is not a flux command.  See 'flux --help'`);
  return (await COMMANDS[name]!.load()).run(['--help']);
}
