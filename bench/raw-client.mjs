// A client with no library, for figures of what the brokers alone cost a message.
import net from 'node:net';

/**
 * A client with no library: flux-core's local framing written by hand (magic, length, size-prefixed frames: topic,
 * payload, PROTO) and only the matchtag read back. The measure of what the brokers add, as flux-core's C ping is.
 */
export function rawClient(path) {
  const sock = net.createConnection(path);
  sock.setNoDelay?.(true);
  let buf = Buffer.alloc(0);
  let handshake = false;
  let waiting;
  sock.on('data', (d) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    if (!handshake) {
      handshake = true;
      buf = buf.subarray(1);
    }
    while (buf.length >= 8 && buf.length >= 8 + buf.readUInt32BE(4)) {
      const size = buf.readUInt32BE(4);
      const proto = buf.subarray(8 + size - 20, 8 + size);
      buf = buf.subarray(8 + size);
      const w = waiting;
      waiting = undefined;
      w?.(proto.readUInt32BE(12));
    }
  });
  const ready = new Promise((resolve, reject) => {
    sock.once('data', resolve);
    sock.once('error', reject);
  });
  return {
    ready,
    ping(nodeid, seq) {
      const topic = Buffer.from('broker.ping');
      const payload = Buffer.from(`{"seq":${seq},"pad":""}\0`);
      const proto = Buffer.alloc(20);
      proto[0] = 0x8e;
      proto[1] = 1;
      proto[2] = 1; // request
      proto[3] = 0x03; // topic, payload
      proto.writeUInt32BE(0xffffffff, 4);
      proto.writeUInt32BE(nodeid, 12);
      proto.writeUInt32BE(seq + 1, 16);
      const body = Buffer.concat([Buffer.from([topic.length]), topic, Buffer.from([payload.length]), payload, Buffer.from([20]), proto]);
      const head = Buffer.from([0x12, 0x00, 0xee, 0xff, 0, 0, 0, 0]);
      head.writeUInt32BE(body.length, 4);
      return new Promise((resolve, reject) => {
        waiting = (errnum) => (errnum === 0 ? resolve() : reject(new Error(`ping: errno ${errnum}`)));
        sock.write(Buffer.concat([head, body]));
      });
    },
    close: () => sock.end(),
  };
}
