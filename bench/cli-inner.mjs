// Commands timed from inside: `flux getattr rank`, `flux kvs put k=v` and `flux kvs put` of 10,000 keys, from
// bin/flux's first line to the process's exit (bench/from-bin-flux-preload.cjs), CLI_INNER_ROUNDS rounds (30) against one warm size-1 instance.
// With CLI_AB=<another checkout, built>, that build's two commands run in every round too, and the median of the
// round-by-round differences is printed beside each build's median: what a change to the command's own code does,
// without Node's start and teardown, which vary more between runs than such a change does.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLUX, emit, median, medianDifference, startInstance } from './lib.mjs';

const ROUNDS = Number(process.env.CLI_INNER_ROUNDS ?? 30);
const AB = process.env.CLI_AB;
const PRELOAD = fileURLToPath(new URL('./from-bin-flux-preload.cjs', import.meta.url));

/** ms from bin/flux's first line to exit, as the preload tells it on fd 3 */
function inner(flux, args, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [flux, ...args], {
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
      env: { ...process.env, ...env, NODE_OPTIONS: `--require ${PRELOAD}` },
    });
    let text = '';
    p.stdio[3].on('data', (d) => (text += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(Number(text)) : reject(new Error(`flux ${args.join(' ')} exited ${code}`))));
  });
}

const inst = await startInstance(1);
const env = { FLUX_URI: inst.uri };
try {
  const builds = [['this', FLUX], ...(AB ? [['ab', join(AB, 'bin', 'flux')]] : [])];
  // the large put in rounds of its own: the broker's work after a commit of 10,000 keys (their move into the key
  // history index, 200 ms later) would otherwise land on whichever short command follows it
  const groups = [
    { 'getattr-rank': ['getattr', 'rank'], 'kvs-put': ['kvs', 'put', 'k=v'] },
    { 'kvs-put-10000-keys': ['kvs', 'put', ...Array.from({ length: 10_000 }, (_, i) => `bulk.k${i}=value-${i}`)] },
  ];
  const times = {};
  for (const commands of groups) {
    for (const [, flux] of builds) for (const args of Object.values(commands)) await inner(flux, args, env);
    for (let i = 0; i < ROUNDS; i++) {
      for (const [b, flux] of builds) {
        for (const [c, args] of Object.entries(commands)) (times[`${b}:${c}`] ??= []).push(await inner(flux, args, env));
      }
    }
  }
  for (const c of groups.flatMap(Object.keys)) {
    const ours = times[`this:${c}`];
    const extra = AB ? {
      ab_ms: Number(median(times[`ab:${c}`]).toFixed(2)),
      this_minus_ab_ms: Number(medianDifference(ours, times[`ab:${c}`]).toFixed(2)),
      build: AB,
    } : {};
    emit(`cli-inner.${c}`, median(ours), 'ms', { rounds: ROUNDS, ...extra });
  }
} finally {
  await inst.stop();
}
