// The router flux proxy puts between its clients and its one upstream connection, with a recording upstream and
// recording clients: what it sends where.
import { describe, it, expect } from 'vitest';
import { ECONNRESET, ENOENT, FluxError } from '../../src/core/errors.js';
import {
  type Message, FLAG_NORESPONSE, FLAG_UPSTREAM, MSGTYPE_REQUEST, jsonPayload, makeErrorResponse, makeEvent,
  makeRequest, makeResponse, payloadJson,
} from '../../src/core/wire/message.js';
import { Router, type RoutedClient } from '../../src/transport/router.js';
import { compatibleVersion } from '../../src/api/proxy.js';
import { VERSION_MAJOR, VERSION_MINOR } from '../../src/core/version.js';

function client(id: string): RoutedClient & { got: Message[] } {
  const got: Message[] = [];
  return { id, got, send: (m) => got.push(m) };
}

function setup() {
  const sent: Message[] = [];
  let open = true;
  const router = new Router({
    send: (m) => {
      if (!open) throw new FluxError(ECONNRESET, 'closed');
      sent.push(m);
    },
  });
  return { router, sent, close: () => (open = false) };
}

/** what the upstream broker answers: its own route popped already, as a broker's local connector leaves it */
function answer(req: Message, body?: Record<string, unknown>): Message {
  return makeResponse(req, body ? jsonPayload(body) : undefined);
}

