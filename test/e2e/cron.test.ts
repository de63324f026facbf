// flux cron on real size-4 instances: interval, event, tab and at entries firing and counting, stop/start/delete,
// tasks on another rank, failures and timeouts, sync, forged entries refused, the table at a past journal seq,
// and a restart from a statedir that keeps the entries and their history and re-arms the active ones.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInstance, until, type Instance, type RunResult } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { nextWakeup, parseCronodate } from '../../src/core/time/cronodate.js';
import type { EntryJson } from '../../src/commands/cron-format.js';


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ok(r: RunResult): string {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** the id `flux cron <type>` printed for the entry it made */
function createdId(out: string, sub: string): number {
  const m = new RegExp(`^${sub}: cron-(\\d+) created`).exec(out);
  expect(m, out).not.toBeNull();
  return Number(m![1]);
}

class CronClient {
  private constructor(private readonly h: Flux) {}
  static async open(uri: string): Promise<CronClient> {
    return new CronClient(await Flux.open(uri));
  }

  async entry(id: number): Promise<EntryJson | undefined> {
    const r = await this.h.call('cron.list', {}, { nodeid: 0 });
    return (r.entries as EntryJson[]).find((e) => e.id === id);
  }

  /** the entry once `cond` holds for it */
  async when(id: number, what: string, cond: (e: EntryJson) => boolean): Promise<EntryJson> {
    return until(`cron-${id}: ${what}`, async () => {
      const e = await this.entry(id);
      return e && cond(e) ? e : undefined;
    });
  }

  /** the journal seq of the newest entry with this topic */
  async lastSeq(topic: string): Promise<number> {
    const r = await this.h.call('journal.list', { topic }, { nodeid: 0 });
    const rows = r.entries as Array<{ seq: number; topic: string }>;
    return rows.filter((x) => x.topic === topic).at(-1)!.seq;
  }

  close(): void {
    this.h.close();
  }
}

async function logLines(inst: Instance, tag: string): Promise<string[]> {
  const out = ok(await inst.flux(['dmesg']));
  return out.split('\n').filter((l) => l.includes(`${tag}: `));
}

describe('flux cron on a size-4 instance', () => {
  let inst: Instance;
  let cron: CronClient;

  beforeAll(async () => {
    inst = await startInstance(4);
    cron = await CronClient.open(inst.uri);
  }, 60_000);

  afterAll(async () => {
    cron?.close();
    await inst?.stop();
  });

  it('an interval entry with a repeat count runs that many times, logs its output and stops', async () => {
    const id = createdId(ok(await inst.flux(['cron', 'interval', '-c', '3', '0.2s', 'echo', 'tick', '$((1+1))'])), 'interval');
    const e = await cron.when(id, 'three runs', (x) => x.stats.count === 3 && x.stats.total === 3);
    expect(e).toMatchObject({ stopped: true, name: 'echo', command: 'echo tick $((1+1))', repeat: 3, type: 'interval' });
    expect(e.stats).toMatchObject({ success: 3, failure: 0 });
    expect(e.typedata).toMatchObject({ interval: 0.2, after: 0.2 });
    const lines = await until('three log lines', async () => {
      const l = await logLines(inst, `cron-${id}[echo]`);
      return l.length === 3 ? l : undefined;
    });
    // the command ran through a shell on rank 0, and its output is logged as flux-core's cron module logs it
    for (const l of lines) expect(l).toMatch(new RegExp(`cron\\.info\\[0\\]: cron-${id}\\[echo\\]: rank=0: command="echo tick \\$\\(\\(1\\+1\\)\\)": "tick 2"$`));
    const list = ok(await inst.flux(['cron', 'list']));
    expect(list.split('\n')[0]).toBe('    ID CMD/NAME        STATE        #RUNS            LASTRUN  STATUS            ');
    const row = list.split('\n').find((l) => l.startsWith(String(id).padStart(6) + ' '));
    expect(row).toMatch(/^ +\d+ echo {12}Stopped {8}3\/3 +(a second|\d+ seconds) ago  Success {11}$/);
    const dump = ok(await inst.flux(['cron', 'dump', String(id)]));
    expect(dump).toContain(`id = ${id}\n`);
    expect(dump).toContain('command = "echo tick $((1+1))"\n');
    expect(dump).toContain('stats.count = 3\n');
    expect(dump).toContain('task.1.state = "Exited"\n');
    expect(ok(await inst.flux(['cron', 'dump', '-k', 'typedata.interval', `cron-${id}`]))).toBe('0.2\n');
  });

  it('an event entry runs on every nth event with its topic', async () => {
    const id = createdId(ok(await inst.flux(['cron', 'event', '--nth', '2', 'app.ping', 'flux', 'logger', 'pinged'])), 'event');
    for (let i = 1; i <= 5; i++) ok(await inst.flux(['event', 'pub', '-s', 'app.ping']));
    ok(await inst.flux(['event', 'pub', '-s', 'app.other']));
    const e = await cron.when(id, 'two runs after five events', (x) => x.stats.total === 2);
    expect(e.typedata).toMatchObject({ topic: 'app.ping', nth: 2, counter: 5 });
    expect(e.stopped).toBe(false);
    ok(await inst.flux(['event', 'pub', '-s', 'app.ping']));
    await cron.when(id, 'a run on the sixth event', (x) => x.stats.total === 3 && x.stats.success === 3);
    // the task ran flux from the broker's environment
    expect((await logLines(inst, 'logger.info[0]')).filter((l) => l.endsWith('pinged')).length).toBe(3);
    expect(ok(await inst.flux(['cron', 'delete', String(id)]))).toMatch(new RegExp(`^Removed cron-${id}: flux last ran (a second|\\d+ seconds) ago for \\d+\\.\\d{2}ms\\n$`));
  });

  it('an event entry with --min-interval runs once for a burst of events, and once more when the interval ends', async () => {
    const id = createdId(ok(await inst.flux(['cron', 'event', '-i', '4s', '-o', 'task-history-count=2', 'app.burst', 'true'])), 'event');
    for (let i = 0; i < 3; i++) ok(await inst.flux(['event', 'pub', '-s', 'app.burst']));
    const e = await cron.when(id, 'the held run', (x) => x.stats.total === 2);
    expect(e.typedata).toMatchObject({ counter: 3, min_interval: 4 });
    // the held run started no sooner than the interval after the first (times are the journal's)
    const [second, first] = e.tasks.map((t) => t['start-time'] as number);
    expect(second! - first!).toBeGreaterThanOrEqual(4 - 0.01);
    // the hold is logged as flux-core's cron module logs it
    expect(await logLines(inst, `cron.debug[0]: cron-${id}`)).toEqual([expect.stringMatching(new RegExp(`: cron-${id}: delaying [ \\d]\\d*\\.\\d{3}s due to min interval$`))]);
  });

  it('records and prints what flux-core does: a command that cannot run Failed, an interval of 0, delete\'s last run', async () => {
    // the shell finds no such command: flux-core's task is Failed with code 127, an Exec-Error in the list
    const x = createdId(ok(await inst.flux(['cron', 'interval', '-c', '1', '0.2s', 'no-such-command-xyz'])), 'interval');
    const xe = await cron.when(x, 'its run', (y) => y.stats.total === 1);
    expect(xe.tasks[0]).toMatchObject({ state: 'Failed', code: 127 });
    expect(ok(await inst.flux(['cron', 'list']))).toMatch(new RegExp(`^ +${x} no-such-command-xyz +Stopped +1/1 .* Exec-Error +$`, 'm'));
    expect(await logLines(inst, `cron-${x}[no-such-command-xyz]`)).toEqual([
      expect.stringMatching(new RegExp(`cron\\.err\\[0\\]: cron-${x}\\[no-such-command-xyz\\]: rank=0: command="no-such-command-xyz": ".*not found"$`)),
    ]);

    // an interval of 0 is flux-core's one-shot timer: one run, and the entry waits on, active
    const z = createdId(ok(await inst.flux(['cron', 'interval', '0', 'true'])), 'interval');
    await cron.when(z, 'its run', (y) => y.stats.total === 1);
    await sleep(1000);
    const ze = (await cron.entry(z))!;
    expect(ze).toMatchObject({ stopped: false, stats: { total: 1, success: 1 } });
    expect(ze.typedata.next_wakeup).toBeUndefined();
    expect(ok(await inst.flux(['cron', 'delete', String(z)]))).toMatch(new RegExp(`^Removed cron-${z}: true last ran (a second|\\d seconds) ago for \\d+\\.\\d{2}ms\\n$`));

    const r = createdId(ok(await inst.flux(['cron', 'interval', '-c', '1', '0.1s', 'sleep', '30'])), 'interval');
    await cron.when(r, 'its task running', (y) => y.tasks[0]?.state === 'Running');
    expect(ok(await inst.flux(['cron', 'delete', '-k', String(r)]))).toMatch(new RegExp(`^Removed cron-${r}: sleep still running\\. Started (a second|\\d seconds) ago\\n$`));
  });

  it('tab entries are scheduled at their next cron date; an at entry runs once at its time', async () => {
    const tab = '# every 5 minutes on Mondays to Fridays\n*/5 * * * 1-5 echo tab-a\n\n0 12 1 0 * echo tab-b\n';
    const out = ok(await inst.flux(['cron', 'tab'], { input: tab }));
    const lines = out.split('\n').filter((l) => l.length > 0);
    expect(lines).toHaveLength(2);
    const fields = [{ minute: '*/5', weekday: '1-5' }, { minute: '0', hour: '12', mday: '1', month: '0' }];
    for (const [i, l] of lines.entries()) {
      const m = /^tab: cron-(\d+) created: scheduled in (\d+\.\d{3})s at \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/.exec(l);
      expect(m, l).not.toBeNull();
      // the listing tells the next date after the moment it was made, somewhere between these two
      const before = Date.now() / 1000;
      const e = (await cron.entry(Number(m![1])))!;
      const date = parseCronodate({ second: '0', ...fields[i] });
      expect([nextWakeup(date, before), nextWakeup(date, Date.now() / 1000)]).toContain(e.typedata.next_wakeup);
      expect(e).toMatchObject({ type: 'datetime', stopped: false, repeat: 0 });
      ok(await inst.flux(['cron', 'delete', m![1]!]));
    }

    const at = ok(await inst.flux(['cron', 'at', 'now + 2 seconds', 'echo', 'at-ran']));
    expect(at).toMatch(/^at: cron-\d+ created: scheduled in \d\.\d{3}s at /);
    const id = Number(/cron-(\d+)/.exec(at)![1]);
    const e = await cron.when(id, 'its one run', (x) => x.stats.total === 1);
    expect(e).toMatchObject({ stopped: true, repeat: 1, stats: { count: 1, success: 1 } });
    expect(await logLines(inst, `cron-${id}[echo]`)).toHaveLength(1);
  });

  it('stop, start and delete', async () => {
    const id = createdId(ok(await inst.flux(['cron', 'interval', '0.2s', 'true'])), 'interval');
    await cron.when(id, 'a run', (x) => x.stats.count >= 1);
    expect(ok(await inst.flux(['cron', 'stop', String(id)]))).toBe(`Stopped cron-${id}\n`);
    // a task launched just before the stop may still be recorded: then nothing more
    await sleep(500);
    const stopped = (await cron.entry(id))!;
    expect(stopped.stopped).toBe(true);
    expect(stopped.typedata.next_wakeup).toBeUndefined();
    await sleep(1000);
    expect((await cron.entry(id))!.stats.count).toBe(stopped.stats.count);
    expect(ok(await inst.flux(['cron', 'list']))).toMatch(new RegExp(`^ +${id} true +Stopped `, 'm'));
    expect(ok(await inst.flux(['cron', 'start', `cron-${id}`]))).toBe(`Started cron-${id}\n`);
    // the start begins the count anew
    const again = await cron.when(id, 'runs after the start', (x) => x.stats.total >= stopped.stats.total + 2);
    expect(again.stats.count).toBeLessThan(again.stats.total);
    expect(ok(await inst.flux(['cron', 'delete', String(id)]))).toMatch(new RegExp(`^Removed cron-${id}: true (last ran|still running)`));
    expect(await cron.entry(id)).toBeUndefined();
    const gone = await inst.flux(['cron', 'stop', String(id)]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/^flux-cron: .*cron-\d+: no such entry/);
  });

  it('runs a task on the rank the entry names', async () => {
    const id = createdId(ok(await inst.flux(['cron', 'interval', '-o', 'rank=2', '-c', '1', '0.2s', 'flux', 'getattr', 'rank'])), 'interval');
    const e = await cron.when(id, 'its run', (x) => x.stats.total === 1);
    expect(e.rank).toBe(2);
    expect(e.tasks[0]).toMatchObject({ rank: 2, state: 'Exited', code: 0 });
    const lines = await until('the output line', async () => {
      const l = await logLines(inst, `cron-${id}[flux]`);
      return l.length > 0 ? l : undefined;
    });
    expect(lines[0]).toMatch(/: rank=2: command="flux getattr rank": "2"$/);
    // the table is answered from any rank
    const leaf = await inst.flux(['cron', 'dump', '-k', 'task.1.rank', String(id)], { env: { FLUX_URI: inst.uri.replace(/local-0$/, 'local-3') } });
    expect(ok(leaf)).toBe('2\n');
    const bad = await inst.flux(['cron', 'interval', '-o', 'rank=9', '1s', 'true']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^flux-cron: .*rank 9/);
  });

  it('failures: exit status, stop-on-failure, timeouts and task history', async () => {
    const id = createdId(ok(await inst.flux(['cron', 'interval', '-o', 'stop-on-failure=2,task-history-count=3', '0.2s', 'sh -c "exit 3"'])), 'interval');
    // a run launched before the second failure was recorded may still end after the stop
    const e = await cron.when(id, 'two failures and a stop', (x) => x.stopped && x.stats.total >= 2 && x.stats.total === x.stats.count);
    expect(e.stats.failcount).toBeGreaterThanOrEqual(2);
    expect(e.stats).toMatchObject({ failure: e.stats.total, failcount: e.stats.total, success: 0 });
    expect(e.tasks.map((t) => [t.state, t.code])).toEqual(e.tasks.map(() => ['Failed', 3]));
    expect(e.tasks.length).toBe(Math.min(3, e.stats.total));
    expect(ok(await inst.flux(['cron', 'list']))).toMatch(new RegExp(`^ +${id} sh +Stopped +${e.stats.count} .* Failed:rc=3 +$`, 'm'));

    const t = createdId(ok(await inst.flux(['cron', 'interval', '-c', '1', '-o', 'timeout=0.3s', '-N', 'slow', '0.2s', 'sleep', '30'])), 'interval');
    const te = await cron.when(t, 'the timeout', (x) => x.stats.total === 1);
    expect(te.name).toBe('slow');
    expect(te.tasks[0]).toMatchObject({ state: 'Timeout', timedout: true, code: 128 + 15 });
    expect(ok(await inst.flux(['cron', 'dump', '-k', 'task.1.state', String(t)]))).toBe('Timeout\n');

    // a command that cannot be started (its directory is missing) is an exec error, and still a run
    const x = createdId(ok(await inst.flux(['cron', 'interval', '-c', '1', '-d', '/nonexistent-cron-dir', '0.2s', 'true'])), 'interval');
    const xe = await cron.when(x, 'the failed launch', (y) => y.stats.total === 1);
    expect(xe).toMatchObject({ stopped: true, stats: { count: 1, failure: 1 } });
    expect(xe.tasks[0]).toMatchObject({ state: 'Failed', rexec_errno: 2, code: 127 });
    expect(ok(await inst.flux(['cron', 'list']))).toMatch(new RegExp(`^ +${x} true +Stopped +1/1 .* Exec-Error +$`, 'm'));
  });

  it('sync: tasks wait for the sync event', async () => {
    expect(ok(await inst.flux(['cron', 'sync', 'app.sync']))).toBe('sync: sync to event "app.sync" epsilon=0.000s.\n');
    const id = createdId(ok(await inst.flux(['cron', 'interval', '-c', '1', '0.2s', 'true'])), 'interval');
    const held = await cron.when(id, 'a deferral', (x) => x.stats.deferred === 1);
    expect(held.stats.count).toBe(0);
    ok(await inst.flux(['event', 'pub', '-s', 'app.sync']));
    await cron.when(id, 'the run at the sync event', (x) => x.stats.total === 1 && x.stats.success === 1);
    expect(ok(await inst.flux(['cron', 'sync']))).toBe('sync: sync to event "app.sync" epsilon=0.000s.\n');
    expect(ok(await inst.flux(['cron', 'sync', '-d']))).toBe('sync: sync disabled.\n');
  });

  it('clients cannot publish cron entries; malformed requests get errors', async () => {
    const r = await inst.flux(['event', 'pub', '-s', 'cron.entry-created', '{"id":99}']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('reserved');
    const h = await Flux.open(inst.uri);
    try {
      await expect(h.call('cron.create', { type: 'interval', command: 'true', args: { interval: -1 } }, { nodeid: 0 })).rejects.toThrow();
      await expect(h.call('cron.create', { type: 'datetime', command: 'true', args: { month: '12' } }, { nodeid: 0 })).rejects.toThrow();
      await expect(h.call('cron.delete', { id: 'x' }, { nodeid: 0 })).rejects.toThrow();
    } finally {
      h.close();
    }
    // the service is still there
    ok(await inst.flux(['cron', 'list']));
  });

  it('list --at-seq and --at-time show the table as it was; --at-version says it was renamed', async () => {
    const id = createdId(ok(await inst.flux(['cron', 'interval', '-N', 'past', '-c', '2', '0.2s', 'true'])), 'interval');
    const before = await cron.lastSeq('cron.entry-created');
    await cron.when(id, 'both runs', (x) => x.stopped && x.stats.total === 2);
    const now = ok(await inst.flux(['cron', 'list']));
    expect(now).toMatch(new RegExp(`^ +${id} past +Stopped +2/2 `, 'm'));
    const then = ok(await inst.flux(['cron', 'list', '--at-seq', String(before)]));
    expect(then).toMatch(new RegExp(`^ +${id} past +Active +0/2 +None`, 'm'));
    // entries made later are not in the past table
    expect(then).not.toMatch(new RegExp(`^ +${id + 1} `, 'm'));
    const early = ok(await inst.flux(['cron', 'list', '--at-seq', '0']));
    expect(early.split('\n').filter((l) => l.length > 0)).toHaveLength(1);
    const created = ok(await inst.flux(['journal', 'list', '--json', '--topic', 'cron.entry-created'])).trimEnd().split('\n')
      .map((l) => JSON.parse(l) as { seq: number; time: number }).find((e) => e.seq === before)!;
    expect(ok(await inst.flux(['cron', 'list', '--at-time', new Date(created.time * 1000).toISOString()])))
      .toMatch(new RegExp(`^ +${id} past +Active +0/2 +None`, 'm'));
    expect(await inst.flux(['cron', 'list', '--at-version', String(before)]))
      .toMatchObject({ code: 1, stdout: '', stderr: 'flux-cron: --at-version has been renamed --at-seq\n' });
  });
});

describe('cron and heartbeat.pulse, an event that is not journaled', () => {
  // the rule: live subscribers (flux event sub, cron) see every event; history (event sub --from, replay) holds the
  // journaled ones, which is every published event but heartbeat.pulse
  let inst: Instance;
  let cron: CronClient;

  beforeAll(async () => {
    inst = await startInstance(2, ['-S', 'heartbeat.period=0.3']);
    cron = await CronClient.open(inst.uri);
  }, 60_000);

  afterAll(async () => {
    cron?.close();
    await inst?.stop();
  });

  it('flux cron sync heartbeat.pulse holds tasks until the next pulse, as the README shows', async () => {
    expect(ok(await inst.flux(['cron', 'sync', 'heartbeat.pulse']))).toBe('sync: sync to event "heartbeat.pulse" epsilon=0.000s.\n');
    const id = createdId(ok(await inst.flux(['cron', 'interval', '-c', '2', '0.5s', 'true'])), 'interval');
    const e = await cron.when(id, 'two runs at pulses', (x) => x.stats.total === 2);
    expect(e.stats.deferred).toBeGreaterThanOrEqual(1);
    ok(await inst.flux(['cron', 'sync', '-d']));
  });

  it('flux cron event heartbeat.pulse runs on pulses, every nth', async () => {
    const id = createdId(ok(await inst.flux(['cron', 'event', '-n', '2', '-c', '2', 'heartbeat.pulse', 'flux', 'logger', 'beat'])), 'event');
    await cron.when(id, 'two runs', (x) => x.stats.total === 2 && x.stopped);
    expect((await logLines(inst, 'logger.info[0]')).filter((l) => l.endsWith(': beat'))).toHaveLength(2);
  });

  it('event sub sees pulses live; the journal, and so --from, holds none', async () => {
    expect(ok(await inst.flux(['event', 'sub', '-c', '1', 'heartbeat.pulse']))).toMatch(/^heartbeat\.pulse\t\{"pulse":\d+\}\n$/);
    const h = await Flux.open(inst.uri);
    try {
      const r = await h.call('journal.list', { topic: 'heartbeat' }, { nodeid: 0 });
      expect(r.entries).toEqual([]);
    } finally {
      h.close();
    }
    // history first (nothing), then live
    expect(ok(await inst.flux(['event', 'sub', '--from', '1', '-c', '1', 'heartbeat.pulse']))).toMatch(/^heartbeat\.pulse\t/);
  });
});

describe('cron across a restart with a statedir', () => {
  it('keeps the entries and their history, and re-arms the active ones', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-state-'));
    try {
      let done: number;
      let active: number;
      let paused: number;
      let activeRuns: number;
      {
        const a = await startInstance(4, ['-S', `statedir=${state}`]);
        const c = await CronClient.open(a.uri);
        try {
          done = createdId(ok(await a.flux(['cron', 'interval', '-c', '2', '-o', 'rank=1', '0.2s', 'sh -c "exit 4"'])), 'interval');
          active = createdId(ok(await a.flux(['cron', 'interval', '0.3s', 'true'])), 'interval');
          paused = createdId(ok(await a.flux(['cron', 'event', 'app.never', 'true'])), 'event');
          ok(await a.flux(['cron', 'stop', String(paused)]));
          await c.when(done, 'two runs', (x) => x.stats.total === 2);
          activeRuns = (await c.when(active, 'a run', (x) => x.stats.total >= 1)).stats.count;
        } finally {
          c.close();
          expect(await a.stop()).toBe(0);
        }
      }
      const b = await startInstance(4, ['-S', `statedir=${state}`]);
      const c = await CronClient.open(b.uri);
      try {
        const d = (await c.entry(done))!;
        expect(d).toMatchObject({ stopped: true, rank: 1, stats: { count: 2, total: 2, failure: 2 } });
        expect(d.tasks[0]).toMatchObject({ rank: 1, state: 'Failed', code: 4 });
        expect((await c.entry(paused))!).toMatchObject({ stopped: true, type: 'event' });
        // the active entry runs again in the new instance
        await c.when(active, 'runs after the restart', (x) => !x.stopped && x.stats.count >= activeRuns + 2);
        const list = ok(await b.flux(['cron', 'list']));
        expect(list).toMatch(new RegExp(`^ +${done} sh +Stopped +2/2 .* Failed:rc=4 +$`, 'm'));
        // ids go on from where the first run left them
        const next = createdId(ok(await b.flux(['cron', 'interval', '1h', 'true'])), 'interval');
        expect(next).toBe(paused + 1);
      } finally {
        c.close();
        expect(await b.stop()).toBe(0);
      }
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 90_000);
});
