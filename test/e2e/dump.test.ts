// flux dump, flux restore, flux fsck, checkpoints and restarting from an older one, on real instances.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { FLUX, run, startInstance, type Instance } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { blobrefOf, digestOf } from '../../src/core/content/blobref.js';
import { type TreeObj, symlink, val } from '../../src/core/kvs/treeobj.js';

const LOOKUP_READLINK = 2;
const LOOKUP_TREEOBJ = 16;
const OP_APPEND = 32;

/** what the instance holds: key -> bytes (values) or link target (links, as the archive writes them) */
const values: Record<string, Buffer> = {
  'a.b.c': Buffer.from('hello'),
  top: Buffer.from('1'),
  // every byte value, past the inline limit: a valref
  bin: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  big: randomBytes(200_000),
  'deep.x.y.z.w': Buffer.from('deep'),
  'wide.k0': Buffer.from(''),
};
for (let i = 1; i < 300; i++) values[`wide.k${i}`] = Buffer.from(`value ${i}`);
const links: Record<string, string> = { lnk: 'a.b', nslink: 'other::k' };

async function populate(h: Flux): Promise<void> {
  const ops = [
    ...Object.entries(values).map(([key, v]) => ({ key, flags: 0, dirent: val(v) })),
    { key: 'lnk', flags: 0, dirent: symlink('a.b') },
    { key: 'nslink', flags: 0, dirent: symlink('k', 'other') },
    // an empty directory: not in an archive (flux-core's layout stores no directories)
    { key: 'empty', flags: 0, dirent: { ver: 1, type: 'dir', data: {} } },
  ];
  await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops });
}

async function valueAt(h: Flux, key: string): Promise<Buffer> {
  const r = await h.call('kvs.lookup', { key, namespace: 'primary', flags: 0 });
  return Buffer.from((r.val as { data: string }).data, 'base64');
}

async function treeobj(h: Flux, key: string): Promise<TreeObj> {
  return (await h.call('kvs.lookup', { key, namespace: 'primary', flags: LOOKUP_TREEOBJ })).val as TreeObj;
}

/** every value and link under `prefix` matches what populate() stored */
async function expectAll(h: Flux, prefix: string): Promise<void> {
  for (const [k, v] of Object.entries(values)) expect((await valueAt(h, `${prefix}${k}`)).equals(v), k).toBe(true);
  const lnk = (await h.call('kvs.lookup', { key: `${prefix}lnk`, namespace: 'primary', flags: LOOKUP_READLINK })).val;
  expect(lnk).toEqual(symlink('a.b'));
  const ns = (await h.call('kvs.lookup', { key: `${prefix}nslink`, namespace: 'primary', flags: LOOKUP_READLINK })).val;
  expect(ns).toEqual(symlink('k', 'other'));
}

