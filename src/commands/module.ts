import { resolve } from 'node:path';
import { Flux } from '../api/handle.js';
import {
  type DebugOp, type ModuleInfo, listModules, loadModule, moduleDebug, moduleStats, reloadModule, removeModule,
} from '../api/module.js';
import { FluxError, EINVAL, ENOENT } from '../core/errors.js';
import { parseIdset } from '../core/resource/idset.js';
import { getAttr } from '../api/attrs.js';
import { program, parse } from './common.js';

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
  return arg.includes('/') || /\.[cm]?js$/.test(arg) ? resolve(cwd, arg) : arg;
}

/**
 * `flux module stats` output, as flux-core prints it: the field `--parse` names (dotted), an integer as one, a real
 * with six decimals, anything else as JSON. Undefined when there is no such field.
 */
export function formatStats(stats: Record<string, unknown>, o: { parse?: string; type?: string; scale?: number }): string | undefined {
  let v: unknown = stats;
  for (const part of o.parse?.split('.').filter((p) => p !== '') ?? []) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  const scale = o.scale ?? 1;
  if (o.type === 'int' || (o.type === undefined && Number.isInteger(v))) return `${Math.trunc(Number(v) * scale)}\n`;
  if (o.type === 'double' || typeof v === 'number') return `${(Number(v) * scale).toFixed(6)}\n`;
  return `${JSON.stringify(v, null, 1)}\n`;
}

/** debug flags as flux-core reads them (strtoul base 0): decimal, 0x hex or 0 octal */
export function parseFlags(text: string): number {
  const t = text.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^0[0-7]*$/.test(t) ? parseInt(t, 8) : /^[1-9]\d*$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) throw new FluxError(EINVAL, `invalid debug flags "${text}"`);
  return n;
}

interface Where {
  rank?: string;
  all?: boolean;
}

type Action =
  | { op: 'list'; long: boolean }
  | { op: 'load'; module: string; args: string[]; name?: string; where: Where }
  | { op: 'remove'; name: string; force: boolean; cancel: boolean; where: Where }
  | { op: 'reload'; name: string; args: string[]; where: Where }
  | { op: 'stats'; name: string; parse?: string; type?: string; scale?: number; rank?: number }
  | { op: 'debug'; name: string; dop: DebugOp; flags: number };

const RANKS = ['-r, --rank <idset>', 'on these ranks (an idset, or all)'] as const;
const ALL = ['-a, --all', 'on every rank'] as const;

/**
 * Do `fn` on each rank `where` names (this broker's when none): every failure is printed, one line per rank when
 * ranks were named, and makes the exit code 1.
 */
