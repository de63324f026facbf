// flux update on a real instance with a statedir: a pending job's duration (absolute or relative) and name change,
// journaled as a jobspec-update event, and its allocation then expires by the new duration; a running job's
// duration moves its expiration (resource-update) and its timer, the owner's alone; `flux job info` tells the jobspec
// and R with those updates, as submitted (--base) or as signed (--original); an unknown key, another user's
// job, an ended one are refused; after a restart from the statedir a held job keeps what it was given.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInstance, type Instance } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { EPROTO } from '../../src/core/errors.js';

let dir: string;
let inst: Instance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-update-'));
  inst = await startInstance(1, ['-S', `statedir=${join(dir, 'state')}`]);
});

afterAll(async () => {
  await inst?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const row = async (i: Instance, id: string) => (await i.flux(['jobs', '-n', '-o', '{name} {duration}', id])).stdout;

describe('flux update', () => {
  it('changes a pending job\'s duration and name, journaled in its eventlog, and its allocation expires by it', async () => {
    const id = (await inst.flux(['submit', '--urgency=hold', '-t', '10m', 'sleep', '0'])).stdout.trim();
    expect(await inst.flux(['update', id, 'duration=+5m', 'name=renamed'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await row(inst, id)).toBe('renamed 900.0\n');
    const log = (await inst.flux(['job', 'eventlog', id])).stdout.trim().split('\n');
    expect(log.at(-1)).toMatch(/ jobspec-update attributes\.system\.duration=900 attributes\.system\.job\.name="renamed"$/);
    expect((await inst.flux(['update', '-n', id, 'duration=1h'])).stdout).toMatch(/^\{"id":\d+,"updates":\{"attributes\.system\.duration":3600\}\}\n$/);
    expect(await row(inst, id)).toBe('renamed 900.0\n');
    // the jobspec as it stands, as submitted in the KVS (--base), as signed (--original)
    const system = async (...args: string[]) => JSON.parse((await inst.flux(['job', 'info', ...args])).stdout).attributes.system;
    expect(await system(id, 'jobspec')).toMatchObject({ duration: 900, job: { name: 'renamed' } });
    expect(await system('--base', id, 'jobspec')).toMatchObject({ duration: 600 });
    expect((await system('--base', id, 'jobspec')).job).toBeUndefined();
    expect(await system('-o', id, 'jobspec')).toMatchObject({ duration: 600 });
    expect(await inst.flux(['job', 'info', '-o', id, 'R'])).toMatchObject({ code: 1, stderr: 'flux-job: --original works only with the jobspec key\n' });
    // flux-core's clients ask job-info for decoded values with the updates applied
    const h = await Flux.open(inst.uri);
    try {
      const jobid = Number((await inst.flux(['job', 'id', id])).stdout);
      const r = await h.call('job-info.lookup', { id: jobid, keys: ['jobspec', 'eventlog'], flags: 3 });
      expect((r.jobspec as { attributes: { system: unknown } }).attributes.system).toMatchObject({ duration: 900, job: { name: 'renamed' } });
      expect(typeof r.eventlog).toBe('string');
      await expect(h.call('job-info.lookup', { id: jobid, keys: ['jobspec'], flags: 4 })).rejects.toMatchObject({ errno: EPROTO });
    } finally {
      h.close();
    }
    expect((await inst.flux(['job', 'urgency', id, 'default'])).code).toBe(0);
    expect((await inst.flux(['job', 'wait-event', '-t', '20', id, 'clean'])).code).toBe(0);
    const R = JSON.parse((await inst.flux(['job', 'info', id, 'R'])).stdout);
    expect(R.execution.expiration - R.execution.starttime).toBeCloseTo(900, 3);
  });

  it('moves a running job\'s expiration (the owner\'s to do), its timer with it; refuses what it does not serve', async () => {
    const running = (await inst.flux(['submit', '-t', '1h', 'sleep', '60'])).stdout.trim();
    expect((await inst.flux(['job', 'wait-event', '-t', '20', running, 'start'])).code).toBe(0);
    expect(await inst.flux(['update', running, 'duration=2h'])).toMatchObject({ code: 0, stderr: '' });
    const log = (await inst.flux(['job', 'eventlog', running])).stdout.trim().split('\n');
    expect(log.at(-2)).toMatch(/ jobspec-update attributes\.system\.duration=7200$/);
    expect(log.at(-1)).toMatch(/ resource-update expiration=\d+\.\d+$/);
    const R = async (...args: string[]) => JSON.parse((await inst.flux(['job', 'info', ...args, running, 'R'])).stdout).execution;
    const now = await R();
    expect(now.expiration - now.starttime).toBeGreaterThan(3600);
    const base = await R('--base');
    expect(base.expiration - base.starttime).toBeCloseTo(3600, 3);
    const left = Number((await inst.flux(['job', 'timeleft', running])).stdout);
    expect(left).toBeGreaterThan(3600);
    expect(left).toBeLessThanOrEqual(7200);
    expect(await inst.flux(['update', running, 'name=x'])).toMatchObject({ code: 1, stderr: 'flux-update: only the duration of a running job can be updated\n' });
    // shortened, the job times out by the new duration
    expect((await inst.flux(['update', running, 'duration=2s'])).code).toBe(0);
    expect((await inst.flux(['job', 'wait-event', '-t', '20', running, 'clean'])).code).toBe(0);
    expect((await inst.flux(['jobs', '-n', '-o', '{status} {exception.type}', running])).stdout).toBe('TIMEOUT timeout\n');
    // a guest's own running job: its duration is the owner's to change
    const guest = { FLUX_HANDLE_USERID: '4242' };
    const theirs = (await inst.flux(['submit', '-t', '1h', 'sleep', '60'], { env: guest })).stdout.trim();
    expect((await inst.flux(['job', 'wait-event', '-t', '20', theirs, 'start'])).code).toBe(0);
    expect(await inst.flux(['update', theirs, 'duration=2h'], { env: guest }))
      .toMatchObject({ code: 1, stderr: 'flux-update: only the instance owner can update a running job\n' });
    expect((await inst.flux(['cancel', theirs])).code).toBe(0);
    const held = (await inst.flux(['submit', '--urgency=hold', '-t', '1m', 'true'])).stdout.trim();
    expect(await inst.flux(['update', held, 'queue=batch'])).toMatchObject({ code: 1, stderr: 'flux-update: update of attributes.system.queue is not supported (duration and name are)\n' });
    expect(await inst.flux(['update', held, 'duration=-2m'])).toMatchObject({ code: 1, stderr: 'flux-update: duration=-2m: the job\'s duration would be -60 s\n' });
    expect(await inst.flux(['update', held, 'name=x'], { env: guest })).toMatchObject({ code: 1, stderr: 'flux-update: guests can only update their own jobs\n' });
    expect(await row(inst, held)).toBe('true 60.0\n');
    expect((await inst.flux(['cancel', held])).code).toBe(0);
    expect(await inst.flux(['update', held, 'duration=1h'])).toMatchObject({ code: 1, stderr: 'flux-update: only a pending or running job can be updated\n' });
  });

  it('keeps a held job\'s update across a restart from the statedir, and allocates by it', async () => {
    const id = (await inst.flux(['submit', '--urgency=hold', '-t', '1m', 'true'])).stdout.trim();
    expect((await inst.flux(['update', id, 'duration=2h'])).code).toBe(0);
    expect(await inst.stop()).toBe(0);
    inst = await startInstance(1, ['-S', `statedir=${join(dir, 'state')}`]);
    expect(await row(inst, id)).toBe('true 7200.0\n');
    expect((await inst.flux(['job', 'urgency', id, 'default'])).code).toBe(0);
    expect((await inst.flux(['job', 'wait-event', '-t', '20', id, 'clean'])).code).toBe(0);
    const R = JSON.parse((await inst.flux(['job', 'info', id, 'R'])).stdout);
    expect(R.execution.expiration - R.execution.starttime).toBeCloseTo(7200, 3);
  });
});