describe('flux dump and flux restore on an instance of size 2', () => {
  let inst: Instance;
  let h: Flux;
  let dir: string;
  const rank1 = () => ({ env: { FLUX_URI: `local://${inst.rundir}/local-1` } });
  /** a command's stdout as bytes (an archive) */
  const bytesOf = (args: string[]) => execFileSync(process.execPath, [FLUX, ...args], { env: { ...process.env, FLUX_URI: inst.uri }, maxBuffer: 64 << 20 });
  beforeAll(async () => {
    inst = await startInstance(2);
    h = await Flux.open(inst.uri);
    await populate(h);
    dir = mkdtempSync(join(tmpdir(), 'flux-dump-'));
  });
  afterAll(async () => {
    h?.close();
    await inst?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("writes flux-core's layout: GNU tar lists and extracts every value and link, and no directory", async () => {
    const file = join(dir, 'kvs.tar');
    const r = await inst.flux(['dump', file]);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' }).trim().split('\n');
    const ids = `${process.getuid!()}/${process.getgid!()}`;
    const paths = listing.map((l) => l.replace(/^.* \d\d:\d\d /, ''));
    expect(paths).toEqual([
      'a/b/c', 'big', 'bin', 'deep/x/y/z/w', 'lnk -> a.b', 'nslink -> other::k',
      'top', ...Object.keys(values).filter((k) => k.startsWith('wide.')).sort().map((k) => k.replace('.', '/')),
    ]);
    expect(listing[0]).toMatch(new RegExp(`^-rw-r--r-- ${ids}\\s+5 `));
    expect(listing[1]).toMatch(new RegExp(`^-rw-r--r-- ${ids}\\s+200000 `));
    expect(listing[4]).toMatch(/^lrwxrwxrwx /);
    const out = join(dir, 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xf', file, '-C', out]);
    for (const [k, v] of Object.entries(values)) expect(readFileSync(join(out, ...k.split('.'))).equals(v), k).toBe(true);
    expect(readlinkSync(join(out, 'nslink'))).toBe('other::k');
    // -v names each key on stderr; - writes the tar on stdout
    const v = await inst.flux(['dump', '-v', join(dir, 'v.tar')]);
    expect(v.stderr.split('\n')).toContain('deep.x.y.z.w');
    const piped = bytesOf(['dump', '-']);
    expect(piped.length % 10240).toBe(0);
    expect(execFileSync('tar', ['-tf', '-'], { input: piped, encoding: 'utf8' })).toBe(execFileSync('tar', ['-tf', file], { encoding: 'utf8' }));
    // and - reads one from stdin
    execFileSync(process.execPath, [FLUX, 'restore', '-q', '--key=piped', '-'], { input: piped, env: { ...process.env, FLUX_URI: inst.uri } });
    await expectAll(h, 'piped.');
    // on a terminal, a progress line on stderr that ends with the count
    const tty = execFileSync('script', ['-qec', `${process.execPath} ${FLUX} dump ${join(dir, 'tty.tar')}`, '/dev/null'],
      { env: { ...process.env, FLUX_URI: inst.uri }, encoding: 'utf8' });
    const count = execFileSync('tar', ['-tf', join(dir, 'tty.tar')], { encoding: 'utf8' }).trim().split('\n').length;
    expect(tty).toMatch(new RegExp(`^(\\rflux-dump: archived \\d+ keys)*\\rflux-dump: archived ${count} keys\\r?\\n$`));
  });

  it('round-trips every key, link and value through a gzipped archive (restored through rank 1)', async () => {
    const file = join(dir, 'kvs.tgz');
    expect((await inst.flux(['dump', '-q', file])).code).toBe(0);
    expect(readFileSync(file).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(true);
    const r = await inst.flux(['restore', '-q', '--key=copy', file], rank1());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    await expectAll(h, 'copy.');
    // the same objects, not just the same values: the restored subtrees are the very ones committed
    expect(await treeobj(h, 'copy.a')).toEqual(await treeobj(h, 'a'));
    expect(await treeobj(h, 'copy.wide')).toEqual(await treeobj(h, 'wide'));
    expect(await treeobj(h, 'copy.big')).toEqual(await treeobj(h, 'big'));
  });

  it('restore --checkpoint replaces the primary root as a new version; the versions before stay readable', async () => {
    const file = join(dir, 'before.tar');
    // an appended value (two blobs) comes back as one value with the same bytes
    await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'log', flags: 0, dirent: val(Buffer.from('one\n')) }] });
    await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'log', flags: OP_APPEND, dirent: val(Buffer.from('two\n')) }] });
    expect((await inst.flux(['dump', '-q', file])).code).toBe(0);
    await h.call('kvs.commit', {
      namespace: 'primary', flags: 0,
      ops: [{ key: 'top', flags: 0, dirent: val(Buffer.from('2')) }, { key: 'a', flags: 0, dirent: null }, { key: 'added', flags: 0, dirent: val(Buffer.from('x')) }],
    });
    const changed = Number((await inst.flux(['kvs', 'version'])).stdout);
    const r = await inst.flux(['restore', '--checkpoint', file]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const now = Number((await inst.flux(['kvs', 'version'])).stdout);
    expect(now).toBe(changed + 1);
    await expectAll(h, '');
    expect((await valueAt(h, 'log')).toString()).toBe('one\ntwo\n');
    expect((await inst.flux(['kvs', 'get', 'added'])).code).toBe(1);
    // history is kept: the version before the restore still reads as it was
    expect((await inst.flux(['kvs', 'get', '--at-version', String(changed), 'top'])).stdout).toBe('2\n');
    expect((await inst.flux(['kvs', 'history', 'top'])).code).toBe(0);
    // the restore was a SYNC commit: flux-core's checkpoint names the new root and version
    const cps = (await inst.flux(['content', 'checkpoint', 'list', '-j'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const root = await h.call('kvs.getroot', { namespace: 'primary' });
    expect(cps[0]).toMatchObject({ version: 1, rootref: root.rootref, sequence: now });
    // and what --checkpoint dumps is that tree
    const again = bytesOf(['dump', '--checkpoint', '-']);
    const before = execFileSync('tar', ['-tf', file], { encoding: 'utf8' });
    const after = execFileSync('tar', ['-tf', '-'], { input: again, encoding: 'utf8' });
    expect(after).toBe(before);
  });

  it("restores an archive GNU tar made in flux-core's layout, long paths and links included", async () => {
    const src = join(dir, 'gnu');
    const long = Array.from({ length: 30 }, (_, i) => `level${i}`);
    mkdirSync(join(src, ...long), { recursive: true });
    mkdirSync(join(src, 'job', '0000'), { recursive: true });
    writeFileSync(join(src, 'job', '0000', 'eventlog'), '{"timestamp":1,"name":"submit"}\n');
    writeFileSync(join(src, ...long, 'leaf'), values.bin!);
    writeFileSync(join(src, 'big'), values.big!);
    symlinkSync('job.0000', join(src, 'jl'));
    symlinkSync('ns::a.b', join(src, 'nsl'));
    const file = join(dir, 'gnu.tgz');
    execFileSync('tar', ['-czf', file, '-C', src, '.']);
    const r = await inst.flux(['restore', '-q', '--key=g', file]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect((await valueAt(h, 'g.job.0000.eventlog')).toString()).toBe('{"timestamp":1,"name":"submit"}\n');
    expect((await valueAt(h, `g.${long.join('.')}.leaf`)).equals(values.bin!)).toBe(true);
    expect((await valueAt(h, 'g.big')).equals(values.big!)).toBe(true);
    expect((await inst.flux(['kvs', 'readlink', 'g.jl', 'g.nsl'])).stdout).toBe('job.0000\nns::a.b\n');
  });

  it('--size-limit skips larger values with a warning; errors are reported as flux-restore: and flux-dump:', async () => {
    const file = join(dir, 'kvs.tar');
    const r = await inst.flux(['restore', '--key=limited', '--size-limit=1k', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^flux-restore: big: skipped, its 200000 bytes exceed the size limit of 1024$/m);
    expect((await inst.flux(['kvs', 'get', 'limited.big'])).code).toBe(1);
    expect((await valueAt(h, 'limited.a.b.c')).toString()).toBe('hello');

    expect(await inst.flux(['restore', file])).toMatchObject({
      code: 1, stderr: 'flux-restore: Please specify a restore target with --checkpoint or --key\n',
    });
    expect((await inst.flux(['restore', '--key=x', join(dir, 'nope.tar')])).stderr).toMatch(/^flux-restore: .*no such file/i);
    writeFileSync(join(dir, 'junk.tar'), Buffer.alloc(1024, 0x41));
    expect(await inst.flux(['restore', '--key=x', join(dir, 'junk.tar')])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^flux-restore: not a valid tar archive/) });
    expect(await inst.flux(['dump', join(dir, 'out.zip')])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^flux-dump: .*unknown archive format/) });
  });

  it('as flux-core\'s: usage on stderr without an archive, --maxreqs, --no-cache, and a path that cannot be written', async () => {
    for (const cmd of ['dump', 'restore']) {
      const r = await inst.flux([cmd]);
      expect(r).toMatchObject({ code: 1, stdout: '' });
      expect(r.stderr).toMatch(new RegExp(`^Usage: flux ${cmd} \\[OPTIONS\\] ${cmd === 'dump' ? 'OUTFILE' : 'INFILE'}\\n`));
      expect(r.stderr).toMatch(/^ {6}--maxreqs=N {8}/m);
      expect(r.stderr).toMatch(/^ {6}--no-cache {9}Bypass the broker content cache$/m);
      expect(await inst.flux([cmd, '--maxreqs=0', 'x.tar'])).toMatchObject({ code: 1, stderr: `flux-${cmd}: invalid value for maxreqs\n` });
    }
    const file = join(dir, 'maxreqs.tar');
    expect(await inst.flux(['dump', '-q', '--maxreqs=1', '--no-cache', file])).toMatchObject({ code: 0, stderr: '' });
    expect(await inst.flux(['restore', '-q', '--maxreqs=2', '--no-cache', '--key=maxreqs', file])).toMatchObject({ code: 0, stderr: '' });
    expect((await valueAt(h, 'maxreqs.a.b.c')).toString()).toBe('hello');
    expect(await inst.flux(['dump', '/nonexistent-dir/x.tgz'])).toEqual({
      code: 1, signal: null, stdout: '', stderr: 'flux-dump: /nonexistent-dir/x.tgz: No such file or directory\n',
    });
  });

  it('--no-cache reads the backing store (through rank 1 too); a value that cannot be read fails the dump, or with --ignore-failed-read is left out', async () => {
    const file = join(dir, 'nocache.tar');
    expect((await inst.flux(['dump', '-q', '--no-cache', file], rank1())).code).toBe(0);
    expect(execFileSync('tar', ['-tf', file], { encoding: 'utf8' })).toContain('deep/x/y/z/w\n');
    const nowhere = `sha256-${'ab'.repeat(32)}`;
    await h.call('kvs.commit', {
      namespace: 'primary', flags: 0,
      ops: [{ key: 'broken.v', flags: 0, dirent: { ver: 1, type: 'valref', data: [nowhere] } }, { key: 'broken.w', flags: 0, dirent: val(Buffer.from('fine')) }],
    });
    const failed = await inst.flux(['dump', '-q', join(dir, 'failed.tgz')]);
    expect(failed.code).toBe(1);
    expect(existsSync(join(dir, 'failed.tgz'))).toBe(false);
    expect(failed.stderr).toMatch(new RegExp(`^flux-dump: broken\\.v: ${nowhere}: `));
    const tolerant = await inst.flux(['dump', '-q', '--ignore-failed-read', join(dir, 'broken.tar')]);
    expect(tolerant.code).toBe(0);
    expect(tolerant.stderr).toMatch(new RegExp(`^flux-dump: broken\\.v: ${nowhere}: .*\nflux-dump: 1 keys or directories could not be read and were left out\n$`));
    const names = execFileSync('tar', ['-tf', join(dir, 'broken.tar')], { encoding: 'utf8' }).split('\n');
    expect(names).toContain('broken/w');
    expect(names).not.toContain('broken/v');
    await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'broken', flags: 0, dirent: null }] });
  });

  it('dumps a value of more appended blobs than a valref holds in the store (a chunk tree there) whole, and restores it', async () => {
    const lines = Array.from({ length: 70 }, (_, i) => `line ${i} ${'-'.repeat(i)}\n`);
    for (const l of lines) await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'long.log', flags: OP_APPEND, dirent: val(Buffer.from(l)) }] });
    expect(((await treeobj(h, 'long.log')) as { data: string[] }).data).toHaveLength(70);
    const file = join(dir, 'long.tar');
    expect(await inst.flux(['dump', '-q', file])).toMatchObject({ code: 0, stderr: '' });
    expect(execFileSync('tar', ['-xOf', file, 'long/log'], { encoding: 'utf8' })).toBe(lines.join(''));
    expect(await inst.flux(['restore', '-q', '--key=longcopy', file])).toMatchObject({ code: 0, stderr: '' });
    expect((await valueAt(h, 'longcopy.long.log')).toString()).toBe(lines.join(''));
    await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'long', flags: 0, dirent: null }, { key: 'longcopy', flags: 0, dirent: null }] });
  });
});

