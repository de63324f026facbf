// kill -9 of rank 0 while jobs are being submitted and one is running, then a restart from the statedir: every job
// whose id was printed is in the table, the pending ones run, the running one ends with an exception saying it was
// lost in the restart, and new ids are above the old ones.
import { describe, it, expect, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startInstance, until, FLUX, type Instance } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { parseJobId } from '../../src/core/jobs/fluid.js';

const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);
let dir: string | undefined;
let orphan: number | undefined;

afterEach(() => {
  // a broker killed with SIGKILL cannot take its tasks with it
  if (orphan !== undefined) {
    try {
      process.kill(-orphan, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function table(inst: Instance): Promise<Map<string, string>> {
  const r = await inst.flux(['jobs', '-a', '-n', '-c', '0', '-o', '{id.f58}|{status}|{exception.note}']);
  return new Map(lines(r.stdout).map((l) => {
    const [id, ...rest] = l.split('|');
    return [id!, rest.join('|')];
  }));
}

describe('jobs across a crash of rank 0', () => {
  it('keeps every acknowledged job, runs the pending ones, and says the running one was lost', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flux-jobs-restart-'));
    const state = join(dir, 'state');
    const first = await startInstance(1, ['-S', `statedir=${state}`]);
    const pidfile = join(dir, 'task.pid');
    const running = (await first.flux(['submit', '-n', '2', 'sh', '-c', `echo $$ > ${pidfile}; exec sleep 60`])).stdout.trim();
    await until('the task', async () => {
      try {
        orphan = Number(readFileSync(pidfile, 'utf8'));
        return orphan > 0 ? true : undefined;
      } catch {
        return undefined;
      }
    });
    const pid = Number((await first.flux(['getattr', 'broker.pid'])).stdout);
    // submissions keep coming while the broker dies: the ids printed before then were acknowledged
    // (killed as the fifth id is read, not at the next poll: a whole burst can be acknowledged within one)
    const BURST = 2000;
    const burst = spawn(process.execPath, [FLUX, 'submit', `--cc=1-${BURST}`, 'true'], { env: { ...process.env, FLUX_URI: first.uri } });
    let printed = '';
    let refused = '';
    let killed = false;
    // read, or the submissions the crash refused (a line each) fill the pipe and the command never ends
    burst.stderr.on('data', (d: Buffer) => (refused += d.toString()));
    burst.stdout.on('data', (d: Buffer) => {
      printed += d.toString();
      if (!killed && lines(printed).length >= 5) {
        killed = true;
        process.kill(pid, 'SIGKILL');
      }
    });
    const burstDone = new Promise((r) => burst.on('close', r));
    await until('some acknowledged submissions', async () => (killed ? true : undefined));
    await first.stop();
    // a broker killed with SIGKILL leaves its rundir behind
    rmSync(first.rundir, { recursive: true, force: true });
    await burstDone;
    const acknowledged = lines(printed);
    // the crash came in the middle of the submissions, and each one it cut short was said to have failed
    expect(acknowledged.length).toBeLessThan(BURST);
    expect(acknowledged.length + lines(refused).length).toBe(BURST);
    expect(lines(refused).every((l) => /^flux-submit: cc=\d+: /.test(l)), refused.slice(0, 500)).toBe(true);

    const second = await startInstance(1, ['-S', `statedir=${state}`]);
    try {
      await until('every job ended', async () => {
        const t = await table(second);
        return acknowledged.every((id) => t.get(id)?.startsWith('COMPLETED')) && t.get(running)?.startsWith('FAILED') ? t : undefined;
      });
      const t = await table(second);
      expect(t.get(running)).toBe('FAILED|job was lost in a restart of the instance');
      const next = (await second.flux(['submit', 'true'])).stdout.trim();
      const highest = Math.max(...[...t.keys()].map(parseJobId));
      expect(parseJobId(next)).toBeGreaterThan(highest);
    } finally {
      await second.stop();
    }
  });

  it('shows the job table of a stopped instance at any journal position, offline and from a read-only instance', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flux-jobs-replay-'));
    const state = join(dir, 'state');
    const inst = await startInstance(1, ['-S', `statedir=${state}`]);
    let id: string;
    let submitted: number;
    try {
      id = (await inst.flux(['submit', 'sh', '-c', 'echo done'])).stdout.trim();
      await until('completed', async () => ((await table(inst)).get(id)?.startsWith('COMPLETED') ? true : undefined));
      const h = await Flux.open(inst.uri);
      const entries = (await h.call('journal.fetch', { from: 1, count: 1000 })).entries as Array<{ seq: number; payload: { jobs?: Array<{ id: number; event: { name: string } }> } }>;
      h.close();
      submitted = entries.find((e) => e.payload?.jobs?.some((j) => j.id === parseJobId(id) && j.event.name === 'submit'))!.seq;
    } finally {
      await inst.stop();
    }
    const past = await run(['replay', state, '--show', 'jobs', '--at-seq', String(submitted)]);
    expect(past.code, past.stderr).toBe(0);
    expect(lines(past.stdout)[0]).toBe('       JOBID USER     NAME       ST NTASKS NNODES     TIME INFO');
    expect(lines(past.stdout)[1]).toMatch(new RegExp(`^ +${id} \\S+ +sh +S +1 +- +- +$`));
    const last = await run(['replay', state, '--show', 'jobs']);
    expect(lines(last.stdout)[1]).toMatch(new RegExp(`^ +${id} \\S+ +sh +CD +1 +1 `));
    const ro = await run(['start', '--replay', state, '--at-seq', String(submitted), 'flux', 'jobs', '-a', '-n', '-o', '{id.f58} {status}']);
    expect(ro.code, ro.stderr).toBe(0);
    expect(ro.stdout).toBe(`${id} SCHED\n`);
  });

  it('a clean stop ends the running job, leaves the queued ones to the restart, and starts none of them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flux-jobs-stop-'));
    const state = join(dir, 'state');
    const first = await startInstance(1, ['-S', `statedir=${state}`]);
    let running: string;
    let queued: string[];
    try {
      // every core of the instance's one node, so that what comes next waits behind it
      running = (await first.flux(['submit', '-N', '1', '--exclusive', 'sleep', '60'])).stdout.trim();
      await until('running', async () => ((await table(first)).get(running)?.startsWith('RUN') ? true : undefined));
      queued = lines((await first.flux(['submit', '--cc=1-20', 'true'])).stdout);
      expect(queued).toHaveLength(20);
    } finally {
      await first.stop();
    }
    // before, each job the dying scheduler started in the freed cores failed to be recorded, and said so
    expect(first.stderr()).not.toMatch(/not recorded/);
    const second = await startInstance(1, ['-S', `statedir=${state}`]);
    try {
      const t = await until('the queued jobs ran', async () => {
        const t = await table(second);
        return queued.every((id) => t.get(id)?.startsWith('COMPLETED')) ? t : undefined;
      });
      expect(t.get(running)).toBe('CANCELED|the instance is shutting down');
    } finally {
      await second.stop();
    }
  });
});
