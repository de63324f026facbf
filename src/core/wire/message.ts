// RFC 3 messages: an ordered list of frames [routes…, delimiter] [topic] [payload] PROTO, PROTO always last.
import { FluxError, EPROTO } from '../errors.js';

export const MSGTYPE_REQUEST = 0x01;
export const MSGTYPE_RESPONSE = 0x02;
export const MSGTYPE_EVENT = 0x04;
export const MSGTYPE_CONTROL = 0x08;

export const FLAG_TOPIC = 0x01;
export const FLAG_PAYLOAD = 0x02;
export const FLAG_NORESPONSE = 0x04;
export const FLAG_ROUTE = 0x08;
export const FLAG_UPSTREAM = 0x10;
export const FLAG_PRIVATE = 0x20;
export const FLAG_STREAMING = 0x40;
export const FLAG_USER1 = 0x80;
/** the flags that describe which frames are present: derived from the fields when encoding */
const STRUCTURAL = FLAG_TOPIC | FLAG_PAYLOAD | FLAG_ROUTE;

export const NODEID_ANY = 0xffffffff;
export const NODEID_UPSTREAM = 0xfffffffe;
export const USERID_UNKNOWN = 0xffffffff;
export const MATCHTAG_NONE = 0;

export const ROLE_NONE = 0;
export const ROLE_OWNER = 1;
export const ROLE_USER = 2;
export const ROLE_LOCAL = 4;
export const ROLE_ADMIN = 8;
export const ROLE_ALL = 0xffffffff;

export const PROTO_SIZE = 20;
const PROTO_MAGIC = 0x8e;
const PROTO_VERSION = 0x01;

export interface Message {
  type: number;
  /** the flag byte; TOPIC, PAYLOAD and ROUTE are recomputed from the fields below when encoding */
  flags: number;
  userid: number;
  rolemask: number;
  /** request: nodeid; response: errnum; event: sequence; control: type */
  aux1: number;
  /** request and response: matchtag; control: status */
  aux2: number;
  /** present iff the ROUTE flag is set; wire order, so routes[0] is the most recent hop */
  routes?: string[];
  topic?: string;
  payload?: Buffer;
  /**
   * The JSON payload as the object it was made from, on a message made in this process (see withBody): read in
   * place of parsing the payload. Never written to: the sender's object is the receiver's.
   */
  body?: Record<string, unknown>;
}

const VALID_TYPES = new Set([MSGTYPE_REQUEST, MSGTYPE_RESPONSE, MSGTYPE_EVENT, MSGTYPE_CONTROL]);
const EMPTY = Buffer.alloc(0);

export function typeName(type: number): string {
  switch (type) {
    case MSGTYPE_REQUEST: return 'request';
    case MSGTYPE_RESPONSE: return 'response';
    case MSGTYPE_EVENT: return 'event';
    case MSGTYPE_CONTROL: return 'control';
    default: return 'unknown';
  }
}

export function encodeProto(msg: Message): Buffer {
  const proto = Buffer.allocUnsafe(PROTO_SIZE);
  writeProto(msg, msg.payload !== undefined, proto, 0);
  return proto;
}

/** the PROTO frame's 20 bytes at `off`; `hasPayload` saves reading a lazily encoded payload twice */
export function writeProto(msg: Message, hasPayload: boolean, out: Buffer, off: number): void {
  out[off] = PROTO_MAGIC;
  out[off + 1] = PROTO_VERSION;
  out[off + 2] = msg.type;
  let flags = msg.flags & ~STRUCTURAL;
  if (msg.topic !== undefined) flags |= FLAG_TOPIC;
  if (hasPayload) flags |= FLAG_PAYLOAD;
  if (msg.routes !== undefined) flags |= FLAG_ROUTE;
  out[off + 3] = flags;
  out.writeUInt32BE(msg.userid >>> 0, off + 4);
  out.writeUInt32BE(msg.rolemask >>> 0, off + 8);
  out.writeUInt32BE(msg.aux1 >>> 0, off + 12);
  out.writeUInt32BE(msg.aux2 >>> 0, off + 16);
}

