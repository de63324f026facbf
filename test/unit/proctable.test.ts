// The process-table projection, and how flux ps and flux exec print processes and their ends.
import { describe, it, expect } from 'vitest';
import type { Entry } from '../../src/core/journal/entry.js';
import {
  applyEntry, initialTable, records, running, proctableProjection, HISTORY, PAGE, type ProcTable,
} from '../../src/projections/proctable.js';
import { statusText, launchExitCode, summaryLines, selectRanks, LineLabeler } from '../../src/commands/exec.js';
import { exitCodeOf } from '../../src/core/jobs/wait-status.js';
import { headerLine, rowLine, jsonLine, ownerNames, psTime, type PsRow } from '../../src/commands/ps.js';
import { ENOENT, EACCES, EPERM, EHOSTUNREACH, EIO, FluxError } from '../../src/core/errors.js';

let seq = 0;
function entry(topic: string, payload: unknown, time = 1000 + seq): Entry {
  seq++;
  return { seq, prev: null, time, topic, userid: 0, rolemask: 1, flags: 0, payload };
}
const start = (rank: number, pid: number, extra: Record<string, unknown> = {}) =>
  entry('rexec.started', { rank, pid, cmd: ['sleep', '1'], userid: 1000, cwd: '/tmp', ...extra });
const finish = (rank: number, pid: number, status = 0) => entry('rexec.finished', { rank, pid, status });
const build = (entries: Entry[], from: ProcTable = initialTable()) => entries.reduce((s, e) => applyEntry(s, e), from);

describe('process table', () => {
  it('a start makes a running record with the entry time; its finish makes it exited with the status', () => {
    const t1 = build([start(2, 100, { label: 'x', sender: 'abc' })]);
    expect(records(t1)).toEqual([{
      rank: 2, pid: 100, cmd: ['sleep', '1'], label: 'x', userid: 1000, cwd: '/tmp', sender: 'abc',
      state: 'running', started: expect.any(Number), ord: 0,
    }]);
    const t2 = build([finish(2, 100, 3 << 8)], t1);
    expect(records(t2)[0]).toMatchObject({ state: 'exited', status: 768, ended: expect.any(Number) });
    expect(running(t2)).toEqual([]);
    // immutable: the earlier state is untouched
    expect(records(t1)[0]!.state).toBe('running');
  });

  it('an exit without a start changes nothing', () => {
    const t0 = build([start(0, 5)]);
    expect(build([finish(1, 7), finish(0, 6)], t0)).toBe(t0);
    const t1 = build([finish(0, 5, 9)], t0);
    // a second exit of the same process changes nothing either
    expect(build([finish(0, 5, 0)], t1)).toBe(t1);
  });

  it('other topics and malformed payloads change nothing', () => {
    const t0 = build([start(0, 5)]);
    for (const e of [
      entry('kvs.namespace-primary-setroot', {}),
      entry('rexec.started', { rank: 0, pid: 6 }),
      entry('rexec.started', { rank: -1, pid: 6, cmd: [], userid: 0, cwd: '/' }),
      entry('rexec.started', 'text'),
      entry('rexec.finished', { rank: 0, pid: 5, status: 'x' }),
      entry('rexec.finished', null),
      entry('rexec.lost', { rank: 'a' }),
    ]) expect(applyEntry(t0, e)).toBe(t0);
  });

  it('orders records by rank, then by start on that rank', () => {
    const t = build([start(1, 50), start(0, 900), start(1, 20), start(0, 3)]);
    expect(records(t).map((r) => [r.rank, r.pid])).toEqual([[0, 900], [0, 3], [1, 50], [1, 20]]);
  });

  it('a pid reused after its exit is a new record; the old one stays in the history', () => {
    const t = build([start(0, 42), finish(0, 42, 9), start(0, 42)]);
    expect(records(t).map((r) => [r.pid, r.state, r.ord])).toEqual([[42, 'exited', 0], [42, 'running', 1]]);
    // the exit of the new one does not touch the old one
    expect(records(build([finish(0, 42, 0)], t)).map((r) => [r.state, r.status])).toEqual([['exited', 9], ['exited', 0]]);
  });

  it('a pid started again while the table has it running was lost (its exit never recorded)', () => {
    const t = build([start(1, 7), start(1, 7)]);
    expect(records(t).map((r) => [r.pid, r.state, r.ord])).toEqual([[7, 'lost', 0], [7, 'running', 1]]);
  });

  it('keeps at least HISTORY ended processes of each rank, letting the oldest go a page at a time', () => {
    let t = build([start(1, 1)]);
    const n = HISTORY + PAGE + 10;
    for (let i = 0; i < n; i++) t = build([start(0, 100 + i), finish(0, 100 + i)], t);
    const r0 = records(t).filter((r) => r.rank === 0);
    expect(r0).toHaveLength(HISTORY + 10);
    expect(r0[0]!.pid).toBe(100 + PAGE);
    expect(records(t).filter((r) => r.rank === 1)).toHaveLength(1);
    // running processes are never let go
    expect(running(t).map((r) => [r.rank, r.pid])).toEqual([[1, 1]]);
  });

  it('rexec.lost marks what was running (on one rank, or everywhere) lost, not exited', () => {
    const t0 = build([start(0, 1), start(1, 2), start(1, 3), finish(1, 3)]);
    const one = build([entry('rexec.lost', { rank: 1 })], t0);
    expect(records(one).map((r) => r.state)).toEqual(['running', 'lost', 'exited']);
    expect(running(one).map((r) => r.pid)).toEqual([1]);
    const all = build([entry('rexec.lost', {})], t0);
    expect(records(all).map((r) => r.state)).toEqual(['lost', 'lost', 'exited']);
    expect(records(all)[0]!.status).toBeUndefined();
    // nothing running: the same state back
    expect(build([entry('rexec.lost', {})], all)).toBe(all);
  });

  it('saves to plain JSON and loads back to an equal table that goes on the same way', () => {
    const t = build([start(0, 1), start(3, 2, { label: 'l' }), finish(0, 1, 9)]);
    const saved = JSON.parse(JSON.stringify(proctableProjection.save(t))) as unknown;
    const loaded = proctableProjection.load(saved);
    expect(loaded).toEqual(t);
    const next = [finish(3, 2, 0), start(3, 7)];
    expect(build(next, loaded)).toEqual(build(next, t));
    expect(() => proctableProjection.load({ ranks: { 0: { next: 'x' } } })).toThrow(FluxError);
    expect(() => proctableProjection.load(null)).toThrow(FluxError);
  });
});

