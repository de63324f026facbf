// attr.get / attr.set / attr.list / attr.rm over the broker's attribute table.
import { ROLE_ALL } from '../core/wire/message.js';
import type { ModuleDef, ModuleHost } from './module.js';

export function attrModule(host: ModuleHost): ModuleDef {
  const attrs = host.attrs;
  return {
    name: 'attr',
    handlers: [
      {
        topic: 'attr.get',
        allow: ROLE_ALL,
        schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        handler: (msg, body) => host.respond(msg, attrs.lookup(body!.name as string)),
      },
      {
        topic: 'attr.set',
        schema: {
          type: 'object',
          properties: { name: { type: 'string' }, value: { type: 'string' }, force: { type: 'boolean' } },
          required: ['name', 'value'],
        },
        handler: (msg, body) => {
          attrs.update(body!.name as string, body!.value as string, body!.force === true);
          host.respond(msg);
        },
      },
      {
        topic: 'attr.rm',
        schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        handler: (msg, body) => {
          attrs.remove(body!.name as string);
          host.respond(msg);
        },
      },
      {
        topic: 'attr.list',
        allow: ROLE_ALL,
        handler: (msg) => host.respond(msg, { names: attrs.names() }),
      },
    ],
  };
}
