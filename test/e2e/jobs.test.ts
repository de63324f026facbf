// Jobs on a real size-1 instance: submit, run, the job table, cancel, kill, urgency, wait, time limits, the
// eventlogs in the KVS, output, stdin and flux-core's exit codes and messages; and that a finished job leaves no
// descriptor open in the broker.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startInstance, until, FLUX, type Instance } from '../helpers/instance.js';
import { LocalClient } from '../../src/transport/local-client.js';
import { parseLocalUri } from '../../src/core/wire/uri.js';
import { makeRequest, jsonPayload, ROLE_USER, type Message } from '../../src/core/wire/message.js';
import { EPERM } from '../../src/core/errors.js';
import { encodeFluid, parseJobId } from '../../src/core/jobs/fluid.js';
import { Flux } from '../../src/api/handle.js';
import type { JobItem } from '../../src/projections/jobs.js';

let inst: Instance;
let dir: string;

const lines = (s: string) => s.split('\n').filter((l) => l.length > 0);
/** a job's line of `flux jobs -a -o FORMAT` */
async function jobField(id: string, format: string): Promise<string> {
  const r = await inst.flux(['jobs', '-a', '-n', '-o', `{id.f58} ${format}`]);
  return lines(r.stdout).find((l) => l.startsWith(`${id} `))?.slice(id.length + 1) ?? '';
}
const status = (id: string) => jobField(id, '{status}');
const waitStatus = (id: string, want: string) => until(`${id} ${want}`, async () => ((await status(id)) === want ? true : undefined));

/** a request sent with another user's credentials (the owner may present any, as flux-core's tests do) */
async function asGuest(topic: string, body: Record<string, unknown>): Promise<Message> {
  const conn = await LocalClient.connect(parseLocalUri(inst.uri));
  try {
    const req = makeRequest(topic, jsonPayload(body), { matchtag: 1 });
    req.userid = 4242;
    req.rolemask = ROLE_USER;
    const answer = new Promise<Message>((resolve) => (conn.onMessage = resolve));
    conn.send(req);
    return await answer;
  } finally {
    conn.close();
  }
}

/** how many kvs-watch requests the broker holds */
const kvsWatchers = async (h: Flux) => (await h.call('kvs-watch.stats-get', {})).watchers as number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-jobs-'));
  inst = await startInstance(1);
});