/** The frame list of a message, as ZeroMQ multipart carries it and as the local framing prefixes it. */
export function encodeFrames(msg: Message): Buffer[] {
  const frames: Buffer[] = [];
  if (msg.routes !== undefined) {
    for (const r of msg.routes) frames.push(Buffer.from(r, 'latin1'));
    frames.push(EMPTY);
  }
  if (msg.topic !== undefined) frames.push(Buffer.from(msg.topic, 'utf8'));
  if (msg.payload !== undefined) frames.push(msg.payload);
  frames.push(encodeProto(msg));
  return frames;
}

function bad(reason: string): never {
  throw new FluxError(EPROTO, reason);
}

export function decodeFrames(frames: Buffer[]): Message {
  if (frames.length === 0) bad('message has no frames');
  const proto = frames[frames.length - 1]!;
  if (proto.length !== PROTO_SIZE) bad(`PROTO frame is ${proto.length} bytes, not ${PROTO_SIZE}`);
  if (proto[0] !== PROTO_MAGIC) bad('bad PROTO magic');
  if (proto[1] !== PROTO_VERSION) bad('unsupported PROTO version');
  const type = proto[2]!;
  if (!VALID_TYPES.has(type)) bad(`bad message type ${type}`);
  const flags = proto[3]!;
  const msg: Message = {
    type,
    flags,
    userid: proto.readUInt32BE(4),
    rolemask: proto.readUInt32BE(8),
    aux1: proto.readUInt32BE(12),
    aux2: proto.readUInt32BE(16),
  };
  const last = frames.length - 1;
  let i = 0;
  if (flags & FLAG_ROUTE) {
    const routes: string[] = [];
    while (i < last && frames[i]!.length > 0) routes.push(frames[i++]!.toString('latin1'));
    if (i >= last) bad('ROUTE flag set but no delimiter frame');
    i++;
    msg.routes = routes;
  }
  if (flags & FLAG_TOPIC) {
    if (i >= last) bad('TOPIC flag set but no topic frame');
    let t = frames[i++]!;
    // older clients sent the topic with its NUL
    if (t.length > 0 && t[t.length - 1] === 0) t = t.subarray(0, t.length - 1);
    msg.topic = t.toString('utf8');
  }
  if (flags & FLAG_PAYLOAD) {
    if (i >= last) bad('PAYLOAD flag set but no payload frame');
    msg.payload = frames[i++]!;
  }
  if (i !== last) bad('unexpected extra frames');
  return msg;
}

// ---- payload helpers ------------------------------------------------------------------------------

/** JSON and string payloads carry a trailing NUL on the wire, as flux_msg_set_string does. */
export function stringPayload(s: string): Buffer {
  const b = Buffer.allocUnsafe(Buffer.byteLength(s) + 1);
  const n = b.write(s, 0, 'utf8');
  b[n] = 0;
  return b;
}

export function jsonPayload(obj: unknown): Buffer {
  return stringPayload(JSON.stringify(obj));
}

/** The payload as a string; a present payload must end with NUL (EPROTO otherwise). Absent payload: undefined. */
export function payloadString(msg: Message): string | undefined {
  const p = msg.payload;
  if (p === undefined || p.length === 0) return undefined;
  if (p[p.length - 1] !== 0) bad('string payload is not NUL-terminated');
  return p.toString('utf8', 0, p.length - 1);
}

/**
 * A message whose JSON payload is encoded only when something reads the bytes: a request or response that goes
 * between two services of one broker is never encoded nor parsed (payloadJson hands over `body` itself), one that
 * leaves the process is encoded as it is sent. (Internal RPCs of the job services carry whole batches of
 * jobspecs and KVS ops: measured, their encoding and parsing cost more than the rest of a submission.) A class
 * rather than accessors defined on each message: defining them cost a lookup's broker 1.5 µs a response.
 */
class BodyMessage implements Message {
  type: number;
  flags: number;
  userid: number;
  rolemask: number;
  aux1: number;
  aux2: number;
  routes?: string[];
  topic?: string;
  body?: Record<string, unknown>;
  #bytes: Buffer | undefined;

