// The floor under each hop of the overlay here: `node bench/zmq-echo-floor.mjs N` times N round trips of a
// 100-byte message between a DEALER in this process and a ROUTER in a forked Node process that sends each
// message straight back, over ipc://, with zeromq.js as the brokers use it (no framing of flux-ts, no routing), and
// prints the seconds. A ping that crosses k links of the tree pays at least k of these on top of the local one.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dealer, Router } from 'zeromq';

if (process.argv[2] === 'serve') {
  const router = new Router();
  await router.bind(process.argv[3]);
  process.send('ready');
  for await (const frames of router) await router.send(frames);
} else {
  const n = Number(process.argv[2] ?? 10000);
  const dir = mkdtempSync(join(tmpdir(), 'flux-zmq-echo-'));
  const endpoint = `ipc://${join(dir, 'echo')}`;
  const server = fork(fileURLToPath(import.meta.url), ['serve', endpoint]);
  const dealer = new Dealer();
  try {
    await new Promise((resolve) => server.once('message', resolve));
    dealer.connect(endpoint);
    const msg = Buffer.alloc(100, 1);
    const roundTrip = async () => {
      await dealer.send(msg);
      await dealer.receive();
    };
    for (let i = 0; i < 1000; i++) await roundTrip();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await roundTrip();
    process.stdout.write(`${Number(process.hrtime.bigint() - t0) / 1e9}\n`);
  } finally {
    dealer.close();
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
