// The <service>.ping every module answers: the request's members come back as sent, with the route, the sender's
// credentials and the rank after them, as the exact JSON text a client reads.
import { describe, it, expect } from 'vitest';
import { type Message, makeRequest, jsonPayload, stringPayload, ROLE_OWNER, ROLE_LOCAL } from '../../src/core/wire/message.js';
import { Attrs } from '../../src/services/attrs.js';
import { ServiceRegistry } from '../../src/broker/registry.js';
import type { ModuleHost, Payload } from '../../src/services/module.js';

/** a broker-resident module on a stand-in host of rank 2: each answer's payload text, by matchtag */
async function pinger() {
  const answers = new Map<number, string>();
  const host = {
    rank: 2, size: 4, uuid: 'bbbbbbbb-0000-4000-8000-000000000000', attrs: new Attrs(),
    respond: (req: Message, payload?: Payload) => {
      const bytes = payload === undefined || Buffer.isBuffer(payload) ? payload : jsonPayload(payload);
      answers.set(req.aux2, bytes === undefined ? '' : bytes.toString('utf8', 0, bytes.length - 1));
    },
    respondError: (req: Message, err: unknown) => answers.set(req.aux2, `error: ${(err as Error).message}`),
  } as unknown as ModuleHost;
  const registry = new ServiceRegistry(host);
  await registry.load({ name: 'broker', handlers: [] }, 'test');
  let tag = 0;
  return (text: string): string => {
    const req = makeRequest('broker.ping', stringPayload(text), { matchtag: ++tag });
    req.userid = 1000;
    req.rolemask = ROLE_OWNER | ROLE_LOCAL;
    req.routes = ['cccccccc-client', 'aaaaaaaa-parent'];
    registry.dispatch(req);
    return answers.get(tag)!;
  };
}

describe('<service>.ping', () => {
  it('echoes the members in their order, a member named like one it adds keeping its place', async () => {
    const ping = await pinger();
    expect(ping('{"seq":7,"route":"old","pad":"xx","more":[1,{"a":null}]}'))
      .toBe('{"seq":7,"route":"aaaaaaaa!cccccccc!bbbbbbbb","pad":"xx","more":[1,{"a":null}],"userid":1000,"rolemask":5,"rank":2}');
  });

  it('echoes a member named __proto__ as a member, not taking it for the prototype', async () => {
    const ping = await pinger();
    expect(ping('{"__proto__":{"x":1},"seq":1}'))
      .toBe('{"__proto__":{"x":1},"seq":1,"route":"aaaaaaaa!cccccccc!bbbbbbbb","userid":1000,"rolemask":5,"rank":2}');
  });
});
