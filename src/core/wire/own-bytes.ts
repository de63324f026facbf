// Bytes kept long after the message they came in has gone (caches, rings of recent entries) must not pin that
// message's memory. A received zeromq frame above 128 bytes is a Buffer over libzmq's own allocation, which V8
// counts at the frame's length but which holds a receive buffer of libzmq's making; a frame of a socket read is
// a view into the read's buffer; and a small Buffer.from() lands in Node's shared 8 KiB pool. A copy into a
// buffer of exactly its length, outside the pool, holds nothing but itself.
export function ownBytes(b: Buffer): Buffer {
  const own = Buffer.allocUnsafeSlow(b.length);
  b.copy(own);
  return own;
}
