// Z85 (ZeroMQ RFC 32): the text form of CURVE keys. zeromq.js takes keys as Z85 strings but exports no codec.
import { FluxError, EINVAL } from '../core/errors.js';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

// 0xff marks characters outside the alphabet; the table covers all of Latin-1 so any char code < 256 indexes it.
const DIGIT = new Uint8Array(256).fill(0xff);
for (let i = 0; i < ALPHABET.length; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;

// most significant digit first
const POWERS = [85 ** 4, 85 ** 3, 85 ** 2, 85, 1];

export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0) throw new FluxError(EINVAL, `z85: input length ${data.length} is not a multiple of 4`);
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    // `>>> 0` keeps the 32-bit word unsigned; bitwise ops in JS are signed
    const value = ((data[i]! << 24) | (data[i + 1]! << 16) | (data[i + 2]! << 8) | data[i + 3]!) >>> 0;
    for (const divisor of POWERS) out += ALPHABET[Math.floor(value / divisor) % 85]!;
  }
  return out;
}

export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new FluxError(EINVAL, `z85: input length ${text.length} is not a multiple of 5`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const code = text.charCodeAt(i + j);
      const digit = code < 256 ? DIGIT[code]! : 0xff;
      if (digit === 0xff) throw new FluxError(EINVAL, `z85: invalid character at offset ${i + j}`);
      value = value * 85 + digit;
    }
    // five digits reach 85^5-1 > 2^32-1: chunks like "%%%%%" are not the image of any 4 bytes
    if (value > 0xffffffff) throw new FluxError(EINVAL, `z85: chunk at offset ${i} overflows 32 bits`);
    out.writeUInt32BE(value, o);
  }
  return out;
}
