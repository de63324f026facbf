// The service table: which module answers which topic, with the handlers every module gets for free.
import {
  FluxError, ENOENT, EEXIST, ENOSYS, EPERM, EPROTO,
} from '../core/errors.js';
import {
  Message, FLAG_NORESPONSE, FLAG_STREAMING, ROLE_OWNER, ROLE_ALL, payloadJson, senderOf, serviceOf,
} from '../core/message.js';
import { compile, type Validator } from '../core/validate.js';
import type { HandlerDef, ModuleDef, ModuleHost } from '../services/module.js';

/** module states as flux module list prints them */
export const MODULE_INIT = 'I';
export const MODULE_RUNNING = 'R';
export const MODULE_FINALIZING = 'F';

interface BoundHandler {
  def: HandlerDef;
  validate?: Validator;
}

interface LoadedModule {
  def: ModuleDef;
  path: string;
  state: string;
  lastActive: number;
  exact: Map<string, BoundHandler>;
  globs: Array<{ prefix: string; bound: BoundHandler }>;
  services: string[];
}

export interface ModuleListEntry {
  name: string;
  path: string;
  idle: number;
  status: number;
  services: string[];
  sendqueue: number;
  recvqueue: number;
}

const STATUS_CODE: Record<string, number> = { [MODULE_INIT]: 0, [MODULE_RUNNING]: 1, [MODULE_FINALIZING]: 2 };

/**
 * The services flux-core's broker answers itself; the others are modules there, each one more hop away (the
 * broker hands the request on to the module), which a ping's route shows.
 */
const BROKER_SERVICES = new Set(['broker', 'attr', 'log', 'event', 'content', 'rexec', 'overlay', 'module']);

export class ServiceRegistry {
  private readonly modules = new Map<string, LoadedModule>();
  private readonly services = new Map<string, LoadedModule>();

  /** requests refused before any handler sees them (an instance serving a past state refuses writes) */
  gate?: (topic: string) => FluxError | undefined;

  constructor(private readonly host: ModuleHost) {}

  async load(def: ModuleDef, path: string): Promise<void> {
    if (this.modules.has(def.name)) throw new FluxError(EEXIST, `module ${def.name} is already loaded`);
    const services = [def.name, ...(def.services ?? [])];
    for (const s of services) {
      if (this.services.has(s)) throw new FluxError(EEXIST, `service ${s} is already registered`);
    }
    const mod: LoadedModule = {
      def, path, state: MODULE_INIT, lastActive: Date.now(), exact: new Map(), globs: [], services,
    };
    for (const h of [...def.handlers, ...this.defaultHandlers(def)]) {
      const bound: BoundHandler = { def: h, validate: h.schema ? compile(h.schema) : undefined };
      if (h.topic.endsWith('*')) mod.globs.push({ prefix: h.topic.slice(0, -1), bound });
      else if (!mod.exact.has(h.topic)) mod.exact.set(h.topic, bound);
    }
    this.modules.set(def.name, mod);
    for (const s of services) this.services.set(s, mod);
    try {
      await def.start?.();
    } catch (err) {
      this.unregister(mod);
      throw err;
    }
    mod.state = MODULE_RUNNING;
  }

  async remove(name: string): Promise<void> {
    const mod = this.modules.get(name);
    if (!mod) throw new FluxError(ENOENT, `module ${name} is not loaded`);
    mod.state = MODULE_FINALIZING;
    try {
      await mod.def.stop?.();
    } finally {
      this.unregister(mod);
    }
  }

  async removeAll(): Promise<void> {
    for (const name of [...this.modules.keys()].reverse()) await this.remove(name);
  }

  private unregister(mod: LoadedModule): void {
    this.modules.delete(mod.def.name);
    for (const s of mod.services) if (this.services.get(s) === mod) this.services.delete(s);
  }

  /** true when some module owns the topic's service (it then answers); false means ENOSYS here */
  hasService(topic: string): boolean {
    return this.services.has(serviceOf(topic));
  }

  /** Run the handler for a request; ENOSYS when no module answers it. Errors become error responses. */
  dispatch(msg: Message): void {
    const refused = this.gate?.(msg.topic ?? '');
    if (refused) {
      // a request that wants no answer (a bare event a client published) is refused where someone can see it
      if (msg.flags & FLAG_NORESPONSE) this.host.log(4, 'broker', refused.message);
      this.host.respondError(msg, refused);
      return;
    }
    const mod = this.services.get(serviceOf(msg.topic ?? ''));
    const bound = mod && this.find(mod, msg.topic ?? '');
    if (mod) mod.lastActive = Date.now();
    if (!mod || !bound || mod.state !== MODULE_RUNNING) {
      this.host.respondError(msg, new FluxError(ENOSYS, `No service matching ${msg.topic} is registered`));
      return;
    }
    try {
      const h = bound.def;
      if ((msg.rolemask & (ROLE_OWNER | (h.allow ?? 0))) === 0) throw new FluxError(EPERM, 'Request requires owner credentials');
      if (h.streaming && !(msg.flags & FLAG_STREAMING)) throw new FluxError(EPROTO, `${msg.topic} requires a streaming request`);
      let body: Record<string, unknown> | undefined;
      if (bound.validate) {
        body = payloadJson(msg);
        bound.validate(body);
      }
      const r = h.handler(msg, body);
      if (r instanceof Promise) r.catch((err: unknown) => this.host.respondError(msg, err));
    } catch (err) {
      this.host.respondError(msg, err);
    }
  }

  private find(mod: LoadedModule, topic: string): BoundHandler | undefined {
    const b = mod.exact.get(topic);
    if (b) return b;
    for (const g of mod.globs) if (topic.startsWith(g.prefix)) return g.bound;
    return undefined;
  }

  disconnect(sender: string): void {
    for (const mod of this.modules.values()) mod.def.disconnect?.(sender);
  }

  list(): ModuleListEntry[] {
    const now = Date.now();
    return [...this.modules.values()].map((m) => ({
      name: m.def.name,
      path: m.path,
      idle: Math.floor((now - m.lastActive) / 1000),
      status: STATUS_CODE[m.state] ?? 0,
      services: m.services,
      sendqueue: 0,
      recvqueue: 0,
    }));
  }

  private defaultHandlers(def: ModuleDef): HandlerDef[] {
    const host = this.host;
    const started = Date.now();
    const hops = BROKER_SERVICES.has(def.name) ? [host.uuid] : [host.uuid, crypto.randomUUID()];
    return [
      {
        topic: `${def.name}.ping`,
        allow: ROLE_ALL,
        handler: (msg) => {
          const body = msg.payload && msg.payload.length > 0 ? payloadJson(msg) : {};
          const route = [...(msg.routes ?? [])].reverse().map((r) => r.substring(0, 8));
          for (const hop of hops) route.push(hop.substring(0, 8));
          host.respond(msg, {
            ...body, route: route.join('!'), userid: msg.userid, rolemask: msg.rolemask, rank: host.rank,
          });
        },
      },
      {
        topic: `${def.name}.stats-get`,
        allow: ROLE_ALL,
        handler: (msg) => {
          host.respond(msg, { uptime: (Date.now() - started) / 1000, ...(def.stats?.() ?? {}) });
        },
      },
      {
        // a client going away says <service>.disconnect (NORESPONSE) to each service it used
        topic: `${def.name}.disconnect`,
        allow: ROLE_ALL,
        handler: (msg) => {
          const sender = senderOf(msg);
          if (sender !== undefined) def.disconnect?.(sender);
        },
      },
    ];
  }
}
