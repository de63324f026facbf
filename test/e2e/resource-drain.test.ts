// Draining ranks on real instances: flux resource drain, undrain and status, the scheduler leaving drained ranks
// alone (a job that needs one waits, running jobs go on), the drains journaled in resource.eventlog and kept across a
// restart from the statedir.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInstance, until, type Instance } from '../helpers/instance.js';

let inst: Instance;
const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);

async function ok(args: string[], on: Instance = inst): Promise<string> {
  const r = await on.flux(args);
  expect(r, `${args.join(' ')}: ${r.stderr}`).toMatchObject({ code: 0, stderr: '' });
  return r.stdout;
}

const state = async (id: string) => (await ok(['jobs', '-a', '-n', '-o', '{state}', id])).trim();

beforeAll(async () => {
  inst = await startInstance(3);
});

afterAll(async () => {
  expect(await inst.stop()).toBe(0);
});

// a test that failed half way leaves no drained rank to the next
afterEach(async () => {
  await inst.flux(['resource', 'undrain', '-f', '0-2']);
});

describe('flux resource drain', () => {
  it('takes a rank out of scheduling: listed drained and down, a job needing it waits until it is undrained', async () => {
    expect(await ok(['resource', 'status', '-n', '-o', '{state} {ranks}'])).toBe('avail 0-2\n');
    expect(await ok(['resource', 'drain', '1', 'bad', 'fan'])).toBe('');
    expect(await ok(['resource', 'status', '-n', '-o', '{state} {ranks} {reason}'])).toBe('avail 0,2 \ndrained 1 bad fan\n');
    expect(lines(await ok(['resource', 'drain', '-n', '-o', '{state} {ranks} {reason}']))).toEqual(['drained 1 bad fan']);
    expect(lines(await ok(['resource', 'list', '-n', '-o', '{state} {ranks}']))).toEqual(['free 0,2', 'allocated ', 'down 1']);
    // a -N2 job runs around it; a -N3 job waits for it
    const two = (await ok(['submit', '-N', '2', 'true'])).trim();
    await until('the -N2 job ran', async () => ((await state(two)) === 'INACTIVE' ? true : undefined));
    expect(await ok(['jobs', '-a', '-n', '-o', '{ranks} {result}', two])).toBe('[0,2] COMPLETED\n');
    const three = (await ok(['submit', '-N', '3', 'true'])).trim();
    await new Promise((r) => setTimeout(r, 500));
    expect(await state(three)).toBe('SCHED');
    expect(await ok(['resource', 'undrain', '1'])).toBe('');
    await until('the -N3 job ran', async () => ((await state(three)) === 'INACTIVE' ? true : undefined));
    expect(await ok(['resource', 'drain', '-n'])).toBe('');
  }, 30_000);

  it('a rank drained under a running job is draining until the job ends, and the job goes on', async () => {
    const job = (await ok(['submit', '-N', '3', 'sleep', '30'])).trim();
    await until('running', async () => ((await state(job)) === 'RUN' ? true : undefined));
    await ok(['resource', 'drain', '2', 'maintenance']);
    expect(await ok(['resource', 'status', '-s', 'draining,drained', '-n', '-o', '{state} {ranks}'])).toBe('draining 2\ndrained \n');
    expect(await state(job)).toBe('RUN');
    await ok(['cancel', job]);
    await until('drained', async () => ((await ok(['resource', 'status', '-n', '-s', 'drained', '-o', '{state} {ranks}'])) === 'drained 2\n' ? true : undefined));
    await ok(['resource', 'undrain', '2']);
  }, 30_000);

  it('refuses what it cannot do, with one line each', async () => {
    await ok(['resource', 'drain', '0', 'first']);
    const refused = async (args: string[], why: string) => {
      expect(await inst.flux(['resource', ...args])).toMatchObject({ code: 1, stdout: '', stderr: `flux-resource: ${why}\n` });
    };
    await refused(['drain', '0', 'again'], 'rank 0 already drained');
    await refused(['undrain', '1'], 'rank 1 not drained');
    await refused(['drain', '5'], 'rank 5 is not in this instance of size 3');
    await refused(['drain', 'nosuchhost'], 'invalid targets: nosuchhost');
    await refused(['status', '-s', 'bogus'], 'Invalid resource state bogus specified');
    // -u leaves a drained rank's reason; -f replaces it; undrain -f passes over ranks not drained
    await ok(['resource', 'drain', '-u', '0-1', 'second']);
    expect(lines(await ok(['resource', 'drain', '-n', '-o', '{ranks} {reason}']))).toEqual(['0 first', '1 second']);
    await ok(['resource', 'drain', '-f', '0', 'third']);
    expect(lines(await ok(['resource', 'drain', '-n', '-o', '{ranks} {reason}']))).toEqual(['0 third', '1 second']);
    await ok(['resource', 'undrain', '-f', '0-2']);
    expect(await ok(['resource', 'drain', '-n'])).toBe('');
    // every change is an event of resource.eventlog in the KVS, so journaled
    const log = lines(await ok(['kvs', 'eventlog', 'get', 'resource.eventlog'])).map((l) => l.split(' ')[1]);
    expect(log.filter((n) => n === 'drain').length).toBeGreaterThanOrEqual(5);
    expect(log.filter((n) => n === 'undrain').length).toBeGreaterThanOrEqual(3);
  }, 30_000);
});

describe('drains across a restart', () => {
  it('a drained rank is still drained after a restart from the statedir, with its reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flux-drain-restart-'));
    try {
      const statedir = join(dir, 'state');
      const first = await startInstance(2, ['-S', `statedir=${statedir}`]);
      await ok(['resource', 'drain', '1', 'keep', 'me'], first);
      expect(await first.stop()).toBe(0);
      const second = await startInstance(2, ['-S', `statedir=${statedir}`]);
      try {
        expect(lines(await ok(['resource', 'drain', '-n', '-o', '{ranks} {reason}'], second))).toEqual(['1 keep me']);
        const one = (await ok(['submit', '-N', '2', 'true'], second)).trim();
        await new Promise((r) => setTimeout(r, 500));
        expect(await ok(['jobs', '-a', '-n', '-o', '{state}', one], second)).toBe('SCHED\n');
        await ok(['resource', 'undrain', '1'], second);
        await until('the -N2 job ran', async () => ((await ok(['jobs', '-a', '-n', '-o', '{state}', one], second)) === 'INACTIVE\n' ? true : undefined));
      } finally {
        expect(await second.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
