// npm run verify -- [--duration 10m] [--faults all|none|name,...] [--seed N] [--run 60s] [--report-dir DIR] [--settle 2]
// Runs verification runs one after another (each a fresh instance and seed) for the duration, printing each
// run's outcome and each broker's memory over it (RSS by minute, and its slope once --settle minutes are past),
// and, at the end, operations checked and faults injected, in all and per minute. With --seed, one run of that
// seed: what a failing run's report says to type.
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { EINVAL, EPERM, FluxError, reasonOf } from '../core/errors.js';
import { parseFSD } from '../core/time/fsd.js';
import { parseFaults, type FaultName } from './faults.js';
import { verifyRun, replayCommand, type RunResult } from './run.js';
import type { RankMemory } from './memory.js';

const USAGE = 'usage: npm run verify -- [--duration 10m] [--faults all|none|name,...] [--seed N] [--run 60s] '
  + '[--report-dir DIR] [--settle 2] [-v]';

/** the command line's options; what is wrong with it, as one line the user can act on */
function options() {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string', default: '1m' },
        faults: { type: 'string', default: 'all' },
        seed: { type: 'string' },
        run: { type: 'string', default: '60s' },
        'report-dir': { type: 'string' },
        verbose: { type: 'boolean', short: 'v', default: false },
        settle: { type: 'string', default: '2' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    throw new FluxError(EINVAL, `${(err as Error).message}\n${USAGE}`);
  }
}

async function main(): Promise<number> {
  const values = options();
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const settle = Number(values.settle);
  if (!Number.isInteger(settle) || settle < 0) throw new FluxError(EINVAL, `--settle: ${values.settle}: a whole number of minutes`);
  let faults: FaultName[];
  try {
    faults = parseFaults(values.faults);
  } catch (err) {
    throw new FluxError(EINVAL, `--faults: ${(err as Error).message}`);
  }
  if (faults.includes('disk-full') && process.getuid?.() !== 0) {
    // a tmpfs of its own for the statedir takes mount(8), so root
    if (values.faults !== 'all') throw new FluxError(EPERM, 'the disk-full fault needs root (it mounts a tmpfs for the statedir)');
    faults = faults.filter((f) => f !== 'disk-full');
    process.stdout.write('verify: not root: leaving out disk-full\n');
  }
  const durationMs = parseFSD(values.duration) * 1000;
  const single = values.seed !== undefined;
  if (single && !(/^\d{1,10}$/.test(values.seed!) && Number(values.seed) < 2 ** 31)) {
    throw new FluxError(EINVAL, `--seed: ${values.seed}: a whole number below 2^31`);
  }
  const runMs = single ? durationMs : Math.min(durationMs, parseFSD(values.run) * 1000);
  const t0 = Date.now();
  const results: RunResult[] = [];
  let seed = single ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say(`verify: faults ${faults.join(',') || 'none'}, runs of ${runMs / 1000}s for ${durationMs / 1000}s`);
  // interrupted, the run's brokers, rundir, statedir and mount go with it (once a search under way ends: a signal
  // waits for the event loop, and a search takes seconds)
  let undo: (() => Promise<void>) | undefined;
  const interrupt = (sig: NodeJS.Signals) => {
    say(`verify: ${sig}: ending the instance`);
    void (undo ?? (async () => {}))().finally(() => process.exit(128 + constants.signals[sig]));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  do {
    const r = await verifyRun({
      seed, faults, durationMs: Math.min(runMs, Math.max(5000, durationMs - (Date.now() - t0))),
      ...(values['report-dir'] ? { reportDir: values['report-dir'] } : {}),
      replay: (s) => replayCommand(s, faults, runMs), settleMinutes: settle, undo: (u) => (undo = u),
      ...(values.verbose ? { log: (l: string) => process.stderr.write(`${l}\n`) } : {}),
    });
    results.push(r);
    const f = Object.entries(r.faults).map(([k, v]) => `${k}=${v.struck}/${v.runs}`).join(' ') || 'none';
    say(`seed ${r.seed}: ${r.violations.length === 0 ? 'clean' : 'FAILED'}, ${r.operations} operations, faults ${f}, ${(r.elapsedMs / 1000).toFixed(1)}s`);
    for (const v of r.violations) say(`  violated: ${v.property}\n    ${v.detail.split('\n').join('\n    ')}`);
    if (r.report) say(`  report: ${r.report}\n  replay: ${r.replay}`);
    for (const line of memoryLines(r.memory, settle)) say(`  ${line}`);
    seed = (seed + 1) % 2 ** 31;
  } while (!single && Date.now() - t0 < durationMs);

  const minutes = (Date.now() - t0) / 60_000;
  const ops = results.reduce((a, r) => a + r.operations, 0);
  const byFault: { [k: string]: number } = {};
  // faults seen to strike
  for (const r of results) for (const [k, v] of Object.entries(r.faults)) byFault[k] = (byFault[k] ?? 0) + v.struck;
  const nfaults = Object.values(byFault).reduce((a, b) => a + b, 0);
  const failed = results.filter((r) => r.violations.length > 0);
  const longestClean = Math.max(0, ...results.filter((r) => r.violations.length === 0).map((r) => r.elapsedMs));
  say(`verify: ${results.length} runs in ${minutes.toFixed(1)} min, ${failed.length} failed`);
  say(`operations checked: ${ops} (${(ops / minutes).toFixed(0)}/min)`);
  say(`faults injected: ${nfaults} (${(nfaults / minutes).toFixed(1)}/min): ${Object.entries(byFault).map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`);
  say(`longest clean run: ${(longestClean / 1000).toFixed(1)}s`);
  return failed.length > 0 ? 1 : 0;
}

const mib = (x: number) => x.toFixed(1);

/** each rank's RSS over the run: one line each, and the mean of every minute once a run has a few */
function memoryLines(memory: RankMemory[], settle: number): string[] {
  return memory.map((m) => {
    const first = m.minutes[0];
    const last = m.minutes[m.minutes.length - 1];
    const span = first === undefined ? 'under a minute sampled'
      : m.minutes.length === 1 ? `minute 1 ${mib(first)}` : `minute 1 ${mib(first)}, minute ${m.minutes.length} ${mib(last!)}`;
    const trend = m.slope === undefined ? '' : `, after minute ${settle} ${m.slope >= 0 ? '+' : ''}${m.slope.toFixed(2)} MiB/min`;
    const starts = m.generations > 1 ? `, ${m.generations} starts` : '';
    const series = m.minutes.length >= 3 ? `; by minute: ${m.minutes.map(mib).join(' ')}` : '';
    return `rss rank ${m.rank} (MiB): ${span}, max ${mib(m.maxMiB)}${trend}${starts}${series}`;
  });
}

main().then((code) => process.exit(code), (err: unknown) => {
  // a bad command line is the user's to mend and says so in a line; anything else is ours, with its stack
  const what = err instanceof FluxError ? reasonOf(err) : (err as Error).stack ?? String(err);
  process.stderr.write(`verify: ${what}\n`);
  process.exit(2);
});
