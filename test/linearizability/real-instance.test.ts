// Bounded verification runs on a real size-4 fanout-2 instance with a statedir: concurrent clients under named
// faults, then the journal, replication, durability, delivery, replica-read and linearizability checks. Two fixed
// seeds and one random one; a failure names the violated property, the report directory and the command that
// replays it. A run proves its faults: each fault it is named for was seen to strike (the process gone or
// stopped, entries dropped, a write refused for want of space) and was recovered from, and the search decided.
import { describe, it, expect } from 'vitest';
import { verifyRun, replayCommand, type RunResult } from '../../src/verify/run.js';
import type { FaultName } from '../../src/verify/faults.js';

function verdict(r: RunResult): string {
  return r.violations.map((v) => `violated: ${v.property}\n${v.detail}`).join('\n') +
    `\nfaults: ${JSON.stringify(r.faults)}\nreport: ${r.report}\nreplay: ${r.replay}`;
}

async function runChecked(seed: number, faults: FaultName[], durationMs: number): Promise<void> {
  const r = await verifyRun({ seed, faults, durationMs, replay: (s) => replayCommand(s, faults, durationMs) });
  expect(r.violations, verdict(r)).toEqual([]);
  // the run did work, on every rank: a run that checked nothing proves nothing
  expect(r.operations).toBeGreaterThan(100);
  expect(r.replicaReads, verdict(r)).toBeGreaterThan(50);
  // every broker's memory was read while the workload ran
  expect(r.memory.map((m) => m.rank)).toEqual([0, 1, 2, 3]);
  for (const m of r.memory) expect(m.maxMiB, `rank ${m.rank}`).toBeGreaterThan(10);
  for (const f of faults) {
    const tally = r.faults[f];
    expect(tally?.struck, `${f} never struck\n${verdict(r)}`).toBeGreaterThan(0);
    expect(tally!.recovered, `${f} was not always recovered from\n${verdict(r)}`).toBe(tally!.runs);
  }
}

// the full disk needs a tmpfs of its own, which only root can mount (CI runs as root)
const asRoot = process.getuid?.() === 0;

describe('consistency under faults (bounded runs)', () => {
  it('kill -9 of rank 0 with restart from the statedir, and SIGSTOP (seed 1001)', async () => {
    await runChecked(1001, ['kill9-rank0', 'sigstop'], 15_000);
  }, 120_000);

  it('dropped journal entries and kill -9 of another rank (seed 1002)', async () => {
    await runChecked(1002, ['drop', 'kill9-leaf'], 15_000);
  }, 120_000);

  it(`every fault${asRoot ? ', a full disk among them' : ' but a full disk (not root)'} (a random seed, printed on failure)`, async () => {
    const all: FaultName[] = ['kill9-rank0', 'kill9-leaf', 'sigstop', 'drop'];
    await runChecked(Math.floor(Math.random() * 2 ** 31), asRoot ? ['disk-full', ...all] : all, 15_000);
  }, 150_000);
});
