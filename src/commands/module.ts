import { resolve } from 'node:path';
import { Flux } from '../api/handle.js';
import { FluxError, ENOENT } from '../core/errors.js';
import { program, parse } from './common.js';

export interface ModuleInfo {
  name: string;
  path?: string;
  idle?: number;
  status?: number;
  services?: string[];
  sendqueue?: number;
  recvqueue?: number;
}

/** module.status codes: INIT, RUNNING, FINALIZING, EXITED */
const STATE_CHARS = ['I', 'R', 'F', 'X'];

function idleText(idle: number | undefined): string {
  if (typeof idle !== 'number') return '-';
  return idle > 99 ? 'idle' : String(idle);
}

export function formatModuleList(mods: ModuleInfo[], long: boolean): string {
  const cols = (name: string, idle: string, state: string, sendq: string, recvq: string) =>
    `${name.substring(0, 25).padEnd(25)} ${idle.padStart(4)}  ${state} ${sendq.padStart(5)} ${recvq.padStart(5)} `;
  const tail = (services: string, path: string) => (long ? `${services.padEnd(8)} ${path}` : services);
  const lines = [cols('Module', 'Idle', 'S', 'Sendq', 'Recvq') + tail('Service', 'Path')];
  for (const m of mods) {
    // a module always serves its own name, so only the extra services are worth a column
    const extra = (m.services ?? []).filter((s) => s !== m.name).join(',');
    const state = STATE_CHARS[m.status ?? -1] ?? '?';
    lines.push(cols(m.name, idleText(m.idle), state, String(m.sendqueue ?? 0), String(m.recvqueue ?? 0))
      + tail(extra, m.path ?? ''));
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** A MODULE that names a file is sent as an absolute path (the broker's cwd is not ours); a bare name as is. */
export function modulePath(arg: string, cwd: string): string {
  return arg.includes('/') || /\.m?js$/.test(arg) ? resolve(cwd, arg) : arg;
}

type Action =
  | { op: 'list'; long: boolean }
  | { op: 'load'; module: string; args: string[]; name?: string }
  | { op: 'remove'; name: string; force: boolean; cancel: boolean };

export async function run(args: string[]): Promise<number> {
  let action: Action | undefined;
  const p = program('module', 'Manage Flux broker modules').enablePositionalOptions();
  p.command('list')
    .description('List loaded modules')
    .option('-l, --long', 'also show the path each module was loaded from')
    .action((o: { long?: boolean }) => {
      action = { op: 'list', long: o.long === true };
    });
  p.command('load')
    .description('Load a module')
    .option('-n, --name <name>', 'load under this name instead of the one the module gives itself')
    .argument('<module>', 'a module name or the path of a module file')
    .argument('[args...]', 'arguments for the module')
    .passThroughOptions()
    .action((module: string, rest: string[], o: { name?: string }) => {
      action = { op: 'load', module, args: rest, name: o.name };
    });
  p.command('remove')
    .alias('unload')
    .description('Unload a module')
    .option('-f, --force', 'succeed if the module is not loaded')
    .option('--cancel', 'cancel the module\'s pending load')
    .argument('<name>', 'module name')
    .action((name: string, o: { force?: boolean; cancel?: boolean }) => {
      action = { op: 'remove', name, force: o.force === true, cancel: o.cancel === true };
    });
  const code = parse(p, args);
  if (code !== undefined) return code;
  // commander ran one subcommand's action, or printed the usage and gave parse() an exit code
  const a = action as Action;
  const h = await Flux.open();
  try {
    switch (a.op) {
      case 'list': {
        const mods = ((await h.call('module.list')).mods as ModuleInfo[] | undefined) ?? [];
        process.stdout.write(formatModuleList(mods, a.long));
        return 0;
      }
      case 'load': {
        const path = modulePath(a.module, process.cwd());
        try {
          await h.rpc('module.load', a.name !== undefined ? { path, args: a.args, name: a.name } : { path, args: a.args });
        } catch (err) {
          process.stderr.write(`flux-module: load ${a.module}: ${(err as Error).message}\n`);
          return 1;
        }
        return 0;
      }
      case 'remove': {
        try {
          await h.rpc('module.remove', a.cancel ? { name: a.name, cancel: true } : { name: a.name });
        } catch (err) {
          if (a.force && err instanceof FluxError && err.errno === ENOENT) return 0;
          process.stderr.write(`flux-module: remove ${a.name}: ${(err as Error).message}\n`);
          return 1;
        }
        return 0;
      }
    }
  } finally {
    h.close();
  }
}
