// flux start --replay DIR --at-seq N: an instance serving the state a stopped instance had after entry N. The
// ordinary commands read the past, on every rank; every write is refused with EROFS; the statedir is untouched.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { run, startInstance, type Instance } from '../helpers/instance.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const scratch = scratchDir('flux-replay-inst-');
const files = () => readdirSync(scratch.path).sort().map((f) => {
  const st = statSync(join(scratch.path, f));
  return `${f} ${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(join(scratch.path, f))).digest('hex')}`;
});
const headOf = async (inst: Instance, env?: NodeJS.ProcessEnv) => Number(/seq=(\d+)/.exec((await inst.flux(['journal', 'head'], { env })).stdout)![1]);

/** the state after the third commit, as the running instance showed it */
let midSeq = 0;
let midDir = '';
let midPs = '';
let midCron = '';
let midVersion = 0;
let eventSeq = 0;
let head = 0;
let before: string[] = [];

beforeAll(async () => {
  const inst = await startInstance(1, ['-S', `statedir=${scratch.path}`, '-S', 'journal.checkpoint-entries=2']);
  const ok = async (args: string[]) => expect((await inst.flux(args)).code).toBe(0);
  await ok(['kvs', 'put', 'a=1', 'b.c=2']);
  await ok(['event', 'pub', '-s', 'foo.bar', '{"x":1}']);
  eventSeq = await headOf(inst);
  await ok(['exec', '-r', '0', 'true']);
  await ok(['kvs', 'put', 'a=3', 'd=hello']);
  await ok(['kvs', 'link', 'a', 'l']);
  await ok(['cron', 'interval', '1h', 'echo', 'early']);
  midSeq = await headOf(inst);
  midCron = (await inst.flux(['cron', 'list'])).stdout;
  midVersion = Number((await inst.flux(['kvs', 'version'])).stdout);
  midDir = (await inst.flux(['kvs', 'dir', '-R'])).stdout;
  midPs = (await inst.flux(['ps', '-a'])).stdout;
  await ok(['kvs', 'put', 'a=99', 'z=late']);
  await ok(['cron', 'interval', '1h', 'echo', 'late']);
  await ok(['event', 'pub', '-s', 'foo.late']);
  head = await headOf(inst);
  expect(await inst.stop()).toBe(0);
  before = files();
}, 120_000);

