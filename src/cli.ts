// `flux <command> [args]`: one module per command, loaded on demand so a command pays only for what it imports.
import { FluxError } from './core/errors.js';
import { COMMANDS, usage } from './command-table.js';

export async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    process.stderr.write(usage());
    process.exitCode = first === undefined ? 1 : 0;
    return;
  }
  // flux-core's -V is `flux version`
  const name = first === '-V' || first === '--version' ? 'version' : first;
  if (!Object.hasOwn(COMMANDS, name)) {
    process.stderr.write(`flux: '${first}' is not a flux command.  See 'flux --help'\n`);
    process.exitCode = 1;
    return;
  }
  // a reader that goes away (flux dmesg | head) ends the command quietly, as it would a C program
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  try {
    const mod = await COMMANDS[name]!.load();
    process.exitCode = await mod.run(rest);
  } catch (err) {
    process.stderr.write(`flux-${name}: ${err instanceof FluxError ? err.message : (err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
