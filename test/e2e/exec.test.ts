// flux exec and flux ps on real instances: every rank, stdin, exit codes, signals, launch failures, the process
// table now and in the past, a restart that keeps it, and the rexec protocol against flux-core's captures.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startInstance, until, FLUX, type Instance, type RunResult } from '../helpers/instance.js';
import { loadVectors } from '../helpers/vectors.js';
import { Flux } from '../../src/api/handle.js';
import {
  payloadJson, jsonPayload, makeRequest, FLAG_STREAMING, FLAG_NORESPONSE, type Message,
} from '../../src/core/wire/message.js';
import { LocalClient } from '../../src/transport/local-client.js';
import { parseLocalUri } from '../../src/core/wire/uri.js';
import { ENODATA } from '../../src/core/errors.js';
import { execCmd, FOREGROUND_FLAGS } from '../../src/api/exec.js';

/** every long-running command here sleeps for a time with this tail, so strays can be found at the end */
const MARK = '.4242';
const sleeper = (secs: number) => `${secs}${MARK}`;

interface PsJson {
  rank: number;
  pid: number;
  state: string;
  status?: number;
  cmd: string[];
  label?: string;
  owner: string;
}

const psRows = (r: RunResult): PsJson[] => r.stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as PsJson);
const sortedLines = (s: string) => s.split('\n').filter((l) => l.length > 0).sort();