describe('checkpoints, restart from an older one, and fsck, on a statedir', () => {
  const made: string[] = [];
  const state = () => {
    made.push(mkdtempSync(join(tmpdir(), 'flux-state-')));
    return join(made[made.length - 1]!, 's');
  };
  afterAll(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });

  it('lists what rank 0 writes (flux-core checkpt_v2 values) and restarts from checkpoint N by a new version', async () => {
    const s = state();
    const start = (...args: string[]) => run(['start', '-S', `statedir=${s}`, ...args], { timeoutMs: 40_000 });
    expect((await start('flux', 'kvs', 'put', 'v=1')).code).toBe(0);
    expect((await start('flux', 'kvs', 'put', 'v=2', 'w=new')).code).toBe(0);
    const list = await start('flux', 'content', 'checkpoint', 'list');
    const rows = list.stdout.trim().split('\n');
    expect(rows[0]).toBe(`${'Index'.padEnd(10)} ${'Sequence'.padEnd(10)} ${'Time'.padEnd(20)} Rootref`);
    expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 2))).toEqual([['0', '2'], ['1', '1']]);
    expect(rows[1]).toMatch(/^0\s+2\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ sha256-[0-9a-f]{64}$/);
    const db = new Database(join(s, 'content.sqlite'), { readonly: true });
    const raw = (db.prepare('SELECT value FROM checkpt_v2 ORDER BY id').pluck().all() as string[]).map((v) => JSON.parse(v));
    db.close();
    expect(Object.keys(raw[0]).sort()).toEqual(['rootref', 'sequence', 'timestamp', 'version']);
    const older = raw[0].rootref as string;

    const r = await start('-S', 'content.restore=1', 'sh', '-c',
      'flux kvs get v; flux kvs version; flux kvs get --at-version 2 w; flux kvs get w 2>&1; flux kvs getroot -b');
    expect(r.stdout).toBe(`1\n3\nnew\nflux-kvs: w: No such file or directory\n${older}\n`);
    const after = await start('flux', 'content', 'checkpoint', 'list', '-n');
    const first = after.stdout.trim().split('\n')[0]!.split(/\s+/);
    expect([first[0], first[1], first[3]]).toEqual(['0', '3', older]);
    // an index that does not exist stops the start with the reason
    const bad = await start('-S', 'content.restore=9', 'true');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/content\.restore=9: there are 3 checkpoints/);
  }, 120_000);

  it('starts from an archive with -S content.restore=PATH, as flux-core does, as a journaled new version', async () => {
    const s = state();
    const file = join(s, '..', 'saved.tgz');
    const made = await run(['start', 'sh', '-c', `flux kvs put a.b=1 big=${'z'.repeat(500)} && flux kvs link a.b l && flux dump -q ${file}`]);
    expect(made.code).toBe(0);
    const r = await run(['start', '-S', `statedir=${s}`, 'sh', '-c', 'flux kvs put old=1'], { timeoutMs: 40_000 });
    expect(r.code).toBe(0);
    const back = await run(['start', '-S', `statedir=${s}`, '-S', `content.restore=${file}`, 'sh', '-c',
      'flux kvs get a.b l; flux kvs get big | wc -c; flux kvs get old 2>&1; flux kvs version; flux kvs get --at-version 1 old'], { timeoutMs: 40_000 });
    expect(back.stdout).toBe('1\n1\n501\nflux-kvs: old: No such file or directory\n2\n1\n');
    const missing = await run(['start', '-S', `statedir=${s}`, '-S', `content.restore=${join(s, 'none.tgz')}`, 'true'], { timeoutMs: 40_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/none\.tgz/);
  }, 120_000);

  it('fsck passes a sound store, and names the keys that reach a deleted or altered object', async () => {
    const s = state();
    // mid: a valref blob too short to compress, so it is stored as is; big: LZ4-compressed
    const mid = Buffer.from('m'.repeat(100));
    const big = Buffer.from('b'.repeat(5000));
    const setup = await run(['start', '-S', `statedir=${s}`, 'sh', '-c',
      `flux kvs put small=x mid=${mid} d.big=${big} && flux kvs put later=y`], { timeoutMs: 40_000 });
    expect(setup.code).toBe(0);
    const ok = await run(['fsck', s]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^\d+ objects under \d+ roots checked: 0 missing, 0 corrupt\n$/);
    const verbose = await run(['fsck', '-v', '-q', s]);
    expect(verbose.stdout).toBe('');
    expect(verbose.stderr).toMatch(/^flux-fsck: checking checkpoint 0: sha256-/m);
    expect(verbose.stderr).toMatch(/^flux-fsck: checking primary version 2 \(journal seq \d+\): sha256-/m);

    const midRef = blobrefOf('sha256', mid);
    const bigRef = blobrefOf('sha256', big);
    const db = new Database(join(s, 'content.sqlite'));
    expect(db.prepare('DELETE FROM objects WHERE hash = ?').run(digestOf('sha256', bigRef)).changes).toBe(1);
    const row = db.prepare('SELECT size, object FROM objects WHERE hash = ?').get(digestOf('sha256', midRef)) as { size: number; object: Buffer };
    expect(row.size).toBe(-1);
    row.object[10] ^= 0x01;
    db.prepare('UPDATE objects SET object = ? WHERE hash = ?').run(row.object, digestOf('sha256', midRef));
    db.close();

    const damaged = await run(['fsck', s]);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toMatch(/checked: 1 missing, 1 corrupt\n$/);
    // the checkpoint is walked first; version 1 shares d with it (checked once) but has its own root naming mid
    expect(damaged.stderr).toMatch(new RegExp(`^flux-fsck: checkpoint 0: d\\.big: missing blobref ${bigRef}$`, 'm'));
    expect(damaged.stderr).toMatch(new RegExp(`^flux-fsck: checkpoint 0: mid: corrupt blobref ${midRef} \\(its bytes do not hash to its blobref\\)$`, 'm'));
    expect(damaged.stderr).toMatch(new RegExp(`^flux-fsck: primary version 1 \\(journal seq \\d+\\): mid: corrupt blobref ${midRef} `, 'm'));
    expect((await run(['fsck', '-q', s])).stdout).toBe('');
    expect(await run(['fsck', join(s, 'nothing')])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^flux-fsck: .*no such statedir or content store/) });

    // inside an instance, without an argument, as flux-core's: that instance's store, from its checkpoint and journal
    const inside = await run(['start', '-S', `statedir=${s}`, 'sh', '-c', 'flux fsck; echo "fsck=$?"'], { timeoutMs: 40_000 });
    expect(inside.stdout).toMatch(/checked: 1 missing, 1 corrupt\nfsck=1\n$/);
    expect(inside.stderr).toMatch(new RegExp(`^flux-fsck: checkpoint 0: d\\.big: missing blobref ${bigRef}$`, 'm'));
    expect(inside.stderr).toMatch(new RegExp(`^flux-fsck: primary version 1 \\(journal seq \\d+\\): mid: corrupt blobref ${midRef} `, 'm'));
    const sound = await run(['start', '--size', '2', 'sh', '-c', `flux kvs put a=1 big=${big} && flux kvs put -A big=more && flux fsck -v`], { timeoutMs: 40_000 });
    expect(sound.code).toBe(0);
    expect(sound.stdout).toMatch(/^\d+ objects under 2 roots checked: 0 missing, 0 corrupt\n$/);
    expect(sound.stderr).toMatch(/^flux-fsck: checking primary version 2 \(journal seq \d+\): sha256-/m);
    expect(await run(['fsck'], { env: { FLUX_URI: '' } })).toMatchObject({
      code: 1, stderr: 'flux-fsck: give the statedir of a stopped instance, or run inside an instance (FLUX_URI is not set)\n',
    });
  }, 120_000);
});

