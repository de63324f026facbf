// Services that are part of the broker itself: the overlay handshake, module management, broker control.
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { FluxError, EINVAL, ENOENT, EPERM } from '../core/errors.js';
import { ROLE_ALL, senderOf, stringPayload } from '../core/message.js';
import { JReal, dumpJson } from '../core/kvs-format-json.js';
import { VERSION_CODE } from '../core/version.js';
import type { ModuleDef, ModuleFactory } from '../services/module.js';
import type { Broker } from './broker.js';

export interface BrokerControl {
  broker: Broker;
  hostname: (rank: number) => string;
  shutdown: (code: number, why: string) => void;
  /** modules `flux module load NAME` can load by name */
  loadable: Record<string, ModuleFactory>;
}

/** overlay.hello / overlay.goodbye / overlay.health: children joining and leaving the tree */
export function overlayModule(ctl: BrokerControl): ModuleDef {
  const b = ctl.broker;
  return {
    name: 'overlay',
    handlers: [
      {
        topic: 'overlay.hello',
        schema: {
          type: 'object',
          properties: {
            rank: { type: 'integer', minimum: 0 },
            version: { type: 'integer' },
            uuid: { type: 'string', minLength: 1 },
            status: { type: 'integer' },
            hostname: { type: 'string' },
          },
          required: ['rank', 'version', 'uuid', 'status'],
        },
        handler: (msg, body) => {
          const rank = body!.rank as number;
          const peer = senderOf(msg) ?? '';
          if (!b.children.has(rank)) throw new FluxError(EINVAL, `rank ${rank} is not my child`);
          if (peer !== body!.uuid) throw new FluxError(EINVAL, 'uuid does not match the connection');
          if ((body!.version as number) >> 8 !== VERSION_CODE >> 8) {
            throw new FluxError(EINVAL, `version ${body!.version} is not compatible with mine`);
          }
          b.childOnline(rank, peer);
          b.log(7, 'overlay', `hello from rank ${rank} (${String(body!.hostname ?? '')})`);
          b.respond(msg, { uuid: b.uuid });
        },
      },
      {
        topic: 'overlay.goodbye',
        handler: (msg) => {
          const child = b.childByPeer(senderOf(msg) ?? '');
          if (!child) throw new FluxError(EPERM, 'goodbye from a peer that is not my child');
          b.respond(msg);
          b.childLost(child.rank, 'goodbye', 'offline');
        },
      },
      {
        topic: 'overlay.health',
        allow: ROLE_ALL,
        handler: (msg) => {
          const now = Date.now();
          // durations are reals on the wire, 0 included: flux-core's client unpacks them as doubles
          b.respond(msg, stringPayload(dumpJson({
            rank: b.rank,
            status: subtreeStatus(b),
            duration: new JReal(0),
            children: [...b.children.values()].map((c) => ({
              rank: c.rank, status: c.state === 'online' ? 'full' : c.state, duration: new JReal((now - c.lastSeen) / 1000),
            })),
          })));
        },
      },
    ],
  };
}

export function subtreeStatus(b: Broker): string {
  let status = 'full';
  for (const c of b.children.values()) {
    if (c.state === 'lost') return 'degraded';
    if (c.state !== 'online') status = 'partial';
  }
  return status;
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
export const ESSENTIAL = new Set(['attr', 'log', 'overlay', 'module', 'broker', 'event']);

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