async function onRanks(h: Flux, what: string, where: Where, fn: (rank?: number) => Promise<void>, ignore?: number): Promise<number> {
  let ranks: Array<number | undefined> = [undefined];
  if (where.all || where.rank !== undefined) {
    const size = Number(await getAttr(h, 'size'));
    ranks = where.all ? parseIdset('all', size) : parseIdset(where.rank!, size);
    const beyond = ranks.find((r) => r! >= size);
    if (beyond !== undefined) throw new FluxError(EINVAL, `rank ${beyond} is not in this instance of size ${size}`);
  }
  const results = await Promise.allSettled(ranks.map((r) => fn(r)));
  let code = 0;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled' || (r.reason instanceof FluxError && r.reason.errno === ignore)) return;
    const rank = ranks[i] === undefined ? '' : `rank ${ranks[i]}: `;
    process.stderr.write(`flux-module: ${what}: ${rank}${(r.reason as Error).message}\n`);
    code = 1;
  });
  return code;
}

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
    .description('Load a module: a built-in by name, a plug-in by the path of its file')
    .option('-n, --name <name>', 'load under this name instead of the one the module gives itself')
    .option(...RANKS)
    .option(...ALL)
    .argument('<module>', 'a module name or the path of a module file')
    .argument('[args...]', 'arguments for the module (NAME=VALUE)')
    .passThroughOptions()
    .action((module: string, rest: string[], o: { name?: string } & Where) => {
      action = { op: 'load', module, args: rest, name: o.name, where: o };
    });
  p.command('remove')
    .alias('unload')
    .description('Unload a module')
    .option('-f, --force', 'succeed if the module is not loaded')
    .option('--cancel', 'cancel the module\'s pending load')
    .option(...RANKS)
    .option(...ALL)
    .argument('<name>', 'module name')
    .action((name: string, o: { force?: boolean; cancel?: boolean } & Where) => {
      action = { op: 'remove', name, force: o.force === true, cancel: o.cancel === true, where: o };
    });
  p.command('reload')
    .description('Unload a module and load it again, with new arguments or else the ones it had')
    .option(...RANKS)
    .option(...ALL)
    .argument('<name>', 'module name')
    .argument('[args...]', 'arguments for the module (NAME=VALUE)')
    .passThroughOptions()
    .action((name: string, rest: string[], o: Where) => {
      action = { op: 'reload', name, args: rest, where: o };
    });
  p.command('stats')
    .description('Print a module\'s statistics')
    .option('-p, --parse <field>', 'print only this field (a dotted path: a.b.c)')
    .option('-t, --type <type>', 'print the value as int or double')
    .option('-s, --scale <n>', 'multiply the value by n', Number)
    .option('-r, --rank <rank>', 'ask the module on this rank', Number)
    .argument('<name>', 'module name')
    .action((name: string, o: { parse?: string; type?: string; scale?: number; rank?: number }) => {
      action = { op: 'stats', name, ...o };
    });
  p.command('debug')
    .description('Print or change a module\'s debug flags')
    .option('-C, --clear', 'clear all flags')
    .option('-S, --set <flags>', 'set the flags to this value')
    .option('-s, --setbit <flag>', 'set these bits')
    .option('-c, --clearbit <flag>', 'clear these bits')
    .argument('<name>', 'module name')
    .action((name: string, o: { clear?: boolean; set?: string; setbit?: string; clearbit?: string }) => {
      const [dop, flags]: [DebugOp, string] = o.clear ? ['clr', '0'] : o.set !== undefined ? ['set', o.set]
        : o.clearbit !== undefined ? ['clrbit', o.clearbit] : ['setbit', o.setbit ?? '0'];
      action = { op: 'debug', name, dop, flags: parseFlags(flags) };
    });
  const code = parse(p, args);
  if (code !== undefined) return code;
  // commander ran one subcommand's action, or printed the usage and gave parse() an exit code
  const a = action as Action;
  if (a.op === 'stats' && a.type !== undefined && a.type !== 'int' && a.type !== 'double') {
    throw new FluxError(EINVAL, `--type must be int or double, not "${a.type}"`);
  }
  const h = await Flux.open();
  try {
    switch (a.op) {
      case 'list':
        process.stdout.write(formatModuleList(await listModules(h), a.long));
        return 0;
      case 'load': {
        const path = modulePath(a.module, process.cwd());
        return await onRanks(h, `load ${a.module}`, a.where, (rank) => loadModule(h, path, a.args, { name: a.name, rank }));
      }
      case 'remove':
        return await onRanks(h, `remove ${a.name}`, a.where, (rank) => removeModule(h, a.name, { cancel: a.cancel, rank }), a.force ? ENOENT : undefined);
      case 'reload':
        return await onRanks(h, `reload ${a.name}`, a.where, (rank) => reloadModule(h, a.name, a.args.length > 0 ? a.args : undefined, rank));
      case 'stats': {
        const out = formatStats(await moduleStats(h, a.name, a.rank), a);
        if (out === undefined) throw new FluxError(ENOENT, `stats ${a.name}: no field ${a.parse} in its statistics`);
        process.stdout.write(out);
        return 0;
      }
      case 'debug':
        process.stdout.write(`0x${(await moduleDebug(h, a.name, a.dop, a.flags)).toString(16)}\n`);
        return 0;
    }
  } finally {
    h.close();
  }
}