  constructor(msg: Message, obj: Record<string, unknown>) {
    this.type = msg.type;
    this.flags = msg.flags;
    this.userid = msg.userid;
    this.rolemask = msg.rolemask;
    this.aux1 = msg.aux1;
    this.aux2 = msg.aux2;
    this.routes = msg.routes;
    this.topic = msg.topic;
    this.body = obj;
  }

  get payload(): Buffer | undefined {
    return (this.#bytes ??= this.body === undefined ? undefined : jsonPayload(this.body));
  }

  /** new bytes replace the body they were made from */
  set payload(v: Buffer | undefined) {
    this.#bytes = v;
    this.body = undefined;
  }
}

/** `msg`'s header with the JSON payload `obj`, encoded when first read */
export function withBody(msg: Message, obj: Record<string, unknown>): Message {
  return new BodyMessage(msg, obj);
}

/** The payload as a JSON object (EPROTO if it is missing, unterminated, unparsable, or not an object). */
export function payloadJson(msg: Message): Record<string, unknown> {
  if (msg.body !== undefined) return msg.body;
  const s = payloadString(msg);
  if (s === undefined) bad('expected a JSON payload');
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    bad('payload is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('JSON payload is not an object');
  return v as Record<string, unknown>;
}

// ---- constructors ---------------------------------------------------------------------------------

export interface RequestOptions {
  nodeid?: number;
  matchtag?: number;
  flags?: number;
}

export function makeRequest(topic: string, payload?: Buffer, opts: RequestOptions = {}): Message {
  return {
    type: MSGTYPE_REQUEST,
    flags: opts.flags ?? 0,
    userid: USERID_UNKNOWN,
    rolemask: ROLE_NONE,
    aux1: opts.nodeid ?? NODEID_ANY,
    aux2: opts.matchtag ?? MATCHTAG_NONE,
    routes: [],
    topic,
    payload,
  };
}

/** A response copies the request's topic, matchtag, route stack and STREAMING flag. */
export function makeResponse(req: Message, payload?: Buffer, errnum = 0): Message {
  return {
    type: MSGTYPE_RESPONSE,
    flags: req.flags & FLAG_STREAMING,
    userid: USERID_UNKNOWN,
    rolemask: ROLE_NONE,
    aux1: errnum,
    aux2: req.aux2,
    routes: req.routes ? req.routes.slice() : [],
    topic: req.topic,
    payload,
  };
}

export function makeErrorResponse(req: Message, errnum: number, text?: string): Message {
  return makeResponse(req, text !== undefined && text.length > 0 ? stringPayload(text) : undefined, errnum);
}

export function makeEvent(topic: string, payload?: Buffer, seq = 0, flags = 0): Message {
  return {
    type: MSGTYPE_EVENT,
    flags,
    userid: USERID_UNKNOWN,
    rolemask: ROLE_NONE,
    aux1: seq,
    aux2: 0,
    topic,
    payload,
  };
}

export function makeControl(ctype: number, status: number): Message {
  return {
    type: MSGTYPE_CONTROL,
    flags: 0,
    userid: USERID_UNKNOWN,
    rolemask: ROLE_NONE,
    aux1: ctype,
    aux2: status,
    routes: [],
  };
}

/**
 * `msg` without a route stack, as an event travels: a copy, since the message itself may go elsewhere too. Written
 * out member by member: `{ ...msg, routes: undefined }` cost ~0.8 µs, V8 making a new hidden class for each
 * member added to a spread copy.
 */
export function withoutRoutes(msg: Message): Message {
  return {
    type: msg.type, flags: msg.flags, userid: msg.userid, rolemask: msg.rolemask, aux1: msg.aux1, aux2: msg.aux2,
    topic: msg.topic, payload: msg.payload,
  };
}

/** RFC 6: the service is the topic up to the first '.'. */
export function serviceOf(topic: string): string {
  const dot = topic.indexOf('.');
  return dot < 0 ? topic : topic.substring(0, dot);
}

/** The sender of a request: the route frame closest to the delimiter (the originating client). */
export function senderOf(msg: Message): string | undefined {
  const r = msg.routes;
  return r && r.length > 0 ? r[r.length - 1] : undefined;
}
