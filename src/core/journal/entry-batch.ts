// Entries that travel down the tree together, in one message: each entry's bytes after their length (u32, big
// endian). One zeromq send per entry and child was the largest item of rank 0's time per commit at size 4.
import { FluxError, EPROTO } from '../errors.js';

const LENGTH_SIZE = 4;

export function packEntries(blobs: readonly Buffer[]): Buffer {
  let size = 0;
  for (const b of blobs) size += LENGTH_SIZE + b.length;
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const b of blobs) {
    off = out.writeUInt32BE(b.length, off);
    off += b.copy(out, off);
  }
  return out;
}

/** the entries' bytes, views into `payload`; EPROTO when a length overruns it or nothing is there */
export function unpackEntries(payload: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < payload.length) {
    if (off + LENGTH_SIZE > payload.length) throw new FluxError(EPROTO, 'truncated entry length');
    const len = payload.readUInt32BE(off);
    off += LENGTH_SIZE;
    if (off + len > payload.length) throw new FluxError(EPROTO, 'entry overruns the batch');
    out.push(payload.subarray(off, off + len));
    off += len;
  }
  if (out.length === 0) throw new FluxError(EPROTO, 'an empty batch of entries');
  return out;
}
