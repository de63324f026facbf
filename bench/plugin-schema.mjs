// What a plug-in module's own schema costs the broker that meets it first: `node bench/plugin-schema.mjs` starts a
// size-1 instance per round (PLUGIN_ROUNDS, 3), loads examples/counter.mjs (whose schemas the build's validators do
// not hold, so the broker compiles them with ajv) and sends one `counter.add`: rank 0's RSS growth across that first
// validated request and the request's time. PLUGIN_AB=<another build's checkout, built> runs that build too, the
// two in turn. One JSON line per build: the medians.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { ROOT, abBuilds, alternatedRounds, emit, median, startInstance } from './lib.mjs';
import { brokerPids } from './proc-cpu.mjs';

const ROUNDS = Number(process.env.PLUGIN_ROUNDS ?? 3);
const COUNTER = join(ROOT, 'examples', 'counter.mjs');
const builds = abBuilds('PLUGIN_AB');
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));

async function round(flux) {
  const inst = await startInstance(1, [], flux);
  const h = await Flux.open(inst.uri);
  try {
    execFileSync(flux, ['module', 'load', COUNTER], { env: { ...process.env, FLUX_URI: inst.uri } });
    const pid = brokerPids(inst.rundir)[0];
    await settle();
    const before = rssMiB(pid);
    const t0 = process.hrtime.bigint();
    await h.call('counter.add', { name: 'bench' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    await settle();
    return { grew: rssMiB(pid) - before, ms };
  } finally {
    h.close();
    await inst.stop();
  }
}

const got = await alternatedRounds(builds.length, ROUNDS, (i) => round(builds[i][1]));
builds.forEach(([name], i) => {
  emit('plugin-schema.first-request-rss-growth', median(got[i].map((x) => x.grew)), 'MiB', {
    build: name, first_request_ms: Number(median(got[i].map((x) => x.ms)).toFixed(1)),
    runs: got[i].map((x) => [Number(x.grew.toFixed(2)), Number(x.ms.toFixed(1))]),
  });
});
