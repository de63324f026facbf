// flux config get|load|reload against real brokers started with a config directory: the values as flux-core's
// command prints them, its errors and exit codes, and a configuration that belongs to each broker.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLUX, startInstance, type Instance } from '../helpers/instance.js';

let dir: string;
let inst: Instance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-config-'));
  writeFileSync(join(dir, 'a.toml'), '[access]\nallow-guest-user = true\n[sched]\nperiod = "1.5m"\nratio = 0.25\nnames = ["a", "b"]\n');
  inst = await startInstance(2, [`--config-path=${dir}`]);
}, 60_000);

afterAll(async () => {
  await inst?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('flux config', () => {
  it('gets the whole object, a value (a string without quotes), with a required type, a default or quietly', async () => {
    const all = await inst.flux(['config', 'get']);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual({ access: { 'allow-guest-user': true }, sched: { period: '1.5m', ratio: 0.25, names: ['a', 'b'] } });
    expect((await inst.flux(['config', 'get', 'access.allow-guest-user'])).stdout).toBe('true\n');
    expect((await inst.flux(['config', 'get', 'sched.period'])).stdout).toBe('1.5m\n');
    expect((await inst.flux(['config', 'get', 'sched.names', '--type=array'])).stdout).toBe('["a","b"]\n');
    expect((await inst.flux(['config', 'get', '-t', 'fsd-integer', 'sched.period'])).stdout).toBe('90\n');
    expect((await inst.flux(['config', 'get', '-t', 'fsd-real', 'sched.period'])).stdout).toBe('90.000000\n');
    expect((await inst.flux(['config', 'get', '-t', 'fsd', 'sched.period'])).stdout).toBe('1.5m\n');
    expect((await inst.flux(['config', 'get', '-t', 'real', 'sched.ratio'])).stdout).toBe('0.25\n');
    expect((await inst.flux(['config', 'get', '-d', 'x y', 'sched.nope'])).stdout).toBe('x y\n');
    expect((await inst.flux(['config', 'get', '-c', dir, 'sched.ratio'])).stdout).toBe('0.25\n');
  });

  it('fails as flux-core does: unset, wrong type, unknown type, quiet', async () => {
    expect(await inst.flux(['config', 'get', 'sched.nope'])).toMatchObject({ code: 1, stdout: '', stderr: 'flux-config: sched.nope is not set\n' });
    expect(await inst.flux(['config', 'get', 'sched.ratio.deeper'])).toMatchObject({ code: 1, stderr: 'flux-config: sched.ratio.deeper is not set\n' });
    expect(await inst.flux(['config', 'get', '-q', 'sched.nope'])).toMatchObject({ code: 1, stdout: '', stderr: '' });
    expect(await inst.flux(['config', 'get', '-t', 'integer', 'sched.ratio']))
      .toMatchObject({ code: 1, stderr: 'flux-config: sched.ratio does not have the requested type\n' });
    expect(await inst.flux(['config', 'get', '-t', 'fsd', 'sched.names']))
      .toMatchObject({ code: 1, stderr: 'flux-config: sched.names does not have the requested type\n' });
    expect(await inst.flux(['config', 'get', '-t', 'banana', 'sched'])).toMatchObject({ code: 1, stderr: 'flux-config: Unknown type: banana\n' });
    const none = await inst.flux(['config']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('Usage: flux config');
  });

  it('load replaces one broker\'s configuration (JSON or TOML on stdin, or a directory); reload reads the files again', async () => {
    expect((await inst.flux(['config', 'load'], { input: '{"a":{"b":"s"}}' })).code).toBe(0);
    expect((await inst.flux(['config', 'get', 'a.b'])).stdout).toBe('s\n');
    expect((await inst.flux(['config', 'get', 'sched'])).code).toBe(1);
    // the broker of rank 1 kept its own
    const other = await inst.flux(['exec', '-r', '1', process.execPath, FLUX, 'config', 'get', 'sched.ratio']);
    expect(other).toMatchObject({ code: 0, stdout: '0.25\n' });

    expect((await inst.flux(['config', 'load'], { input: '[t]\nk = 3\n' })).code).toBe(0);
    expect((await inst.flux(['config', 'get', '-t', 'integer', 't.k'])).stdout).toBe('3\n');
    const bad = await inst.flux(['config', 'load'], { input: 'x = [' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^flux-config: stdin: /);
    expect((await inst.flux(['config', 'get', 't.k'])).stdout).toBe('3\n');

    const other2 = mkdtempSync(join(tmpdir(), 'flux-config-'));
    try {
      writeFileSync(join(other2, 'z.toml'), 'top = "level"\n');
      expect((await inst.flux(['config', 'load', other2])).code).toBe(0);
      expect((await inst.flux(['config', 'get'])).stdout).toBe('{"top":"level"}\n');
    } finally {
      rmSync(other2, { recursive: true, force: true });
    }

    writeFileSync(join(dir, 'b.toml'), '[more]\nx = 1\n');
    expect((await inst.flux(['config', 'reload'])).code).toBe(0);
    expect((await inst.flux(['config', 'get', 'more.x'])).stdout).toBe('1\n');
    expect((await inst.flux(['config', 'get', 'sched.ratio'])).stdout).toBe('0.25\n');

    // a file that no longer parses: the reload fails naming it, and the broker keeps what it had
    writeFileSync(join(dir, 'b.toml'), '[more\n');
    const failed = await inst.flux(['config', 'reload']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^flux-config: reload: .*b\.toml: /);
    expect((await inst.flux(['config', 'get', 'more.x'])).stdout).toBe('1\n');
  });

  it('refuses a payload that is not an object', async () => {
    const bad = await inst.flux(['config', 'load'], { input: '[1,2]' });
    expect(bad).toMatchObject({ code: 1, stderr: 'flux-config: stdin: the configuration must be an object\n' });
  });
});
