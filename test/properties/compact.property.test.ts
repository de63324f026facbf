// Compaction of any KVS journal at any seq: every kept version's tree is whole and holds what was written,
// nothing below the start is read, and the journal verifies; with the KVS's shape, and with a small one that puts
// wide directories (dirhash nodes) and long appended values (valtrees) into nearly every tree.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyJournal } from '../../src/core/journal/verify.js';
import { ENOENT } from '../../src/core/errors.js';
import type { Shape } from '../../src/core/kvs/wide.js';
import { type Write, kvsJournal, compactAt, walkTree, readKey } from '../helpers/kvs-journal.js';

const key = fc.constantFrom('a', 'b', 'd.x', 'd.y', 'd.z', 'd', 'e.f.g', 'e.f', 'h');
const value = fc.oneof(fc.constant(null), fc.stringMatching(/^[a-z0-9]{1,6}$/), fc.stringMatching(/^[a-z]{1,4}$/).map((s) => s.repeat(60)));
const put = fc.tuple(key, value) as fc.Arbitrary<Write>;
// appends go to keys no put touches, so that a value appended to is never a directory
const append = fc.tuple(fc.constantFrom('p', 'q.r'), fc.stringMatching(/^[a-z0-9]{1,8}$/), fc.constant('append')) as fc.Arbitrary<Write>;
const batches = fc.array(fc.array(fc.oneof(put, put, append), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 14 });

const SMALL: Shape = { dirMax: 2, chunk: 2 };

describe.each([['the KVS shape', undefined], ['a small shape', SMALL]])('compaction with %s', (_, shape) => {
  it('after compacting any journal at any seq, every kept version is fully readable and right, and verify passes', async () => {
    await fc.assert(fc.asyncProperty(batches, fc.nat(), fc.nat(), async (bs, at1, at2) => {
      const dir = mkdtempSync(join(tmpdir(), 'flux-prop-compact-'));
      const j = await kvsJournal(dir, bs, shape);
      try {
        // one or two compactions, the second further on
        const first = 1 + (at1 % j.head.seq);
        await compactAt(j, first);
        const second = first + (at2 % (j.head.seq - first + 1));
        if (second > first) await compactAt(j, second);
        const start = Math.max(first, second);
        const kept = j.versions.filter((v, i) => v.seq >= start || (j.versions[i + 1]?.seq ?? Infinity) > start);
        for (const v of kept) {
          walkTree(j.cs, v.rootref);
          for (const [k, val] of v.values) expect(await readKey(j.cs, v.rootref, k)).toBe(val);
        }
        if (start > 1) expect(() => j.js.entry(start - 1)).toThrow(expect.objectContaining({ errno: ENOENT }));
        const r = await verifyJournal(j.js, { trustedKey: j.signer.publicKey });
        expect(r).toMatchObject({ ok: true, checked: j.head.seq - start + 1 });
      } finally {
        j.cs.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }), { numRuns: 15 });
  });
});
