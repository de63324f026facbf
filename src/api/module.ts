// The modules of a broker: list, load, remove, reload (module.*), and each module's own stats and debug flags.
import type { Flux } from './handle.js';

export interface ModuleInfo {
  name: string;
  path?: string;
  idle?: number;
  status?: number;
  services?: string[];
  sendqueue?: number;
  recvqueue?: number;
}

/** what `flux module debug` does to a module's flags; setbit with 0 only reads them */
export type DebugOp = 'setbit' | 'clrbit' | 'set' | 'clr';

const at = (rank: number | undefined) => (rank === undefined ? {} : { nodeid: rank });

export async function listModules(h: Flux, rank?: number): Promise<ModuleInfo[]> {
  const mods = (await h.call('module.list', undefined, at(rank))).mods;
  return Array.isArray(mods) ? (mods as ModuleInfo[]) : [];
}

/** `path` is a built-in's name or a plug-in file's absolute path (the broker's cwd is not the caller's) */
export async function loadModule(h: Flux, path: string, args: string[], opts: { name?: string; rank?: number } = {}): Promise<void> {
  await h.rpc('module.load', opts.name !== undefined ? { path, args, name: opts.name } : { path, args }, at(opts.rank));
}

export async function removeModule(h: Flux, name: string, opts: { cancel?: boolean; rank?: number } = {}): Promise<void> {
  await h.rpc('module.remove', opts.cancel ? { name, cancel: true } : { name }, at(opts.rank));
}

/** remove and load again from where it came; without `args`, with the arguments it had */
export async function reloadModule(h: Flux, name: string, args: string[] | undefined, rank?: number): Promise<void> {
  await h.rpc('module.reload', args !== undefined ? { name, args } : { name }, at(rank));
}

export function moduleStats(h: Flux, name: string, rank?: number): Promise<Record<string, unknown>> {
  return h.call(`${name}.stats-get`, undefined, at(rank));
}

/** the module's debug flags after `op` */
export async function moduleDebug(h: Flux, name: string, op: DebugOp, flags: number, rank?: number): Promise<number> {
  return Number((await h.call(`${name}.debug`, { op, flags }, at(rank))).flags);
}
