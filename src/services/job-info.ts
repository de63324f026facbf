// job-info: a job's values in the KVS (RFC 16: job.<dothex>.eventlog, jobspec, R, J, guest.*) as flux-core's
// job-info module answers them. The primary namespace is the owner's; through here a guest reads its own job's
// values too, and another user's job is refused with EPERM. Whose a job is, its eventlog's submit event says.
//
//   job-info.lookup {id, keys: [key…], flags} -> {id, <key>: <value as text>…}
import { FluxError, EPERM, EPROTO } from '../core/errors.js';
import { ROLE_OWNER, ROLE_USER, payloadJson } from '../core/wire/message.js';
import { EVENTLOG, jobKey, parseEventlog } from '../core/jobs/kvs.js';
import type { ModuleDef, ModuleHost } from './module.js';

export function jobInfoModule(host: ModuleHost): ModuleDef {
  /** a value of the job's directory, read with the broker's own credentials (ENOENT when it has none) */
  async function value(id: number, key: string): Promise<string> {
    const r = payloadJson(await host.rpc('kvs.lookup', { namespace: 'primary', key: jobKey(id, key), flags: 0 }));
    const v = r.val as { type?: unknown; data?: unknown } | undefined;
    if (v?.type !== 'val' || typeof v.data !== 'string') throw new FluxError(EPROTO, `${key} is not a value`);
    return Buffer.from(v.data, 'base64').toString('utf8');
  }

  return {
    name: 'job-info',
    handlers: [
      {
        topic: 'job-info.lookup',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: {
            id: { type: 'integer', minimum: 0 },
            keys: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
            flags: { type: 'integer', minimum: 0 },
          },
          required: ['id', 'keys'],
        },
        handler: async (msg, body) => {
          const id = body!.id as number;
          let log: string | undefined;
          if (!(msg.rolemask & ROLE_OWNER)) {
            log = await value(id, EVENTLOG);
            const submit = parseEventlog(log)[0];
            if (submit?.name !== 'submit' || submit.context?.userid !== msg.userid) {
              throw new FluxError(EPERM, "guests may read their own jobs' values only");
            }
          }
          const out: Record<string, unknown> = { id };
          for (const key of body!.keys as string[]) out[key] = key === EVENTLOG && log !== undefined ? log : await value(id, key);
          host.respond(msg, out);
        },
      },
    ],
  };
}
