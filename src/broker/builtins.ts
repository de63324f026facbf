// Services that are part of the broker itself: the overlay handshake, module management, broker control.
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { FluxError, EINVAL, ENOENT, EPERM } from '../core/errors.js';
import { ROLE_ALL } from '../core/message.js';
import type { ModuleDef, ModuleFactory } from '../services/module.js';
import type { Broker } from './broker.js';

export interface BrokerControl {
  broker: Broker;
  hostname: (rank: number) => string;
  shutdown: (code: number, why: string) => void;
  /** modules `flux module load NAME` can load by name */
  loadable: Record<string, ModuleFactory>;
}

/** module.list / module.load / module.remove */
export function moduleModule(ctl: BrokerControl): ModuleDef {
  const b = ctl.broker;
  return {
    name: 'module',
    handlers: [
      {
        topic: 'module.list',
        allow: ROLE_ALL,
        handler: (msg) => b.respond(msg, { mods: b.registry.list() }),
      },
      {
        topic: 'module.load',
        schema: {
          type: 'object',
          properties: {
            path: { type: 'string', minLength: 1 },
            args: { type: 'array', items: { type: 'string' } },
            name: { type: 'string' },
            exec: { type: 'boolean' },
          },
          required: ['path'],
        },
        handler: async (msg, body) => {
          const path = body!.path as string;
          const args = (body!.args as string[] | undefined) ?? [];
          const factory = await resolveFactory(ctl, path);
          const def = factory(b, args);
          if (typeof body!.name === 'string' && body!.name.length > 0) def.name = body!.name;
          await b.registry.load(def, Object.hasOwn(ctl.loadable, path) ? 'builtin' : path);
          b.log(7, 'broker', `insmod ${def.name}`);
          b.respond(msg);
        },
      },
      {
        topic: 'module.remove',
        schema: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1 }, cancel: { type: 'boolean' } },
          required: ['name'],
        },
        handler: async (msg, body) => {
          const name = body!.name as string;
          if (ESSENTIAL.has(name)) throw new FluxError(EINVAL, `${name} is part of the broker and cannot be removed`);
          await b.registry.remove(name);
          b.log(7, 'broker', `rmmod ${name}`);
          b.respond(msg);
        },
      },
    ],
  };
}

/** the services the broker cannot run without */
export const ESSENTIAL = new Set(['attr', 'log', 'overlay', 'module', 'broker', 'event', 'state-machine', 'config']);

async function resolveFactory(ctl: BrokerControl, path: string): Promise<ModuleFactory> {
  const builtin = ctl.loadable[path];
  if (builtin) return builtin;
  if (!path.endsWith('.js') && !path.endsWith('.mjs')) throw new FluxError(ENOENT, `module ${path} not found`);
  const url = pathToFileURL(isAbsolute(path) ? path : resolve(path)).href;
  const mod = (await import(url)) as { default?: unknown; create?: unknown };
  const f = mod.default ?? mod.create;
  if (typeof f !== 'function') throw new FluxError(EINVAL, `${path} exports no module factory (default or create)`);
  return f as ModuleFactory;
}

/** broker.*: the default handlers (ping, stats) plus shutdown, which a parent sends down the tree */
export function brokerModule(ctl: BrokerControl): ModuleDef {
  const b = ctl.broker;
  return {
    name: 'broker',
    handlers: [
      {
        topic: 'broker.shutdown',
        handler: (msg) => {
          b.respond(msg);
          ctl.shutdown(0, 'parent shutting down');
        },
      },
    ],
  };
}

/** state-machine.get: where the broker is in its life (join, init, run, cleanup, shutdown, finalize), for uptime */
export function stateMachineModule(ctl: BrokerControl): ModuleDef {
  return {
    name: 'state-machine',
    handlers: [
      {
        topic: 'state-machine.get',
        allow: ROLE_ALL,
        handler: (msg) => ctl.broker.respond(msg, { state: ctl.broker.state }),
      },
    ],
  };
}
