// flux batch and flux alloc on a real size-3 instance: a job that is a Flux instance, one broker on each node it
// is given, bootstrapped by the job shell's PMI; the batch script's output in its file, alloc's attached.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startInstance, until, type Instance } from '../helpers/instance.js';

let inst: Instance;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flux-batch-'));
  inst = await startInstance(3);
});

afterAll(async () => {
  expect(await inst.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

const ended = (id: string) => until(`${id} inactive`, async () =>
  ((await inst.flux(['jobs', '-a', '-n', '-o', '{state}', id])).stdout === 'INACTIVE\n' ? true : undefined), 30_000);

describe('flux batch', () => {
  it('runs the script as the initial program of an instance of a broker a node, its output in the file named', async () => {
    const script = join(dir, 'job.sh');
    writeFileSync(script, '#!/bin/sh\necho "size $(flux getattr size) args $*"\nflux run -N "$(flux getattr size)" true && echo ran\n');
    chmodSync(script, 0o755);
    const r = await inst.flux(['batch', '-N', '2', `--output=${join(dir, 'out-{{id}}.txt')}`, script, 'a', 'b']);
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    const id = r.stdout.trim();
    await ended(id);
    expect(readFileSync(join(dir, `out-${id}.txt`), 'utf8')).toBe('size 2 args a b\nran\n');
    expect((await inst.flux(['jobs', '-a', '-n', '-o', '{name} {nnodes} {ntasks} {result}', id])).stdout).toBe('job.sh 2 2 COMPLETED\n');
  }, 60_000);

  it('writes flux-{{id}}.out by default, a relative output path being the job\'s working directory\'s', async () => {
    const script = join(dir, 'hello.sh');
    writeFileSync(script, '#!/bin/sh\necho hello\n');
    chmodSync(script, 0o755);
    const dry = JSON.parse((await inst.flux(['batch', '--dry-run', script])).stdout);
    expect(dry.attributes.system.shell.options.output.stdout).toEqual({ type: 'file', path: 'flux-{{id}}.out' });
    expect(dry.attributes.system.shell.options['per-resource']).toEqual({ type: 'node', count: 1 });
    const id = (await inst.flux(['batch', `--cwd=${dir}`, script])).stdout.trim();
    await ended(id);
    expect(readFileSync(join(dir, `flux-${id}.out`), 'utf8')).toBe('hello\n');
  }, 60_000);

  it('copies the script at submission: what runs is the script as it was, even once changed or removed', async () => {
    const script = join(dir, 'copied.sh');
    const text = '#!/bin/sh\necho "first version $0"\n';
    writeFileSync(script, text);
    const r = await inst.flux(['batch', '--urgency=hold', `--output=${join(dir, 'copied.out')}`, script, 'x']);
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    const id = r.stdout.trim();
    const js = JSON.parse((await inst.flux(['job', 'info', id, 'jobspec'])).stdout);
    expect(js.attributes.system.files.script).toEqual({ mode: 0o100700, size: text.length, encoding: 'utf-8', data: text });
    expect(js.tasks[0].command.slice(-2)).toEqual(['{{tmpdir}}/script', 'x']);
    rmSync(script);
    expect((await inst.flux(['job', 'urgency', id, 'default'])).code).toBe(0);
    await ended(id);
    expect(readFileSync(join(dir, 'copied.out'), 'utf8')).toMatch(/^first version \/.+\/script\n$/);
    expect((await inst.flux(['jobs', '-a', '-n', '-o', '{name} {result}', id])).stdout).toBe('copied.sh COMPLETED\n');
  }, 60_000);

  it('reads the script from stdin when none is named, and wraps arguments or stdin in a /bin/sh script with --wrap', async () => {
    const fromStdin = await inst.flux(['batch', `--output=${join(dir, 'stdin.out')}`], { input: '#!/bin/sh\necho from stdin\n' });
    expect(fromStdin, fromStdin.stderr).toMatchObject({ code: 0, stderr: '' });
    const wrapped = await inst.flux(['batch', '--wrap', `--output=${join(dir, 'wrap.out')}`, 'echo', 'wrapped', 'words']);
    expect(wrapped, wrapped.stderr).toMatchObject({ code: 0, stderr: '' });
    const wrappedStdin = await inst.flux(['batch', '--wrap', `--output=${join(dir, 'wrap-stdin.out')}`], { input: 'echo wrapped stdin\n' });
    const ids = [fromStdin, wrapped, wrappedStdin].map((x) => x.stdout.trim());
    for (const id of ids) await ended(id);
    expect(readFileSync(join(dir, 'stdin.out'), 'utf8')).toBe('from stdin\n');
    expect(readFileSync(join(dir, 'wrap.out'), 'utf8')).toBe('wrapped words\n');
    expect(readFileSync(join(dir, 'wrap-stdin.out'), 'utf8')).toBe('wrapped stdin\n');
    const names = await inst.flux(['jobs', '-a', '-n', '-o', '{name}', ...ids]);
    expect(names.stdout.split('\n').filter(Boolean).sort()).toEqual(['batch', 'batch', 'echo']);
    const script = JSON.parse((await inst.flux(['batch', '--dry-run', '--wrap', 'hostname', '-s'])).stdout).attributes.system.files.script;
    expect(script.data).toBe('#!/bin/sh\nhostname -s\n');
  }, 60_000);

  it('takes its options from the script\'s directives, the command line overriding them', async () => {
    const script = join(dir, 'directives.sh');
    writeFileSync(script, [
      '#!/bin/sh',
      '# flux: -N2 --job-name="from directive"  # two nodes',
      '# flux: # --setattr=user.disabled=1',
      '# an ordinary comment',
      '',
      `# flux: --output=${join(dir, 'directives.out')}`,
      'echo "size $(flux getattr size)"',
      '',
    ].join('\n'));
    const dry = JSON.parse((await inst.flux(['batch', '--dry-run', script])).stdout);
    expect(dry.attributes.system.job.name).toBe('from directive');
    expect(dry.resources[0]).toMatchObject({ type: 'node', count: 2 });
    expect(dry.attributes.user).toBeUndefined();
    const overridden = JSON.parse((await inst.flux(['batch', '--dry-run', '--job-name=cli', '-N', '1', script])).stdout);
    expect(overridden.attributes.system.job.name).toBe('cli');
    expect(overridden.resources[0]).toMatchObject({ type: 'node', count: 1 });
    const id = (await inst.flux(['batch', script])).stdout.trim();
    await ended(id);
    expect(readFileSync(join(dir, 'directives.out'), 'utf8')).toBe('size 2\n');
    // a mistake in a directive is told by its line
    writeFileSync(script, '#!/bin/sh\n# flux: -N1\n# flux: --bogus\n');
    expect(await inst.flux(['batch', script])).toMatchObject({
      code: 2, stdout: '', stderr: `flux-batch: unknown option '--bogus'\nflux-batch: argument parsing failed at ${script} line 3\n`,
    });
    writeFileSync(script, '#!/bin/sh\n# flux: -N1\necho hi\n# flux: -N2\n');
    expect(await inst.flux(['batch', script])).toMatchObject({ code: 1, stderr: `flux-batch: ${script}: line 4: a directive after the block of directives ended\n` });
  }, 60_000);

  it('refuses a script that is not there or not a script, with one line', async () => {
    const plain = join(dir, 'plain');
    writeFileSync(plain, 'echo hi\n');
    expect(await inst.flux(['batch', plain])).toMatchObject({ code: 1, stdout: '', stderr: "flux-batch: plain does not appear to start with '#!'\n" });
    expect(await inst.flux(['batch', join(dir, 'nope.sh')])).toMatchObject({ code: 1, stderr: `flux-batch: ${join(dir, 'nope.sh')}: No such file or directory\n` });
    expect(await inst.flux(['batch'], { input: '' })).toMatchObject({ code: 1, stderr: "flux-batch: batch does not appear to start with '#!'\n" });
    writeFileSync(plain, Buffer.from([0x23, 0x21, 0xff, 0xfe, 0x0a]));
    expect(await inst.flux(['batch', plain])).toMatchObject({ code: 1, stderr: `flux-batch: ${plain} does not appear to be a script, or failed to encode as utf-8\n` });
  });
});

describe('an instance run as a job', () => {
  it('tells its job its URI: flux uri and flux proxy reach it by the job id while it runs', async () => {
    const script = join(dir, 'long.sh');
    writeFileSync(script, '#!/bin/sh\nsleep 60\n');
    chmodSync(script, 0o755);
    const id = (await inst.flux(['batch', '-N', '2', `--output=${join(dir, 'long.out')}`, script])).stdout.trim();
    const memo = await inst.flux(['job', 'wait-event', '-t', '30', id, 'memo']);
    expect(memo.stdout).toMatch(/ memo uri="ssh:\/\/[^/]+\/.*\/local-0"\n$/);
    const uri = (await inst.flux(['uri', id])).stdout;
    expect(uri).toMatch(/^ssh:\/\/[^/]+\/.*\/local-0\n$/);
    expect((await inst.flux(['uri', '--local', `jobid:${id}`])).stdout).toBe(`local://${uri.trim().replace(/^ssh:\/\/[^/]+/, '')}\n`);
    const inside = await inst.flux(['proxy', id, 'sh', '-c', 'flux getattr size; flux getattr instance-level; flux getattr jobid']);
    expect(inside, inside.stderr).toMatchObject({ code: 0, stdout: `2\n1\n${id}\n` });
    const rundirs = (await inst.flux(['proxy', id, 'flux', 'exec', '-r', 'all', 'flux', 'getattr', 'rundir'])).stdout.split('\n').filter(Boolean);
    expect(rundirs).toHaveLength(2);
    expect((await inst.flux(['cancel', id])).code).toBe(0);
    await ended(id);
    expect(await inst.flux(['uri', id])).toMatchObject({ code: 1, stderr: `flux-uri: job ${id} is not running\n` });
    // canceled, the instance shut down and took its brokers' rundirs with it (the job shell's end of the task's
    // process group used to cut their shutdown short)
    expect(rundirs).toContain(dirname(uri.trim().replace(/^ssh:\/\/[^/]+/, '')));
    expect(rundirs.filter((d) => existsSync(d))).toEqual([]);
    const plain = (await inst.flux(['submit', 'true'])).stdout.trim();
    await ended(plain);
    expect((await inst.flux(['uri', plain])).stderr).toBe(`flux-uri: job ${plain} is not running\n`);
  }, 90_000);
});

describe('flux alloc', () => {
  it('runs a command in an instance of the nodes allocated, attached, with its exit code', async () => {
    expect(await inst.flux(['alloc', '-N', '3', 'flux', 'getattr', 'size'])).toMatchObject({ code: 0, stdout: '3\n' });
    expect((await inst.flux(['alloc', '-n', '1', 'sh', '-c', 'exit 3'])).code).toBe(3);
    expect(await inst.flux(['alloc'])).toMatchObject({ code: 1, stderr: 'flux-alloc: a command is required: the job shell gives an interactive shell no terminal\n' });
  }, 60_000);
});
