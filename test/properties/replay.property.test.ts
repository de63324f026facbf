// Replay equals the live past: random KVS workloads run on a real instance; at every version observed while it
// ran, what a lookup at that version answered (what --at-version does) is what an offline replay of the stopped
// instance's statedir shows after the entry that made the version. The CLI's JSON equals the replay's view.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../../src/api/handle.js';
import { Replay } from '../../src/api/replay.js';
import { KvsView, kvsKeys } from '../../src/api/replay-kvs.js';
import { FluxError, EISDIR, ENOENT, ENOTDIR } from '../../src/core/errors.js';
import { run, startInstance } from '../helpers/instance.js';

const KEYS = ['a', 'b', 'c', 'c.d', 'c.e', 'c.f.g'];
const DIR = '(dir)';

/** one op: a short value, a long one (stored as a valref), or an unlink */
const opArb = fc.record({
  key: fc.constantFrom(...KEYS),
  value: fc.oneof(fc.integer({ min: 0, max: 99 }).map(String), fc.constant('v'.repeat(100)), fc.constant(null)),
});
const workloadArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 });

type Snapshot = Record<string, string | null>;

/** what a lookup of each key under a version's root answered while the instance ran */
async function observe(h: Flux, rootref: string): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const key of KEYS) {
    try {
      const { val } = await h.call('kvs.lookup', { key, flags: 0, rootdir: { data: [rootref], type: 'dirref', ver: 1 } });
      out[key] = Buffer.from(String((val as { data: string }).data), 'base64').toString('utf8');
    } catch (err) {
      if (!(err instanceof FluxError)) throw err;
      if (err.errno === EISDIR) out[key] = DIR;
      else if (err.errno === ENOENT || err.errno === ENOTDIR) out[key] = null;
      else throw err;
    }
  }
  return out;
}

/** the same keys read from a replay's JSON map of keys (values, links, empty directories) */
function fromReplay(keys: Record<string, unknown>): Snapshot {
  const out: Snapshot = {};
  for (const key of KEYS) {
    const v = keys[key];
    if (typeof v === 'string') out[key] = v;
    else if (v !== undefined || Object.keys(keys).some((k) => k.startsWith(`${key}.`))) out[key] = DIR;
    else out[key] = null;
  }
  return out;
}

describe('replay', () => {
  it('--at-seq N shows the KVS that --at-version answered live, at every version observed', async () => {
    await fc.assert(fc.asyncProperty(workloadArb, async (workload) => {
      const dir = mkdtempSync(join(tmpdir(), 'flux-replay-prop-'));
      try {
        const inst = await startInstance(1, ['-S', `statedir=${dir}`, '-S', 'journal.checkpoint-entries=2']);
        const seen: Array<{ seq: number; live: Snapshot }> = [];
        const h = await Flux.open(inst.uri);
        try {
          for (const batch of workload) {
            const ops = batch.map((o) => ({
              key: o.key, flags: 0,
              dirent: o.value === null ? null : { data: Buffer.from(o.value).toString('base64'), type: 'val', ver: 1 },
            }));
            const { rootseq } = await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops });
            const v = await h.call('kvs.version-root', { namespace: 'primary', rootseq });
            seen.push({ seq: v.seq as number, live: await observe(h, v.rootref as string) });
          }
        } finally {
          h.close();
        }
        expect(await inst.stop()).toBe(0);
        const r = Replay.open(dir);
        const view = new KvsView(r);
        let last: Record<string, unknown> = {};
        try {
          for (const { seq, live } of seen) {
            last = await kvsKeys(view, r.stateAt(seq), 'primary');
            expect({ seq, keys: fromReplay(last) }).toEqual({ seq, keys: live });
          }
        } finally {
          r.close();
        }
        const cli = await run(['replay', dir, '--at-seq', String(seen[seen.length - 1]!.seq), '--show', 'kvs', '--json']);
        expect(cli.code).toBe(0);
        expect((JSON.parse(cli.stdout) as { keys: unknown }).keys).toEqual(last);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }), { numRuns: 3 });
  }, 120_000);
});