/** `flux exec ARGS` as a background child whose signals the test sends */
function startExec(inst: Instance, args: string[]) {
  const child = spawn(process.execPath, [FLUX, 'exec', ...args], {
    env: { ...process.env, FLUX_URI: inst.uri }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

function strays(): string[] {
  try {
    return execFileSync('pgrep', ['-a', '-f', `sleep [0-9]+\\${MARK}`]).toString().split('\n').filter((l) => l.length > 0);
  } catch (err) {
    // pgrep exits 1 when nothing matches
    if ((err as { status?: number }).status === 1) return [];
    throw err;
  }
}

describe('flux exec on a size-4 instance', () => {
  let inst: Instance;
  let h: Flux;

  beforeAll(async () => {
    inst = await startInstance(4);
    h = await Flux.open(inst.uri);
  });

  afterAll(async () => {
    h?.close();
    expect(await inst.stop()).toBe(0);
    expect(strays()).toEqual([]);
  });

  it('runs on every rank, each with the caller\'s stdin', async () => {
    const r = await inst.flux(['exec', '-r', 'all', 'cat'], { input: 'line one\nline two\n' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(sortedLines(r.stdout)).toEqual([...Array(4).fill('line one'), ...Array(4).fill('line two')]);
  });

  it('sends more stdin than the credit a rank grants at first, to every rank', async () => {
    const big = 'x'.repeat(1023).concat('\n').repeat(6 * 1024);
    const r = await inst.flux(['exec', '-r', '0,3', 'wc', '-c'], { input: big, timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(sortedLines(r.stdout)).toEqual([String(big.length), String(big.length)]);
  });

  it('-l labels lines with the rank; processes talk to the broker of their own rank', async () => {
    const r = await inst.flux(['exec', '-l', '-r', 'all', process.execPath, FLUX, 'getattr', 'rank']);
    expect(r.code).toBe(0);
    expect(sortedLines(r.stdout)).toEqual(['0: 0', '1: 1', '2: 2', '3: 3']);
  });

  it('-n sends no stdin; -x leaves ranks out; -d sets the directory', async () => {
    const r = await inst.flux(['exec', '-n', '-x', '0,2', '-d', '/usr', 'sh', '-c', 'pwd; cat'], { input: 'not read\n' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('/usr\n/usr\n');
  });

  it('exits with the worst exit code and summarizes the failures as flux-core does', async () => {
    const r = await inst.flux(['exec', '-r', '1-2', 'sh', '-c', 'exit 3']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('[1-2]: Exit 3\n');
    // each rank exits with its own number, which FLUX_URI (local-N) tells it
    const mixed = await inst.flux(['exec', '-r', 'all', 'sh', '-c', 'exit ${FLUX_URI##*-}']);
    expect(mixed.code).toBe(3);
    expect(mixed.stderr).toBe('1: Exit 1\n2: Exit 2\n3: Exit 3\n');
    const quiet = await inst.flux(['exec', '-q', '-r', '1', 'false']);
    expect([quiet.code, quiet.stderr]).toEqual([1, '']);
  });

  it('a process ended by a signal exits 128+signal with the signal named', async () => {
    const k = await inst.flux(['exec', '-r', '2', 'sh', '-c', 'kill -9 $$']);
    expect([k.code, k.stderr]).toEqual([137, '2: Killed\n']);
    const t = await inst.flux(['exec', '-r', '0,3', 'sh', '-c', 'kill -TERM $$']);
    expect([t.code, t.stderr]).toEqual([143, '[0,3]: Terminated\n']);
  });

  it('reports commands that cannot be started: 127 when missing, 126 when not executable', async () => {
    const missing = await inst.flux(['exec', '-r', '1-2', 'no-such-command-here']);
    expect(missing.code).toBe(127);
    expect(sortedLines(missing.stderr)).toEqual([
      'flux-exec: Error: rank 1: no-such-command-here: No such file or directory',
      'flux-exec: Error: rank 2: no-such-command-here: No such file or directory',
    ]);
    const denied = await inst.flux(['exec', '-r', '3', '/etc/passwd']);
    expect([denied.code, denied.stderr]).toEqual([126, 'flux-exec: Error: rank 3: /etc/passwd: Permission denied\n']);
    const outside = await inst.flux(['exec', '-r', '5', 'true']);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain('rank 5 is not in this instance (size 4)');
  });

  it('forwards Ctrl-C to every process', async () => {
    const e = startExec(inst, ['-r', 'all', 'sleep', sleeper(30)]);
    await until('four sleeps in the table', async () => {
      const rows = psRows(await inst.flux(['ps', '--json']));
      return rows.filter((x) => x.cmd[1] === sleeper(30)).length === 4 ? true : undefined;
    });
    e.child.kill('SIGINT');
    const r = await e.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toBe('[0-3]: Interrupt\n');
  });

  it('leaves on the third Ctrl-C within a second, and the processes it leaves end with it', async () => {
    const e = startExec(inst, ['-r', '1-3', 'sh', '-c', `trap "" INT; sleep ${sleeper(40)}`]);
    await until('three shells in the table', async () => {
      const rows = psRows(await inst.flux(['ps', '--json']));
      return rows.filter((x) => x.cmd.join(' ').includes(sleeper(40))).length === 3 ? true : undefined;
    });
    for (let i = 0; i < 3; i++) {
      e.child.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 150));
    }
    const r = await e.done;
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('interrupt (Ctrl+C) one more time within 1.00 sec to exit\n[1-3]: command still running at exit\n');
    // the client is gone: its broker tells ranks 1-3, which kill what it left
    const rows = await until('the shells to be killed', async () => {
      const all = psRows(await inst.flux(['ps', '-a', '--json'])).filter((x) => x.cmd.join(' ').includes(sleeper(40)));
      return all.every((x) => x.state === 'exited') ? all : undefined;
    });
    expect(rows.map((x) => [x.rank, x.status])).toEqual([[1, 9], [2, 9], [3, 9]]);
  });

  it('flux ps shows a running process from any rank, and after it exits only with -a', async () => {
    const bg = await inst.flux(['exec', '--bg', '-r', '3', 'sleep', sleeper(30)]);
    expect([bg.code, bg.stdout, bg.stderr]).toEqual([0, '', '']);
    // no waiting: a background start is in the table before flux exec --bg returns
    const text = await inst.flux(['ps', '-r', '3']);
    expect(text.stdout).toMatch(new RegExp(`^OWNER +RANK +PID  STATE +STATUS +STARTED +COMMAND\\n\\S+ +3 +\\d+  running  - +\\S+Z  sleep ${sleeper(30)}\\n$`));
    const fromRank2 = await run(['ps', '--json', '-r', '3'], { env: { FLUX_URI: inst.uri.replace(/local-0$/, 'local-2') } });
    const rows = psRows(fromRank2);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ rank: 3, state: 'running', cmd: ['sleep', sleeper(30)] });
    expect(psRows(await inst.flux(['ps', '--json', '-r', '0-2'])).filter((x) => x.pid === rows[0]!.pid && x.rank === 3)).toEqual([]);

    const list = await h.call('rexec.list', {}, { nodeid: 3 });
    expect(list.rank).toBe(3);
    expect(list.procs).toContainEqual({ pid: rows[0]!.pid, cmd: 'sleep', label: '', state: 'R' });
    await h.call('rexec.kill', { pid: rows[0]!.pid, signum: 15 }, { nodeid: 3 });
    const gone = await until('the exit in the table', async () => {
      const all = psRows(await inst.flux(['ps', '-a', '--json', '-r', '3'])).filter((x) => x.pid === rows[0]!.pid);
      return all[0]?.state === 'exited' ? all[0] : undefined;
    });
    expect(gone.status).toBe(15);
    expect(psRows(await inst.flux(['ps', '--json', '-r', '3'])).filter((x) => x.pid === rows[0]!.pid)).toEqual([]);
    const after = await inst.flux(['ps', '-a', '-r', '3']);
    expect(after.stdout).toMatch(new RegExp(`  exited   Terminated  \\S+Z  sleep ${sleeper(30)}\\n`));
  });

  it('after a foreground flux exec returns, every rank\'s exit is in the table', async () => {
    const r = await inst.flux(['exec', '-r', 'all', 'sh', '-c', 'echo marker-7']);
    expect(r.code).toBe(0);
    const rows = psRows(await inst.flux(['ps', '-a', '--json'])).filter((x) => x.cmd.join(' ') === 'sh -c echo marker-7');
    expect(rows.map((x) => [x.rank, x.state, x.status])).toEqual([[0, 'exited', 0], [1, 'exited', 0], [2, 'exited', 0], [3, 'exited', 0]]);
  });

  it('a waitable background process is waited for by label', async () => {
    const r = await inst.flux(['exec', '--bg', '--waitable', '--label', 'job-a', '-r', '1', 'sh', '-c', 'exit 4']);
    expect(r.code).toBe(0);
    const w = await h.call('rexec.wait', { label: 'job-a' }, { nodeid: 1 });
    expect(w.status).toBe(4 << 8);
    // once waited for it is gone from the rank's list, and the label is free again
    const list = await h.call('rexec.list', {}, { nodeid: 1 });
    expect((list.procs as Array<{ label: string }>).some((p) => p.label === 'job-a')).toBe(false);
    expect((await inst.flux(['exec', '--bg', '--label', 'job-a', '-r', '1', 'true'])).code).toBe(0);
  });

  it('flux ps --at-seq shows the table as it was at a past journal seq', async () => {
    const bg = await inst.flux(['exec', '--bg', '-r', '2', 'sleep', sleeper(31)]);
    expect(bg.code).toBe(0);
    const rows = psRows(await inst.flux(['ps', '--json', '-r', '2'])).filter((x) => x.cmd[1] === sleeper(31));
    const pid = rows[0]!.pid;
    const list = await inst.flux(['journal', 'list', '--json', '--topic', 'rexec.started']);
    const entries = sortedLines(list.stdout).map((l) => JSON.parse(l) as { seq: number; time: number });
    const seqs: number[] = [];
    for (const e of entries) {
      const shown = await h.call('journal.show', { seq: e.seq });
      const p = (shown.entry as { payload: { pid: number; rank: number } }).payload;
      if (p.pid === pid && p.rank === 2) seqs.push(e.seq);
    }
    expect(seqs).toHaveLength(1);
    await h.call('rexec.kill', { pid, signum: 9 }, { nodeid: 2 });
    await until('the exit in the table', async () => {
      const all = psRows(await inst.flux(['ps', '-a', '--json', '-r', '2'])).filter((x) => x.pid === pid);
      return all[0]?.state === 'exited' ? true : undefined;
    });
    const then = psRows(await inst.flux(['ps', '--json', '--at-seq', String(seqs[0]), '-r', '2']));
    expect(then.filter((x) => x.pid === pid)).toEqual([expect.objectContaining({ state: 'running', cmd: ['sleep', sleeper(31)] })]);
    const before = psRows(await inst.flux(['ps', '-a', '--json', '--at-seq', String(seqs[0]! - 1), '-r', '2']));
    expect(before.filter((x) => x.pid === pid)).toEqual([]);
    const future = await inst.flux(['ps', '--at-seq', '999999']);
    expect(future.code).toBe(1);
    expect(future.stderr).toMatch(/--at-seq 999999: the journal ends at \d+/);
    // the same table by the time of that entry
    const at = entries.find((e) => e.seq === seqs[0])!.time;
    const byTime = psRows(await inst.flux(['ps', '--json', '--at-time', String(at), '-r', '2']));
    expect(byTime.filter((x) => x.pid === pid)).toEqual([expect.objectContaining({ state: 'running', cmd: ['sleep', sleeper(31)] })]);
    // --at-version is the KVS's own version (flux kvs get): here it names the new spelling
    expect(await inst.flux(['ps', '--at-version', '1'])).toMatchObject({ code: 1, stdout: '', stderr: 'flux-ps: --at-version has been renamed --at-seq\n' });
  });

  it('answers flux-core 0.88\'s captured rexec.exec and rexec.write with the same messages', async () => {
    for (const name of ['exec', 'exec-stdin']) {
      const v = loadVectors(name);
      const reqs = v.messages.filter((m) => m.dir === 'c2s' && m.topic?.startsWith('rexec.'));
      const want = v.messages.filter((m) => m.dir === 's2c' && m.topic === 'rexec.exec');
      const exec = JSON.parse(reqs[0]!.payload_text!) as { cmd: Record<string, unknown>; flags: number; local_flags: number };
      // the request flux exec sends has flux-core's shape, key for key
      const ours = { cmd: execCmd({ cmdline: exec.cmd.cmdline as string[], cwd: '/var/vec', env: exec.cmd.env as Record<string, string> }), flags: FOREGROUND_FLAGS, local_flags: 0 };
      expect(JSON.stringify(ours)).toBe(reqs[0]!.payload_text);

      // the captured requests as flux-core sent them (the cwd made one that exists here), on a bare connection
      exec.cmd.cwd = tmpdir();
      const conn = await LocalClient.connect(parseLocalUri(inst.uri));
      const got: Message[] = [];
      const ended = new Promise<void>((resolve) => {
        conn.onMessage = (m) => {
          got.push(m);
          if (got.length === 1) {
            for (const w of reqs.slice(1)) {
              conn.send(makeRequest('rexec.write', Buffer.from(`${w.payload_text!}\0`), { nodeid: w.aux1, flags: w.flags_code & FLAG_NORESPONSE }));
            }
          }
          if (m.aux1 !== 0) resolve();
        };
      });
      conn.send(makeRequest('rexec.exec', jsonPayload(exec), { nodeid: reqs[0]!.aux1, matchtag: 1, flags: FLAG_STREAMING }));
      await ended;
      conn.close();
      const pid = Number(payloadJson(got[0]!).pid);
      const norm = (t: string) => t.replace(/"pid":\d+/, `"pid":${pid}`);
      const text = (m: { payload?: Buffer }) => (m.payload ? m.payload.toString('utf8', 0, m.payload.length - 1) : null);
      // the order of output and finished depends on timing (vectors/README.md): compared as sets, ends apart
      expect(got.slice(0, -1).map((m) => text(m)!).sort()).toEqual(want.slice(0, -1).map((m) => norm(m.payload_text!)).sort());
      expect(payloadJson(got[0]!).type).toBe('started');
      expect(payloadJson(got[got.length - 2]!).type).toBe('finished');
      for (const [g, w] of got.map((m, i) => [m, want[i]!] as const)) {
        expect([g.type, g.flags, g.aux2]).toEqual([w.type_code, w.flags_code, w.aux2]);
      }
      const last = got[got.length - 1]!;
      expect([last.aux1, last.payload]).toEqual([ENODATA, undefined]);
    }
  });

  it('refuses what RFC 42 does not allow, without harm to the broker', async () => {
    await expect(h.call('rexec.exec', { cmd: { cmdline: [] }, flags: 0 }, { nodeid: 1 })).rejects.toMatchObject({ errno: 71 });
    await expect(h.call('rexec.exec', { cmd: { cmdline: ['true'], channels: ['FD'] }, flags: 0 }, { nodeid: 1 })).rejects.toMatchObject({ errno: 95 });
    await expect(h.call('rexec.kill', { signum: 9 }, { nodeid: 1 })).rejects.toMatchObject({ errno: 71 });
    await expect(h.call('rexec.kill', { pid: 1, signum: 9 }, { nodeid: 1 })).rejects.toMatchObject({ errno: 3 });
    await expect(h.call('rexec.record', { topic: 'rexec.started', payload: { rank: 0 } }, { nodeid: 0 })).rejects.toMatchObject({ errno: 71 });
    expect((await inst.flux(['exec', '-r', '1', 'true'])).code).toBe(0);
  });
});

describe('unreachable ranks', () => {
  it('exit 68 with the rank named, and the reachable ranks still run', async () => {
    const inst = await startInstance(4, ['-S', 'tbon.torpid_max=2s']);
    try {
      const h3 = await Flux.open(inst.uri.replace(/local-0$/, 'local-3'));
      const pid = Number((await h3.call('attr.get', { name: 'broker.pid' })).value);
      // its socket answers before it has joined: killed before it tells the launcher it started, it would be a
      // failed start, which ends the whole instance, not an unreachable rank
      await until('rank 3 to run', async () => (await h3.call('state-machine.get')).state === 'run' || undefined, 10_000);
      h3.close();
      process.kill(pid, 'SIGKILL');
      // what the last try gave, for the report should the rank never become unreachable
      let last: unknown;
      const r = await until('rank 3 to be unreachable', async () => {
        const x = await inst.flux(['exec', '-r', 'all', 'true']);
        last = x;
        return x.code === 68 ? x : undefined;
      }, 20_000).catch((err: Error) => {
        throw new Error(`${err.message}; the last try gave ${JSON.stringify(last)}; the instance printed ${JSON.stringify(inst.stderr())}`);
      });
      expect(r.stderr).toBe('flux-exec: Error: rank 3: true: No route to host\n');
      const ok = await inst.flux(['exec', '-r', '0-2', 'true']);
      expect(ok.code).toBe(0);
    } finally {
      await inst.stop();
    }
  });
});

describe('restart with a statedir', () => {
  it('keeps the process history, including what a clean shutdown killed', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-state-'));
    try {
      const a = await run(['start', '-S', `statedir=${state}`, '--size', '4', 'sh', '-c',
        `flux exec -r all true && flux exec --bg -r 2 sleep ${sleeper(50)}`]);
      expect(a.code).toBe(0);
      const b = await run(['start', '-S', `statedir=${state}`, '--size', '4', 'flux', 'ps', '-a', '--json']);
      expect(b.code).toBe(0);
      const rows = psRows(b);
      expect(rows.filter((x) => x.cmd[0] === 'true').map((x) => [x.rank, x.state, x.status])).toEqual([
        [0, 'exited', 0], [1, 'exited', 0], [2, 'exited', 0], [3, 'exited', 0],
      ]);
      expect(rows.filter((x) => x.cmd[0] === 'sleep').map((x) => [x.rank, x.state, x.status])).toEqual([[2, 'exited', 9]]);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it('marks processes of a crashed run lost', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-state-'));
    let orphan: number | undefined;
    try {
      const a = await run(['start', '-S', `statedir=${state}`, '--size', '1', 'sh', '-c',
        `flux exec -v --bg sleep ${sleeper(60)} && kill -9 $(flux getattr broker.pid)`]);
      const m = /started pid (\d+)/.exec(a.stderr);
      expect(m).not.toBeNull();
      orphan = Number(m![1]);
      const b = await run(['start', '-S', `statedir=${state}`, '--size', '1', 'flux', 'ps', '-a', '--json']);
      expect(b.code).toBe(0);
      expect(psRows(b).map((x) => [x.pid, x.state])).toEqual([[orphan, 'lost']]);
    } finally {
      // a broker killed with SIGKILL cannot take its processes with it
      if (orphan !== undefined) {
        try {
          process.kill(-orphan, 'SIGKILL');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
      rmSync(state, { recursive: true, force: true });
    }
  });
});
