// Issue 16's whole-command figures: `flux getattr rank` and `flux kvs put k=v` as whole processes against
// `node -e 0`, run interleaved (one of each per round) so that the machine's load weighs on all alike, medians
// and minima of wall time; and `flux kvs put` of 10,000 keys in one command. CLI_AB=<another checkout, built>
// adds that build's two commands to every round, against the same broker, and prints the two builds' medians side
// by side and the median of their differences round by round (the other build's `cli.ab-*` lines).
// The commands run as a user runs them: bin/flux as a program. Where NODE_EXTRA_CA_CERTS is set, which Node
// parses at every start and bin/flux starts Node without, `node -e 0` without it runs too, and each command's
// ratio to it is printed beside the ratio to `node -e 0` as given (`ratio_to_node_without_extra_ca`).
// bench/floor-client.cjs, the same `getattr rank` with no library, runs in every round too: what any Node program
// takes to ask a broker one thing, and each command's paired difference to it (`above_floor_ms`) is flux-ts's own.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLUX, emit, median, medianDifference, startInstance, timeProcess } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_RUNS ?? 30);
const AB = process.env.CLI_AB;

const inst = await startInstance(1);
const env = { FLUX_URI: inst.uri };
try {
  const extraCa = process.env.NODE_EXTRA_CA_CERTS !== undefined;
  const commands = {
    node: [process.execPath, ['-e', '0']],
    ...(extraCa && { nodeWithoutCa: [process.execPath, ['-e', '0'], { NODE_EXTRA_CA_CERTS: undefined }] }),
    // started as bin/flux starts Node, without the certificates
    floor: [process.execPath, [fileURLToPath(new URL('./floor-client.cjs', import.meta.url))], { NODE_EXTRA_CA_CERTS: undefined }],
    getattr: [FLUX, ['getattr', 'rank']],
    put: [FLUX, ['kvs', 'put', 'k=v']],
  };
  if (AB) {
    const other = join(AB, 'bin', 'flux');
    commands.abGetattr = [other, ['getattr', 'rank']];
    commands.abPut = [other, ['kvs', 'put', 'k=v']];
  }
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  // a command's own environment on top of the instance's (undefined: left out, which spawn does for such a value)
  for (const [cmd, args, own] of Object.values(commands)) await timeProcess(cmd, args, { ...env, ...own });
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, [cmd, args, own]] of Object.entries(commands)) times[name].push(await timeProcess(cmd, args, { ...env, ...own }));
  }
  const node = median(times.node);
  const nodeMin = Math.min(...times.node);
  emit('cli.node-e-0', node, 'ms', { min_ms: Number(nodeMin.toFixed(2)), rounds: ROUNDS });
  const nodeWithoutCa = extraCa ? median(times.nodeWithoutCa) : undefined;
  if (extraCa) emit('cli.node-e-0-without-extra-ca', nodeWithoutCa, 'ms', { min_ms: Number(Math.min(...times.nodeWithoutCa).toFixed(2)), rounds: ROUNDS });
  const floor = median(times.floor);
  emit('cli.floor-client', floor, 'ms', { ratio_to_node: Number((floor / (nodeWithoutCa ?? node)).toFixed(3)), rounds: ROUNDS });
  for (const name of ['getattr', 'put']) {
    const m = median(times[name]);
    const min = Math.min(...times[name]);
    emit(`cli.${name === 'put' ? 'kvs-put' : 'getattr-rank'}`, m, 'ms', {
      ratio_to_node: Number((m / node).toFixed(3)), min_ms: Number(min.toFixed(2)), min_ratio: Number((min / nodeMin).toFixed(3)),
      ...(extraCa && { ratio_to_node_without_extra_ca: Number((m / nodeWithoutCa).toFixed(3)) }),
      above_floor_ms: Number(medianDifference(times[name], times.floor).toFixed(2)),
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
  for (let i = 0; i < 5; i++) bulk.push(await timeProcess(FLUX, ['kvs', 'put', ...pairs], env));
  emit('cli.kvs-put-10000-keys', median(bulk) / 1000, 's', { target_s: 0.12, flux_core_s: 0.089, runs_s: bulk.map((t) => Number((t / 1000).toFixed(3))) });
} finally {
  await inst.stop();
}
