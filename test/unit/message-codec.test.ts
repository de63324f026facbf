// The RFC 3 codec and the local framing, branch by branch: what each frame and flag means, every refusal with its
// reason, the payload helpers, the constructors, and the incremental decoder over chunks of any size.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  type Message, encodeProto, encodeFrames, decodeFrames, stringPayload, jsonPayload, payloadString, payloadJson, withBody,
  makeRequest, makeResponse, makeErrorResponse, makeEvent, makeControl, serviceOf, senderOf, typeName, withoutRoutes, PROTO_SIZE,
  MSGTYPE_REQUEST, MSGTYPE_RESPONSE, MSGTYPE_EVENT, MSGTYPE_CONTROL, FLAG_TOPIC, FLAG_PAYLOAD, FLAG_ROUTE, FLAG_STREAMING,
  FLAG_NORESPONSE, FLAG_PRIVATE, NODEID_ANY, USERID_UNKNOWN, ROLE_NONE,
} from '../../src/core/wire/message.js';
import { LocalDecoder, encodeLocal, splitFrames, LOCAL_MAGIC, DEFAULT_MAX_MESSAGE } from '../../src/core/wire/framing.js';
import { FluxError, EPROTO, EMSGSIZE } from '../../src/core/errors.js';
import { thrownError } from '../helpers/rejection.js';

const errOf = thrownError;

const full: Message = {
  type: MSGTYPE_REQUEST, flags: FLAG_STREAMING, userid: 0xfffffffe, rolemask: 5, aux1: 0x01020304, aux2: 0xa0b0c0d0,
  routes: ['first', 'second'], topic: 'svc.method', payload: Buffer.from([0, 1, 2]),
};

describe('PROTO and frames', () => {
  it('lays out the PROTO frame: magic, version, type, flags from the fields, four big-endian words', () => {
    const p = encodeProto(full);
    expect(p.length).toBe(PROTO_SIZE);
    expect([...p.subarray(0, 4)]).toEqual([0x8e, 0x01, MSGTYPE_REQUEST, FLAG_STREAMING | FLAG_TOPIC | FLAG_PAYLOAD | FLAG_ROUTE]);
    expect(p.subarray(4).toString('hex')).toBe('fffffffe0000000501020304a0b0c0d0');
    // structural flags follow the fields, whatever the flag byte says
    const bare = encodeProto({ ...full, flags: 0xff, routes: undefined, topic: undefined, payload: undefined });
    expect(bare[3]).toBe(0xff & ~(FLAG_TOPIC | FLAG_PAYLOAD | FLAG_ROUTE));
    expect(encodeProto({ ...full, userid: -1 }).readUInt32BE(4)).toBe(0xffffffff);
  });

  it('orders frames routes, delimiter, topic, payload, PROTO, and decodes them back', () => {
    const frames = encodeFrames(full);
    expect(frames.map((f) => f.toString('latin1'))).toEqual(['first', 'second', '', 'svc.method', '\u0000\u0001\u0002', encodeProto(full).toString('latin1')]);
    expect(decodeFrames(frames)).toEqual({ ...full, flags: FLAG_STREAMING | FLAG_TOPIC | FLAG_PAYLOAD | FLAG_ROUTE });
    const ev = makeEvent('a.b', undefined, 9, FLAG_PRIVATE);
    expect(encodeFrames(ev).length).toBe(2);
    expect(decodeFrames(encodeFrames(ev))).toEqual({ ...ev, flags: FLAG_PRIVATE | FLAG_TOPIC, payload: undefined });
    // an empty route stack still has its delimiter
    const empty = encodeFrames({ ...full, routes: [] });
    expect(empty[0]!.length).toBe(0);
    expect(decodeFrames(empty).routes).toEqual([]);
    // latin1 routes keep every byte; a topic is UTF-8
    const odd = decodeFrames(encodeFrames({ ...full, routes: ['\u00ff\u0080'], topic: 'é.x' }));
    expect(odd.routes).toEqual(['\u00ff\u0080']);
    expect(odd.topic).toBe('é.x');
  });

  it('takes a topic sent with its NUL, as older clients send it', () => {
    const frames = encodeFrames(full);
    frames[3] = Buffer.from('svc.method\0');
    expect(decodeFrames(frames).topic).toBe('svc.method');
    frames[3] = Buffer.alloc(0);
    expect(decodeFrames(frames).topic).toBe('');
  });

  it('refuses a malformed message, saying why', () => {
    const proto = encodeProto(full);
    const withProto = (p: Buffer) => [Buffer.from('svc.method'), p];
    const cases: Array<[Buffer[], string]> = [
      [[], 'message has no frames'],
      [[Buffer.alloc(19)], 'PROTO frame is 19 bytes, not 20'],
      [[Buffer.alloc(21)], 'PROTO frame is 21 bytes, not 20'],
      [withProto(Buffer.concat([Buffer.from([0x8f]), proto.subarray(1)])), 'bad PROTO magic'],
      [withProto(Buffer.concat([Buffer.from([0x8e, 2]), proto.subarray(2)])), 'unsupported PROTO version'],
      [withProto(Buffer.concat([proto.subarray(0, 2), Buffer.from([3]), proto.subarray(3)])), 'bad message type 3'],
      [withProto(Buffer.concat([proto.subarray(0, 2), Buffer.from([0]), proto.subarray(3)])), 'bad message type 0'],
      [[Buffer.from('r'), encodeProto({ ...full, topic: undefined, payload: undefined })], 'ROUTE flag set but no delimiter frame'],
      [[encodeProto({ ...full, routes: undefined, payload: undefined })], 'TOPIC flag set but no topic frame'],
      [[Buffer.from('t'), encodeProto({ ...full, routes: undefined })], 'PAYLOAD flag set but no payload frame'],
      [[Buffer.from('t'), Buffer.from('extra'), encodeProto({ ...full, routes: undefined, payload: undefined })], 'unexpected extra frames'],
    ];
    for (const [frames, why] of cases) expect(errOf(() => decodeFrames(frames)), why).toMatchObject({ errno: EPROTO, message: why });
    for (const t of [MSGTYPE_REQUEST, MSGTYPE_RESPONSE, MSGTYPE_EVENT, MSGTYPE_CONTROL]) {
      expect(decodeFrames([encodeProto({ ...full, type: t, routes: undefined, topic: undefined, payload: undefined })]).type).toBe(t);
    }
  });

  it('names the types', () => {
    expect([MSGTYPE_REQUEST, MSGTYPE_RESPONSE, MSGTYPE_EVENT, MSGTYPE_CONTROL, 0, 16].map(typeName))
      .toEqual(['request', 'response', 'event', 'control', 'unknown', 'unknown']);
  });
});

