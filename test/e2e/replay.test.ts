// flux replay against a statedir a real instance wrote: the timeline, past states equal to what the running
// instance answered, the stepper, verify, and a statedir left exactly as it was.
import { describe, it, expect, beforeAll } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { run, startInstance, type Instance } from '../helpers/instance.js';
import { scratchDir } from '../helpers/scratch-dir.js';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

/** what a statedir holds: names, sizes, mtimes and hashes of its files */
function fingerprint(dir: string): string[] {
  return readdirSync(dir).sort().map((f) => {
    const st = statSync(join(dir, f));
    return `${f} ${st.size} ${st.mtimeMs} ${sha(join(dir, f))}`;
  });
}

describe('flux replay', () => {
  const scratch = scratchDir('flux-replay-state-');
  /** journal seq -> `flux kvs dir -R --at-version` output, as the running instance printed it */
  const dirAt = new Map<number, string>();
  /** journal seq -> `flux kvs get --at-version a` */
  const aAt = new Map<number, string>();
  let psAll = '';
  let cronAt = '';
  let cronSeq = 0;
  let head = 0;
  let eventSeq = 0;
  const replay = (args: string[], input?: string) => run(['replay', scratch.path, ...args], { input, env: { COLUMNS: '80' } });

  beforeAll(async () => {
    // a checkpoint (with a snapshot) every few entries, so that --to starts from one
    const inst: Instance = await startInstance(1, ['-S', `statedir=${scratch.path}`, '-S', 'journal.checkpoint-entries=4']);
    const flux = inst.flux;
    const headSeq = async () => Number(/seq=(\d+)/.exec((await flux(['journal', 'head'])).stdout)![1]);
    const record = async () => {
      const seq = await headSeq();
      const v = (await flux(['kvs', 'version'])).stdout.trim();
      const d = await flux(['kvs', 'dir', '-R', '--at-version', v], { env: { COLUMNS: '80' } });
      expect(d.code).toBe(0);
      dirAt.set(seq, d.stdout);
      aAt.set(seq, (await flux(['kvs', 'get', '--at-version', v, 'a'])).stdout);
    };
    const steps: string[][] = [
      ['kvs', 'put', 'a=1', 'b.c=2'],
      ['kvs', 'put', 'a=3', 'd=hello'],
      ['kvs', 'link', 'a', 'l'],
      ['kvs', 'mkdir', 'e'],
      ['kvs', 'put', `big=${'x'.repeat(300)}`],
      ['kvs', 'unlink', 'b.c'],
      ['kvs', 'put', 'a=4'],
    ];
    for (const s of steps) {
      expect((await flux(s)).code).toBe(0);
      await record();
    }
    expect((await flux(['event', 'pub', 'foo.bar', '{"x":1}'])).code).toBe(0);
    eventSeq = await headSeq();
    expect((await flux(['exec', '-r', '0', 'true'])).code).toBe(0);
    expect((await flux(['kvs', 'put', 'a=5'])).code).toBe(0);
    await record();
    psAll = (await flux(['ps', '-a'])).stdout;
    expect((await flux(['cron', 'interval', '1h', 'true'])).code).toBe(0);
    expect((await flux(['cron', 'stop', '1'])).code).toBe(0);
    cronSeq = await headSeq();
    cronAt = (await flux(['cron', 'list', '--at-seq', String(cronSeq)])).stdout;
    head = await headSeq();
    // a replay while the instance holds the store is refused, and changes nothing
    const busy = await run(['replay', scratch.path]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/in use by a running instance/);
    expect(await inst.stop()).toBe(0);
  }, 120_000);

  it('prints the timeline, every entry once, and --from/--to cut it', async () => {
    const all = await replay([]);
    expect(all.code).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+TIME\s+TOPIC\s+SUMMARY$/);
    expect(lines.slice(1).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(all.stdout).toMatch(/kvs\.namespace-primary-setroot\s+primary version 1: a, b\.c/);
    expect(all.stdout).toMatch(/foo\.bar\s+\{"x":1\}/);
    expect(all.stdout).toMatch(/rexec\.started\s+rank 0 pid \d+ started: true/);
    const json = await replay(['--json', '--from', '2', '--at-seq', '4']);
    const rows = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; time: number; topic: string; ref: string });
    expect(rows.map((r) => r.seq)).toEqual([2, 3, 4]);
    expect(rows[0]!.ref).toMatch(/^sha256-[0-9a-f]{64}$/);
  });

  it('--show kvs after N prints what flux kvs dir -R --at-version printed live, at every version', async () => {
    expect(dirAt.size).toBe(8);
    for (const [seq, text] of dirAt) {
      const r = await replay(['--at-seq', String(seq), '--show', 'kvs']);
      expect({ seq, ...r }).toMatchObject({ seq, code: 0, stdout: text, stderr: '' });
      const j = await replay(['--at-seq', String(seq), '--show', 'kvs', '--json']);
      const keys = (JSON.parse(j.stdout) as { keys: Record<string, unknown> }).keys;
      expect(`${String(keys.a)}\n`).toBe(aAt.get(seq));
    }
  });

  it('--show ps equals flux ps -a at the end, and is empty before the process ran', async () => {
    expect(await replay(['--show', 'ps', '-a'])).toMatchObject({ code: 0, stdout: psAll });
    const before = await replay(['--at-seq', String(eventSeq), '--show', 'ps', '-a', '--json']);
    expect(before).toMatchObject({ code: 0, stdout: '' });
  });

  it('--show cron prints the cron table as flux cron list --at-seq printed it live', async () => {
    const r = await replay(['--at-seq', String(cronSeq), '--show', 'cron']);
    expect(r).toMatchObject({ code: 0, stdout: cronAt });
    expect(r.stdout).toMatch(/^ +ID CMD\/NAME .*\n +1 true +Stopped /);
    const j = await replay(['--at-seq', String(cronSeq), '--show', 'cron', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ id: 1, stopped: true, typedata: { interval: 3600 } });
  });

  it('--show events prints event lines up to N', async () => {
    const r = await replay(['--at-seq', String(eventSeq), '--from', String(eventSeq), '--show', 'events']);
    expect(r).toMatchObject({ code: 0, stdout: 'foo.bar\t{"x":1}\n' });
  });

  it('--at-time stops after the last entry at or before the time, ISO or epoch; --to and --to-time say they were renamed', async () => {
    const rows = (await replay(['--json'])).stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; time: number });
    const t = rows[2]!.time;
    const iso = await replay(['--at-time', new Date(Math.floor(t * 1000)).toISOString(), '--json']);
    const last = (s: string) => JSON.parse(s.trimEnd().split('\n').pop()!) as { seq: number };
    // ISO has millisecond precision: the entry whose time is within the millisecond may fall just after it
    expect(last(iso.stdout).seq).toBeLessThanOrEqual(3);
    expect(last((await replay(['--at-time', String(t), '--json'])).stdout).seq).toBe(3);
    expect(await replay(['--to-time', String(t)])).toMatchObject({ code: 1, stderr: 'flux-replay: --to-time has been renamed --at-time\n' });
    expect(await replay(['--to', '3'])).toMatchObject({ code: 1, stderr: 'flux-replay: --to has been renamed --at-seq\n' });
    expect((await replay(['--at-time', 'yesterday-ish'])).stderr).toMatch(/neither ISO-8601 nor seconds/);
  });

  it('--step reads commands from stdin: next, back, jump, find, print, show', async () => {
    const r = await replay(['--step'], 'next\nnext\nshow\nprint a\nback\nprint a\njump 3\nprint l\nfind foo\nshow\nquit\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('at seq 0, before the first entry');
    expect(lines[1]).toMatch(/^\s*1 .*primary version 1/);
    expect(lines[2]).toMatch(/^\s*2 .*primary version 2/);
    expect(lines.slice(3, 5)).toEqual(['a: 1 -> 3', 'd: (none) -> hello']);
    expect(lines[5]).toBe('3');
    expect(lines[6]).toMatch(/^\s*1 /);
    expect(lines[7]).toBe('1');
    expect(lines[8]).toMatch(/^\s*3 /);
    expect(lines[9]).toBe('3');
    expect(lines[10]).toMatch(new RegExp(`^\\s*${eventSeq} .*foo\\.bar`));
    expect(r.stdout).toMatch(/"topic": "foo.bar"/);
    // a mistyped command is said and the session goes on to the end: only the exit status tells a script
    const bad = await replay(['--step'], 'print nosuch\nfly\njump x\nnext\nprint a\nquit\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe([
      'flux-replay: print nosuch: No such file or directory',
      'flux-replay: fly: unknown command "fly": next [N] | back [N] | jump SEQ | find TOPIC | print KEY | show | help | quit',
      'flux-replay: jump x: jump: expected a non-negative integer, not "x"',
      '',
    ].join('\n'));
    expect(bad.stdout.trimEnd().split('\n').slice(1)).toEqual([expect.stringMatching(/^\s*1 .*primary version 1/), '1']);
  });

  it('--verify recomputes every KVS root and checks the chain and signatures', async () => {
    const r = await replay(['--verify']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^replay: ${head} entries verified, chain intact, 8 KVS roots recomputed, \\d+ checkpoint signatures good`));
    const j = JSON.parse((await replay(['--verify', '--json'])).stdout) as { ok: boolean; roots: number; checked: number };
    expect(j).toMatchObject({ ok: true, roots: 8, checked: head });
  });

  it('reads the content.sqlite file as well as the statedir, and leaves both as they were', async () => {
    const before = fingerprint(scratch.path);
    expect((await run(['replay', join(scratch.path, 'content.sqlite'), '--show', 'kvs', '--at-seq', '2'])).code).toBe(0);
    expect((await replay(['--verify'])).code).toBe(0);
    expect(fingerprint(scratch.path)).toEqual(before);
    expect((await run(['replay', join(scratch.path, 'nothing-here')])).stderr).toMatch(/^flux-replay: .*no such statedir/);
  });

  it('refuses --at-seq past the head, and an unknown --show', async () => {
    expect((await replay(['--at-seq', String(head + 1), '--show', 'kvs'])).stderr).toMatch(/ends at seq/);
    expect((await replay(['--show', 'nothing'])).stderr).toMatch(/--show nothing: expected one of kvs, ps, events/);
  });
});
