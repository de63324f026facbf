// The floor under any sequential RPC between two processes here: `node bench/echo-floor.mjs N` times N round trips
// of a 100-byte message between this process and a forked Node echo server over a UNIX socket (no framing, no
// decoding, nothing of flux-ts) and prints the seconds. What a round trip of flux-ts's costs beyond it is its own.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === 'serve') {
  createServer((s) => s.on('data', (d) => s.write(d))).listen(process.argv[3], () => process.send('ready'));
} else {
  const n = Number(process.argv[2] ?? 10000);
  const dir = mkdtempSync(join(tmpdir(), 'flux-echo-'));
  const path = join(dir, 'echo');
  const server = fork(fileURLToPath(import.meta.url), ['serve', path]);
  try {
    await new Promise((resolve) => server.once('message', resolve));
    const sock = createConnection(path);
    await new Promise((resolve) => sock.once('connect', resolve));
    const msg = Buffer.alloc(100, 1);
    let answered = () => {};
    sock.on('data', () => answered());
    const roundTrip = () => new Promise((resolve) => {
      answered = resolve;
      sock.write(msg);
    });
    for (let i = 0; i < 3000; i++) await roundTrip();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await roundTrip();
    process.stdout.write(`${Number(process.hrtime.bigint() - t0) / 1e9}\n`);
    sock.destroy();
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
