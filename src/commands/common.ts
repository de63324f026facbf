// What every command shares: a commander program that reports errors as "flux-<cmd>: <reason>" (exit 1).
import { createRequire } from 'node:module';
import type * as Commander from 'commander';

// commander is CommonJS: require() is about half the start-up cost of import(), which wraps it and scans it for exports
const { Command, CommanderError } = createRequire(import.meta.url)('commander') as typeof Commander;
type Command = Commander.Command;

export function program(cmd: string, summary: string): Command {
  const p = new Command(`flux ${cmd}`);
  p.description(summary)
    .helpOption('-h, --help', 'Display this message.')
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(`flux-${cmd}: ${str.replace(/^error: /, '')}`),
    });
  return p;
}

/**
 * Parse argv with the program; returns the exit code commander wants when it ends early (help, bad option),
 * or undefined when the command should go on.
 */
export function parse(p: Command, args: string[]): number | undefined {
  try {
    p.parse(args, { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    throw err;
  }
}

/**
 * Parse argv with a program of subcommands whose actions only say what to do (through `chosen`), then do it: usage
 * on stderr and exit code 1 when no subcommand was given.
 */
export async function runChosen(p: Command, args: string[], chosen: () => (() => Promise<number>) | undefined): Promise<number> {
  const code = parse(p, args);
  if (code !== undefined) return code;
  const action = chosen();
  if (!action) {
    process.stderr.write(p.helpInformation());
    return 1;
  }
  return action();
}
