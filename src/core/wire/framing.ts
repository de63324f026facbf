// flux-core's local-socket framing: [magic 12 00 ee ff][u32 BE length of the rest][frames], each frame
// prefixed with its size (1 byte when < 255, else 0xff + u32 BE). The magic is 0xffee0012 stored in x86-64
// host order, which is what flux-core's own clients send and expect.
import { FluxError, EPROTO, EMSGSIZE } from '../errors.js';
import { Message, encodeFrames, decodeFrames } from './message.js';

export const LOCAL_MAGIC = Buffer.from([0x12, 0x00, 0xee, 0xff]);
const PREFIX_SIZE = 8;
/** the largest message we accept: a bound against a hostile length word (blobs are at most 1 GiB in flux) */
export const DEFAULT_MAX_MESSAGE = 1 << 30;

export function encodeLocal(msg: Message): Buffer {
  const frames = encodeFrames(msg);
  let size = 0;
  for (const f of frames) size += (f.length < 255 ? 1 : 5) + f.length;
  const out = Buffer.allocUnsafe(PREFIX_SIZE + size);
  LOCAL_MAGIC.copy(out, 0);
  out.writeUInt32BE(size, 4);
  let off = PREFIX_SIZE;
  for (const f of frames) {
    if (f.length < 255) {
      out[off++] = f.length;
    } else {
      out[off++] = 0xff;
      out.writeUInt32BE(f.length, off);
      off += 4;
    }
    f.copy(out, off);
    off += f.length;
  }
  return out;
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
      const head = this.peek(PREFIX_SIZE);
      if (!head.subarray(0, 4).equals(LOCAL_MAGIC)) throw new FluxError(EPROTO, 'bad message magic');
      const size = head.readUInt32BE(4);
      if (size > this.maxMessage) throw new FluxError(EMSGSIZE, `message of ${size} bytes is too large`);
      if (this.buffered < PREFIX_SIZE + size) break;
      const whole = this.take(PREFIX_SIZE + size);
      each(decodeFrames(splitFrames(whole.subarray(PREFIX_SIZE))));
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
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
