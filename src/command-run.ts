// How flux runs a command's module, whether the dispatcher or bin/flux found it: a reader that goes away ends the
// command quietly, a failure is one line `flux-<name>: <reason>`, and what run() returns is the exit status.
import { FluxError } from './core/errors.js';
import type { CommandModule } from './command-table.js';

export async function runCommand(name: string, load: () => CommandModule | Promise<CommandModule>, args: string[]): Promise<void> {
  // a reader that goes away (flux dmesg | head) ends the command quietly, as it would a C program
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  try {
    const mod = await load();
    process.exitCode = await mod.run(args);
  } catch (err) {
    process.stderr.write(`flux-${name}: ${err instanceof FluxError ? err.message : (err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
