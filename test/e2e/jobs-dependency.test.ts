// Job dependencies (RFC 26's after* schemes, `--dependency`), `flux job status`, `flux job last` and
// `flux job wait-event -m` on real instances, and a job waiting on another across a restart from the statedir.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dirname } from 'node:path';
import { startInstance, until, FLUX, type Instance } from '../helpers/instance.js';

let inst: Instance;

const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);

async function submit(args: string[], on: Instance = inst): Promise<string> {
  const r = await on.flux(['submit', ...args]);
  expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
  return r.stdout.trim();
}

/** `flux jobs -a` of one job, in FORMAT */
async function field(id: string, format: string, on: Instance = inst): Promise<string> {
  const r = await on.flux(['jobs', '-a', '-n', '-o', `{id.f58}|${format}`]);
  return lines(r.stdout).find((l) => l.startsWith(`${id}|`))?.slice(id.length + 1) ?? '';
}

const ended = (id: string, on: Instance = inst) =>
  until(`${id} inactive`, async () => ((await field(id, '{state}', on)) === 'INACTIVE' ? true : undefined));

async function events(id: string): Promise<string[]> {
  const r = await inst.flux(['job', 'eventlog', id]);
  return lines(r.stdout).map((l) => l.split(' ').slice(1).join(' '));
}

beforeAll(async () => {
  inst = await startInstance(1);
});

afterAll(async () => {
  await inst?.stop();
});

describe('flux submit --dependency', () => {
  it('afterok, afternotok, after and afterany wait in DEPEND, listed, until the job they name gets that far', async () => {
    const held = await submit(['--urgency=hold', 'true']);
    const ok = await submit([`--dependency=afterok:${held}`, 'true']);
    const notok = await submit([`--dependency=afternotok:${held}`, 'true']);
    const both = await submit([`--dependency=after:${held}`, `--dependency=afterany:${held}`, 'true']);
    for (const id of [ok, notok, both]) expect(await field(id, '{state}')).toBe('DEPEND');
    expect(await field(ok, '{contextual_info}')).toBe(`depends:after-success=${held}`);
    expect(await field(both, '{dependencies}')).toBe(`after-start=${held},after-finish=${held}`);
    expect((await inst.flux(['job', 'urgency', held, 'default'])).code).toBe(0);
    for (const id of [held, ok, notok, both]) await ended(id);
    expect(await field(ok, '{result}')).toBe('COMPLETED');
    expect(await field(both, '{result}')).toBe('COMPLETED');
    // the job it waited on succeeded: one waiting for a failure never can run
    expect(await field(notok, '{result}|{exception.type}|{exception.note}'))
      .toBe(`FAILED|dependency|dependency after-failure=${held} can never be satisfied`);
    expect(await events(ok)).toEqual([
      `submit userid=${process.getuid!()} urgency=16 flags=0 version=1`, 'validate',
      `dependency-add description="after-success=${held}"`, `dependency-remove description="after-success=${held}"`,
      'depend', 'priority priority=16', 'alloc', 'start', 'finish status=0', 'release ranks="all" final=true', 'free', 'clean',
    ]);
    // the two of one job are answered one by one, as the job they name gets to each
    const both_ = await events(both);
    expect(both_.indexOf(`dependency-remove description="after-start=${held}"`)).toBeGreaterThan(0);
    expect(both_.indexOf(`dependency-remove description="after-finish=${held}"`)).toBeGreaterThan(both_.indexOf(`dependency-remove description="after-start=${held}"`));
  }, 30_000);

  it('a dependency on a job that failed, or was canceled before it started, ends the job at once', async () => {
    const failed = await submit(['false']);
    await ended(failed);
    const after = await submit([`--dependency=afterok:${failed}`, 'true']);
    const notok = await submit([`--dependency=afternotok:${failed}`, 'true']);
    await ended(after);
    await ended(notok);
    expect(await field(after, '{result}|{exception.type}')).toBe('FAILED|dependency');
    expect(await field(notok, '{result}')).toBe('COMPLETED');
    const pending = await submit(['--urgency=hold', 'true']);
    const start = await submit([`--dependency=after:${pending}`, 'true']);
    expect((await inst.flux(['cancel', pending])).code).toBe(0);
    await ended(start);
    expect(await field(start, '{exception.note}')).toBe(`dependency after-start=${pending} can never be satisfied`);
  }, 30_000);

  it('a job waiting on another can be canceled, and leaves the other alone', async () => {
    const held = await submit(['--urgency=hold', 'true']);
    const waiting = await submit([`--dependency=afterany:${held}`, 'true']);
    expect((await inst.flux(['cancel', waiting])).code).toBe(0);
    await ended(waiting);
    expect(await field(waiting, '{result}')).toBe('CANCELED');
    expect((await inst.flux(['job', 'urgency', held, 'default'])).code).toBe(0);
    await ended(held);
    expect(await field(held, '{result}')).toBe('COMPLETED');
  }, 30_000);

  it('--begin-time keeps a job in DEPEND until the time comes, and one in the past runs at once', async () => {
    const later = await submit(['--begin-time=+4s', 'true']);
    expect(await field(later, '{state} {contextual_info}')).toMatch(/^DEPEND depends:begin-time=\d+\.\d{3}$/);
    const past = await submit(['--begin-time=2020-01-01T00:00:00Z', 'true']);
    await ended(past);
    expect(await field(later, '{state}')).toBe('DEPEND');
    await ended(later);
    expect(await field(later, '{result}')).toBe('COMPLETED');
    const log = await events(later);
    expect(log.filter((e) => e.startsWith('dependency-'))).toHaveLength(2);
    expect((await inst.flux(['submit', '--begin-time=whenever', 'true'])).stderr)
      .toBe("flux-submit: --begin-time: invalid time 'whenever': expected +FSD, ISO-8601 or seconds since the epoch\n");
  }, 30_000);

  it('refuses a dependency it cannot serve, and submits nothing', async () => {
    const before = (await inst.flux(['job', 'last'])).stdout;
    const refused = async (dep: string, why: string) => {
      const r = await inst.flux(['submit', `--dependency=${dep}`, 'true']);
      expect(r).toMatchObject({ code: 1, stdout: '', stderr: `flux-submit: ${why}\n` });
    };
    await refused('afterok:bar', '"bar" is not a valid jobid');
    await refused('afterok:-1', '"-1" is not a valid jobid');
    await refused('afterok:1234', 'dependency after-success=ƒNH: job not found');
    await refused('bogus:1', 'dependency scheme "bogus" is not supported');
    await refused('begin-time:soon', 'begin-time: "soon" is not a time');
    await refused('afterok', 'Invalid dependency URI: afterok');
    expect((await inst.flux(['job', 'last'])).stdout).toBe(before);
    // the URI's query becomes keys of the jobspec's dependency
    const dry = await inst.flux(['submit', '--dry-run', '--dependency=afterok:ƒ2?x=1&y=two', 'true']);
    expect(JSON.parse(dry.stdout).attributes.system.dependencies).toEqual([{ scheme: 'afterok', value: 'ƒ2', x: '1', y: 'two' }]);
  });
});