describe('payloads', () => {
  it('writes strings and JSON with a trailing NUL and reads them back', () => {
    expect(stringPayload('hé')).toEqual(Buffer.from('hé\0'));
    expect(stringPayload('')).toEqual(Buffer.from([0]));
    expect(jsonPayload({ a: [1] })).toEqual(Buffer.from('{"a":[1]}\0'));
    const m = (payload?: Buffer) => ({ ...makeEvent('t'), payload });
    expect(payloadString(m(undefined))).toBeUndefined();
    expect(payloadString(m(Buffer.alloc(0)))).toBeUndefined();
    expect(payloadString(m(Buffer.from('x\0')))).toBe('x');
    expect(payloadString(m(Buffer.from('\0')))).toBe('');
    expect(errOf(() => payloadString(m(Buffer.from('x'))))).toMatchObject({ errno: EPROTO, message: 'string payload is not NUL-terminated' });
    expect(payloadJson(m(Buffer.from('{"k":2}\0')))).toEqual({ k: 2 });
    expect(errOf(() => payloadJson(m(undefined)))).toMatchObject({ errno: EPROTO, message: 'expected a JSON payload' });
    expect(errOf(() => payloadJson(m(Buffer.from('{\0'))))).toMatchObject({ errno: EPROTO, message: 'payload is not valid JSON' });
    for (const text of ['[1]', 'null', '3', '"s"']) {
      expect(errOf(() => payloadJson(m(Buffer.from(`${text}\0`))))).toMatchObject({ errno: EPROTO, message: 'JSON payload is not an object' });
    }
  });

  it('carries an object in place of its bytes until they are read or replaced', () => {
    const obj = { big: [1, 2, 3] };
    const msg = withBody(makeRequest('a.b'), obj);
    expect(payloadJson(msg)).toBe(obj);
    expect(msg.payload).toEqual(jsonPayload(obj));
    expect(msg.payload).toBe(msg.payload);
    msg.payload = Buffer.from('{"other":1}\0');
    expect(msg.body).toBeUndefined();
    expect(payloadJson(msg)).toEqual({ other: 1 });
    expect(decodeFrames(encodeFrames(withBody(makeRequest('a.b'), obj))).payload).toEqual(jsonPayload(obj));
  });
});

