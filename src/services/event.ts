// event.publish: rank 0 makes each published event a journal entry; the journal sequences it, makes it durable,
// sends it down the tree and delivers it to subscribers. The event's sequence number is its journal seq.
import { FluxError, EPROTO, EPERM } from '../core/errors.js';
import { FLAG_PRIVATE, ROLE_ALL } from '../core/wire/message.js';
import { payloadForEntry } from '../core/journal/entry.js';
import { isServiceTopic } from '../core/access/visibility.js';
import type { JournalService } from './journal.js';
import type { ModuleDef, ModuleHost } from './module.js';


export function eventModule(host: ModuleHost, journal: JournalService): ModuleDef {
  let published = 0;
  return {
    name: 'event',
    handlers: [
      {
        topic: 'event.publish',
        allow: ROLE_ALL,
        schema: {
          type: 'object',
          properties: {
            topic: { type: 'string', minLength: 1 },
            flags: { type: 'integer', minimum: 0 },
            payload: { type: 'string' },
          },
          required: ['topic', 'flags'],
        },
        handler: async (msg, body) => {
          if (host.rank !== 0) throw new FluxError(EPROTO, 'this service is only available on rank 0');
          const flags = body!.flags as number;
          if (flags & ~FLAG_PRIVATE) throw new FluxError(EPROTO, 'invalid event flags');
          const topic = body!.topic as string;
          // these entries change the state services build from the journal: only those services write them
          if (isServiceTopic(topic) || journal.reserves(topic)) throw new FluxError(EPERM, `${topic}: topic is reserved for the instance's services`);
          const bytes = typeof body!.payload === 'string' ? Buffer.from(body!.payload, 'base64') : undefined;
          const { payload, raw } = payloadForEntry(bytes);
          const a = await journal.append(topic, payload, { userid: msg.userid, rolemask: msg.rolemask, flags }, { raw });
          published++;
          host.respond(msg, { seq: a.entry.seq });
        },
      },
    ],
    stats: () => ({ published }),
  };
}
