// What every command shares: a commander program that reports errors as "flux-<cmd>: <reason>" (exit 1).
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { FluxError, EINVAL } from '../core/errors.js';

/** The installation these commands run from (the directory holding bin/ and dist/): dist/commands/ is two levels below it. */
export const installRoot = (): string => fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** an option that was renamed: given, it fails with a message naming the new spelling (it is left out of --help) */
export function renamed(c: Command, flags: string, now: string): Command {
  const old = flags.split(/[ ,]/)[0]!;
  return c.addOption(new Option(flags).hideHelp().argParser(() => {
    throw new FluxError(EINVAL, `${old} has been renamed ${now}`);
  }));
}

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

/** parse() for a command whose exit code 1 says something else (nothing matched, a job failed): a usage error is 2 */
export function parseExit2(p: Command, args: string[]): number | undefined {
  const code = parse(p, args);
  return code === 1 ? 2 : code;
}

/**
 * Add a program's subcommands, each by the function that defines it: only the one `args[0]` names when it names
 * one, every one otherwise (for help and for commander's own errors). Building every option of every subcommand
 * is most of what parsing costs a command with many of them.
 */
export function defineSubcommands(args: readonly string[], defs: Record<string, () => void>): void {
  const first = args[0];
  if (first !== undefined && Object.hasOwn(defs, first)) defs[first]!();
  else for (const define of Object.values(defs)) define();
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

/** optparse's word wrap: the longest run of whole words that fits in `width`, and where the rest starts */
function nextSegment(text: string, width: number): [string, string] {
  if (text.length <= width) return [text, ''];
  let cut = width;
  while (cut > 0 && text[cut] !== ' ') cut--;
  if (cut === 0) return [`${text.slice(0, width - 1)}-`, text.slice(width - 1)];
  return [text.slice(0, cut).trimEnd(), text.slice(cut + 1)];
}

/**
 * The usage text flux-core's C commands print (liboptparse's layout): "Usage: NAME USAGE", the description of a
 * `flux` builtin, then one line per option, -h first, descriptions from column 25 wrapped to the width $COLUMNS
 * gives (80 by default); an option without a letter is indented past where the letter would be.
 */
export function optparseUsage(p: Command, name: string, usageLine: string, doc?: string): string {
  const cols = Number(process.env.COLUMNS);
  const columns = Number.isInteger(cols) && cols > 16 && cols < 256 ? cols : 80;
  const width = 25;
  const lines = [`Usage: ${name} ${usageLine}`];
  if (doc !== undefined) lines.push(doc);
  const help = { short: '-h', long: '--help', flags: '-h, --help', description: 'Display this message.' };
  for (const o of [help, ...p.options]) {
    const arg = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1];
    const info = `  ${o.short !== undefined ? `${o.short}, ` : '    '}${o.long ?? ''}${arg !== undefined ? `=${arg}` : ''}`;
    let [seg, rest] = nextSegment(o.description, columns - width);
    lines.push(info.length < width ? `${info.padEnd(width)}${seg}` : `${info}\n${' '.repeat(width)}${seg}`);
    while (rest.length > 0) {
      [seg, rest] = nextSegment(rest, columns - width);
      lines.push(`${' '.repeat(width)}${seg}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A program that speaks like one of flux-core's C commands: --help prints optparse's usage on stderr (exit 0),
 * an unknown option is "unrecognized option" and a pointer to --help (exit 1). `builtin`: one of the `flux`
 * program's own subcommands (flux dump, flux restore), named "flux CMD" and described under its usage line.
 */
export function cProgram(cmd: string, summary: string, usageLine: string, { builtin = false } = {}): Command {
  const p = program(cmd, summary);
  const name = builtin ? `flux ${cmd}` : `flux-${cmd}`;
  p.configureHelp({ formatHelp: () => optparseUsage(p, name, usageLine, builtin ? summary : undefined) })
    .configureOutput({
      writeOut: (s) => process.stderr.write(s),
      writeErr: (s) => process.stderr.write(s),
      outputError: (str, write) => {
        const unknown = /unknown option '([^']*)'/.exec(str);
        if (unknown) write(`${name}: unrecognized option '${unknown[1]}'\nTry \`${name} --help' for more information.\n`);
        else write(`flux-${cmd}: ${str.replace(/^error: /, '')}`);
      },
    });
  return p;
}
