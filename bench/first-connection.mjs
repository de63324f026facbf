// What the first connection to a broker costs above the next one: `node bench/first-connection.mjs` starts a size-1
// instance per round and build (FIRST_ROUNDS, 12) and connects to its socket twice, timing each from the
// `connect` to the broker's one-byte handshake. The first pays for what the broker loads at its first local
// connection (the peer-credential check), which the first command run in an instance waits for; the second is
// any later command's. FIRST_AB=<another build's checkout, with node_modules> adds that build, the two in turn
// round by round. One JSON line per build: the medians of the first handshake, of the second, and of their
// difference.
import { createConnection } from 'node:net';
import { parseLocalUri } from '../dist/core/wire/uri.js';
import { abBuilds, emit, median, medianDifference, startInstance } from './lib.mjs';

const ROUNDS = Number(process.env.FIRST_ROUNDS ?? 12);
const builds = abBuilds('FIRST_AB');

/** ms from connect() to the broker's handshake byte */
function handshake(path) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const sock = createConnection(path);
    sock.once('data', (b) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      sock.destroy();
      if (b[0] !== 0) reject(new Error(`the broker refused the connection: errno ${b[0]}`));
      else resolve(ms);
    });
    sock.once('error', reject);
  });
}

const times = Object.fromEntries(builds.map(([name]) => [name, { first: [], second: [] }]));
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, flux] of builds) {
    const inst = await startInstance(1, [], flux);
    try {
      const path = parseLocalUri(inst.uri);
      times[name].first.push(await handshake(path));
      times[name].second.push(await handshake(path));
    } finally {
      await inst.stop();
    }
  }
}
for (const [name] of builds) {
  const t = times[name];
  emit('first-connection.handshake', median(t.first), 'ms', {
    build: name, second_ms: Number(median(t.second).toFixed(3)), extra_ms: Number(medianDifference(t.first, t.second).toFixed(3)), rounds: ROUNDS,
  });
}
