// A fuzz target: a broker's local socket, written to by a process of another user (as a guest connects). Any
// target has send(frames) -> {handshake, wrote, received, bytes?} and close().
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RELAY = fileURLToPath(new URL('./relay.mjs', import.meta.url));

export function localTarget(socketPath, user) {
  const child = spawn(process.execPath, [RELAY, socketPath], {
    uid: user.uid, gid: user.gid, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  let next = 0;
  let failed;
  child.on('message', (m) => {
    waiting.get(m.id)?.resolve(m);
    waiting.delete(m.id);
  });
  child.on('exit', (code, signal) => {
    failed = new Error(`fuzz relay exited (${code ?? signal})`);
    for (const w of waiting.values()) w.reject(failed);
    waiting.clear();
  });
  return {
    send(frames, opts = {}) {
      if (failed) return Promise.reject(failed);
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ id, keep: opts.keep === true, idleMs: opts.idleMs, capMs: opts.capMs, frames: frames.map((f) => f.toString('base64')) });
      });
    },
    close() {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      });
    },
  };
}