describe('proxy router', () => {
  it("pushes each client's id on the route stack and takes it off the response to pick the client", () => {
    const { router, sent } = setup();
    const a = client('aaaa');
    const b = client('bbbb');
    router.fromClient(a, makeRequest('kvs.lookup', jsonPayload({ key: 'x' }), { matchtag: 1 }));
    router.fromClient(b, makeRequest('kvs.lookup', jsonPayload({ key: 'y' }), { matchtag: 1 }));
    expect(sent.map((m) => m.routes)).toEqual([['aaaa'], ['bbbb']]);
    expect(sent.map((m) => m.userid)).toEqual([0xffffffff, 0xffffffff]);
    router.fromUpstream(answer(sent[1]!, { v: 'y' }));
    router.fromUpstream(answer(sent[0]!, { v: 'x' }));
    expect(a.got.map((m) => [payloadJson(m).v, m.routes, m.aux2])).toEqual([['x', [], 1]]);
    expect(b.got.map((m) => [payloadJson(m).v, m.routes, m.aux2])).toEqual([['y', [], 1]]);
  });

  it('keeps a route stack the client brought (a proxy under a proxy)', () => {
    const { router, sent } = setup();
    const a = client('aaaa');
    const req = makeRequest('broker.ping', undefined, { matchtag: 3 });
    req.routes = ['inner'];
    router.fromClient(a, req);
    expect(sent[0]!.routes).toEqual(['aaaa', 'inner']);
    router.fromUpstream(answer(sent[0]!));
    expect(a.got[0]!.routes).toEqual(['inner']);
  });

  it('hands an event to the clients subscribed to it, once a subscription has succeeded', () => {
    const { router, sent } = setup();
    const a = client('aaaa');
    const b = client('bbbb');
    router.fromClient(a, makeRequest('event.subscribe', jsonPayload({ topic: 'app.' }), { matchtag: 5 }));
    router.fromClient(b, makeRequest('event.subscribe', jsonPayload({ topic: 'kvs.' }), { matchtag: 5 }));
    router.fromUpstream(makeEvent('app.early'));
    expect(a.got).toEqual([]);
    router.fromUpstream(answer(sent[0]!));
    router.fromUpstream(makeErrorResponse(sent[1]!, ENOENT));
    router.fromUpstream(makeEvent('app.one'));
    router.fromUpstream(makeEvent('kvs.setroot'));
    expect(a.got.map((m) => m.topic)).toEqual(['event.subscribe', 'app.one']);
    expect(b.got.map((m) => m.topic)).toEqual(['event.subscribe']);
  });

  it('counts subscriptions as the broker does: one unsubscribe undoes one subscribe', () => {
    const { router, sent } = setup();
    const a = client('aaaa');
    for (const [topic, tag] of [['event.subscribe', 1], ['event.subscribe', 2], ['event.unsubscribe', 3]] as const) {
      router.fromClient(a, makeRequest(topic, jsonPayload({ topic: 'app.' }), { matchtag: tag }));
      router.fromUpstream(answer(sent[sent.length - 1]!));
    }
    router.fromUpstream(makeEvent('app.x'));
    expect(a.got.filter((m) => m.topic === 'app.x')).toHaveLength(1);
    router.fromClient(a, makeRequest('event.unsubscribe', jsonPayload({ topic: 'app.' }), { flags: FLAG_NORESPONSE }));
    router.fromUpstream(makeEvent('app.y'));
    expect(a.got.filter((m) => m.topic === 'app.y')).toHaveLength(0);
  });

  it("says goodbye for a departed client to every service it used, where it used it, and drops its subscriptions", () => {
    const { router, sent } = setup();
    const a = client('aaaa');
    router.fromClient(a, makeRequest('kvs-watch.lookup', jsonPayload({}), { matchtag: 1 }));
    router.fromClient(a, makeRequest('kvs-watch.cancel', jsonPayload({}), { matchtag: 2 }));
    router.fromClient(a, makeRequest('rexec.exec', jsonPayload({}), { matchtag: 3, nodeid: 2 }));
    router.fromClient(a, makeRequest('journal.head', jsonPayload({}), { matchtag: 4, nodeid: 1, flags: FLAG_UPSTREAM }));
    router.fromClient(a, makeRequest('event.subscribe', jsonPayload({ topic: 'app.' }), { matchtag: 5 }));
    router.fromUpstream(answer(sent[4]!));
    sent.length = 0;
    router.clientGone(a);
    const byes = sent.map((m) => ({ topic: m.topic, nodeid: m.aux1, flags: m.flags, routes: m.routes, type: m.type }));
    expect(byes).toEqual([
      { topic: 'kvs-watch.disconnect', nodeid: 0xffffffff, flags: FLAG_NORESPONSE, routes: ['aaaa'], type: MSGTYPE_REQUEST },
      { topic: 'rexec.disconnect', nodeid: 2, flags: FLAG_NORESPONSE, routes: ['aaaa'], type: MSGTYPE_REQUEST },
      { topic: 'journal.disconnect', nodeid: 1, flags: FLAG_NORESPONSE | FLAG_UPSTREAM, routes: ['aaaa'], type: MSGTYPE_REQUEST },
      { topic: 'event.disconnect', nodeid: 0xffffffff, flags: FLAG_NORESPONSE, routes: ['aaaa'], type: MSGTYPE_REQUEST },
      { topic: 'event.unsubscribe', nodeid: 0xffffffff, flags: FLAG_NORESPONSE, routes: [], type: MSGTYPE_REQUEST },
    ]);
    expect(payloadJson(sent[4]!)).toEqual({ topic: 'app.' });
    // a response to a departed client has nowhere to go
    router.fromUpstream(answer({ ...sent[0]!, routes: ['aaaa'] }));
    expect(a.got).toHaveLength(1);
  });

  it('answers its own requests from responses with no route left, and fails them when the upstream is lost', async () => {
    const { router, sent, close } = setup();
    const got = router.rpc('attr.get', { name: 'version' });
    expect(sent[0]!.routes).toEqual([]);
    router.fromUpstream(answer(sent[0]!, { value: '0.88.0' }));
    expect(payloadJson(await got).value).toBe('0.88.0');
    const pending = router.rpc('attr.get', { name: 'size' });
    close();
    router.upstreamLost(new FluxError(ECONNRESET, 'gone'));
    await expect(pending).rejects.toMatchObject({ errno: ECONNRESET });
    await expect(router.rpc('attr.get', { name: 'size' })).rejects.toMatchObject({ errno: ECONNRESET });
    // a client leaving after the loss costs nothing and throws nothing
    const a = client('aaaa');
    router.fromClient(a, makeRequest('kvs.lookup', jsonPayload({}), { matchtag: 1 }));
    router.clientGone(a);
  });
});

describe('proxy version check', () => {
  it('takes a broker of the same major.minor, whatever its patch level and suffix', () => {
    expect(compatibleVersion(`${VERSION_MAJOR}.${VERSION_MINOR}.0`)).toBe(true);
    expect(compatibleVersion(`${VERSION_MAJOR}.${VERSION_MINOR}.7-12-gabcdef`)).toBe(true);
    expect(compatibleVersion(`${VERSION_MAJOR}.${VERSION_MINOR + 1}.0`)).toBe(false);
    expect(compatibleVersion(`${VERSION_MAJOR + 1}.${VERSION_MINOR}.0`)).toBe(false);
    expect(compatibleVersion('unknown')).toBe(false);
  });
});
