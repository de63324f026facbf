// Bounded verification runs on a real size-4 fanout-2 instance with a statedir: concurrent clients under named
// faults, then the journal, replication, durability, delivery and linearizability checks. Two fixed seeds and one
// random one; a failure names the violated property, the report directory and the command that replays it.
import { describe, it, expect } from 'vitest';
import { verifyRun, replayCommand, type RunResult } from '../../src/verify/run.js';
import type { FaultName } from '../../src/verify/faults.js';

function verdict(r: RunResult): string {
  return r.violations.map((v) => `violated: ${v.property}\n${v.detail}`).join('\n') + `\nreport: ${r.report}\nreplay: ${r.replay}`;
}

async function runChecked(seed: number, faults: FaultName[], durationMs: number): Promise<void> {
  const r = await verifyRun({ seed, faults, durationMs, replay: (s) => replayCommand(s, faults, durationMs) });
  expect(r.violations, verdict(r)).toEqual([]);
  // the run did work and the faults did happen: a run that checked nothing proves nothing
  expect(r.operations).toBeGreaterThan(100);
  expect(Object.values(r.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
}

describe('consistency under faults (bounded runs)', () => {
  it('kill -9 of rank 0 with restart from the statedir, and SIGSTOP (seed 1001)', async () => {
    await runChecked(1001, ['kill9-rank0', 'sigstop'], 15_000);
  }, 90_000);

  it('dropped journal entries and kill -9 of another rank (seed 1002)', async () => {
    await runChecked(1002, ['drop', 'kill9-leaf'], 15_000);
  }, 90_000);

  it('every fault, a full disk among them (a random seed, printed on failure)', async () => {
    await runChecked(Math.floor(Math.random() * 2 ** 31), ['disk-full', 'kill9-rank0', 'kill9-leaf', 'sigstop', 'drop'], 15_000);
  }, 90_000);
});