describe('flux start --replay --at-seq N', () => {
  let inst: Instance;
  const rank1 = () => ({ env: { FLUX_URI: `local://${inst.rundir}/local-1` } });
  beforeAll(async () => {
    inst = await startInstance(2, ['--replay', scratch.path, '--at-seq', String(midSeq)]);
  }, 30_000);
  afterAll(async () => {
    expect(await inst?.stop()).toBe(0);
  });

  it('serves the KVS as it was after N, on every rank, with its history up to N only', async () => {
    expect(await inst.flux(['kvs', 'dir', '-R'])).toMatchObject({ code: 0, stdout: midDir });
    expect(await inst.flux(['kvs', 'dir', '-R'], rank1())).toMatchObject({ code: 0, stdout: midDir });
    expect(await inst.flux(['kvs', 'get', 'a'], rank1())).toMatchObject({ code: 0, stdout: '3\n' });
    expect((await inst.flux(['kvs', 'get', 'z'])).code).toBe(1);
    expect(Number((await inst.flux(['kvs', 'version'])).stdout)).toBe(midVersion);
    expect(await inst.flux(['kvs', 'get', '--at-version', '1', 'a'])).toMatchObject({ code: 0, stdout: '1\n' });
    expect((await inst.flux(['kvs', 'get', '--at-version', String(midVersion + 1), 'a'])).code).toBe(1);
    // now is after every version the statedir holds: the last up to N is the one served
    expect(await inst.flux(['kvs', 'get', '--at-time', String(Date.now() / 1000), 'a'])).toMatchObject({ code: 0, stdout: '3\n' });
    const hist = await inst.flux(['kvs', 'history', 'a']);
    const values = hist.stdout.trimEnd().split('\n').map((line) => line.split(/\s+/).at(-1));
    expect(values).toEqual(['1', '3']);
  });

  it('serves the journal up to N, the process table and the events of the past', async () => {
    expect(await headOf(inst)).toBe(midSeq);
    expect(await headOf(inst, rank1().env)).toBe(midSeq);
    const list = (await inst.flux(['journal', 'list'])).stdout.trimEnd().split('\n');
    expect(list).toHaveLength(midSeq + 1);
    expect((await inst.flux(['journal', 'list', '--to', String(head)])).stdout.trimEnd().split('\n')).toHaveLength(midSeq + 1);
    expect((await inst.flux(['journal', 'show', String(midSeq)])).code).toBe(0);
    expect((await inst.flux(['journal', 'show', String(midSeq + 1)])).code).toBe(1);
    expect(await inst.flux(['ps', '-a'])).toMatchObject({ code: 0, stdout: midPs });
    expect(await inst.flux(['event', 'sub', '--from', '1', '-c', '1', 'foo.'])).toMatchObject({ code: 0, stdout: 'foo.bar\t{"x":1}\n' });
    expect((await inst.flux(['journal', 'verify'])).stdout).toMatch(new RegExp(`^journal: ${midSeq} entries verified`));
  });

  it('refuses every write with EROFS, on rank 0 and below', async () => {
    const refused = async (args: string[], env?: NodeJS.ProcessEnv, why = /Read-only file system|read-only: this instance replays/) => {
      const r = await inst.flux(args, { env });
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toMatch(why);
    };
    await refused(['kvs', 'put', 'x=1']);
    await refused(['kvs', 'put', 'x=1'], rank1().env);
    await refused(['kvs', 'mkdir', 'newdir']);
    await refused(['kvs', 'namespace', 'create', 'ns1']);
    await refused(['event', 'pub', '-s', 'foo.new']);
    // without -s too: the publish is asked and answered, so the refusal reaches the publisher
    await refused(['event', 'pub', 'foo.new']);
    await refused(['event', 'pub', 'foo.new'], rank1().env);
    await refused(['exec', '-r', '0', 'true']);
    await refused(['exec', '-r', '1', 'true']);
    await refused(['content', 'store'], undefined);
    await refused(['cron', 'interval', '1s', 'true']);
    await refused(['cron', 'stop', '1']);
    // the cron table as it was, and nothing of it runs
    const cron = await inst.flux(['cron', 'list']);
    expect(cron).toMatchObject({ code: 0, stdout: midCron });
    expect(cron.stdout).toMatch(/ echo +Active /);
    expect(cron.stdout.trimEnd().split('\n')).toHaveLength(2);
    const raw = await inst.flux(['ping', '-c', '1', 'kvs']);
    expect(raw.code).toBe(0);
    expect(await headOf(inst)).toBe(midSeq);
  });
});

describe('flux start --replay', () => {
  it('serves the last state without --at-seq, leaves the statedir as it was, and ends without an error', async () => {
    const inst = await startInstance(1, ['--replay', scratch.path]);
    expect(await headOf(inst)).toBe(head);
    expect(await inst.flux(['kvs', 'get', 'z'])).toMatchObject({ code: 0, stdout: 'late\n' });
    expect(await inst.stop()).toBe(0);
    expect(inst.stderr()).toBe('');
    expect(files()).toEqual(before);
  });

  it('refuses a seq past the head, a missing statedir, --at-seq alone, and the old --to', async () => {
    const past = await run(['start', '--replay', scratch.path, '--at-seq', String(head + 1), 'true']);
    expect(past.code).not.toBe(0);
    expect(past.stderr).toMatch(/flux-broker: --replay .*: the journal ends at seq/);
    const none = await run(['start', '--replay', join(scratch.path, 'nope'), 'true']);
    expect(none.stderr).toMatch(/no such statedir/);
    expect((await run(['start', '--at-seq', '3', 'true'])).stderr).toMatch(/flux-start: --at-seq needs --replay/);
    expect(await run(['start', '--replay', scratch.path, '--to', '3', 'true'])).toMatchObject({ code: 1, stderr: 'flux-start: --to has been renamed --at-seq\n' });
    expect(files()).toEqual(before);
  });
});
