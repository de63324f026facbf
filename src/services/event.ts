// event.publish: rank 0 gives each event the next sequence number and multicasts it down the tree.
import { FluxError, EPROTO } from '../core/errors.js';
import { FLAG_PRIVATE, ROLE_ALL, makeEvent } from '../core/message.js';
import type { ModuleDef, ModuleHost } from './module.js';

export function eventModule(host: ModuleHost): ModuleDef {
  let seq = 0;
  return {
    name: 'event',
    handlers: [
      {
        topic: 'event.publish',
        allow: ROLE_ALL,
        schema: {
          type: 'object',
          properties: {
            topic: { type: 'string' },
            flags: { type: 'integer', minimum: 0 },
            payload: { type: 'string' },
          },
          required: ['topic', 'flags'],
        },
        handler: (msg, body) => {
          if (host.rank !== 0) throw new FluxError(EPROTO, 'this service is only available on rank 0');
          const flags = body!.flags as number;
          if (flags & ~FLAG_PRIVATE) throw new FluxError(EPROTO, 'invalid event flags');
          const payload = typeof body!.payload === 'string' ? Buffer.from(body!.payload, 'base64') : undefined;
          const ev = makeEvent(body!.topic as string, payload, ++seq, flags);
          ev.userid = msg.userid;
          ev.rolemask = msg.rolemask;
          host.multicast(ev);
          host.respond(msg, { seq });
        },
      },
    ],
    stats: () => ({ seq }),
  };
}
