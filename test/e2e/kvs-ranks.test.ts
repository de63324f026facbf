// Reads across ranks on a real instance of size 4 with fanout 2 (rank 0 above ranks 1 and 2, rank 3 below rank 1):
// once a commit made on one rank has returned, a read begun after that on any other rank sees it, and a client's
// reads never go back to an older version.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { FLUX, startInstance, type Instance } from '../helpers/instance.js';
import { Flux } from '../../src/api/handle.js';
import { FluxError, ENOENT } from '../../src/core/errors.js';

const val = (s: string) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });
const text = (v: unknown) => Buffer.from((v as { data: string }).data, 'base64').toString();

describe('the KVS across the ranks of a size-4 fanout-2 instance', () => {
  let inst: Instance;
  const uri = (rank: number) => `local://${inst.rundir}/local-${rank}`;
  beforeAll(async () => {
    inst = await startInstance(4, ['-S', 'tbon.fanout=2']);
  });
  afterAll(async () => {
    expect(await inst?.stop()).toBe(0);
  });

  it('flux kvs put on rank 3 through flux exec, then flux kvs get on every other rank reads it', async () => {
    for (let i = 1; i <= 4; i++) {
      const put = await inst.flux(['exec', '-r', '3', process.execPath, FLUX, 'kvs', 'put', `x.r3=${i}`, `x.n=${i}`]);
      expect(put).toMatchObject({ code: 0, stdout: '', stderr: '' });
      const get = await inst.flux(['exec', '-l', '-r', '0-2', process.execPath, FLUX, 'kvs', 'get', 'x.r3', 'x.n']);
      expect(get.code).toBe(0);
      expect(get.stdout.split('\n').filter((l) => l).sort()).toEqual(['0: 1', '0: 1', '1: 1', '1: 1', '2: 1', '2: 1']
        .map((l) => l.replace(/1$/, String(i))));
    }
  });

  it('a commit on any rank is read on every other rank by a client that connects once it has returned', async () => {
    const writers = await Promise.all([0, 1, 2, 3].map((r) => Flux.open(uri(r))));
    try {
      for (let round = 0; round < 10; round++) {
        for (const [w, h] of writers.entries()) {
          const value = `${round}.${w}`;
          await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: `ryw.from${w}`, flags: 0, dirent: val(value) }] });
          // every reader connects after the commit returned, all at once
          await Promise.all([0, 1, 2, 3].filter((r) => r !== w).map(async (r) => {
            const reader = await Flux.open(uri(r));
            try {
              const got = await reader.call('kvs.lookup', { key: `ryw.from${w}`, namespace: 'primary', flags: 0 });
              expect(text(got.val), `written on rank ${w}, read on rank ${r}`).toBe(value);
            } finally {
              reader.close();
            }
          }));
        }
      }
    } finally {
      for (const h of writers) h.close();
    }
  });

  it("a client's reads on any rank never go back, while another rank commits", async () => {
    const writer = await Flux.open(uri(2));
    const readers = await Promise.all([0, 1, 3].map((r) => Flux.open(uri(r))));
    try {
      let done = false;
      const writes = (async () => {
        for (let i = 1; i <= 100; i++) {
          await writer.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'mono', flags: 0, dirent: val(String(i)) }] });
        }
        done = true;
      })();
      await Promise.all(readers.map(async (h) => {
        let last = 0;
        let lastSeq = 0;
        let reads = 0;
        while (!done || reads < 5) {
          const root = await h.call('kvs.getroot', { namespace: 'primary' });
          let seen = 0;
          try {
            seen = Number(text((await h.call('kvs.lookup', { key: 'mono', namespace: 'primary', flags: 0 })).val));
          } catch (err) {
            // not written yet
            if (!(err instanceof FluxError) || err.errno !== ENOENT) throw err;
          }
          expect(root.rootseq as number).toBeGreaterThanOrEqual(lastSeq);
          expect(seen).toBeGreaterThanOrEqual(last);
          [last, lastSeq] = [seen, root.rootseq as number];
          reads++;
        }
      }));
      await writes;
    } finally {
      writer.close();
      for (const h of readers) h.close();
    }
  });
});
