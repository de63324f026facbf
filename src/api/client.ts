// The handle a program gets from connect(): the connection (handle.ts) and, made on first use, one typed client
// per service. Kept apart from handle.ts so that a command loads only the clients it uses.
import { type ConnectOptions, Flux as Handle } from './handle.js';
import { Kvs } from './kvs.js';
import { Events } from './events.js';
import { Journal } from './journal.js';
import { Content } from './content.js';
import { Exec } from './exec.js';
import { Cron } from './cron.js';
import { Jobs } from './jobs.js';
import { Attrs } from './attrs.js';

/**
 * A connection to one broker of a Flux instance (flux_t in C), with the typed clients of its services:
 * `kvs`, `events`, `journal`, `content`, `exec`, `cron`, `jobs` and `attrs`, and the raw `rpc`.
 */
export class Flux extends Handle {
  /** Connect to FLUX_URI (or the given local:// or ssh:// URI). */
  static override async open(uri?: string, opts: ConnectOptions = {}): Promise<Flux> {
    const u = Handle.uriOf(uri);
    const cred = Handle.credentialOf(opts);
    return new Flux(await Handle.connection(u), u, cred);
  }

  private clients: {
    kvs?: Kvs; events?: Events; journal?: Journal; content?: Content; exec?: Exec; cron?: Cron; jobs?: Jobs; attrs?: Attrs;
  } = {};

  /** the key-value store */
  get kvs(): Kvs {
    return (this.clients.kvs ??= new Kvs(this));
  }

  /** publish and subscribe, from any point of the journal on */
  get events(): Events {
    return (this.clients.events ??= new Events(this));
  }

  /** the journal of every change */
  get journal(): Journal {
    return (this.clients.journal ??= new Journal(this));
  }

  /** blobs by blobref */
  get content(): Content {
    return (this.clients.content ??= new Content(this));
  }

  /** processes on any rank, and the process table */
  get exec(): Exec {
    return (this.clients.exec ??= new Exec(this));
  }

  /** cron entries */
  get cron(): Cron {
    return (this.clients.cron ??= new Cron(this));
  }

  /** jobs: submit, wait, list, attach, cancel */
  get jobs(): Jobs {
    return (this.clients.jobs ??= new Jobs(this));
  }

  /** broker attributes */
  get attrs(): Attrs {
    return (this.clients.attrs ??= new Attrs(this));
  }
}
