// Run as the user whose frames they are: takes batches of frames from its parent (IPC), writes each batch on a
// fresh connection to the socket named by argv[2], and says what came of it.
import * as net from 'node:net';

const path = process.argv[2];

function batch(frames, keep, idleMs, capMs) {
  return new Promise((resolve) => {
    const sock = net.createConnection(path);
    let handshake;
    let received = 0;
    const kept = [];
    let wrote = false;
    // a broker resets a connection it gives up on: that is an outcome, not a failure
    sock.on('error', () => {});
    sock.on('data', (chunk) => {
      if (handshake === undefined) {
        handshake = chunk[0];
        received += chunk.length - 1;
        if (keep) kept.push(chunk.subarray(1));
        if (handshake !== 0) return;
        wrote = true;
        sock.end(Buffer.concat(frames.map((f) => Buffer.from(f, 'base64'))));
        return;
      }
      received += chunk.length;
      if (keep) kept.push(chunk);
    });
    // once the answers pause (or a stream the frames opened goes on), the connection is closed from here
    let idle;
    const quiet = () => {
      clearTimeout(idle);
      idle = setTimeout(() => sock.destroy(), idleMs);
    };
    sock.on('data', quiet);
    const cap = setTimeout(() => sock.destroy(), capMs);
    sock.on('close', () => {
      clearTimeout(idle);
      clearTimeout(cap);
      resolve({ handshake: handshake ?? -1, wrote, received, ...(keep ? { bytes: Buffer.concat(kept).toString('base64') } : {}) });
    });
  });
}

process.on('message', async (m) => {
  process.send({ id: m.id, ...(await batch(m.frames, m.keep === true, m.idleMs ?? 30, m.capMs ?? 300)) });
});
process.on('disconnect', () => process.exit(0));
