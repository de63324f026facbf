// `flux <command> [args]`: one module per command under commands/, loaded on demand so a command pays only
// for what it imports.
import { FluxError } from './core/errors.js';
import { COMMANDS, usage } from './commands/index.js';

export async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    process.stdout.write(usage());
    process.exitCode = first === undefined ? 1 : 0;
    return;
  }
  if (first === '-V' || first === '--version') {
    const { VERSION } = await import('./core/version.js');
    process.stdout.write(`commands:    \t\t${VERSION}\n`);
    return;
  }
  if (!Object.hasOwn(COMMANDS, first)) {
    process.stderr.write(`flux: '${first}' is not a flux command.  See 'flux --help'\n`);
    process.exitCode = 1;
    return;
  }
  // a reader that goes away (flux dmesg | head) ends the command quietly, as it would a C program
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const name = first;
  try {
    const mod = (await import(`./${COMMANDS[name]!.file}.js`)) as { run(args: string[]): Promise<number> };
    process.exitCode = await mod.run(rest);
  } catch (err) {
    process.stderr.write(`flux-${name}: ${err instanceof FluxError ? err.message : (err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
