// flux queue on real instances: stop and start scheduling, disable and enable submission (each with its reason,
// kept across a restart unless --nocheckpoint), and drain and idle waiting for the queue to empty or go quiet.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInstance, until, type Instance } from '../helpers/instance.js';

let inst: Instance;

async function ok(args: string[], on: Instance = inst): Promise<string> {
  const r = await on.flux(args);
  expect(r, `${args.join(' ')}: ${r.stderr}`).toMatchObject({ code: 0, stderr: '' });
  return r.stdout;
}
const state = async (id: string, on: Instance = inst) => (await ok(['jobs', '-a', '-n', '-o', '{state}', id], on)).trim();

beforeAll(async () => {
  inst = await startInstance(1);
});

afterAll(async () => {
  expect(await inst.stop()).toBe(0);
});

describe('flux queue', () => {
  it('stop keeps jobs pending, with the reason in status, and start gives them resources', async () => {
    expect(await ok(['queue', 'status'])).toBe('Job submission is enabled\nScheduling is started\n');
    expect(await ok(['queue', 'stop', '-m', 'maintenance'])).toBe('Job submission is enabled\nScheduling is stopped: maintenance\n');
    const id = (await ok(['submit', 'true'])).trim();
    await new Promise((r) => setTimeout(r, 500));
    expect(await state(id)).toBe('SCHED');
    // nothing runs, so the queue is idle; it is not empty
    expect(await ok(['queue', 'idle', '--timeout', '5s'])).toBe('');
    expect(await inst.flux(['queue', 'drain', '--timeout', '0.3s'])).toMatchObject({ code: 1, stderr: 'flux-queue: drain: timeout\n' });
    expect(await ok(['queue', 'start', '--quiet'])).toBe('');
    expect(await ok(['queue', 'drain', '--timeout', '20s'])).toBe('');
    expect(await state(id)).toBe('INACTIVE');
  }, 30_000);

  it('disable refuses submissions with the reason, enable takes them again', async () => {
    await ok(['queue', 'disable', '--quiet', '-m', 'upgrade at noon']);
    expect(await inst.flux(['submit', 'true'])).toMatchObject({ code: 1, stdout: '', stderr: 'flux-submit: job submission is disabled: upgrade at noon\n' });
    expect(await ok(['queue', 'status'])).toBe('Job submission is disabled: upgrade at noon\nScheduling is started\n');
    expect(await ok(['queue', 'enable'])).toBe('Job submission is enabled\nScheduling is started\n');
    expect((await inst.flux(['submit', 'true'])).code).toBe(0);
  });

  it('idle waits for the running job to end', async () => {
    const id = (await ok(['submit', 'sleep', '1'])).trim();
    await until('running', async () => ((await state(id)) === 'RUN' ? true : undefined));
    expect(await ok(['queue', 'idle', '--timeout', '20s'])).toBe('');
    expect(await state(id)).toBe('INACTIVE');
  }, 30_000);
});

describe('the queue across a restart', () => {
  it('keeps a stop and a disable, not one made with --nocheckpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flux-queue-restart-'));
    try {
      const statedir = join(dir, 'state');
      const first = await startInstance(1, ['-S', `statedir=${statedir}`]);
      await ok(['queue', 'stop', '--quiet', '-m', 'kept'], first);
      await ok(['queue', 'disable', '--quiet', '--nocheckpoint', '-m', 'not kept'], first);
      expect(await first.stop()).toBe(0);
      const second = await startInstance(1, ['-S', `statedir=${statedir}`]);
      try {
        expect(await ok(['queue', 'status'], second)).toBe('Job submission is enabled\nScheduling is stopped: kept\n');
        const id = (await ok(['submit', 'true'], second)).trim();
        await new Promise((r) => setTimeout(r, 500));
        expect(await state(id, second)).toBe('SCHED');
        await ok(['queue', 'start', '--quiet'], second);
        await until('ran', async () => ((await state(id, second)) === 'INACTIVE' ? true : undefined));
      } finally {
        expect(await second.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
