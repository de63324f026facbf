// flux job purge on a real instance with a statedir: inactive jobs leave the job table (flux jobs, job-list) and
// the KVS together, oldest first by the limits or by id; an active or unknown job is refused; only the owner may
// purge; the past still holds them (--at-seq); and after a restart from the statedir they stay purged.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInstance, until, type Instance } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';

const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);
let dir: string;
let inst: Instance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-purge-'));
  inst = await startInstance(1, ['-S', `statedir=${join(dir, 'state')}`]);
});

afterAll(async () => {
  await inst?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const inactive = async (i: Instance) => lines((await i.flux(['jobs', '-n', '-f', 'inactive', '-c', '0', '-o', '{id.f58}'])).stdout);

describe('flux job purge', () => {
  it('takes the oldest inactive jobs beyond a count or past an age out of the table and the KVS, and keeps them in the past', async () => {
    const ids = lines((await inst.flux(['submit', '--cc=1-6', 'true'])).stdout);
    expect((await inst.flux(['queue', 'drain'])).code).toBe(0);
    // oldest first: the order they became inactive, which flux jobs lists newest first
    const byAge = (await inactive(inst)).reverse();
    expect([...byAge].sort()).toEqual([...ids].sort());
    const h = await Flux.open(inst.uri);
    const seqBefore = (await h.call('journal.head', {})).seq as number;
    h.close();
    expect((await inst.flux(['job', 'purge'])).stdout).toBe('use --force to purge 0 inactive jobs\n');
    expect((await inst.flux(['job', 'purge', '--num-limit=4'])).stdout).toBe('use --force to purge 2 inactive jobs\n');
    expect(await inactive(inst)).toHaveLength(6);
    const stats = async () => JSON.parse((await inst.flux(['job', 'stats'])).stdout) as { job_states: Record<string, number>; inactive_purged: number; successful: number };
    expect(await stats()).toMatchObject({ job_states: { inactive: 6, total: 6 }, successful: 6, inactive_purged: 0 });
    expect((await inst.flux(['job', 'purge', '--force', '--num-limit=4', '--batch=1'])).stdout).toBe('purged 2 inactive jobs\n');
    expect(await stats()).toMatchObject({ job_states: { inactive: 4, total: 4 }, successful: 4, inactive_purged: 2 });
    expect(await inactive(inst)).toEqual(byAge.slice(2).reverse());
    for (const id of byAge.slice(0, 2)) {
      expect(await inst.flux(['job', 'eventlog', id])).toMatchObject({ code: 1, stderr: `flux-job: job ${id} not found\n` });
    }
    // the past still has them: the job table and the KVS as they were
    const past = lines((await inst.flux(['jobs', '-n', '-f', 'inactive', '-o', '{id.f58}', '--at-seq', String(seqBefore)])).stdout);
    expect(past).toHaveLength(6);
    expect((await inst.flux(['job', 'purge', '--force', '--age-limit=1ms'])).stdout).toBe('purged 4 inactive jobs\n');
    expect(await inactive(inst)).toEqual([]);
  });

  it('purges jobs by id, refusing an active or unknown one, and is the owner\'s alone', async () => {
    const [a, b] = lines((await inst.flux(['submit', '--cc=1-2', 'true'])).stdout) as [string, string];
    expect((await inst.flux(['queue', 'drain'])).code).toBe(0);
    const running = (await inst.flux(['submit', 'sleep', '60'])).stdout.trim();
    expect(await inst.flux(['job', 'purge', running])).toMatchObject({ code: 1, stdout: '', stderr: 'flux-job: cannot purge active job\n' });
    const guest = { FLUX_HANDLE_USERID: '4242' };
    expect(await inst.flux(['job', 'purge', '--force', a], { env: guest })).toMatchObject({ code: 1, stderr: expect.stringMatching(/^flux-job: .*(Permission|not permitted|owner)/) });
    expect((await inst.flux(['job', 'purge', a, b])).stdout).toBe('use --force to purge 2 inactive jobs\n');
    expect((await inst.flux(['job', 'purge', '--force', a])).stdout).toBe('purged 1 inactive jobs\n');
    expect(await inst.flux(['job', 'purge', '--force', a, b])).toMatchObject({ code: 1, stderr: 'flux-job: id not found\n' });
    expect(await inactive(inst)).toEqual([b]);
    expect(await inst.flux(['job', 'purge', '--force', '--batch=1001'])).toMatchObject({ code: 1, stderr: 'flux-job: batch must be >= 1 and <= 1000\n' });
    expect(await inst.flux(['job', 'purge', '--num-limit=-1'])).toMatchObject({ code: 1, stderr: 'flux-job: num limit must be >= 0\n' });
    expect((await inst.flux(['cancel', running])).code).toBe(0);
  });

  it('stays purged across a restart from the statedir', async () => {
    const left = await inactive(inst);
    expect(left.length).toBeGreaterThan(0);
    expect((await inst.flux(['job', 'purge', '--force', '--num-limit=1'])).code).toBe(0);
    const kept = await inactive(inst);
    expect(kept).toHaveLength(1);
    expect(await inst.stop()).toBe(0);
    inst = await startInstance(1, ['-S', `statedir=${join(dir, 'state')}`]);
    expect(await inactive(inst)).toEqual(kept);
    expect((await inst.flux(['job', 'eventlog', kept[0]!])).code).toBe(0);
  });

  it('purges on its own by the config\'s [job-manager] limits, checked when loaded and at start', async () => {
    lines((await inst.flux(['submit', '--cc=1-4', 'true'])).stdout);
    expect((await inst.flux(['queue', 'drain'])).code).toBe(0);
    const before = await inactive(inst);
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect((await inst.flux(['config', 'load'], { input: '[job-manager]\ninactive-num-limit = 2\n' })).code).toBe(0);
    await until('two inactive jobs left', async () => ((await inactive(inst)).length === 2 ? true : undefined), 20_000);
    expect(await inactive(inst)).toEqual(before.slice(0, 2));
    expect(await inst.flux(['config', 'load'], { input: '[job-manager]\ninactive-num-limit = -1\n' }))
      .toMatchObject({ code: 1, stderr: 'flux-config: config: job-manager.inactive-num-limit must be >= 0\n' });
    expect(await inst.flux(['config', 'load'], { input: '[job-manager]\ninactive-age-limit = 42\n' }))
      .toMatchObject({ code: 1, stderr: 'flux-config: config: job-manager.inactive-age-limit: Expected string\n' });
    expect((await inst.flux(['config', 'load'], { input: '[job-manager]\ninactive-age-limit = "1ms"\n' })).code).toBe(0);
    await until('no inactive job left', async () => ((await inactive(inst)).length === 0 ? true : undefined), 20_000);
    const conf = join(dir, 'conf');
    mkdirSync(conf);
    writeFileSync(join(conf, 'jm.toml'), '[job-manager]\ninactive-age-limit = "soon"\n');
    const bad = await inst.flux(['start', `--config-path=${conf}`, 'true']);
    expect(bad).toMatchObject({ code: 1, stderr: `flux-broker: ${conf}: job-manager.inactive-age-limit: invalid duration "soon"\n` });
  });
});
