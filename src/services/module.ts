// What a broker-resident service ("module") is, and what the broker offers it. Every service is a module:
// it can be listed, loaded and removed at run time, and answers <name>.ping like any other.
import type { Message } from '../core/wire/message.js';
import type { Schema } from '../core/validate.js';
import type { Projection } from '../projections/projection.js';
import type { Attrs } from './attrs.js';
import type { JournalService } from './journal.js';

export type Payload = Buffer | Record<string, unknown> | undefined;

export interface HandlerDef {
  /** exact topic, or a glob with one trailing '*' (e.g. "kvs.namespace-*") */
  topic: string;
  /** roles allowed besides the owner (who always passes); default owner only */
  allow?: number;
  /** JSON schema of the request payload; the payload must then be a JSON object that matches */
  schema?: Schema;
  /** the request must carry the STREAMING flag (EPROTO otherwise), as RFC 6 requires */
  streaming?: boolean;
  /** also handle events with this topic (for module-wide stats-clear and the like) */
  handler: (msg: Message, body: Record<string, unknown> | undefined) => void | Promise<void>;
}

export interface EventDef {
  /** a topic prefix ('' for every event) */
  topic: string;
  handler: (event: Message) => void;
}

export interface ModuleDef {
  name: string;
  /** extra services routed to this module besides its name */
  services?: string[];
  handlers: HandlerDef[];
  /** events (journal entries among them) delivered to the module from its load to its removal */
  events?: EventDef[];
  /**
   * A projection the module adds to the journal's: built from every entry the journal holds when the module
   * loads, then kept up to date; read with host.journal.state(projection.name). Entries whose topics start with
   * `<projection.name>.` are then the module's own: clients cannot publish them as events.
   */
  projection?: Projection;
  start?: () => void | Promise<void>;
  stop?: () => void | Promise<void>;
  /** a client (route id) went away: drop whatever is kept for it */
  disconnect?: (sender: string) => void;
  /** extra counters for <name>.stats-get */
  stats?: () => Record<string, unknown>;
  /** `flux module debug` changed the module's debug flags */
  onDebug?: (flags: number) => void;
}

/** the journal as a loaded module uses it: append (rank 0 only) and read projections' states */
export type ModuleJournal = Pick<JournalService, 'append' | 'state' | 'head'>;

export interface RpcOptions {
  nodeid?: number;
  /** FLUX_NODEID_UPSTREAM: the request goes to the parent's services, skipping our own */
  upstream?: boolean;
  streaming?: boolean;
  flags?: number;
}

export interface EventSink {
  (event: Message): void;
}

/** The broker as a module sees it. */
export interface ModuleHost {
  readonly rank: number;
  readonly size: number;
  readonly uuid: string;
  readonly attrs: Attrs;
  /** set once the broker's journal is up: what modules loaded at run time append to and read from */
  readonly journal?: ModuleJournal;
  respond(req: Message, payload?: Payload): void;
  respondError(req: Message, err: unknown): void;
  /** a request from the broker itself; resolves with the (first) response, rejects with a FluxError */
  rpc(topic: string, payload: Payload, opts?: RpcOptions): Promise<Message>;
  /** a streaming request: every response until the terminating error (ENODATA ends it normally); `sent` is
   *  given the request's matchtag at once, for a cancel before any response has come */
  rpcStream(topic: string, payload: Payload, opts: RpcOptions, each: (msg: Message) => void, sent?: (matchtag: number) => void): Promise<void>;
  /** deliver events whose topic starts with `prefix` to `sink`; returns the unsubscribe function */
  subscribe(prefix: string, sink: EventSink): () => void;
  log(severity: number, appname: string, text: string): void;
  /** an event for the whole instance: down the tree (to every online child) and to this broker's subscribers */
  multicast(ev: Message): void;
  /** a message to every online child only */
  sendDown(msg: Message): void;
  /** an event to this broker's own subscribers (services and local clients) only */
  deliverEvent(ev: Message): void;
  /** events with this topic that arrive from the parent go to `fn` instead of being multicast */
  interceptFromParent(topic: string, fn: (msg: Message) => void): void;
}

/**
 * What a module file exports (as its default export, or as `create`), and what built-ins are made with: `args` are
 * the words after the module's name on `flux module load`'s command line (NAME=VALUE, see core/config/module-args.ts).
 */
export type ModuleFactory = (host: ModuleHost, args: string[]) => ModuleDef | Promise<ModuleDef>;
