// A directory wider than the KVS keeps in one dir object, and a value longer than it keeps in one valref, on a
// real instance of size 2: dir, get -t, get --at and content load show what flux-core would, on both ranks.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startInstance, type Instance } from '../helpers/instance.js';

const N = 300;
const names = Array.from({ length: N }, (_, i) => `k${String(i).padStart(3, '0')}`);
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('wide directories and long values on an instance of size 2', () => {
  let inst: Instance;
  const onRank1 = () => ({ env: { FLUX_URI: `local://${inst.rundir}/local-1` } });
  beforeAll(async () => {
    inst = await startInstance(2);
    const r = await inst.flux(['kvs', 'put', ...names.map((n) => `wide.${n}=v${n}`), 'wide.sub.x=1']);
    expect(r.code).toBe(0);
  });
  afterAll(async () => {
    await inst?.stop();
  });

  it('dir and dir -R list every key, in order, on both ranks', async () => {
    const listing = `${names.map((n) => `wide.${n} = v${n}\n`).join('')}wide.sub.\n`;
    expect(await inst.flux(['kvs', 'dir', 'wide'])).toMatchObject({ code: 0, stdout: listing, stderr: '' });
    expect((await inst.flux(['kvs', 'dir', 'wide'], onRank1())).stdout).toBe(listing);
    expect((await inst.flux(['kvs', 'dir', '-R', 'wide'])).stdout).toBe(listing.replace('wide.sub.\n', 'wide.sub.x = 1\n'));
  });

  it('get -t names a plain RFC 11 dir object, which get --at reads back', async () => {
    const t = await inst.flux(['kvs', 'get', '-t', 'wide']);
    expect(t.code).toBe(0);
    const obj = JSON.parse(t.stdout) as { data: string[]; type: string };
    expect(obj.type).toBe('dirref');
    expect((await inst.flux(['kvs', 'get', '-t', 'wide'], onRank1())).stdout).toBe(t.stdout);
    const sub = JSON.parse((await inst.flux(['kvs', 'get', '-t', 'wide.sub'])).stdout) as { data: string[] };
    // the blob is what flux-core stores for such a directory: every entry, keys sorted, compact JSON
    const entries = names.map((n) => `"${n}":{"data":"${b64(`v${n}`)}","type":"val","ver":1}`);
    const want = `{"data":{${entries.join(',')},"sub":{"data":["${sub.data[0]}"],"type":"dirref","ver":1}},"type":"dir","ver":1}`;
    expect((await inst.flux(['content', 'load', obj.data[0]!])).stdout).toBe(want);
    expect(await inst.flux(['kvs', 'get', '--at', t.stdout.trim(), 'k123', 'sub.x'])).toMatchObject({ code: 0, stdout: 'vk123\n1\n' });
  });

  it('a value appended to 100 times reads whole, and get -t shows its valref of 100 blobs', async () => {
    const parts = Array.from({ length: 100 }, (_, i) => `line${i},`);
    expect((await inst.flux(['kvs', 'put', '-A', ...parts.map((p) => `log=${p}`)])).code).toBe(0);
    expect((await inst.flux(['kvs', 'get', 'log'])).stdout).toBe(`${parts.join('')}\n`);
    expect((await inst.flux(['kvs', 'get', 'log'], onRank1())).stdout).toBe(`${parts.join('')}\n`);
    const t = JSON.parse((await inst.flux(['kvs', 'get', '-t', 'log'])).stdout) as { data: string[]; type: string };
    expect(t.type).toBe('valref');
    expect(t.data).toHaveLength(100);
    expect((await inst.flux(['content', 'load', t.data[42]!])).stdout).toBe('line42,');
  });
});
