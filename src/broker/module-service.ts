// module.*: the modules of this broker, listed, loaded, removed and reloaded while it runs. A built-in is loaded
// by its name; a plug-in by the path of a JavaScript file whose default export (or `create`) is a ModuleFactory,
// the same kind of function the built-ins are made with.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FluxError, EEXIST, EINVAL, ENOENT, errnoOf, reasonOf } from '../core/errors.js';
import { ROLE_ALL } from '../core/wire/message.js';
import type { ModuleDef, ModuleFactory } from '../services/module.js';
import { createBuiltin } from './builtin-modules.js';
import type { BrokerControl } from './builtins.js';
import { importFile } from './import-file.js';

/** what the registry records as the path of a built-in */
const BUILTIN = 'builtin';

const NAME = { type: 'string', minLength: 1 };
const ARGS = { type: 'array', items: { type: 'string' } };

/** a plug-in file's factory; `generation` makes each load import the file anew, as it is now */
async function importFactory(path: string, generation: number): Promise<ModuleFactory> {
  if (!path.includes('/') && !/\.[cm]?js$/.test(path)) {
    throw new FluxError(ENOENT, `no built-in module named ${path} (a plug-in is loaded by its file's path)`);
  }
  const file = resolve(path);
  if (!existsSync(file)) throw new FluxError(ENOENT);
  let mod: { default?: unknown; create?: unknown };
  try {
    mod = (await importFile(`${pathToFileURL(file).href}?load=${generation}`)) as typeof mod;
  } catch (err) {
    throw new FluxError(EINVAL, `${path}: ${(err as Error)?.message ?? String(err)}`);
  }
  const f = mod.default ?? mod.create;
  if (typeof f !== 'function') throw new FluxError(EINVAL, `${path} exports no module factory (default or create)`);
  return f as ModuleFactory;
}

export function moduleModule(ctl: BrokerControl): ModuleDef {
  const b = ctl.broker;
  let generation = 0;

  /** the module `path` names, made with `args`, and what the registry records as its path */
  async function make(path: string, args: string[], name?: string): Promise<{ def: ModuleDef; recorded: string }> {
    const builtin = ctl.loadable.get(path);
    if (!builtin) return { def: await (await importFactory(path, ++generation))(b, args), recorded: path };
    // asked before it is made: making one sets up what the loaded one uses (its attributes)
    if (name !== undefined && name !== path) throw new FluxError(EINVAL, `the built-in ${path} module keeps its name`);
    if (b.registry.has(path)) throw new FluxError(EEXIST, `${path} module is already loaded`);
    return { def: await createBuiltin(b, path, builtin, args), recorded: BUILTIN };
  }

  async function load(path: string, args: string[], name?: string): Promise<void> {
    try {
      const { def, recorded } = await make(path, args, name);
      if (name !== undefined) def.name = name;
      await b.registry.load(def, recorded, args);
      b.log(7, 'broker', `insmod ${def.name}`);
    } catch (err) {
      // a refusal is the asker's to read; a module that threw (in its factory or start) is a bug worth a log line
      if (err instanceof FluxError) throw err;
      b.log(3, 'broker', `insmod ${name ?? path}: ${(err as Error)?.stack ?? String(err)}`);
      throw new FluxError(errnoOf(err), reasonOf(err));
    }
  }

  /** a loaded module that may be removed: not one of the broker's own services */
  function removable(name: string): { path: string; args: string[] } {
    const origin = b.registry.origin(name);
    if (origin.path === BUILTIN && !ctl.loadable.has(name)) throw new FluxError(EINVAL, `${name} is part of the broker and cannot be removed`);
    return origin;
  }

  async function remove(name: string): Promise<void> {
    await b.registry.remove(name);
    b.log(7, 'broker', `rmmod ${name}`);
  }

  return {
    name: 'module',
    handlers: [
      {
        topic: 'module.list',
        allow: ROLE_ALL,
        handler: (msg) => b.respond(msg, { mods: b.registry.list() }),
      },
      {
        // every handler and the roles it admits: the owner's view of who may call what
        topic: 'module.handlers',
        handler: (msg) => b.respond(msg, { handlers: b.registry.handlers() }),
      },
      {
        topic: 'module.load',
        schema: {
          type: 'object',
          properties: { path: NAME, args: ARGS, name: NAME, exec: { type: 'boolean' } },
          required: ['path'],
        },
        handler: async (msg, body) => {
          await load(body!.path as string, (body!.args as string[] | undefined) ?? [], body!.name as string | undefined);
          b.respond(msg);
        },
      },
      {
        topic: 'module.remove',
        schema: { type: 'object', properties: { name: NAME, cancel: { type: 'boolean' } }, required: ['name'] },
        handler: async (msg, body) => {
          const name = body!.name as string;
          removable(name);
          await remove(name);
          b.respond(msg);
        },
      },
      {
        // remove, then load from where it came from: with the arguments given, or else those it had
        topic: 'module.reload',
        schema: { type: 'object', properties: { name: NAME, args: ARGS }, required: ['name'] },
        handler: async (msg, body) => {
          const name = body!.name as string;
          const origin = removable(name);
          await remove(name);
          const args = (body!.args as string[] | undefined) ?? origin.args;
          await load(origin.path === BUILTIN ? name : origin.path, args, origin.path === BUILTIN ? undefined : name);
          b.respond(msg);
        },
      },
    ],
  };
}
