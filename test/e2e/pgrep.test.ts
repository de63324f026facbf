// flux pgrep and flux pkill on a real instance: jobs picked by name pattern and id range, listed or canceled.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startInstance, type Instance } from '../helpers/instance.js';

let inst: Instance;
const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);

beforeAll(async () => {
  inst = await startInstance(1);
});

afterAll(async () => {
  expect(await inst.stop()).toBe(0);
});

describe('flux pgrep and pkill', () => {
  it('list the ids of the jobs matched, and pkill -w cancels them and waits for their end', async () => {
    const submit = async (name: string) => (await inst.flux(['submit', '--urgency=hold', `--job-name=${name}`, 'true'])).stdout.trim();
    const a = await submit('alpha');
    const b = await submit('beta');
    const c = await submit('gamma');
    expect(await inst.flux(['pgrep', '^al'])).toMatchObject({ code: 0, stdout: `${a}\n` });
    expect(lines((await inst.flux(['pgrep', 'a$'])).stdout).sort()).toEqual([a, b, c].sort());
    expect(await inst.flux(['pgrep', '-o', '{name}', `${a}..${b}`])).toMatchObject({ code: 0, stdout: 'NAME\nalpha\nbeta\n' });
    expect(await inst.flux(['pgrep', 'gamma', `${a}..${b}`])).toMatchObject({ code: 1, stdout: '' });
    expect(await inst.flux(['pgrep', '('])).toMatchObject({ code: 1, stderr: "flux-pgrep: invalid pattern '(': Invalid regular expression: /(/: Unterminated group\n" });
    expect(await inst.flux(['pkill', '-w', 'alpha', 'beta'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(lines((await inst.flux(['jobs', '-a', '-n', '-o', '{name} {status}'])).stdout).sort()).toEqual(['alpha CANCELED', 'beta CANCELED', 'gamma SCHED']);
    // inactive jobs only with -a
    expect((await inst.flux(['pgrep', 'alpha'])).code).toBe(1);
    expect(await inst.flux(['pgrep', '-a', 'alpha'])).toMatchObject({ code: 0, stdout: `${a}\n` });
    expect(await inst.flux(['pkill', 'nomatch'])).toMatchObject({ code: 1, stderr: 'flux-pkill: no matching jobs\n' });
    // a usage error is not "nothing matched"
    expect(await inst.flux(['pgrep', '--bogus', 'x'])).toMatchObject({ code: 2, stderr: "flux-pgrep: unknown option '--bogus'\n" });
    expect((await inst.flux(['pkill', '--bogus', 'x'])).code).toBe(2);
    expect((await inst.flux(['pkill', 'gamma'])).code).toBe(0);
  }, 30_000);
});
