// Who may connect and what each role may do, over the real socket: the owner acting as another user
// (FLUX_HANDLE_USERID), a real second Unix user, and [access] from a config file.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInstance, until, type Instance, type RunResult } from '../helpers/instance.js';
import { ENTRY_REDACTED, REDACTED_NOTE } from '../../src/core/access/visibility.js';
import { parseJobId } from '../../src/core/jobs/fluid.js';
import { guestUser, fluxAs } from '../helpers/guest.js';

const GUEST = '4242';
const asGuest = { FLUX_HANDLE_USERID: GUEST };

const ok = (stdout?: string) => (stdout === undefined ? { code: 0, stderr: '' } : { code: 0, stderr: '', stdout });
const denied = (cmd: string, why: RegExp | string) => (r: RunResult) => {
  expect(r.code, `${cmd}: ${r.stderr}`).not.toBe(0);
  expect(r.stderr.startsWith(`flux-${cmd}: `), r.stderr).toBe(true);
  if (typeof why === 'string') expect(r.stderr).toContain(why);
  else expect(r.stderr).toMatch(why);
};

describe('the owner acting as another user', () => {
  let inst: Instance;

  beforeAll(async () => {
    inst = await startInstance(2);
    expect(await inst.flux(['kvs', 'namespace', 'create', '-o', GUEST, 'guestns'])).toMatchObject(ok());
    expect(await inst.flux(['kvs', 'put', 'a=1'])).toMatchObject(ok());
  }, 60_000);

  afterAll(async () => {
    expect(await inst.stop()).toBe(0);
  });

  it('ping shows the credential asked for, as a guest gets it', async () => {
    const r = await inst.flux(['ping', '-c', '1', 'kvs'], { env: asGuest });
    expect(r).toMatchObject({ code: 0 });
    const own = await inst.flux(['ping', '-c', '1', 'kvs']);
    expect(own.code).toBe(0);
    // flux ping prints no credential: the journal does, for an event the guest publishes
    const pub = await inst.flux(['event', 'pub', '-s', 'app.mine'], { env: asGuest });
    expect(pub).toMatchObject(ok());
    const seq = /^seq=(\d+)$/.exec(pub.stdout.trim())![1]!;
    expect(JSON.parse((await inst.flux(['journal', 'show', seq])).stdout)).toMatchObject({ userid: 4242, rolemask: 2 | 4 });
  });

  // each row of the role table: [command, allowed to a guest?, what the refusal says]
  const rows: Array<[string[], true | RegExp | string]> = [
    [['getattr', 'size'], true],
    [['lsattr'], true],
    [['ping', '-c', '1', 'kvs'], true],
    [['event', 'pub', 'app.public'], true],
    [['kvs', 'put', '-N', 'guestns', 'x=1'], true],
    [['kvs', 'get', '-N', 'guestns', 'x'], true],
    [['kvs', 'get', '-N', 'guestns', '-w', '-c', '1', 'x'], true],
    // flux-core's kvs prints the key and strerror alone
    [['kvs', 'get', 'a'], 'a: Operation not permitted'],
    [['kvs', 'put', 'a=2'], 'Operation not permitted'],
    [['kvs', 'namespace', 'create', 'other'], 'requires owner credentials'],
    [['event', 'pub', 'kvs.namespace-primary-setroot'], 'topic is reserved'],
    [['content', 'flush'], 'requires owner credentials'],
    [['setattr', 'log-stderr-level', '1'], 'requires owner credentials'],
    [['module', 'remove', 'heartbeat'], 'requires owner credentials'],
    [['dmesg', '-C'], 'requires owner credentials'],
    [['cron', 'list'], 'requires owner credentials'],
    [['journal', 'compact', '--before', '2'], 'requires owner credentials'],
    [['ps'], 'requires owner credentials'],
  ];

  for (const [args, rule] of rows) {
    it(`flux ${args.join(' ')}: ${rule === true ? 'a guest may' : 'owner only'}`, async () => {
      const g = await inst.flux(args, { env: asGuest });
      if (rule === true) expect(g, g.stderr).toMatchObject({ code: 0, stderr: '' });
      else denied(args[0]!, rule)(g);
    });
  }

  it('the owner itself may do what the guest was refused', async () => {
    for (const [args] of rows.filter(([a, rule]) => rule !== true && !['module', 'journal', 'event'].includes(a[0]!))) {
      const r = await inst.flux(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });

  it("a guest submits, lists and cancels its own jobs, not another user's", async () => {
    const mine = await inst.flux(['submit', 'sleep', '30'], { env: asGuest });
    expect(mine).toMatchObject({ code: 0, stderr: '' });
    const theirs = await inst.flux(['submit', 'sleep', '30']);
    expect(theirs.code).toBe(0);
    expect((await inst.flux(['jobs', '-n', '-o', '{id.f58} {userid}'], { env: asGuest })).stdout).toContain(`${mine.stdout.trim()} ${GUEST}`);
    denied('cancel', 'guests can only raise exceptions on their own jobs')(await inst.flux(['cancel', theirs.stdout.trim()], { env: asGuest }));
    expect(await inst.flux(['cancel', mine.stdout.trim()], { env: asGuest })).toMatchObject(ok());
    expect(await inst.flux(['cancel', theirs.stdout.trim()])).toMatchObject(ok());
  }, 30_000);

  it("a guest's history holds its own jobs' events, redacted from the commits that carry them, and nothing of another's", async () => {
    const mine = await inst.flux(['submit', '--job-name=guest-job', 'true'], { env: asGuest });
    expect(mine).toMatchObject({ code: 0, stderr: '' });
    const theirs = await inst.flux(['submit', '--job-name=owner-job', 'true']);
    expect(theirs.code).toBe(0);
    const [myId, theirId] = [parseJobId(mine.stdout.trim()), parseJobId(theirs.stdout.trim())];
    await until('both jobs ended', async () => {
      const r = await inst.flux(['jobs', '-n', '-A', '-a', '-o', '{id.f58} {status_abbrev}']);
      return [mine, theirs].every((j) => r.stdout.includes(`${j.stdout.trim()} CD`)) || undefined;
    });
    const commits = (await inst.flux(['journal', 'list', '--json', '--topic', 'kvs.namespace-primary-setroot'])).stdout
      .trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
    const jobsOf = async (seq: number) => {
      const e = JSON.parse((await inst.flux(['journal', 'show', String(seq)])).stdout) as { payload: { jobs?: Array<{ id: number }> } };
      return (e.payload.jobs ?? []).map((it) => it.id);
    };
    const withMine: number[] = [];
    const onlyTheirs: number[] = [];
    for (const { seq } of commits) {
      const ids = await jobsOf(seq);
      if (ids.includes(myId)) withMine.push(seq);
      else if (ids.includes(theirId)) onlyTheirs.push(seq);
    }
    expect(withMine.length).toBeGreaterThan(0);

    // listed: the commits of its job, not the ones of the owner's alone
    const listed = (await inst.flux(['journal', 'list', '--json'], { env: asGuest })).stdout.trim().split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    for (const seq of withMine) expect(listed).toContain(seq);
    for (const seq of onlyTheirs) expect(listed).not.toContain(seq);
    // shown: its job's events alone, marked as redacted
    let events = 0;
    for (const seq of withMine) {
      const r = await inst.flux(['journal', 'show', String(seq)], { env: asGuest });
      expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).not.toContain('owner-job');
      const e = JSON.parse(r.stdout) as { flags: number; payload: { redacted: string; jobs: Array<{ id: number }>; ops?: unknown } };
      expect(e.flags & ENTRY_REDACTED).toBe(ENTRY_REDACTED);
      expect(e.payload.redacted).toBe(REDACTED_NOTE);
      expect(e.payload.ops).toBeUndefined();
      expect(new Set(e.payload.jobs.map((it) => it.id))).toEqual(new Set([myId]));
      events += e.payload.jobs.length;
    }
    // from submit to clean, every event of its job's eventlog, which it may read (flux-core's job-info lets it)
    const eventlog = await inst.flux(['job', 'eventlog', mine.stdout.trim()], { env: asGuest });
    expect(eventlog, eventlog.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(events).toBe(eventlog.stdout.trim().split('\n').length);
    for (const seq of onlyTheirs) {
      denied('journal', 'requires the owner role')(await inst.flux(['journal', 'show', String(seq)], { env: asGuest }));
    }
    // a redacted commit is no event: the first of these topics the guest's event history holds is the one after
    expect(await inst.flux(['event', 'pub', 'app.end'], { env: asGuest })).toMatchObject({ code: 0 });
    const sub = await inst.flux(['event', 'sub', '--from', '1', '--count', '1', 'kvs.namespace-primary', 'app.end'], { env: asGuest });
    expect(sub).toMatchObject({ code: 0 });
    expect(sub.stdout.startsWith('app.end')).toBe(true);

    // another's eventlog is refused (EPERM), as flux-core's job-info refuses it; the job listing is everyone's, now
    // and then, as flux-core's job-list answers a guest
    denied('job', "guests may read their own jobs' values only")(await inst.flux(['job', 'eventlog', theirs.stdout.trim()], { env: asGuest }));
    expect(await inst.flux(['job', 'info', mine.stdout.trim(), 'jobspec'], { env: asGuest })).toMatchObject({ code: 0, stderr: '' });
    denied('job', "guests may read their own jobs' values only")(await inst.flux(['job', 'info', theirs.stdout.trim(), 'jobspec'], { env: asGuest }));
    expect(await inst.flux(['job', 'info', 'ƒ2', 'jobspec'], { env: asGuest })).toMatchObject({ code: 1, stderr: 'flux-job: invalid job id\n' });
    const at = String(commits[commits.length - 1]!.seq);
    const listing = ['jobs', '-A', '-a', '-n', '--at-seq', at, '-o', '{id.f58} {userid} {name} {status_abbrev}'];
    const asOwner = await inst.flux(listing);
    expect(asOwner.stdout).toContain(`${theirs.stdout.trim()} `);
    expect(await inst.flux(listing, { env: asGuest })).toEqual(asOwner);
  }, 60_000);

  it('refuses a malformed FLUX_HANDLE_USERID before connecting', async () => {
    expect(await inst.flux(['getattr', 'size'], { env: { FLUX_HANDLE_USERID: 'alice' } })).toMatchObject({
      code: 1, stdout: '', stderr: 'flux-getattr: FLUX_HANDLE_USERID=alice: not a userid\n',
    });
  });
});

describe('a real second user', () => {
  const guest = guestUser();

  it('is refused at connect unless guests are allowed, with a message naming the roles', async () => {
    const inst = await startInstance(1);
    try {
      // the broker keeps its rundir private when nobody else may connect: open it so the broker decides
      const { chmodSync } = await import('node:fs');
      chmodSync(inst.rundir, 0o711);
      chmodSync(`${inst.rundir}/local-0`, 0o777);
      denied('getattr', 'connecting requires the owner or user role')(await fluxAs(guest, inst.uri, ['getattr', 'size']));
    } finally {
      expect(await inst.stop()).toBe(0);
    }
  }, 60_000);

  it('with [access] allow-guest-user in the config file, connects as a guest and may not act as anyone else', async () => {
    const conf = mkdtempSync(join(tmpdir(), 'flux-access-'));
    try {
      writeFileSync(join(conf, 'access.toml'), '[access]\nallow-guest-user = true\n');
      const inst = await startInstance(1, ['-o', `--config-path=${conf}`]);
      try {
        expect(await inst.flux(['getattr', 'access.allow-guest-user'])).toMatchObject(ok('1\n'));
        // the broker opened its rundir for passing through, not listing
        expect(statSync(inst.rundir).mode & 0o777).toBe(0o711);
        expect(await fluxAs(guest, inst.uri, ['getattr', 'size'])).toMatchObject(ok('1\n'));
        denied('kvs', 'a: Operation not permitted')(await fluxAs(guest, inst.uri, ['kvs', 'get', 'a']));
        denied('getattr', 'requires the owner role')(await fluxAs(guest, inst.uri, ['getattr', 'size'], { FLUX_HANDLE_USERID: '0' }));
        denied('getattr', 'requires the owner role')(await fluxAs(guest, inst.uri, ['getattr', 'size'], { FLUX_HANDLE_ROLEMASK: 'owner' }));
        // restating its own credential is no impersonation
        expect(await fluxAs(guest, inst.uri, ['getattr', 'size'], { FLUX_HANDLE_USERID: String(guest.uid) })).toMatchObject(ok('1\n'));

        // its history: the commits that carry its job's events, each redacted to them, none of the owner's job alone
        const mine = await fluxAs(guest, inst.uri, ['submit', 'true']);
        expect(mine).toMatchObject({ code: 0, stderr: '' });
        const theirs = await inst.flux(['submit', 'true']);
        await until('both jobs ended', async () => {
          const r = await inst.flux(['jobs', '-n', '-A', '-a', '-o', '{id.f58} {status_abbrev}']);
          return [mine, theirs].every((j) => r.stdout.includes(`${j.stdout.trim()} CD`)) || undefined;
        });
        const listed = (await fluxAs(guest, inst.uri, ['journal', 'list', '--json'])).stdout.trim().split('\n')
          .map((l) => (JSON.parse(l) as { seq: number }).seq);
        expect(listed.length).toBeGreaterThan(0);
        const ids = new Set<number>();
        for (const seq of listed) {
          const r = await fluxAs(guest, inst.uri, ['journal', 'show', String(seq)]);
          expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
          const e = JSON.parse(r.stdout) as { flags: number; payload: { jobs: Array<{ id: number }> } };
          expect(e.flags & ENTRY_REDACTED).toBe(ENTRY_REDACTED);
          for (const it of e.payload.jobs) ids.add(it.id);
        }
        expect([...ids]).toEqual([parseJobId(mine.stdout.trim())]);

        // a guest may make its job wait on its own jobs, not on another user's; its history is its own jobs
        const onTheirs = await fluxAs(guest, inst.uri, ['submit', `--dependency=afterany:${theirs.stdout.trim()}`, 'true']);
        expect(onTheirs).toMatchObject({ code: 1, stderr: `flux-submit: dependency after-finish=${theirs.stdout.trim()}: Permission denied\n` });
        const onMine = await fluxAs(guest, inst.uri, ['submit', `--dependency=afterok:${mine.stdout.trim()}`, 'true']);
        expect(onMine).toMatchObject({ code: 0, stderr: '' });
        const last = await fluxAs(guest, inst.uri, ['job', 'last', '5']);
        expect(last.stdout).toBe(`${onMine.stdout.trim()}\n${mine.stdout.trim()}\n`);
        expect(await fluxAs(guest, inst.uri, ['job', 'status', onMine.stdout.trim()])).toMatchObject({ code: 0, stderr: '' });
        // it follows its own jobs (their eventlogs are the owner's namespace, read for it by job-info), not another's
        expect(await fluxAs(guest, inst.uri, ['run', 'echo', 'ran'])).toMatchObject(ok('ran\n'));
        expect(await fluxAs(guest, inst.uri, ['job', 'wait-event', mine.stdout.trim(), 'clean'])).toMatchObject({ code: 0, stderr: '' });
        denied('job', "guests may read their own jobs' values only")(await fluxAs(guest, inst.uri, ['job', 'wait-event', theirs.stdout.trim(), 'clean']));
      } finally {
        expect(await inst.stop()).toBe(0);
      }
    } finally {
      rmSync(conf, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a config whose [access] is malformed, naming the file', async () => {
    const conf = mkdtempSync(join(tmpdir(), 'flux-access-'));
    try {
      writeFileSync(join(conf, 'access.toml'), '[access]\nallow-guest-user = "yes"\n');
      const { run } = await import('../helpers/instance.js');
      const r = await run(['start', '-o', `--config-path=${conf}`, 'true']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`${conf}: access.allow-guest-user must be true or false`);
    } finally {
      rmSync(conf, { recursive: true, force: true });
    }
  }, 60_000);
});
