// KVS history on real instances: --at-version and --at-time lookups, `flux kvs history` and `flux kvs diff`,
// on rank 0 and through rank 1, and across a restart from a statedir.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { run, startInstance, type Instance } from '../helpers/instance.js';

const ok = (stdout = '') => ({ code: 0, stdout, stderr: '' });

describe('history', () => {
  let inst: Instance;
  let flux: Instance['flux'];
  const onRank1 = () => ({ env: { FLUX_URI: `local://${inst.rundir}/local-1` } });
  const version = async () => Number((await flux(['kvs', 'version'])).stdout);
  /** versions: after a=1, after a=2, after b.c=3, after unlinking a */
  const v: number[] = [];
  /** the journal seq each of those changes is at */
  const seqs: number[] = [];
  const head = async () => Number(/seq=(\d+)/.exec((await flux(['journal', 'head'])).stdout)![1]);

  beforeAll(async () => {
    inst = await startInstance(2);
    flux = inst.flux;
    expect(await flux(['kvs', 'put', 'a=1'])).toMatchObject(ok());
    v.push(await version());
    seqs.push(await head());
    // an entry of another kind between them: journal positions and KVS versions part ways
    expect(await flux(['event', 'pub', 'app.between'])).toMatchObject(ok());
    expect(await flux(['kvs', 'put', 'a=2'])).toMatchObject(ok());
    v.push(await version());
    seqs.push(await head());
    const b = await flux(['kvs', 'put', '-b', 'b.c=3']);
    expect(b.code).toBe(0);
    v.push(await version());
    seqs.push(await head());
    expect(await flux(['kvs', 'unlink', 'a'])).toMatchObject(ok());
    v.push(await version());
    seqs.push(await head());
  });
  afterAll(async () => {
    await inst?.stop();
  });

  it('gets each old value with --at-version, on dir, ls and readlink too', async () => {
    expect(v).toEqual([...v].sort((x, y) => x - y));
    expect(await flux(['kvs', 'get', '--at-version', String(v[0]), 'a'])).toMatchObject(ok('1\n'));
    expect(await flux(['kvs', 'get', '--at-version', String(v[1]), 'a'])).toMatchObject(ok('2\n'));
    expect(await flux(['kvs', 'get', '--at-version', String(v[1]), 'a'], onRank1())).toMatchObject(ok('2\n'));
    const gone = await flux(['kvs', 'get', '--at-version', String(v[1]), 'b.c']);
    expect(gone).toMatchObject({ code: 1, stderr: 'flux-kvs: b.c: No such file or directory\n' });
    expect(await flux(['kvs', 'get', '--at-version', String(v[2]), 'a', 'b.c'])).toMatchObject(ok('2\n3\n'));
    expect(await flux(['kvs', 'dir', '-R', '--at-version', String(v[2])])).toMatchObject(ok('a = 2\nb.c = 3\n'));
    expect(await flux(['kvs', 'ls', '-1', '--at-version', String(v[2])])).toMatchObject(ok('a\nb\n'));
    expect(await flux(['kvs', 'ls', '-1'])).toMatchObject(ok('b\n'));
    expect(await flux(['kvs', 'link', 'b.c', 'l'])).toMatchObject(ok());
    const linked = await version();
    expect(await flux(['kvs', 'readlink', '--at-version', String(linked), 'l'])).toMatchObject(ok('b.c\n'));
    expect((await flux(['kvs', 'readlink', '--at-version', String(v[3]), 'l'])).code).toBe(1);
    expect(await flux(['kvs', 'unlink', 'l'])).toMatchObject(ok());
  });

  it('gets each old value by journal position with --at-seq: the root after that entry', async () => {
    expect(seqs[1]! - seqs[0]!).toBeGreaterThan(v[1]! - v[0]!);
    expect(await flux(['kvs', 'get', '--at-seq', String(seqs[0]), 'a'])).toMatchObject(ok('1\n'));
    // the event after a=1 leaves the KVS as it was
    expect(await flux(['kvs', 'get', '--at-seq', String(seqs[0]! + 1), 'a'])).toMatchObject(ok('1\n'));
    expect(await flux(['kvs', 'get', '--at-seq', String(seqs[1]), 'a'], onRank1())).toMatchObject(ok('2\n'));
    expect(await flux(['kvs', 'dir', '-R', '--at-seq', String(seqs[2])])).toMatchObject(ok('a = 2\nb.c = 3\n'));
    expect((await flux(['kvs', 'get', '--at-seq', String(seqs[3]), 'a'])).code).toBe(1);
    // before the first change primary is its empty root
    expect(await flux(['kvs', 'get', '--at-seq', '0', 'a'])).toMatchObject({ code: 1, stderr: 'flux-kvs: a: No such file or directory\n' });
    expect(await flux(['kvs', 'get', '--at-seq', '999999', 'a'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^flux-kvs: --at-seq 999999: the journal ends at \d+\n$/) });
    expect((await flux(['kvs', 'get', '--at-seq', '1', '--at-version', '1', 'a'])).stderr).toBe('flux-kvs: specify at most one of --at, --at-version, --at-seq and --at-time\n');
  });

  it('lists every version of a key in order, with (deleted) after an unlink', async () => {
    const text = await flux(['kvs', 'history', 'a']);
    expect(text.code).toBe(0);
    const rows = text.stdout.trimEnd().split('\n').map((l) => l.split('  '));
    expect(rows.map((r) => [Number(r[0]), r[2]])).toEqual([[v[0], '1'], [v[1], '2'], [v[3], '(deleted)']]);
    for (const r of rows) expect(r[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const json = await flux(['kvs', 'history', 'a', '--json'], onRank1());
    expect(json.code).toBe(0);
    const objs = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { rootseq: number; time: string; value: string | null });
    expect(objs.map((o) => [o.rootseq, o.value])).toEqual([[v[0], '1'], [v[1], '2'], [v[3], null]]);
    expect(objs.map((o) => o.time)).toEqual(rows.map((r) => r[1]));
    const last = await flux(['kvs', 'history', 'a', '--json', '--limit', '2']);
    expect(last.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { rootseq: number }).rootseq)).toEqual([v[1], v[3]]);
    // a write to a directory shows in the history of the directory and of the keys under it
    const dir = await flux(['kvs', 'history', 'b']);
    expect(dir.stdout.split('\n')[0]).toMatch(new RegExp(`^${v[2]}  \\S+  \\(directory\\)$`));
    expect((await flux(['kvs', 'history', 'b.c'])).stdout).toMatch(new RegExp(`^${v[2]}  \\S+  3\\n`));
  });

  it('shows a big value (stored as a valref) and a link in a history', async () => {
    const big = 'b'.repeat(200);
    expect(await flux(['kvs', 'put', `hv=${big}`])).toMatchObject(ok());
    expect(await flux(['kvs', 'link', 'a', 'hv'])).toMatchObject(ok());
    const rows = (await flux(['kvs', 'history', 'hv'], onRank1())).stdout.trimEnd().split('\n').map((l) => l.split('  ')[2]);
    expect(rows).toEqual([big, '-> a']);
  });

  it('looks up with --at-time, from the times history prints (ISO-8601 or epoch seconds)', async () => {
    const objs = (await flux(['kvs', 'history', 'a', '--json'])).stdout.trimEnd().split('\n')
      .map((l) => JSON.parse(l) as { rootseq: number; time: string; value: string | null });
    for (const o of objs.slice(0, 2)) {
      const got = await flux(['kvs', 'get', '--at-time', o.time, 'a']);
      // two versions may share a millisecond: the time then names the later one
      if (objs.filter((x) => x.time === o.time).length === 1) expect(got).toMatchObject(ok(`${o.value}\n`));
      expect(got.code).toBe(0);
    }
    const epoch = String(Date.parse(objs[1]!.time) / 1000 + 0.0005);
    expect((await flux(['kvs', 'get', '--at-time', epoch, 'a'], onRank1())).code).toBe(0);
    expect(await flux(['kvs', 'get', '--at-time', String(Date.now() / 1000 + 3600), 'b.c'])).toMatchObject(ok('3\n'));
    const early = await flux(['kvs', 'get', '--at-time', '1970-01-02T00:00:00Z', 'a']);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/^flux-kvs: --at-time 1970-01-02T00:00:00Z: namespace primary has no recorded version/);
    expect(await flux(['kvs', 'get', '--at-time', 'yesterday', 'a'])).toMatchObject({
      code: 1, stderr: "flux-kvs: invalid time 'yesterday': expected ISO-8601 or seconds since the epoch\n",
    });
  });

  it('diffs two versions: added, changed and removed keys, under a prefix', async () => {
    expect(await flux(['kvs', 'diff', String(v[0]), String(v[2])])).toMatchObject(ok('~ a: 1 -> 2\n+ b.c = 3\n'));
    expect(await flux(['kvs', 'diff', String(v[2]), String(v[3])], onRank1())).toMatchObject(ok('- a = 2\n'));
    expect(await flux(['kvs', 'diff', String(v[3]), String(v[0])])).toMatchObject(ok('+ a = 1\n- b.c = 3\n'));
    expect(await flux(['kvs', 'diff', String(v[0]), String(v[3]), 'b'])).toMatchObject(ok('+ b.c = 3\n'));
    expect(await flux(['kvs', 'diff', String(v[1]), String(v[1])])).toMatchObject(ok(''));
  });

  it('refuses a version never recorded, with a message', async () => {
    const r = await flux(['kvs', 'get', '--at-version', '999999', 'a']);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: 'flux-kvs: version 999999 of namespace primary is not in the KVS history\n' });
    expect((await flux(['kvs', 'diff', '1', '999999'])).code).toBe(1);
    expect((await flux(['kvs', 'get', '--at-version', 'x', 'a'])).stderr).toBe("flux-kvs: invalid version 'x': expected a root sequence number\n");
    expect((await flux(['kvs', 'get', '--at-version', '1', '-a', '{}', 'a'])).code).toBe(1);
    // a key that never had a value has no history: it is missing, as get says
    expect(await flux(['kvs', 'history', 'nosuchkey'])).toMatchObject({ code: 1, stdout: '', stderr: 'flux-kvs: nosuchkey: No such file or directory\n' });
  });

  it('keeps the history in another namespace (-N)', async () => {
    expect(await flux(['kvs', 'namespace', 'create', 'other'])).toMatchObject(ok());
    expect(await flux(['kvs', 'put', '-N', 'other', 'x=old'])).toMatchObject(ok());
    const first = Number((await flux(['kvs', 'version', '-N', 'other'])).stdout);
    expect(await flux(['kvs', 'put', '-N', 'other', 'x=new'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', '-N', 'other', '--at-version', String(first), 'x'])).toMatchObject(ok('old\n'));
    const h = await flux(['kvs', 'history', '-N', 'other', 'x']);
    expect(h.stdout.trimEnd().split('\n').map((l) => l.split('  ')[2])).toEqual(['old', 'new']);
  });
});

describe('history across a restart', () => {
  it('keeps every version, and versions go on rising', async () => {
    const state = mkdtempSync(join(tmpdir(), 'flux-kvs-history-'));
    try {
      const first = await run(['start', '-S', `statedir=${state}`, '--size', '2', 'sh', '-c',
        'flux kvs put k=one && flux kvs put k=two && flux kvs version']);
      expect(first.code).toBe(0);
      const before = Number(first.stdout.trim());
      const second = await run(['start', '-S', `statedir=${state}`, '--size', '2', 'sh', '-c',
        'flux kvs put k=three && flux kvs version && flux kvs history k']);
      expect(second.code).toBe(0);
      const [after, ...lines] = second.stdout.trimEnd().split('\n');
      expect(Number(after)).toBeGreaterThan(before);
      const rows = lines.map((l) => l.split('  '));
      expect(rows.map((r) => r[2])).toEqual(['one', 'two', 'three']);
      const seqs = rows.map((r) => Number(r[0]));
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(seqs[1]).toBe(before);
      expect(seqs[2]).toBe(Number(after));
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 60_000);

  it('finds the versions whose keys were moved to the key index and those not yet moved, after a kill -9', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flux-kvs-history-'));
    const state = join(dir, 'state');
    const keyRows = (table: string) => {
      const db = new Database(join(state, 'content.sqlite'), { readonly: true });
      try {
        return (db.prepare(`SELECT rootseq FROM ${table} WHERE key = 'k' ORDER BY rootseq`).pluck().all() as number[]);
      } finally {
        db.close();
      }
    };
    /** each row of a history: [version, value] */
    const history = (r: { stdout: string }) => r.stdout.trimEnd().split('\n').map((l) => l.split('  ')).map((f) => [Number(f[0]), f[2]]);
    try {
      const inst = await startInstance(1, ['-S', `statedir=${state}`]);
      try {
        const pid = Number((await inst.flux(['getattr', 'broker.pid'])).stdout);
        expect((await inst.flux(['kvs', 'put', 'k=one'])).code).toBe(0);
        expect((await inst.flux(['kvs', 'put', 'k=two'])).code).toBe(0);
        // the keys of these two move to kvs_key within a fraction of a second; a history asked meanwhile has them
        // wherever they are
        expect(history(await inst.flux(['kvs', 'history', 'k'])).map((r) => r[1])).toEqual(['one', 'two']);
        await new Promise((r) => setTimeout(r, 1000));
        expect((await inst.flux(['kvs', 'put', 'k=three'])).code).toBe(0);
        process.kill(pid, 'SIGKILL');
      } finally {
        await inst.stop();
        rmSync(inst.rundir, { recursive: true, force: true });
      }
      const past = await run(['start', '--replay', state, 'flux', 'kvs', 'history', 'k']);
      expect(past.code, past.stderr).toBe(0);
      const rows = history(past);
      expect(rows.map((r) => r[1])).toEqual(['one', 'two', 'three']);
      const versions = rows.map((r) => r[0]);
      expect(keyRows('kvs_key')).toEqual(versions.slice(0, 2));
      expect(keyRows('kvs_key_recent')).toEqual(versions.slice(2));
      const again = await run(['start', '-S', `statedir=${state}`, 'flux', 'kvs', 'history', 'k']);
      expect(history(again)).toEqual(rows);
      // the broker moves what the killed one left
      expect(keyRows('kvs_key')).toEqual(versions);
      expect(keyRows('kvs_key_recent')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
