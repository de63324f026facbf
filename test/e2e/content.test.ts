// The content service on real instances: flux-core's payloads byte for byte (content.jsonl), the cache on other
// ranks (misses go upstream, stores write through), errors, and the flux content command.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import { run, startInstance, type Instance } from '../helpers/instance.js';
import { loadVectors } from '../helpers/vectors.js';
import { Flux } from '../../src/api/handle.js';
import { LocalDecoder, encodeLocal } from '../../src/core/wire/framing.js';
import { type Message, payloadJson } from '../../src/core/wire/message.js';
import { EPROTO, ENOENT, EFBIG } from '../../src/core/errors.js';

const HELLO_SHA256 = 'sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
const HELLO_SHA1 = 'sha1-aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d';
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

describe('content on an instance of size 4', () => {
  let inst: Instance;
  let leafUri: string;
  const onLeaf = { env: { FLUX_URI: '' } };
  beforeAll(async () => {
    inst = await startInstance(4);
    leafUri = `local://${inst.rundir}/local-3`;
    onLeaf.env.FLUX_URI = leafUri;
  });
  afterAll(async () => {
    await inst?.stop();
  });

  it('stores stdin and prints its blobref; loads it back on rank 0 and through rank 3 (a miss goes upstream)', async () => {
    const s = await inst.flux(['content', 'store'], { input: 'hello' });
    expect(s).toMatchObject({ code: 0, stdout: `${HELLO_SHA256}\n`, stderr: '' });
    expect((await inst.flux(['content', 'load', HELLO_SHA256])).stdout).toBe('hello');
    const leaf = await inst.flux(['content', 'load'], { ...onLeaf, input: `${HELLO_SHA256}\n` });
    expect(leaf).toMatchObject({ code: 0, stdout: 'hello', stderr: '' });
    const h = await Flux.open(leafUri);
    const stats = payloadJson(await h.rpc('content.stats-get'));
    expect(stats).toMatchObject({ valid: 1, dirty: 0, size: 5, 'flush-batch-count': 0, mmap: null });
    h.close();
  });

  it('answers a store on rank 3 once rank 0 has the blob; rank 0 loads it', async () => {
    const leaf = await Flux.open(leafUri);
    const blob = Buffer.from('written on a leaf '.repeat(40));
    const digest = (await leaf.rpc('content.store', blob)).payload!;
    expect(digest.equals(sha256(blob))).toBe(true);
    expect(payloadJson(await leaf.rpc('content.stats-get'))).toMatchObject({ dirty: 0 });
    const root = await Flux.open(inst.uri);
    expect((await root.rpc('content.load', digest)).payload!.equals(blob)).toBe(true);
    // dropped from rank 3's cache, it comes back from upstream, many askers sharing one fault
    await leaf.rpc('content.dropcache');
    expect(payloadJson(await leaf.rpc('content.stats-get'))).toMatchObject({ count: 0, size: 0 });
    const many = await Promise.all(Array.from({ length: 100 }, () => leaf.rpc('content.load', digest)));
    expect(many.every((m) => m.payload!.equals(blob))).toBe(true);
    leaf.close();
    root.close();
  });

  it('answers bad requests with EPROTO, unknown digests with ENOENT and oversized blobs with EFBIG, on any rank', async () => {
    const root = await Flux.open(inst.uri);
    const leaf = await Flux.open(leafUri);
    for (const h of [root, leaf]) {
      await expect(h.rpc('content.load', Buffer.alloc(20))).rejects.toMatchObject({ errno: EPROTO });
      await expect(h.rpc('content.load', Buffer.alloc(33))).rejects.toMatchObject({ errno: EPROTO });
      await expect(h.rpc('content.load')).rejects.toMatchObject({ errno: EPROTO });
      await expect(h.rpc('content.load', Buffer.alloc(32))).rejects.toMatchObject({ errno: ENOENT });
      await expect(h.rpc('content.checkpoint-put', { value: 'x' })).rejects.toMatchObject({ errno: EPROTO });
    }
    // the limit that counts is the one where the blob is kept: rank 0's
    await root.rpc('attr.set', { name: 'content.blob-size-limit', value: '10' });
    try {
      for (const h of [root, leaf]) {
        await expect(h.rpc('content.store', Buffer.alloc(11, 1))).rejects.toMatchObject({ errno: EFBIG });
        expect((await h.rpc('content.store', Buffer.alloc(10, 1))).payload!.equals(sha256(Buffer.alloc(10, 1)))).toBe(true);
      }
    } finally {
      await root.rpc('attr.set', { name: 'content.blob-size-limit', value: String(1 << 30) });
    }
    root.close();
    leaf.close();
  });

  it('round-trips a chunked file through rank 3, with and without the cache', async () => {
    // text, so that the command's stdout compares as a string
    const input = randomBytes(50_000).toString('hex');
    const s = await inst.flux(['content', 'store', '--chunksize=4096'], { ...onLeaf, input });
    expect(s.code).toBe(0);
    const refs = s.stdout.trim().split('\n');
    expect(refs).toHaveLength(25);
    for (const bypass of [[], ['-b']]) {
      const l = await inst.flux(['content', 'load', ...bypass], { ...onLeaf, input: `${refs.join('\n')}\n` });
      expect(l.code).toBe(0);
      expect(l.stdout === input).toBe(true);
    }
    const b = await inst.flux(['content', 'store', '--bypass-cache'], { ...onLeaf, input: 'bypassed' });
    expect(b.stdout).toBe(`sha256-${sha256(Buffer.from('bypassed')).toString('hex')}\n`);
    expect((await inst.flux(['content', 'load', '-b', b.stdout.trim()])).stdout).toBe('bypassed');
  });

  it('flushes and drops the cache from the command line, and reports bad input as flux-content: <reason>', async () => {
    expect(await inst.flux(['content', 'flush'], onLeaf)).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await inst.flux(['content', 'dropcache'], onLeaf)).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await inst.flux(['content', 'flush'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const bad = await inst.flux(['content', 'load', 'nonsense']);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toBe('flux-content: invalid blobref "nonsense"\n');
    const missing = `sha256-${'0'.repeat(64)}`;
    const m = await inst.flux(['content', 'load', missing]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(new RegExp(`^flux-content: .*${missing}.*not in the content store\\n$`));
    const chunk = await inst.flux(['content', 'store', '--chunksize=0'], { input: 'x' });
    expect(chunk.code).toBe(1);
    expect(chunk.stderr).toMatch(/^flux-content: --chunksize/);
  });

  it('lists and updates checkpoints: flux-core\'s table, JSON lines, newest first', async () => {
    const empty = await inst.flux(['content', 'checkpoint', 'list']);
    expect(empty).toMatchObject({ code: 0, stdout: 'Index      Sequence   Time                 Rootref\n' });
    const refs = (await inst.flux(['content', 'store', '--chunksize=3'], { input: 'aaabbb' })).stdout.trim().split('\n');
    for (const r of refs) expect((await inst.flux(['content', 'checkpoint', 'update', r], onLeaf)).code).toBe(0);
    const missing = `sha256-${'1'.repeat(64)}`;
    const u = await inst.flux(['content', 'checkpoint', 'update', missing]);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/^flux-content: .*not in the content store/);
    const list = (await inst.flux(['content', 'checkpoint', 'list'])).stdout.split('\n');
    expect(list[0]).toBe('Index      Sequence   Time                 Rootref');
    expect(list[1]).toMatch(new RegExp(`^0 {10}0 {10}\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ ${refs[1]}$`));
    expect(list[2]).toMatch(new RegExp(`^1 {10}0 {10}\\S{20} ${refs[0]}$`));
    const json = (await inst.flux(['content', 'checkpoint', 'list', '-n', '-j'], onLeaf)).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.map((v) => v.rootref)).toEqual([refs[1], refs[0]]);
    expect(json[0]).toMatchObject({ version: 1, sequence: 0 });
    expect(typeof json[0]!.timestamp).toBe('number');
    expect((await inst.flux(['content', 'checkpoint', 'list', '-n'])).stdout.split('\n')[0]).toMatch(/^0 /);
  });

  it('can be removed and loaded again by name on a rank', async () => {
    const h = await Flux.open(inst.uri);
    await h.rpc('module.remove', { name: 'content' }, { nodeid: 3 });
    await h.rpc('module.load', { path: 'content' }, { nodeid: 3 });
    h.close();
    expect((await inst.flux(['content', 'load', HELLO_SHA256], onLeaf)).stdout).toBe('hello');
  });
});

