// `flux <command> [args]`: one module per command, loaded on demand so a command pays only for what it imports.
import { COMMANDS, usage } from './command-table.js';
import { runCommand } from './command-run.js';

export async function main(argv: string[]): Promise<void> {
  // argv[0], not destructuring: that runs the array's iterator over every argument (bin/flux says more)
  const first = argv[0];
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
  await runCommand(name, COMMANDS[name]!.load, argv.slice(1));
}