describe('flux job status, last and wait-event -m', () => {
  it('status waits for the jobs and exits with the largest exit code; -e sets an exception\'s', async () => {
    const zero = await submit(['true']);
    const one = await submit(['false']);
    const sigint = await submit(['sh', '-c', 'kill -INT $$']);
    const held = await submit(['--urgency=hold', 'true']);
    expect(await inst.flux(['job', 'status', zero])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await inst.flux(['job', 'status', '-v', one])).toMatchObject({ code: 1, stderr: `flux-job: ${one}: exited with exit code 1\n` });
    expect((await inst.flux(['job', 'status', zero, one, sigint])).code).toBe(130);
    // status waits for a job still to run
    const waiting = inst.flux(['job', 'status', '-e', '42', held]);
    await new Promise((r) => setTimeout(r, 300));
    expect((await inst.flux(['cancel', held])).code).toBe(0);
    expect(await waiting).toMatchObject({ code: 42 });
    expect((await inst.flux(['job', 'status', held])).code).toBe(1);
    const json = JSON.parse((await inst.flux(['job', 'status', '--json', one])).stdout);
    expect(json).toMatchObject({ result: 2, waitstatus: 256, exception_occurred: false });
    expect(JSON.parse((await inst.flux(['job', 'status', '-j', '-e', '0', held])).stdout))
      .toMatchObject({ result: 4, exception_occurred: true, exception_severity: 0, exception_type: 'cancel' });
    expect(await inst.flux(['job', 'status', 'ƒNH'])).toMatchObject({ code: 1, stderr: 'flux-job: ƒNH: No such job\n' });
    expect((await inst.flux(['job', 'status'])).code).not.toBe(0);
  }, 30_000);

  it('last prints the newest of the caller\'s jobs, N of them, or a slice', async () => {
    const a = await submit(['true']);
    const b = await submit(['true']);
    expect((await inst.flux(['job', 'last'])).stdout).toBe(`${b}\n`);
    expect((await inst.flux(['job', 'last', '2'])).stdout).toBe(`${b}\n${a}\n`);
    expect((await inst.flux(['job', 'last', '[1:2]'])).stdout).toBe(`${a}\n`);
    expect(lines((await inst.flux(['job', 'last', '[::-1]'])).stdout).slice(-2)).toEqual([a, b]);
    expect(await inst.flux(['job', 'last', 'x'])).toMatchObject({ code: 1 });
    expect(await inst.flux(['job', 'last', '[1:2:0]'])).toMatchObject({ code: 1, stderr: 'flux-job: invalid slice: [1:2:0]: step cannot be zero\n' });
  });

  it('timeleft says how long a job has left: a limit\'s whole seconds, none without one, 0 once ended', async () => {
    const limited = await submit(['-t', '5m', 'sleep', '30']);
    expect((await inst.flux(['job', 'wait-event', '-t', '15', limited, 'start'])).code).toBe(0);
    const left = Number((await inst.flux(['job', 'timeleft', limited])).stdout);
    expect(left).toBeGreaterThan(200);
    expect(left).toBeLessThanOrEqual(300);
    expect((await inst.flux(['job', 'timeleft', '-H', limited])).stdout).toMatch(/^[\d.]+m\n$/);
    expect((await inst.flux(['run', '-t', '2m', 'sh', '-c', 'test $(flux job timeleft) -le 120 && echo inside'], { env: { PATH: `${dirname(FLUX)}:${process.env.PATH ?? ''}` } })).stdout).toBe('inside\n');
    const held = await submit(['--urgency=hold', 'true']);
    expect(await inst.flux(['job', 'timeleft', held])).toMatchObject({ code: 1, stderr: `flux-job: job ${held} has not started\n` });
    expect(await inst.flux(['job', 'timeleft'], { env: { FLUX_JOB_ID: '' } })).toMatchObject({ code: 1 });
    await inst.flux(['cancel', limited, held]);
    await ended(limited);
    expect((await inst.flux(['job', 'timeleft', limited])).stdout).toBe('0\n');
    const unlimited = await submit(['sleep', '30']);
    expect((await inst.flux(['job', 'wait-event', '-t', '15', unlimited, 'start'])).code).toBe(0);
    expect((await inst.flux(['job', 'timeleft', unlimited])).stdout).toBe('4294967295\n');
    expect((await inst.flux(['job', 'timeleft', '-H', unlimited])).stdout).toBe('infinity\n');
    await inst.flux(['cancel', unlimited]);
    await ended(unlimited);
    expect((await inst.flux(['job', 'timeleft', unlimited])).stdout).toBe('0\n');
  }, 30_000);

  it('wait-event -m waits for the event whose context holds the value', async () => {
    const held = await submit(['--urgency=hold', 'true']);
    const dep = await submit([`--dependency=after:${held}`, `--dependency=afterany:${held}`, 'true']);
    const w = inst.flux(['job', 'wait-event', '-t', '15', '-m', `description=after-finish=${held}`, dep, 'dependency-remove']);
    expect((await inst.flux(['job', 'urgency', held, 'default'])).code).toBe(0);
    const r = await w;
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(`dependency-remove description="after-finish=${held}"`);
    expect(await inst.flux(['job', 'wait-event', '-t', '1', '-m', 'description=nothing', dep, 'dependency-remove']))
      .toMatchObject({ code: 1, stderr: "flux-job: wait-event timeout on event 'dependency-remove'\n" });
  }, 30_000);
});

describe('dependencies across a restart', () => {
  it('a job waiting on another still waits after a restart, and runs once that one has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flux-dep-restart-'));
    try {
      const state = join(dir, 'state');
      const first = await startInstance(1, ['-S', `statedir=${state}`]);
      const held = await submit(['--urgency=hold', 'true'], first);
      const dep = await submit([`--dependency=afterok:${held}`, `--dependency=after:${held}`, 'true'], first);
      expect(await first.stop()).toBe(0);
      const second = await startInstance(1, ['-S', `statedir=${state}`]);
      try {
        // the restart journals nothing new about the dependencies: they are still waited on, once each
        expect(await field(dep, '{state}|{dependencies}', second)).toBe(`DEPEND|after-success=${held},after-start=${held}`);
        expect((await second.flux(['job', 'urgency', held, 'default'])).code).toBe(0);
        await ended(dep, second);
        expect(await field(dep, '{result}', second)).toBe('COMPLETED');
        const log = lines((await second.flux(['job', 'eventlog', dep])).stdout).map((l) => l.split(' ')[1]);
        expect(log.filter((n) => n === 'dependency-add')).toHaveLength(2);
        expect(log.filter((n) => n === 'dependency-remove')).toHaveLength(2);
      } finally {
        expect(await second.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
