// The search at-seq and at-time make of a namespace's versions (newestUpTo: a binary search of kvs_version's
// primary key) against the plain query it replaces, over tables of either layout (rowid, as stores made before
// have it, or without), whose versions have gaps in their rootseqs, seqs that rise, times that rise or stay, and
// another namespace's versions interleaved.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { newestUpTo } from '../../src/services/kvs/history-index.js';

/** one namespace's versions: each a step of rootseq (a gap when > 1), of seq (> 0) and of time (>= 0) */
const versions = fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom(0, 0, 0.5, 1, 3)), {
  maxLength: 40,
});

function table(withoutRowid: boolean, namespaces: Array<[string, Array<[number, number, number]>, number]>): Database.Database {
  const db = new Database(':memory:');
  db.exec(`CREATE TABLE kvs_version(namespace TEXT, rootseq INTEGER, seq INTEGER, time REAL, rootref TEXT,
    PRIMARY KEY(namespace, rootseq))${withoutRowid ? ' WITHOUT ROWID' : ''}`);
  const put = db.prepare('INSERT INTO kvs_version VALUES (?, ?, ?, ?, ?)');
  for (const [ns, steps, first] of namespaces) {
    let rootseq = first - 1;
    let seq = 0;
    let time = 1000;
    for (const [dr, ds, dt] of steps) {
      rootseq += dr;
      seq += ds;
      time += dt;
      put.run(ns, rootseq, seq, time, `ref-${rootseq}`);
    }
  }
  return db;
}

describe('the newest version up to a seq or a time', () => {
  it('is what the plain query finds, for every bound', () => {
    fc.assert(fc.property(fc.boolean(), versions, versions, fc.integer({ min: 0, max: 2 }), (withoutRowid, a, b, firstA) => {
      const db = table(withoutRowid, [['a', a, firstA], ['b', b, 0]]);
      try {
        const search = newestUpTo(db);
        for (const field of ['seq', 'time'] as const) {
          const plain = db.prepare(`SELECT max(rootseq) FROM kvs_version WHERE namespace = ? AND ${field} <= ?`).pluck();
          // every value the table holds, and just below each: where the answer changes
          const held = db.prepare(`SELECT DISTINCT ${field} FROM kvs_version`).pluck().all() as number[];
          const bounds = [-1, ...held.flatMap((v) => [v - 0.25, v]), Math.max(0, ...held) + 1];
          for (const ns of ['a', 'b', 'none']) {
            for (const bound of bounds) {
              expect(search(ns, field, bound)).toBe((plain.get(ns, bound) as number | null) ?? undefined);
            }
          }
        }
      } finally {
        db.close();
      }
    }), { numRuns: 150 });
  });
});
