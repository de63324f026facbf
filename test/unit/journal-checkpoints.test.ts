// Which checkpoints the journal keeps: the newest few, and the first of every SNAPSHOT_SPACING entries, so that a
// replay to an old seq starts from a snapshot near it instead of from the start of the journal.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../src/core/content/store.js';
import { JournalStore, SNAPSHOT_SPACING } from '../../src/core/journal/store.js';

describe('checkpoint retention', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps the five newest and the first checkpoint of every spacing bucket', () => {
    const dir = mkdtempSync(join(tmpdir(), 'flux-ckpt-'));
    dirs.push(dir);
    const cs = ContentStore.open(join(dir, 'content.sqlite'), 'sha256');
    const js = new JournalStore(cs);
    // a checkpoint every quarter bucket, over 8 buckets
    const step = SNAPSHOT_SPACING / 4;
    const made: number[] = [];
    for (let seq = step; seq <= 8 * SNAPSHOT_SPACING; seq += step) {
      js.putCheckpoint({ seq, ref: null, time: seq, snapshot: null, pubkey: 'k', sig: 's' });
      made.push(seq);
    }
    const kept = js.checkpoints().map((c) => c.seq).sort((a, b) => a - b);
    const firstOfBucket = new Map<number, number>();
    for (const seq of made) if (!firstOfBucket.has(Math.floor(seq / SNAPSHOT_SPACING))) firstOfBucket.set(Math.floor(seq / SNAPSHOT_SPACING), seq);
    const want = new Set([...firstOfBucket.values(), ...made.slice(-5)]);
    expect(kept).toEqual([...want].sort((a, b) => a - b));
    // so no seq is further than a bucket and a step from the nearest kept snapshot at or below it
    for (let n = SNAPSHOT_SPACING; n <= 8 * SNAPSHOT_SPACING; n += 997) {
      const below = kept.filter((s) => s <= n);
      expect(n - Math.max(...below)).toBeLessThan(SNAPSHOT_SPACING + step);
    }
    cs.close();
  });
});