describe('constructors', () => {
  it('make requests, responses, errors, events and controls with their defaults', () => {
    expect(makeRequest('s.t')).toEqual({
      type: MSGTYPE_REQUEST, flags: 0, userid: USERID_UNKNOWN, rolemask: ROLE_NONE, aux1: NODEID_ANY, aux2: 0, routes: [], topic: 's.t', payload: undefined,
    });
    const req = makeRequest('s.t', Buffer.from('p'), { nodeid: 3, matchtag: 7, flags: FLAG_STREAMING | FLAG_NORESPONSE });
    expect(req).toMatchObject({ aux1: 3, aux2: 7, flags: FLAG_STREAMING | FLAG_NORESPONSE, payload: Buffer.from('p') });
    req.routes = ['c1', 'b0'];
    const resp = makeResponse(req, Buffer.from('r'), 5);
    expect(resp).toEqual({
      type: MSGTYPE_RESPONSE, flags: FLAG_STREAMING, userid: USERID_UNKNOWN, rolemask: ROLE_NONE, aux1: 5, aux2: 7, routes: ['c1', 'b0'], topic: 's.t', payload: Buffer.from('r'),
    });
    expect(resp.routes).not.toBe(req.routes);
    expect(makeResponse({ ...req, routes: undefined, flags: 0 })).toMatchObject({ routes: [], flags: 0, aux1: 0, payload: undefined });
    expect(makeErrorResponse(req, 2, 'gone').payload).toEqual(Buffer.from('gone\0'));
    expect(makeErrorResponse(req, 2, '').payload).toBeUndefined();
    expect(makeErrorResponse(req, 2).payload).toBeUndefined();
    expect(makeErrorResponse(req, 2).aux1).toBe(2);
    expect(makeEvent('e.v')).toEqual({ type: MSGTYPE_EVENT, flags: 0, userid: USERID_UNKNOWN, rolemask: ROLE_NONE, aux1: 0, aux2: 0, topic: 'e.v', payload: undefined });
    expect(makeControl(2, 9)).toEqual({ type: MSGTYPE_CONTROL, flags: 0, userid: USERID_UNKNOWN, rolemask: ROLE_NONE, aux1: 2, aux2: 9, routes: [] });
  });

  it('copies a message without its route stack, its payload as bytes', () => {
    const ev = { ...makeEvent('a.b', Buffer.from('x\0'), 7, FLAG_PRIVATE), routes: ['r1'], userid: 5, rolemask: 6, aux2: 9 };
    const copy = withoutRoutes(ev);
    expect(encodeFrames(copy)).toEqual(encodeFrames({ ...ev, routes: undefined }));
    expect(copy.routes).toBeUndefined();
    expect(ev.routes).toEqual(['r1']);
    const lazy = withBody(makeEvent('c.d'), { n: 1 });
    expect(payloadJson({ ...withoutRoutes(lazy), body: undefined })).toEqual({ n: 1 });
  });

  it('finds the service of a topic and the sender of a request', () => {
    expect(serviceOf('kvs.lookup.x')).toBe('kvs');
    expect(serviceOf('kvs')).toBe('kvs');
    expect(serviceOf('.x')).toBe('');
    expect(senderOf({ ...makeRequest('a'), routes: ['hop', 'client'] })).toBe('client');
    expect(senderOf({ ...makeRequest('a'), routes: [] })).toBeUndefined();
    expect(senderOf({ ...makeRequest('a'), routes: undefined })).toBeUndefined();
  });
});