/** the messages a connection receives until `count` have arrived */
function converse(path: string, bytes: Buffer, count: number): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    const got: Message[] = [];
    const decoder = new LocalDecoder();
    const s = net.connect(path);
    let handshake = false;
    s.on('data', (chunk: Buffer) => {
      let rest = chunk;
      if (!handshake) {
        handshake = true;
        expect(chunk[0]).toBe(0);
        rest = chunk.subarray(1);
        s.write(bytes);
      }
      decoder.push(rest, (m) => got.push(m));
      if (got.length >= count) {
        s.end();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
}

describe('content with content.hash=sha1, against flux-core 0.88\'s capture', () => {
  it('echo -n hello | flux content store prints the capture\'s blobref', async () => {
    const r = await run(['start', '-S', 'content.hash=sha1', '--size', '1', 'sh', '-c', 'echo -n hello | flux content store && flux content load $(echo -n hello | flux content store)']);
    expect(r).toMatchObject({ code: 0, stdout: `${HELLO_SHA1}\nhello`, stderr: '' });
  });

  it('answers the captured requests, replayed byte for byte, with the captured responses', async () => {
    const inst = await startInstance(2, ['-S', 'content.hash=sha1']);
    try {
      const vec = loadVectors('content');
      const path = inst.uri.replace('local://', '');
      const conns = [...new Set(vec.messages.map((m) => m.conn))];
      expect(conns).toHaveLength(2);
      for (const conn of conns) {
        const c2s = vec.messages.filter((m) => m.conn === conn && m.dir === 'c2s');
        const s2c = vec.messages.filter((m) => m.conn === conn && m.dir === 's2c');
        const bytes = Buffer.concat(c2s.map((m) => Buffer.from(m.raw_hex, 'hex')));
        const got = await converse(path, bytes, s2c.length);
        got.forEach((m, i) => {
          const want = s2c[i]!;
          expect(m.topic).toBe(want.topic);
          expect(m.aux1).toBe(want.aux1);
          expect(m.aux2).toBe(want.aux2);
          expect(m.flags).toBe(want.flags_code);
          expect(m.payload?.toString('hex') ?? null).toBe(want.payload_hex);
          // as root, as the capture was made, every byte matches, credentials included
          if (process.getuid?.() === 0) expect(encodeLocal(m).toString('hex')).toBe(want.raw_hex);
        });
      }
      // the same through rank 1, whose cache faults the blob in from rank 0
      const leaf = await Flux.open(inst.uri.replace(/local-0$/, 'local-1'));
      const load = vec.messages.find((m) => m.dir === 'c2s' && m.topic === 'content.load')!;
      expect((await leaf.rpc('content.load', Buffer.from(load.payload_hex!, 'hex'))).payload!.toString()).toBe('hello');
      leaf.close();
    } finally {
      await inst.stop();
    }
  });
});
