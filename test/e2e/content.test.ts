// The content service on real instances: flux-core's payloads, the cache on other ranks, the CLI.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { run, startInstance, type Instance } from '../helpers/instance.js';
import { loadVectors } from '../helpers/vectors.js';
import { Flux } from '../../src/api/handle.js';
import { LocalDecoder } from '../../src/core/framing.js';
import type { Message } from '../../src/core/message.js';
import { EPROTO, ENOENT } from '../../src/core/errors.js';

const HELLO_SHA256 = 'sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

describe('content', () => {
  let inst: Instance;
  beforeAll(async () => {
    inst = await startInstance(4);
  });
  afterAll(async () => {
    await inst.stop();
  });

  it('stores stdin and prints its blobref; loads it back on rank 0 and through rank 3', async () => {
    const s = await inst.flux(['content', 'store'], { input: 'hello' });
    expect(s.stdout).toBe(`${HELLO_SHA256}\n`);
    expect((await inst.flux(['content', 'load', HELLO_SHA256])).stdout).toBe('hello');
    const leaf = await inst.flux(['content', 'load'], { input: `${HELLO_SHA256}\n`, env: { FLUX_URI: `local://${inst.rundir}/local-3` } });
    expect(leaf.stdout).toBe('hello');
  });

  it('answers a store on rank 3 only once rank 0 has the blob', async () => {
    const leaf = await Flux.open(`local://${inst.rundir}/local-3`);
    const blob = Buffer.from('written on a leaf '.repeat(40));
    const digest = (await leaf.rpc('content.store', blob)).payload!;
    leaf.close();
    const root = await Flux.open(inst.uri);
    expect((await root.rpc('content.load', digest)).payload).toEqual(blob);
    await expect(root.rpc('content.load', Buffer.alloc(5))).rejects.toMatchObject({ errno: EPROTO });
    await expect(root.rpc('content.load', Buffer.alloc(32))).rejects.toMatchObject({ errno: ENOENT });
    root.close();
  });

  it('gives flux-core\'s answers to flux-core\'s requests (content.jsonl), with content.hash=sha1', async () => {
    const r = await run(['start', '-S', 'content.hash=sha1', '--size', '1', 'sh', '-c', 'echo -n hello | flux content store']);
    expect(r.stdout).toBe('sha1-aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\n');
    const sha1 = await startInstance(1, ['-S', 'content.hash=sha1']);
    const h = await Flux.open(sha1.uri);
    const vec = loadVectors('content');
    const decode = (hex: string): Message => {
      const out: Message[] = [];
      new LocalDecoder().push(Buffer.from(hex, 'hex'), (m) => out.push(m));
      return out[0]!;
    };
    const reqs = vec.messages.filter((m) => m.dir === 'c2s' && m.topic?.startsWith('content.'));
    const resps = vec.messages.filter((m) => m.dir === 's2c' && m.topic?.startsWith('content.'));
    expect(reqs.length).toBe(2);
    for (let i = 0; i < reqs.length; i++) {
      const req = decode(reqs[i]!.raw_hex);
      const got = await h.rpc(req.topic!, req.payload);
      expect(got.payload?.toString('hex')).toBe(decode(resps[i]!.raw_hex).payload?.toString('hex'));
    }
    h.close();
    await sha1.stop();
  });

  it('lists checkpoints with a header, and fails cleanly on a bad blobref', async () => {
    const l = await inst.flux(['content', 'checkpoint', 'list']);
    expect(l.stdout.split('\n')[0]).toMatch(/^INDEX\s+SEQUENCE\s+TIME\s+ROOTREF$/);
    const bad = await inst.flux(['content', 'load', 'nonsense']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('flux-content: nonsense: invalid blobref\n');
  });
});
