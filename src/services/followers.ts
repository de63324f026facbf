// Streaming requests a service keeps answering as things happen (dmesg -f, journal follow). Each is known by
// its sender and matchtag, which is what <service>.cancel names and what a departing client leaves behind.
import { FluxError, ENODATA } from '../core/errors.js';
import { type Message, senderOf } from '../core/wire/message.js';
import type { HandlerDef, ModuleHost } from './module.js';

export class Followers {
  private readonly map = new Map<string, Message>();

  constructor(private readonly host: ModuleHost) {}

  get size(): number {
    return this.map.size;
  }

  add(req: Message): void {
    this.map.set(`${senderOf(req) ?? ''}#${req.aux2}`, req);
  }

  /** answer every follower (those `to` accepts, when given) with the same payload */
  send(payload: Buffer | Record<string, unknown>, to?: (req: Message) => boolean): void {
    for (const req of this.map.values()) if (!to || to(req)) this.host.respond(req, payload);
  }

  /** answer each follower with its own payload; one `payloadFor` gives none is not answered */
  sendEach(payloadFor: (req: Message) => Buffer | Record<string, unknown> | undefined): void {
    for (const req of this.map.values()) {
      const payload = payloadFor(req);
      if (payload !== undefined) this.host.respond(req, payload);
    }
  }

  /** the <service>.cancel handler: {matchtag} ends that sender's stream with ENODATA */
  cancelHandler(topic: string): HandlerDef {
    return {
      topic,
      schema: { type: 'object', properties: { matchtag: { type: 'integer' } }, required: ['matchtag'] },
      handler: (msg, body) => {
        const key = `${senderOf(msg) ?? ''}#${body!.matchtag as number}`;
        const req = this.map.get(key);
        if (req) {
          this.map.delete(key);
          this.host.respondError(req, new FluxError(ENODATA));
        }
      },
    };
  }

  /** a client went away: its streams end with it */
  drop(sender: string): void {
    for (const [k, req] of this.map) if (senderOf(req) === sender) this.map.delete(k);
  }
}
