// flux shutdown against real instances: the whole tree goes down and flux start exits 0 once the command returns
// (or soon after, with --background); the log of the shutdown is printed; a guest is refused and the instance
// stays up; TARGET names the instance by its URI.
import { describe, it, expect } from 'vitest';
import { FLUX, startInstance, until } from '../helpers/instance.js';

const gone = (proc: { exitCode: number | null }) => until('flux start to exit', async () => (proc.exitCode !== null ? true : undefined), 15_000);

describe('flux shutdown', () => {
  it('takes every broker of the instance down, printing the log as it goes, and returns once it is gone', async () => {
    const inst = await startInstance(3);
    const pids = (await inst.flux(['exec', '-r', 'all', process.execPath, FLUX, 'getattr', 'broker.pid'])).stdout.split('\n').filter(Boolean).map(Number);
    expect(pids).toHaveLength(3);
    // a guest may not
    expect(await inst.flux(['shutdown'], { env: { FLUX_HANDLE_USERID: '4242' } })).toMatchObject({ code: 1, stderr: 'flux-shutdown: Request requires owner credentials\n' });
    expect((await inst.flux(['getattr', 'size'])).stdout).toBe('3\n');
    const r = await inst.flux(['shutdown']);
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: '', stderr: 'broker.info[0]: shutdown: requested\n' });
    await gone(inst.proc);
    expect(inst.proc.exitCode).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(await inst.stop()).toBe(0);
  });

  it('--background returns at once; TARGET is the instance\'s URI; -q prints nothing but errors', async () => {
    const inst = await startInstance(1);
    const r = await inst.flux(['shutdown', '--background', '-q', inst.uri], { env: { FLUX_URI: 'local:///nonexistent' } });
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await gone(inst.proc);
    expect(await inst.stop()).toBe(0);
  });
});
