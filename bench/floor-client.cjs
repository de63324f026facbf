// `flux getattr rank` with no library, for bench/cli.bench.mjs: the least any Node program does to ask a broker one
// thing and print the answer (node:net, the connection and its handshake byte, one request in flux-core's local
// framing written by hand, the answer's value on stdout). A command's time above this one's is flux-ts's own; this
// one's above `node -e 0` is what Node takes to talk over a UNIX socket at all.
'use strict';
const net = require('node:net');

const path = (process.env.FLUX_URI ?? '').replace(/^local:\/\//, '');
const topic = Buffer.from('attr.get');
const payload = Buffer.from('{"name":"rank"}\0');
const proto = Buffer.alloc(20);
proto[0] = 0x8e; // PROTO magic
proto[1] = 1; // version
proto[2] = 1; // request
proto[3] = 0x03; // topic and payload
proto.writeUInt32BE(0xffffffff, 4); // userid: the connection's
proto.writeUInt32BE(0xffffffff, 12); // nodeid: any
proto.writeUInt32BE(1, 16); // matchtag
const body = Buffer.concat([Buffer.from([topic.length]), topic, Buffer.from([payload.length]), payload, Buffer.from([20]), proto]);
const head = Buffer.from([0x12, 0x00, 0xee, 0xff, 0, 0, 0, 0]);
head.writeUInt32BE(body.length, 4);

const sock = net.createConnection(path);
let buf = Buffer.alloc(0);
let handshake = false;
sock.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  if (!handshake) {
    handshake = true;
    if (buf[0] !== 0) throw new Error(`refused: errno ${buf[0]}`);
    buf = buf.subarray(1);
    sock.write(Buffer.concat([head, body]));
  }
  if (buf.length < 8 || buf.length < 8 + buf.readUInt32BE(4)) return;
  // every frame of the answer is under 255 bytes (a one-byte size each): (an empty route delimiter,) topic,
  // payload, PROTO; the payload is the one before PROTO
  const frames = [];
  for (let off = 8; off < 8 + buf.readUInt32BE(4); off += 1 + buf[off]) frames.push(buf.subarray(off + 1, off + 1 + buf[off]));
  const text = frames[frames.length - 2].toString('utf8', 0, frames[frames.length - 2].length - 1);
  process.stdout.write(`${JSON.parse(text).value}\n`);
  sock.destroy();
});