describe('the local framing', () => {
  it('prefixes magic and length, and each frame with its size (one byte, or 0xff and four)', () => {
    const msg = { ...makeEvent('t', Buffer.alloc(254, 1)), routes: undefined };
    const out = encodeLocal(msg);
    expect(out.subarray(0, 4)).toEqual(LOCAL_MAGIC);
    expect(out.readUInt32BE(4)).toBe(out.length - 8);
    expect([...out.subarray(8, 10)]).toEqual([1, 't'.charCodeAt(0)]);
    expect(out[10]).toBe(254);
    const big = encodeLocal({ ...msg, payload: Buffer.alloc(255, 2) });
    expect(big[10]).toBe(0xff);
    expect(big.readUInt32BE(11)).toBe(255);
    expect(big.readUInt32BE(4)).toBe(2 + 5 + 255 + 1 + PROTO_SIZE);
    expect(splitFrames(big.subarray(8)).map((f) => f.length)).toEqual([1, 255, PROTO_SIZE]);
    expect(splitFrames(Buffer.alloc(0))).toEqual([]);
    // an empty frame written the long way, last in the message
    expect(splitFrames(Buffer.from([0xff, 0, 0, 0, 0]))).toEqual([Buffer.alloc(0)]);
    expect(errOf(() => splitFrames(Buffer.from([0xff, 0, 0])))).toMatchObject({ errno: EPROTO, message: 'truncated frame size' });
    expect(errOf(() => splitFrames(Buffer.from([3, 1, 2])))).toMatchObject({ errno: EPROTO, message: 'frame overruns message' });
    expect(errOf(() => splitFrames(Buffer.from([0xff, 0, 0, 0, 2, 1])))).toMatchObject({ errno: EPROTO, message: 'frame overruns message' });
  });

  it('writes each message as its frames, each prefixed with its size, byte for byte', () => {
    // the reference: encodeFrames' frames laid end to end, the way the framing is defined
    const reference = (m: Message): Buffer => {
      const parts = encodeFrames(m).flatMap((f) => {
        const size = f.length < 255 ? Buffer.from([f.length]) : Buffer.from([0xff, 0, 0, 0, 0]);
        if (f.length >= 255) size.writeUInt32BE(f.length, 1);
        return [size, f];
      });
      const body = Buffer.concat(parts);
      const head = Buffer.alloc(8);
      LOCAL_MAGIC.copy(head);
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    // strings near the edges: characters past 0xff (latin1 keeps the low byte), lone surrogates, 254/255 bytes
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('a', 'é', '\u0100', '\ud800', '😀') }),
      fc.constantFrom('x'.repeat(254), 'x'.repeat(255), 'é'.repeat(127), 'é'.repeat(128)));
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(254, 255, 256).map((n) => new Uint8Array(n)));
    const message = fc.record({
      type: fc.constantFrom(MSGTYPE_REQUEST, MSGTYPE_RESPONSE, MSGTYPE_EVENT, MSGTYPE_CONTROL),
      flags: fc.integer({ min: 0, max: 0xff }),
      userid: fc.integer({ min: -1, max: 0xffffffff }),
      rolemask: fc.integer({ min: 0, max: 0xffffffff }),
      aux1: fc.integer({ min: 0, max: 0xffffffff }),
      aux2: fc.integer({ min: 0, max: 0xffffffff }),
      routes: fc.option(fc.array(text, { maxLength: 4 }), { nil: undefined }),
      topic: fc.option(text, { nil: undefined }),
      payload: fc.option(bytes.map((b) => Buffer.from(b)), { nil: undefined }),
    });
    fc.assert(fc.property(message, (m) => {
      expect(encodeLocal(m).toString('hex')).toBe(reference(m).toString('hex'));
    }), { numRuns: 500 });
    // a payload made from a body is read (and encoded) once, and counted as present
    const lazy = withBody(makeRequest('a.b'), { x: 1 });
    expect(encodeLocal(lazy).toString('hex')).toBe(reference(withBody(makeRequest('a.b'), { x: 1 })).toString('hex'));
  });

  it('decodes a stream cut anywhere, in order, and stops at bad magic or an oversized length', () => {
    const msgs = [full, { ...makeEvent('ev', Buffer.alloc(300, 3), 4), routes: undefined }, makeControl(1, 2)];
    const stream = Buffer.concat(msgs.map(encodeLocal));
    for (const cut of [1, 3, 7, 8, 9, 40, stream.length]) {
      const d = new LocalDecoder();
      const got: Message[] = [];
      for (let off = 0; off < stream.length; off += cut) d.push(stream.subarray(off, off + cut), (m) => got.push(m));
      expect(got.map((m) => [m.type, m.topic, m.payload?.length])).toEqual([[1, 'svc.method', 3], [4, 'ev', 300], [8, undefined, undefined]]);
    }
    const d = new LocalDecoder();
    const got: Message[] = [];
    expect(errOf(() => d.push(Buffer.concat([encodeLocal(full), Buffer.from('garbage!')]), (m) => got.push(m))))
      .toMatchObject({ errno: EPROTO, message: 'bad message magic' });
    expect(got.length).toBe(1);
    const small = new LocalDecoder(100);
    expect(errOf(() => small.push(encodeLocal({ ...full, payload: Buffer.alloc(200) }), () => {})))
      .toMatchObject({ errno: EMSGSIZE, message: expect.stringMatching(/^message of \d+ bytes is too large$/) });
    const exact = encodeLocal({ ...full, payload: Buffer.alloc(10) });
    const fits = new LocalDecoder(exact.length - 8);
    let n = 0;
    fits.push(exact, () => n++);
    expect(n).toBe(1);
    expect(DEFAULT_MAX_MESSAGE).toBe(1 << 30);
    // undecodable frames inside a well-framed message
    const bad = Buffer.concat([LOCAL_MAGIC, Buffer.from([0, 0, 0, 2, 1, 0x41])]);
    expect(errOf(() => new LocalDecoder().push(bad, () => {}))).toMatchObject({ errno: EPROTO });
  });
});