afterAll(async () => {
  await inst?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('flux submit and flux run', () => {
  it('submit prints the id in F58; the job runs and is listed with flux-core\'s columns and codes', async () => {
    const r = await inst.flux(['submit', '-n', '2', 'true']);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^ƒ[1-9A-HJ-NP-Za-km-z]+$/);
    await waitStatus(id, 'COMPLETED');
    const jobs = await inst.flux(['jobs', '-a']);
    expect(lines(jobs.stdout)[0]).toBe('       JOBID USER     NAME       ST NTASKS NNODES     TIME INFO');
    const row = lines(jobs.stdout).find((l) => l.includes(id))!;
    expect(row).toMatch(new RegExp(`^ +${id} \\S+ +true +CD +2 +1 +[0-9.]+[smhd] +\\S+$`));
    const dec = await inst.flux(['job', 'id', id]);
    expect(Number(dec.stdout)).toBe(parseJobId(id));
    expect((await inst.flux(['job', 'id', '--to=dothex', dec.stdout.trim()])).stdout.trim()).toBe(encodeFluid(parseJobId(id), 'dothex'));
  });

  it('run streams the tasks\' output and exits with the job\'s code', async () => {
    const r = await inst.flux(['run', '-n', '2', '-l', 'sh', '-c', 'echo task $FLUX_TASK_RANK of $FLUX_JOB_SIZE']);
    expect(r.code).toBe(0);
    expect(lines(r.stdout).sort()).toEqual(['0: task 0 of 2', '1: task 1 of 2']);
    const f = await inst.flux(['run', 'false']);
    expect(f.code).toBe(1);
    expect(f.stderr).toBe('flux-job: task(s) exited with exit code 1\n');
    const sig = await inst.flux(['run', 'sh', '-c', 'kill -TERM $$']);
    expect(sig.code).toBe(143);
    expect(sig.stderr).toContain('flux-job: task(s) Terminated');
    const missing = await inst.flux(['run', 'no-such-command-anywhere']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/job\.exception ƒ\S+ type=exec severity=0 task 0 \(host \S+\): start failed: no-such-command-anywhere: No such file or directory/);
  });

  it('gives tasks flux-core\'s environment, the submitter\'s cwd and env rules', async () => {
    const r = await inst.flux(['run', '--env=-*', '--env=PATH', '--env=GREETING=hi-$PATH', '--cwd', dir, 'sh', '-c',
      'echo $FLUX_JOB_ID $FLUX_TASK_RANK $FLUX_TASK_LOCAL_ID $FLUX_JOB_SIZE $FLUX_JOB_NNODES $PMI_RANK $PMI_SIZE; pwd; echo ${HOME:-nohome}; echo $GREETING; test -d "$FLUX_JOB_TMPDIR" && echo tmpdir'],
    { env: { HOME: '/root' } });
    expect(r.code).toBe(0);
    const [ids, cwd, home, greeting, tmp] = lines(r.stdout);
    expect(ids).toMatch(/^ƒ\S+ 0 0 1 1 0 1$/);
    expect(cwd).toBe(dir);
    expect(home).toBe('nohome');
    expect(greeting).toBe(`hi-${process.env.PATH}`);
    expect(tmp).toBe('tmpdir');
  });

  it('forwards stdin to the tasks, and writes output to files when asked', async () => {
    const r = await inst.flux(['run', 'cat'], { input: 'line one\nline two\n' });
    expect(r.stdout).toBe('line one\nline two\n');
    const out = join(dir, 'job-{{id}}.out');
    const f = await inst.flux(['run', `--output=${out}`, 'sh', '-c', 'echo to-stdout; echo to-stderr >&2']);
    expect(f.code).toBe(0);
    const file = lines(f.stderr).find((l) => l.startsWith('0: stdout redirected to '))!.slice('0: stdout redirected to '.length);
    expect(file).toMatch(/job-ƒ\S+\.out$/);
    expect(readFileSync(file, 'utf8').split('\n').sort()).toEqual(['', 'to-stderr', 'to-stdout']);
  });

  it('prints the jobspec flux-core would submit with --dry-run', async () => {
    const r = await inst.flux(['submit', '--dry-run', '-n', '4', '-c', '2', '-t', '1', '--job-name=x', '--env=-*', 'hostname']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`{"resources": [{"type": "slot", "count": 4, "with": [{"type": "core", "count": 2}], "label": "task"}], `
      + `"tasks": [{"command": ["hostname"], "slot": "task", "count": {"per_slot": 1}}], "attributes": {"system": {"duration": 60, `
      + `"environment": {}, "cwd": "${process.cwd()}", "job": {"name": "x"}}}, "version": 1}\n`);
  });

  it('submits one job per --cc id, with FLUX_JOB_CC and {cc} set, and --wait returns the worst exit code', async () => {
    const r = await inst.flux(['submit', '--cc=1-3', '--wait', `--output=${join(dir, 'cc{cc}.out')}`, 'sh', '-c', 'echo {cc} $FLUX_JOB_CC; test {cc} != 2']);
    expect(lines(r.stdout)).toHaveLength(3);
    expect(r.code).toBe(1);
    for (const n of [1, 2, 3]) expect(readFileSync(join(dir, `cc${n}.out`), 'utf8')).toBe(`${n} ${n}\n`);
  });

  it('refuses bad input with flux-core\'s messages', async () => {
    const bad = await inst.flux(['submit', '--urgency=40', 'true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^flux-submit: /);
    const noCmd = await inst.flux(['submit']);
    expect(noCmd.code).toBe(1);
    expect(noCmd.stderr).toBe('flux-submit: job command and arguments are missing\n');
    const flags = await inst.flux(['submit', '--flags=bogus', 'true']);
    expect(flags.stderr).toBe('flux-submit: --flags: Unknown flag bogus\n');
    const badId = await inst.flux(['job', 'cancel', 'nonsense']);
    expect(badId.code).toBe(1);
    expect(badId.stderr).toBe('flux-job: invalid jobid: nonsense\n');
  });
});

describe('the job lifecycle', () => {
  it('an unsatisfiable request gets an alloc exception at once', async () => {
    const r = await inst.flux(['run', '-n', '64', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^[0-9.]+s: job\.exception ƒ\S+ type=alloc severity=0 unsatisfiable request\n$/);
  });

  it('is unsatisfiable on an instance whose ranks answered with no cores, not left waiting for them', async () => {
    // every rank answered (an empty topology: no cores), so the instance's resources are known, and none
    const bare = await startInstance(1, [], { env: { FLUX_HWLOC_XMLFILE: '/dev/null' } });
    try {
      const r = await bare.flux(['run', 'true'], { timeoutMs: 15_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/type=alloc severity=0 unsatisfiable request\n$/);
    } finally {
      await bare.stop();
    }
  });

  it('a time limit ends the job with a timeout exception (SIGALRM, exit 142)', async () => {
    const r = await inst.flux(['run', '-t', '0.3s', 'sleep', '30']);
    expect(r.code).toBe(142);
    expect(r.stderr).toMatch(/type=timeout severity=0 resource allocation expired/);
    expect(r.stderr).toContain('flux-job: task(s) Alarm clock');
    const id = /job\.exception (ƒ\S+)/.exec(r.stderr)![1]!;
    expect(await jobField(id, '{status} {result_abbrev} {inactive_reason}')).toBe('TIMEOUT TO Timeout');
  });

  it('cancel ends a running job and a pending one; urgency 0 holds a job until its urgency changes', async () => {
    const running = (await inst.flux(['submit', '-n', '2', 'sleep', '30'])).stdout.trim();
    await waitStatus(running, 'RUN');
    const held = (await inst.flux(['submit', '--urgency=hold', 'true'])).stdout.trim();
    const pending = (await inst.flux(['submit', 'true'])).stdout.trim();
    await waitStatus(pending, 'SCHED');
    expect(await jobField(held, '{status_abbrev} {contextual_info}')).toBe('S held');
    expect((await inst.flux(['cancel', pending])).code).toBe(0);
    await waitStatus(pending, 'CANCELED');
    const c = await inst.flux(['job', 'cancel', running, 'enough', 'of', 'this']);
    expect(c.code).toBe(0);
    await waitStatus(running, 'CANCELED');
    expect(await jobField(running, '{exception.type} {exception.note} {returncode}')).toBe('cancel enough of this 143');
    // resources came back, but the held job stays until its urgency changes
    expect(await status(held)).toBe('SCHED');
    const u = await inst.flux(['job', 'urgency', '-v', held, 'default']);
    expect(u.stderr).toBe('old urgency: job held\n');
    await waitStatus(held, 'COMPLETED');
    const again = await inst.flux(['cancel', held]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`flux-cancel: ${held}: unknown job id\n`);
  });

  it('kill signals the tasks; only the owner or the submitter may act on a job', async () => {
    const id = (await inst.flux(['submit', 'sleep', '30'])).stdout.trim();
    await waitStatus(id, 'RUN');
    const refused = await asGuest('job-manager.raise', { id: parseJobId(id), severity: 0, type: 'cancel' });
    expect(refused.aux1).toBe(EPERM);
    expect((await asGuest('job-manager.kill', { id: parseJobId(id), signum: 9 })).aux1).toBe(EPERM);
    expect((await asGuest('job-manager.urgency', { id: parseJobId(id), urgency: 3 })).aux1).toBe(EPERM);
    expect(await status(id)).toBe('RUN');
    expect((await inst.flux(['job', 'kill', '-s', 'USR1', id])).code).toBe(0);
    await waitStatus(id, 'FAILED');
    expect(await jobField(id, '{returncode} {inactive_reason}')).toBe('138 User defined signal 1');
    const notRunning = await inst.flux(['job', 'kill', id]);
    expect(notRunning.stderr).toBe(`flux-job: kill ${id}: job is not running\n`);
  });

  it('Ctrl-C once warns, twice within 2 s cancels the job; SIGUSR1 is forwarded to the tasks', async () => {
    const child = spawn(process.execPath, [FLUX, 'run', 'sh', '-c', 'trap "echo got usr1" USR1; while :; do sleep 0.1; done'], {
      env: { ...process.env, FLUX_URI: inst.uri }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await until('the job running', async () => ((await inst.flux(['jobs', '-n', '-o', '{status}'])).stdout.includes('RUN') ? true : undefined));
    child.kill('SIGUSR1');
    await until('the signal forwarded', async () => (stdout.includes('got usr1') ? true : undefined));
    child.kill('SIGINT');
    await until('the warning', async () => (stderr.includes('one more ctrl-C') ? true : undefined));
    child.kill('SIGINT');
    expect(await exited).toBe(143);
    expect(stderr).toContain('flux-job: one more ctrl-C within 2s to cancel or ctrl-Z to detach\n');
    expect(stderr).toMatch(/job\.exception ƒ\S+ type=cancel severity=0 interrupted by ctrl-C/);
  });

  it('leaves no descriptor of a finished job open in the broker, stdin pipes included', async () => {
    const pid = (await inst.flux(['getattr', 'broker.pid'])).stdout.trim();
    const open = () => readdirSync(`/proc/${pid}/fd`).length;
    const run = async (n: number) => {
      expect((await inst.flux(['submit', `--cc=1-${n}`, '--wait', 'true'])).code).toBe(0);
    };
    // a first batch opens what any job needs once (the koffi threads' pipes, the sqlite files)
    await run(5);
    const before = open();
    await run(30);
    // a few held for the moment by other tests' watches or connections; one per job is what leaked
    expect(open() - before).toBeLessThan(10);
  });

  it('job wait reaps waitable jobs, reporting failures', async () => {
    const ok = (await inst.flux(['submit', '--flags=waitable', 'true'])).stdout.trim();
    const bad = (await inst.flux(['submit', '--flags=waitable', 'false'])).stdout.trim();
    expect((await inst.flux(['job', 'wait', ok])).code).toBe(0);
    const all = await inst.flux(['job', 'wait', '--all']);
    expect(all.code).toBe(1);
    expect(all.stderr).toBe(`${bad}: task(s) exited with exit code 1\n`);
    const none = await inst.flux(['job', 'wait']);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('flux-job: there are no more waitable jobs\n');
    const notWaitable = (await inst.flux(['submit', 'true'])).stdout.trim();
    expect((await inst.flux(['job', 'wait', notWaitable])).stderr).toBe('flux-job: job was not submitted with FLUX_JOB_WAITABLE\n');
  });

  it('keeps each job\'s eventlog in the KVS where flux-core does: flux job eventlog and flux kvs eventlog agree', async () => {
    const id = (await inst.flux(['submit', 'true'])).stdout.trim();
    await waitStatus(id, 'COMPLETED');
    const ev = await inst.flux(['job', 'eventlog', id]);
    expect(lines(ev.stdout).map((l) => l.split(' ')[1])).toEqual(
      ['submit', 'validate', 'depend', 'priority', 'alloc', 'start', 'finish', 'release', 'free', 'clean']);
    expect(lines(ev.stdout)[0]).toMatch(/^\d+\.\d{6} submit userid=\d+ urgency=16 flags=0 version=1$/);
    const key = `job.${encodeFluid(parseJobId(id), 'dothex')}.eventlog`;
    const kvs = await inst.flux(['kvs', 'eventlog', 'get', key]);
    expect(kvs.stdout).toBe(ev.stdout);
    const R = JSON.parse((await inst.flux(['job', 'info', id, 'R'])).stdout) as { execution: { R_lite: unknown[] } };
    expect(R.execution.R_lite).toEqual([{ rank: '0', children: { core: expect.stringMatching(/^\d+$/) } }]);
    const js = JSON.parse((await inst.flux(['job', 'info', id, 'jobspec'])).stdout) as { tasks: Array<{ command: string[] }> };
    expect(js.tasks[0]!.command).toEqual(['true']);
    const out = await inst.flux(['job', 'eventlog', '-p', 'output', id]);
    expect(lines(out.stdout)[0]).toMatch(/ header version=1 encoding=\{"stdout":"UTF-8","stderr":"UTF-8"\}/);
    expect((await inst.flux(['job', 'info', id, 'nokey'])).stderr).toBe('flux-job: nokey: key not found\n');
  });

  it('job-info.eventlog-watch streams entries one a response, ends at the eventlog\'s last, and a cancel ends it and the watch under it', async () => {
    const h = await Flux.open(inst.uri);
    try {
      const watchers = () => kvsWatchers(h);
      const idle = await watchers();
      const held = parseJobId((await inst.flux(['submit', '--urgency=hold', 'true'])).stdout);
      const got: string[] = [];
      let tag = 0;
      const stream = h.stream('job-info.eventlog-watch', { id: held, path: 'eventlog', flags: 0 }, {}, (m) => {
        tag = m.aux2;
        got.push(JSON.parse(m.payload!.toString('utf8', 0, m.payload!.length - 1)).event as string);
      });
      await until('the held job\'s four entries', async () => (got.length === 4 ? true : undefined));
      expect(got.every((e) => e.endsWith('\n') && e.indexOf('\n') === e.length - 1)).toBe(true);
      expect(got.map((e) => JSON.parse(e).name)).toEqual(['submit', 'validate', 'depend', 'priority']);
      expect(await watchers()).toBe(idle + 1);
      h.send('job-info.eventlog-watch-cancel', { matchtag: tag });
      await stream;
      await until('the watch under it gone', async () => ((await watchers()) === idle ? true : undefined));
      // a finished job's eventlog is streamed to its end (clean), and the stream ends there by itself
      const done = parseJobId((await inst.flux(['submit', 'true'])).stdout);
      await waitStatus(encodeFluid(done, 'f58'), 'COMPLETED');
      const all: string[] = [];
      await h.stream('job-info.eventlog-watch', { id: done, path: 'eventlog', flags: 0 }, {}, (m) => {
        all.push(JSON.parse(JSON.parse(m.payload!.toString('utf8', 0, m.payload!.length - 1)).event as string).name as string);
      });
      expect(all.at(-1)).toBe('clean');
      // an output eventlog ends once every stream has: by its eof, or sent to a file by a redirect
      const toFile = parseJobId((await inst.flux(['submit', `--output=${join(dir, 'watched.out')}`, 'echo', 'x'])).stdout);
      const out: string[] = [];
      await h.stream('job-info.eventlog-watch', { id: toFile, path: 'guest.output', flags: 1 }, {}, (m) => {
        out.push(JSON.parse(JSON.parse(m.payload!.toString('utf8', 0, m.payload!.length - 1)).event as string).name as string);
      });
      expect(out).toEqual(['header', 'redirect', 'redirect']);
      // no such job, a path it does not have without waitcreate, a malformed request
      await expect(h.stream('job-info.eventlog-watch', { id: 1234, path: 'eventlog', flags: 0 }, {}, () => {})).rejects.toMatchObject({ errno: 2 });
      await expect(h.stream('job-info.eventlog-watch', { id: done, path: 'nothing', flags: 0 }, {}, () => {})).rejects.toMatchObject({ errno: 2 });
      await expect(h.stream('job-info.eventlog-watch', { id: done, path: 7, flags: 0 }, {}, () => {})).rejects.toMatchObject({ errno: 71 });
      expect((await inst.flux(['cancel', encodeFluid(held, 'f58')])).code).toBe(0);
    } finally {
      h.close();
    }
  });

  it('flux jobs --name, --since and -i ask job-list with a constraint, as flux-core\'s clients do; a bad one is an error', async () => {
    const named = (await inst.flux(['submit', '--job-name=constrained', 'true'])).stdout.trim();
    await waitStatus(named, 'COMPLETED');
    const mark = Date.now() / 1000;
    const later = (await inst.flux(['submit', 'true'])).stdout.trim();
    await waitStatus(later, 'COMPLETED');
    const ids = async (args: string[]) => lines((await inst.flux(['jobs', '-n', '-o', '{id.f58}', ...args])).stdout);
    expect(await ids(['-a', '--name=constrained'])).toEqual([named]);
    const since = await ids([`--since=${mark}`]);
    expect(since).toContain(later);
    expect(since).not.toContain(named);
    expect(await ids(['--since=-1h'])).toEqual(expect.arrayContaining([named, later]));
    expect(await ids(['-a', '-i', '0'])).toEqual(expect.arrayContaining([named, later]));
    expect(await ids(['-a', '-i', '5'])).toEqual([]);
    expect((await inst.flux(['jobs', '--since=soon'])).stderr)
      .toBe("flux-jobs: --since: invalid time 'soon': expected -FSD, ISO-8601 or seconds since the epoch\n");
    // the payload flux-core's Python JobList sends
    const h = await Flux.open(inst.uri);
    try {
      const r = await h.call('job-list.list', {
        max_entries: 1000, attrs: ['all'], since: 0,
        constraint: { and: [{ userid: [process.getuid!()] }, { name: ['constrained'] }, { or: [{ states: [64] }, { results: [1] }] }] },
      });
      expect((r.jobs as Array<{ id: number }>).map((j) => encodeFluid(j.id, 'f58'))).toEqual([named]);
      await expect(h.call('job-list.list', { constraint: { bogus: [] } })).rejects.toMatchObject({ errno: 22, message: 'unknown constraint operator: bogus' });
      expect((await h.call('job-list.list', { constraint: { name: ['constrained'] } })).jobs).toHaveLength(1);
      // the attributes asked for, and the id
      const some = await h.call('job-list.list', { attrs: ['name', 'state'], constraint: { name: ['constrained'] } });
      expect(some.jobs).toEqual([{ id: parseJobId(named), name: 'constrained', state: 64 }]);
      expect((await h.call('job-list.list-id', { id: parseJobId(named), attrs: [] })).job).toEqual({ id: parseJobId(named) });
      expect(Object.keys((await h.call('job-list.list-id', { id: parseJobId(named), attrs: ['all'] })).job as object)).toContain('t_inactive');
    } finally {
      h.close();
    }
  });

  it('flux watch follows jobs running or ended, and flux submit --watch the ones it submits; both exit with the highest code', async () => {
    const slow = (await inst.flux(['submit', '-n', '2', 'sh', '-c', 'echo out $FLUX_TASK_RANK; sleep 0.5; echo late >&2; exit 3'])).stdout.trim();
    const done = (await inst.flux(['submit', 'echo', 'done'])).stdout.trim();
    await waitStatus(done, 'COMPLETED');
    const w = await inst.flux(['watch', slow, done]);
    expect(w.code).toBe(3);
    expect(lines(w.stdout).sort()).toEqual(['done', 'out 0', 'out 1']);
    expect(lines(w.stderr).sort()).toEqual(['flux-job: task(s) exited with exit code 3', 'late', 'late']);
    // by selection: the caller's jobs active since a moment ago (none now), and the errors in the options
    expect(await inst.flux(['watch', `--since=${Date.now() / 1000 + 3600}`])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await inst.flux(['watch'])).toMatchObject({ code: 2, stderr: 'flux-watch: no jobs to watch: give job ids, or -a, -A, -f or --since\n' });
    expect(await inst.flux(['watch', '-a', done])).toMatchObject({ code: 2, stderr: 'flux-watch: give job ids or a selection (-a, -A, -f, --since), not both\n' });
    expect((await inst.flux(['watch', '--bogus'])).code).toBe(2);
    const s = await inst.flux(['submit', '--cc=1-2', '--watch', 'sh', '-c', 'echo cc $FLUX_JOB_CC; exit $FLUX_JOB_CC']);
    expect(s.code).toBe(2);
    const out = lines(s.stdout);
    expect(out.slice(0, 2).every((l) => /^ƒ/.test(l))).toBe(true);
    expect(out.slice(2).sort()).toEqual(['cc 1', 'cc 2']);
  });

  it('flux bulksubmit submits a job per combination of inputs, options and command formatted with each', async () => {
    const dry = await inst.flux(['bulksubmit', '--dry-run', '-n', '{1}', 'echo', '{0./%}', '{seq1}', ':::', 'a/x.txt', 'b/y.txt', ':::+', '1', '2']);
    expect(dry).toMatchObject({ code: 0, stdout: 'bulksubmit: submit -n 1 echo x 1\nbulksubmit: submit -n 2 echo y 2\n' });
    // inputs from stdin, a job for each, copied by --cc; --watch follows them all
    const w = await inst.flux(['bulksubmit', '--watch', '--cc=1-2', 'sh', '-c', 'echo {} {cc}; exit {cc}'], { input: 'p\nq\n' });
    expect(w.code).toBe(2);
    const out = lines(w.stdout);
    expect(out.slice(0, 4).every((l) => /^ƒ/.test(l))).toBe(true);
    expect(out.slice(4).sort()).toEqual(['p 1', 'p 2', 'q 1', 'q 2']);
    expect(await inst.flux(['bulksubmit', 'echo', '{3}', ':::', 'a'])).toMatchObject({ code: 1, stdout: '', stderr: 'flux-bulksubmit: {3}: {3}: there are 1 inputs, not 4\n' });
    expect(await inst.flux(['bulksubmit', '-n', '{}', 'true', ':::', 'x'])).toMatchObject({ code: 1, stderr: "flux-bulksubmit: --ntasks: invalid value 'x'\n" });
    writeFileSync(join(dir, 'inputs'), 'f1\nf2\n');
    expect(await inst.flux(['bulksubmit', '--dry-run', 'echo', '{0}{1}', ':::', 'a', 'b', '::::+', join(dir, 'inputs')]))
      .toMatchObject({ code: 0, stdout: 'bulksubmit: submit echo af1\nbulksubmit: submit echo bf2\n' });
    expect((await inst.flux(['bulksubmit', '--dry-run', 'echo', '{0}{1}', '::::', join(dir, 'inputs'), '-'], { input: 'x\n' })).stdout)
      .toBe('bulksubmit: submit echo f1x\nbulksubmit: submit echo f2x\n');
    expect(await inst.flux(['bulksubmit', 'true', '::::', join(dir, 'no-such-file')])).toMatchObject({ code: 1, stderr: `flux-bulksubmit: ${join(dir, 'no-such-file')}: No such file or directory\n` });
  });

  it('flux multi-prog runs each task\'s own line of its configuration, exiting as that command did', async () => {
    const conf = join(dir, 'mpmd.conf');
    writeFileSync(conf, '0 echo first %t %o  # a comment\n* sh -c "echo rest %t; exit 5"\n');
    const r = await inst.flux(['run', '-n', '2', '-l', process.execPath, FLUX, 'multi-prog', conf]);
    expect(r.code).toBe(5);
    expect(lines(r.stdout).sort()).toEqual(['0: first 0 0', '1: rest 1']);
    expect(await inst.flux(['multi-prog', '-n', '0-2', conf])).toMatchObject({ code: 0, stdout: '0: echo first 0 0\n1: sh -c echo rest 1; exit 5\n2: sh -c echo rest 2; exit 5\n' });
    expect(await inst.flux(['multi-prog', conf], { env: { FLUX_TASK_RANK: undefined } }))
      .toMatchObject({ code: 1, stderr: 'flux-multi-prog: FLUX_TASK_RANK is not set: run it as the command of a job, or give --dry-run\n' });
    writeFileSync(conf, '0 a\n0 b\n');
    expect(await inst.flux(['multi-prog', '-n', '0', conf])).toMatchObject({ code: 1, stderr: `flux-multi-prog: ${conf}: line 2: task rank 0 is also on line 1\n` });
  });

  it('a guest eventlog\'s watch ends when its job does, and one waiting for the path to appear can be canceled at once', async () => {
    const h = await Flux.open(inst.uri);
    try {
      const watchers = () => kvsWatchers(h);
      const idle = await watchers();
      const held = parseJobId((await inst.flux(['submit', '--urgency=hold', 'true'])).stdout);
      // canceled before any response: both kvs-watch requests under it (the path's, the job's eventlog's) go
      let tag = 0;
      const early = h.stream('job-info.eventlog-watch', { id: held, path: 'guest.exec.eventlog', flags: 1 }, { sent: (t) => (tag = t) }, () => {});
      await until('the two watches under it', async () => ((await watchers()) === idle + 2 ? true : undefined));
      h.send('job-info.eventlog-watch-cancel', { matchtag: tag });
      await early;
      await until('the watches under it gone', async () => ((await watchers()) === idle ? true : undefined));
      // the job ends without ever starting: the watch of its exec eventlog ends with ENOENT, not never
      const got: unknown[] = [];
      const waiting = h.stream('job-info.eventlog-watch', { id: held, path: 'guest.exec.eventlog', flags: 1 }, {}, (m) => void got.push(m))
        .then(() => 0, (e: { errno: number }) => e.errno);
      await until('the watch waiting', async () => ((await watchers()) === idle + 2 ? true : undefined));
      expect((await inst.flux(['cancel', encodeFluid(held, 'f58')])).code).toBe(0);
      expect(await waiting).toBe(2);
      expect(got).toEqual([]);
      // a job that ran: its exec eventlog, watched after it ended, is answered whole, then ENODATA
      const ran = parseJobId((await inst.flux(['submit', 'true'])).stdout);
      await waitStatus(encodeFluid(ran, 'f58'), 'COMPLETED');
      const names: string[] = [];
      await h.stream('job-info.eventlog-watch', { id: ran, path: 'guest.exec.eventlog', flags: 0 }, {}, (m) => {
        names.push(JSON.parse(JSON.parse(m.payload!.toString('utf8', 0, m.payload!.length - 1)).event as string).name as string);
      });
      expect(names[0]).toBe('init');
      expect(names.at(-1)).toBe('done');
      await until('no watch left', async () => ((await watchers()) === idle ? true : undefined));
    } finally {
      h.close();
    }
  });

  it('attach replays a finished job\'s output; the job table of the past is listed with --at-seq', async () => {
    const id = (await inst.flux(['submit', '-n', '2', 'sh', '-c', 'echo out $FLUX_TASK_RANK'])).stdout.trim();
    await waitStatus(id, 'COMPLETED');
    const a = await inst.flux(['job', 'attach', '-l', id]);
    expect(a.code).toBe(0);
    expect(lines(a.stdout).sort()).toEqual(['0: out 0', '1: out 1']);
    // the journal position of the entry that submitted the job
    const h = await Flux.open(inst.uri);
    const entries = (await h.call('journal.fetch', { from: 1, count: 1000 })).entries as Array<{ seq: number; time: number; payload: { jobs?: JobItem[] } }>;
    h.close();
    const submitted = entries.find((e) => e.payload?.jobs?.some((j) => j.id === parseJobId(id) && j.event.name === 'submit'))!.seq;
    const past = await inst.flux(['jobs', '-a', '-n', '-o', '{id.f58} {status}', '--at-seq', String(submitted)]);
    expect(lines(past.stdout)).toContain(`${id} SCHED`);
    const now = await inst.flux(['jobs', '-a', '-n', '-o', '{id.f58} {status}']);
    expect(lines(now.stdout)).toContain(`${id} COMPLETED`);
    // by wall-clock time: just before the submission the job was not there, now it has completed
    const submitTime = entries.find((e) => e.seq === submitted)!.time;
    const before = await inst.flux(['jobs', '-a', '-n', '-o', '{id.f58} {status}', '--at-time', String(submitTime - 0.001)]);
    expect(before.stdout).not.toContain(id);
    const at = await inst.flux(['jobs', '-a', '-n', '-o', '{id.f58} {status}', '--at-time', new Date().toISOString()]);
    expect(lines(at.stdout)).toContain(`${id} COMPLETED`);
    expect((await inst.flux(['jobs', '--at-time', 'yesterday'])).stderr)
      .toBe("flux-jobs: invalid time 'yesterday': expected ISO-8601 or seconds since the epoch\n");
  });
});
