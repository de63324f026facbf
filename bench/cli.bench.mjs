// Issue 16's whole-command figures: `flux getattr rank` and `flux kvs put k=v` as whole processes against
// `node -e 0`, run interleaved (one of each per round) so that the machine's load weighs on all alike, medians
// and minima of wall time; and `flux kvs put` of 10,000 keys in one command. CLI_AB=<another checkout, built>
// adds that build's two commands to every round, against the same broker, and prints the two builds' medians side
// by side and the median of their differences round by round (the other build's `cli.ab-*` lines).
import { join } from 'node:path';
import { FLUX, emit, median, medianDifference, startInstance, timeProcess } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_RUNS ?? 30);
const AB = process.env.CLI_AB;

const inst = await startInstance(1);
const env = { FLUX_URI: inst.uri };
try {
  const commands = {
    node: [process.execPath, ['-e', '0']],
    getattr: [process.execPath, [FLUX, 'getattr', 'rank']],
    put: [process.execPath, [FLUX, 'kvs', 'put', 'k=v']],
  };
  if (AB) {
    const other = join(AB, 'bin', 'flux');
    commands.abGetattr = [process.execPath, [other, 'getattr', 'rank']];
    commands.abPut = [process.execPath, [other, 'kvs', 'put', 'k=v']];
  }
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (const [cmd, args] of Object.values(commands)) await timeProcess(cmd, args, env);
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) times[name].push(await timeProcess(cmd, args, env));
  }
  const node = median(times.node);
  const nodeMin = Math.min(...times.node);
  emit('cli.node-e-0', node, 'ms', { min_ms: Number(nodeMin.toFixed(2)), rounds: ROUNDS });
  for (const name of ['getattr', 'put']) {
    const m = median(times[name]);
    const min = Math.min(...times[name]);
    emit(`cli.${name === 'put' ? 'kvs-put' : 'getattr-rank'}`, m, 'ms', {
      ratio_to_node: Number((m / node).toFixed(3)), min_ms: Number(min.toFixed(2)), min_ratio: Number((min / nodeMin).toFixed(3)),
      target_ratio: 1.15,
    });
  }
  if (AB) {
    for (const [name, ours] of [['abGetattr', 'getattr'], ['abPut', 'put']]) {
      const m = median(times[name]);
      emit(`cli.ab-${ours === 'put' ? 'kvs-put' : 'getattr-rank'}`, m, 'ms', {
        build: AB, ratio_to_node: Number((m / node).toFixed(3)), this_build_ms: Number(median(times[ours]).toFixed(2)),
        // the two builds ran back to back in each round: the median of those differences weathers a noisy minute
        // that the medians of each build do not
        this_minus_ab_ms: Number(medianDifference(times[ours], times[name]).toFixed(2)),
      });
    }
  }

  const pairs = Array.from({ length: 10_000 }, (_, i) => `bulk.k${i}=value-${i}`);
  const bulk = [];
  for (let i = 0; i < 5; i++) bulk.push(await timeProcess(process.execPath, [FLUX, 'kvs', 'put', ...pairs], env));
  emit('cli.kvs-put-10000-keys', median(bulk) / 1000, 's', { target_s: 0.12, flux_core_s: 0.089, runs_s: bulk.map((t) => Number((t / 1000).toFixed(3))) });
} finally {
  await inst.stop();
}
