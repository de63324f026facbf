// `flux kvs get --watch --from-version N` on real instances: the key's changes since version N come from rank 0's
// history index, then the watch goes on live; no version is skipped or repeated where the two meet, even while
// another client commits; --count, --uniq, --append and --waitcreate apply to the replayed answers as to live ones.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { background, startInstance, type Instance } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { FluxError, ENODATA } from '../../src/core/errors.js';
import { payloadJson } from '../../src/core/wire/message.js';
import { WATCH } from '../../src/services/kvs-watch.js';

const ok = (stdout = '') => ({ code: 0, stdout, stderr: '' });
const failed = (stderr: string) => ({ code: 1, stdout: '', stderr });
const val = (s: string) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const put = (h: Flux, key: string, s: string) =>
  h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key, flags: 0, dirent: val(s) }] });
const text = (v: unknown) => Buffer.from((v as { data: string }).data, 'base64').toString();


describe('get --watch --from-version', () => {
  let inst: Instance;
  let flux: Instance['flux'];
  let h: Flux;
  const rank1 = () => `local://${inst.rundir}/local-1`;
  /** the version a put made */
  const putv = async (args: string[]) => {
    const r = await flux(['kvs', 'put', '-s', ...args]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return Number(r.stdout);
  };

  beforeAll(async () => {
    inst = await startInstance(2);
    flux = inst.flux;
    h = await Flux.open(inst.uri);
  });
  afterAll(async () => {
    h?.close();
    await inst?.stop();
  });

  it('replays the value at N and every change since, skipping versions that did not touch the key', async () => {
    const v1 = await putv(['r=1']);
    await putv(['other=x']);
    const v2 = await putv(['r=2']);
    await putv(['r=2']);
    await putv(['other=y', 'r2=z']);
    await putv(['r=3']);
    expect(await flux(['kvs', 'get', '--watch', '--from-version', String(v1), '--count', '4', 'r'])).toMatchObject(ok('1\n2\n2\n3\n'));
    expect(await flux(['kvs', 'get', '-w', '-u', '--from-version', String(v1), '-c', '3', 'r'])).toMatchObject(ok('1\n2\n3\n'));
    // from rank 1, which asks rank 0's index
    expect(await flux(['kvs', 'get', '-w', '--from-version', String(v2), '-c', '3', 'r'], { env: { FLUX_URI: rank1() } }))
      .toMatchObject(ok('2\n2\n3\n'));
    // an unlink ends the watch, as it ends a live one
    expect(await flux(['kvs', 'unlink', 'r'])).toMatchObject(ok());
    expect(await flux(['kvs', 'get', '-w', '--from-version', String(v2), 'r']))
      .toMatchObject({ code: 1, stdout: '2\n2\n3\n', stderr: 'flux-kvs: r: No such file or directory\n' });
  });

  it('goes on live after the replay, with --count counting both', async () => {
    const v = await putv(['live=a']);
    await putv(['live=b']);
    const w = background(inst.uri, ['kvs', 'get', '-w', '--from-version', String(v), '-c', '4', 'live']);
    await w.saw('a\nb\n');
    await putv(['live=c']);
    await putv(['live=d']);
    await putv(['live=e']);
    expect(await w.done).toMatchObject(ok('a\nb\nc\nd\n'));
  });

  it('replays appends as the pieces appended (-A), and waits for a key absent at N (-W)', async () => {
    const v = await putv(['app=a']);
    await putv(['-A', 'app=b']);
    await putv(['-A', 'app=c']);
    expect(await flux(['kvs', 'get', '-w', '-A', '--from-version', String(v), '-c', '3', 'app'])).toMatchObject(ok('a\nb\nc\n'));
    const before = await putv(['unrelated=1']);
    await putv(['born=1']);
    await putv(['born=2']);
    expect(await flux(['kvs', 'get', '-w', '-W', '--from-version', String(before), '-c', '2', 'born'])).toMatchObject(ok('1\n2\n'));
    expect(await flux(['kvs', 'get', '-w', '--from-version', String(before), 'born']))
      .toMatchObject(failed('flux-kvs: born: No such file or directory\n'));
  });

  it('refuses a version not recorded, and without --watch or with --at-version', async () => {
    expect(await flux(['kvs', 'get', '-w', '--from-version', '99999', 'r']))
      .toMatchObject(failed('flux-kvs: version 99999 of namespace primary is not in the KVS history\n'));
    expect(await flux(['kvs', 'get', '--from-version', '1', 'r'])).toMatchObject(failed('flux-kvs: --from-version requires --watch\n'));
    expect(await flux(['kvs', 'get', '-w', '--from-version', '1', '--at-version', '1', 'r']))
      .toMatchObject(failed('flux-kvs: --from-version excludes --at, --at-version, --at-seq and --at-time\n'));
    expect(await flux(['kvs', 'get', '-w', '--from-version', 'x', 'r']))
      .toMatchObject(failed("flux-kvs: invalid version 'x': expected a root sequence number\n"));
  });

  it('neither skips nor repeats a version at the seam while another client commits', async () => {
    const other = await Flux.open(rank1());
    try {
      let from = 0;
      for (let i = 1; i <= 20; i++) {
        const r = await put(h, 'seam', String(i));
        if (i === 5) from = r.rootseq as number;
      }
      const values: number[] = [];
      let tag = 0;
      const ended = h.stream('kvs-watch.lookup', { key: 'seam', namespace: 'primary', flags: WATCH, from_version: from }, {}, (m) => {
        tag = m.aux2;
        values.push(Number(text(payloadJson(m).val)));
      }).then(() => ENODATA, (err: unknown) => (err as FluxError).errno);
      // the commits race the replay: some land before the index is read, some after
      for (let i = 21; i <= 80; i++) await put(other, 'seam', String(i));
      const until = Date.now() + 10_000;
      while (values[values.length - 1] !== 80 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      h.send('kvs-watch.cancel', { matchtag: tag });
      expect(await ended).toBe(ENODATA);
      expect(values).toEqual(Array.from({ length: 76 }, (_, i) => i + 5));
    } finally {
      other.close();
    }
  });
});