describe('wait statuses', () => {
  it('exit codes and signals as a shell and flux exec report them', () => {
    expect(exitCodeOf(0)).toBe(0);
    expect(exitCodeOf(3 << 8)).toBe(3);
    expect(exitCodeOf(9)).toBe(137);
    expect(exitCodeOf(2 | 0x80)).toBe(130);
    expect(statusText(3 << 8)).toBe('Exit 3');
    expect(statusText(9)).toBe('Killed');
    expect(statusText(2)).toBe('Interrupt');
    expect(statusText(15)).toBe('Terminated');
    expect(statusText(11 | 0x80)).toBe('Segmentation fault');
    expect(statusText(40)).toBe('Signal 40');
  });

  it('launch failures map to 127, 126 and 68', () => {
    expect(launchExitCode(ENOENT)).toBe(127);
    expect(launchExitCode(EACCES)).toBe(126);
    expect(launchExitCode(EPERM)).toBe(126);
    expect(launchExitCode(EHOSTUNREACH)).toBe(68);
    expect(launchExitCode(EIO)).toBe(1);
  });

  it('summarizes failed ranks by outcome, bracketing sets of more than one rank', () => {
    const s = new Map([[0, 0], [2, 3 << 8], [1, 3 << 8], [3, 9], [5, 1 << 8]]);
    expect(summaryLines(s)).toEqual(['[1-2]: Exit 3', '3: Killed', '5: Exit 1']);
    expect(summaryLines(new Map([[0, 0], [1, 0]]))).toEqual([]);
  });
});

describe('flux exec options', () => {
  it('--rank minus --exclude, within the instance', () => {
    expect(selectRanks('all', undefined, 4)).toEqual([0, 1, 2, 3]);
    expect(selectRanks('all', '0,2', 4)).toEqual([1, 3]);
    expect(selectRanks('1-2', undefined, 4)).toEqual([1, 2]);
    expect(() => selectRanks('1-5', undefined, 4)).toThrow(/rank 4 is not in this instance/);
    expect(() => selectRanks('1', '1', 4)).toThrow(/no ranks/);
  });

  it('labels every line, and a line split across messages once', () => {
    const l = new LineLabeler('3: ');
    expect(l.push('a\nb')).toBe('3: a\n');
    expect(l.push('c\n\nd\n')).toBe('3: bc\n3: \n3: d\n');
    expect(l.push('tail')).toBe('');
    expect(l.end()).toBe('3: tail');
    expect(l.end()).toBe('');
  });
});

describe('flux ps output', () => {
  const row: PsRow = {
    rank: 3, pid: 12345, userid: 1000, state: 'exited', cmd: ['sh', '-c', 'exit 3'], cwd: '/tmp',
    started: 1_700_000_000.75, ended: 1_700_000_001, status: 3 << 8,
  };

  it('aligns the columns under the header', () => {
    const header = headerLine();
    const line = rowLine(row, 'alice');
    expect(header).toBe('OWNER     RANK      PID  STATE    STATUS      STARTED               COMMAND\n');
    expect(line).toBe('alice        3    12345  exited   Exit 3      2023-11-14T22:13:20Z  sh -c exit 3\n');
    // left-aligned columns start under their heading, right-aligned ones end under it
    for (const col of ['STATE', 'STATUS', 'STARTED', 'COMMAND']) expect(line[header.indexOf(col) - 1]).toBe(' ');
    expect(line.indexOf('12345') + 5).toBe(header.indexOf('PID') + 3);
    expect(line.indexOf(' 3 ') + 2).toBe(header.indexOf('RANK') + 4);
    expect(rowLine({ ...row, state: 'running', status: undefined }, 'a-very-long-name')).toMatch(/^a-very-l {5}3 .* running  - {11}2023/);
  });

  it('prints one JSON object per process', () => {
    expect(JSON.parse(jsonLine(row, 'alice'))).toEqual({
      rank: 3, pid: 12345, owner: 'alice', userid: 1000, state: 'exited', status: 768, cmd: ['sh', '-c', 'exit 3'],
      cwd: '/tmp', started: 1_700_000_000.75, ended: 1_700_000_001,
    });
  });

  it('names owners from the passwd file, numbers when unknown', () => {
    const name = ownerNames('root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbad line\n');
    expect(name(0)).toBe('root');
    expect(name(1000)).toBe('alice');
    expect(name(7)).toBe('7');
  });

  it('times are UTC to the second', () => {
    expect(psTime(0)).toBe('1970-01-01T00:00:00Z');
    expect(psTime(1_700_000_000.999)).toBe('2023-11-14T22:13:20Z');
  });
});
