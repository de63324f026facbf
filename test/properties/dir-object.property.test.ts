// A directory's stored bytes made by splicing its base's bytes with the changed entries' texts (DirObject.with,
// then blob) against the same entries written from scratch, and against RFC 11's canonical JSON of the dir
// object: byte for byte, along chains of merges where some versions have their bytes made and some do not, with
// names that sort apart by code unit and need escapes, and values of every kind a directory holds.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { canonical } from '../../src/core/journal/entry.js';
import type { Dirent } from '../../src/core/kvs/treeobj.js';
import { DirObject } from '../../src/core/kvs/wide.js';

const REF = `sha256-${'ab'.repeat(32)}`;
const name = fc.oneof(
  fc.string({ minLength: 1, maxLength: 4 }),
  fc.constantFrom('a', 'b', 'B', 'é', '\u{1F600}', '"q"', 'back\\slash', 'tab\t', '\u0001', '10', '9', '__proto__'),
);
const dirent: fc.Arbitrary<Dirent> = fc.oneof(
  fc.string({ maxLength: 8 }).map((s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') }) as Dirent),
  fc.constant({ ver: 1, type: 'dirref', data: [REF] } as Dirent),
  fc.constant({ ver: 1, type: 'valref', data: [REF, REF] } as Dirent),
  fc.string({ maxLength: 5 }).map((t) => ({ ver: 1, type: 'symlink', data: { target: t } }) as Dirent),
);
/** one commit's changes to a directory: entries set, and entries removed (null) */
const changes = fc.array(fc.tuple(name, fc.option(dirent, { freq: 4 })), { maxLength: 12 })
  .map((list) => new Map(list.map(([n, e]) => [n, e ?? null] as [string, Dirent | null])));
/** a version's bytes made before the next merge (as a commit stores each version) or not (merged again unstored) */
const step = fc.tuple(changes, fc.boolean());

function scratch(entries: Map<string, Dirent>): Buffer {
  return DirObject.of(entries).blob();
}

describe('a directory merged with changes writes the bytes it would have written from scratch', () => {
  it('along chains of merges, each version byte for byte', () => {
    fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 8 }), (steps) => {
      let d = DirObject.of(new Map());
      const model = new Map<string, Dirent>();
      for (const [change, stored] of steps) {
        d = d.with(change);
        for (const [n, e] of change) {
          if (e === null) model.delete(n);
          else model.set(n, e);
        }
        if (!stored) continue;
        const bytes = d.blob();
        expect(bytes.equals(scratch(model))).toBe(true);
        const data = Object.fromEntries([...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
        expect(bytes.toString('utf8')).toBe(canonical({ data, type: 'dir', ver: 1 }));
        expect(d.blob()).toBe(bytes);
      }
      expect([...d.names]).toEqual([...model.keys()].sort());
      expect(d.blob().equals(scratch(model))).toBe(true);
    }), { numRuns: 300 });
  });
});
