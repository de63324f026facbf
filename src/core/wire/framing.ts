// flux-core's local-socket framing: [magic 12 00 ee ff][u32 BE length of the rest][frames], each frame
// prefixed with its size (1 byte when < 255, else 0xff + u32 BE). The magic is 0xffee0012 stored in x86-64
// host order, which is what flux-core's own clients send and expect.
import { FluxError, EPROTO, EMSGSIZE } from '../errors.js';
import { Message, PROTO_SIZE, decodeFrames, writeProto } from './message.js';

export const LOCAL_MAGIC = Buffer.from([0x12, 0x00, 0xee, 0xff]);
const MAGIC_WORD = LOCAL_MAGIC.readUInt32BE(0);
const PREFIX_SIZE = 8;
/** the largest message we accept: a bound against a hostile length word (blobs are at most 1 GiB in flux) */
export const DEFAULT_MAX_MESSAGE = 1 << 30;

/** what a frame of `len` bytes takes: its size prefix and itself */
function framed(len: number): number {
  return (len < 255 ? 1 : 5) + len;
}

function putSize(out: Buffer, off: number, len: number): number {
  if (len < 255) {
    out[off] = len;
    return off + 1;
  }
  out[off] = 0xff;
  out.writeUInt32BE(len, off + 1);
  return off + 5;
}

/**
 * A payload at least this large is sent as it is, between the message's other bytes, where a smaller one is
 * copied in with them: a copy of a megabyte into memory not touched before costs ~2.7 ms of page faults on a
 * virtual machine (measured), to send bytes that are already whole.
 */
const PAYLOAD_APART = 64 * 1024;

/**
 * The frames of encodeFrames, each prefixed with its size, as buffers to write one after another: one, or the
 * bytes before a large payload, the payload itself and the bytes after it. The routes, topic and PROTO are
 * written straight into one buffer: a Buffer made for each first, then copied, was most of a small message's
 * encoding.
 */
export function encodeLocalPieces(msg: Message): Buffer[] {
  const { routes, topic, payload } = msg;
  const topicLen = topic === undefined ? 0 : Buffer.byteLength(topic, 'utf8');
  let size = framed(PROTO_SIZE);
  if (routes !== undefined) {
    // a route is written as latin1, one byte per character, as encodeFrames writes it
    for (const r of routes) size += framed(r.length);
    size += 1;
  }
  if (topic !== undefined) size += framed(topicLen);
  if (payload !== undefined) size += framed(payload.length);
  const apart = payload !== undefined && payload.length >= PAYLOAD_APART;
  const out = Buffer.allocUnsafe(PREFIX_SIZE + size - (apart ? payload.length : 0));
  LOCAL_MAGIC.copy(out, 0);
  out.writeUInt32BE(size, 4);
  let off = PREFIX_SIZE;
  if (routes !== undefined) {
    for (const r of routes) {
      off = putSize(out, off, r.length);
      off += out.write(r, off, r.length, 'latin1');
    }
    out[off++] = 0;
  }
  if (topic !== undefined) {
    off = putSize(out, off, topicLen);
    off += out.write(topic, off, topicLen, 'utf8');
  }
  if (payload !== undefined) {
    off = putSize(out, off, payload.length);
    if (!apart) off += payload.copy(out, off);
  }
  out[off++] = PROTO_SIZE;
  writeProto(msg, payload !== undefined, out, off);
  return apart ? [out.subarray(0, off - 1), payload, out.subarray(off - 1)] : [out];
}

/** encodeLocalPieces as one buffer */
export function encodeLocal(msg: Message): Buffer {
  const pieces = encodeLocalPieces(msg);
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/**
 * Several messages' frame lists in the local framing, one after another in one buffer: what the overlay sends as
 * a single ZeroMQ message when a busy turn of its event loop has several messages for one peer.
 */
export function encodeLocalList(list: readonly (readonly Buffer[])[]): Buffer {
  let total = 0;
  for (const frames of list) {
    total += PREFIX_SIZE;
    for (const f of frames) total += framed(f.length);
  }
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const frames of list) {
    const start = off;
    off += PREFIX_SIZE;
    for (const f of frames) {
      off = putSize(out, off, f.length);
      off += f.copy(out, off);
    }
    LOCAL_MAGIC.copy(out, start);
    out.writeUInt32BE(off - start - PREFIX_SIZE, start + 4);
  }
  return out;
}

/** whether a buffer begins as encodeLocalList's does */
export function isLocalList(buf: Buffer): boolean {
  return buf.length >= PREFIX_SIZE && buf.readUInt32BE(0) === MAGIC_WORD;
}

/** The frame lists of an encodeLocalList buffer, as views into it; FluxError(EPROTO) for bytes it did not make. */
export function splitLocalList(buf: Buffer): Buffer[][] {
  const list: Buffer[][] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + PREFIX_SIZE > buf.length || buf.readUInt32BE(off) !== MAGIC_WORD) {
      throw new FluxError(EPROTO, 'bad message magic');
    }
    const size = buf.readUInt32BE(off + 4);
    const end = off + PREFIX_SIZE + size;
    if (end > buf.length) throw new FluxError(EPROTO, 'message overruns its list');
    list.push(splitFrames(buf.subarray(off + PREFIX_SIZE, end)));
    off = end;
  }
  return list;
}

/** Split an encoded body (without the 8-byte prefix) into frames. Frames are views into `body`. */
export function splitFrames(body: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let off = 0;
  while (off < body.length) {
    let len = body[off++]!;
    if (len === 0xff) {
      if (off + 4 > body.length) throw new FluxError(EPROTO, 'truncated frame size');
      len = body.readUInt32BE(off);
      off += 4;
    }
    if (off + len > body.length) throw new FluxError(EPROTO, 'frame overruns message');
    frames.push(body.subarray(off, off + len));
    off += len;
  }
  return frames;
}

/**
 * Incremental decoder for a byte stream. push() hands each message completed by a chunk to `each`, in order, and
 * throws FluxError(EPROTO) at the first bad magic or undecodable frames: messages before the bad bytes are
 * still delivered, and the stream is then unusable and must be closed.
 */
export class LocalDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxMessage = DEFAULT_MAX_MESSAGE) {}

  push(chunk: Buffer, each: (msg: Message) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < PREFIX_SIZE) break;
      const head = this.head();
      if (head.readUInt32BE(0) !== MAGIC_WORD) throw new FluxError(EPROTO, 'bad message magic');
      const size = head.readUInt32BE(4);
      if (size > this.maxMessage) throw new FluxError(EMSGSIZE, `message of ${size} bytes is too large`);
      if (this.buffered < PREFIX_SIZE + size) break;
      const whole = this.take(PREFIX_SIZE + size);
      each(decodeFrames(splitFrames(whole.subarray(PREFIX_SIZE))));
    }
  }

  /** the first chunk, holding at least the 8-byte prefix (read in place: no view of it is made) */
  private head(): Buffer {
    if (this.chunks[0]!.length < PREFIX_SIZE) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const whole = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return whole;
  }
}
