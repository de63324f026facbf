// The verification run's memory record: minutes averaged whole, the slope after the settling minutes, starts
// counted, and a real process's RSS read from /proc; its report files, written a batch of lines at a time; and the
// events it checks, read from the journal page by page.
import { afterEach, describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rssKiB, sampleRss, selfMemory, slope, summarize, type RssSample } from '../../src/verify/memory.js';
import { journalTopics, writeLines } from '../../src/verify/run.js';
import { Flux } from '../../src/api/handle.js';
import { closeFakeBrokers, simpleBroker } from '../helpers/fake-broker.js';

const MIN = 60_000;

describe('verify memory', () => {
  it("reads this process's own heap and the most it has been resident, never below what is resident now", () => {
    const before = selfMemory();
    expect(before.heapMiB).toBeGreaterThan(0);
    expect(before.peakRssMiB).toBeGreaterThanOrEqual(Math.floor(rssKiB(process.pid)! / 1024));
    // 64 MiB touched: resident now, so the peak is at least that high
    const block = Buffer.alloc(64 * 2 ** 20, 1);
    const now = rssKiB(process.pid)! / 1024;
    expect(selfMemory().peakRssMiB).toBeGreaterThanOrEqual(Math.floor(now));
    expect(now).toBeGreaterThan(64);
    expect(block[block.length - 1]).toBe(1);
  });

  it('averages each whole minute per rank and leaves a minute not sampled to its end out', () => {
    const samples: RssSample[] = [
      { t: 0, rank: 0, generation: 1, kib: 1024 },
      { t: 30_000, rank: 0, generation: 1, kib: 3072 },
      { t: MIN, rank: 0, generation: 1, kib: 4096 },
      { t: MIN + 10_000, rank: 1, generation: 1, kib: 2048 },
      // the last, partial minute: counted in the maximum, not as a minute
      { t: 2 * MIN + 5_000, rank: 0, generation: 2, kib: 10_240 },
    ];
    const [r0, r1] = summarize(samples, 0);
    expect(r0).toEqual({ rank: 0, minutes: [2, 4], maxMiB: 10, slope: 2, generations: 2 });
    expect(r1).toEqual({ rank: 1, minutes: [2], maxMiB: 2, generations: 1 });
  });

  it('leaves the settling minutes out of the slope', () => {
    const samples: RssSample[] = [50, 80, 60, 61, 62, 63].map((mib, m) => ({ t: m * MIN, rank: 0, generation: 1, kib: mib * 1024 }));
    samples.push({ t: 6 * MIN, rank: 0, generation: 1, kib: 0 });
    const [r] = summarize(samples, 2);
    expect(r!.minutes).toEqual([50, 80, 60, 61, 62, 63]);
    expect(r!.slope).toBeCloseTo(1, 9);
    expect(summarize(samples, 5)[0]!.slope).toBeUndefined();
  });

  it('gives no slope for fewer than two points, and zero for a flat series', () => {
    expect(slope([])).toBeUndefined();
    expect(slope([7])).toBeUndefined();
    expect(slope([5, 5, 5, 5])).toBe(0);
    expect(slope([3, 1])).toBe(-2);
  });

  it("reads a live process's RSS and nothing for one that is gone", async () => {
    const child = spawn(process.execPath, ['-e', 'console.log("up"); setTimeout(() => {}, 30_000)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => child.stdout!.once('data', r));
    const kib = rssKiB(child.pid!);
    expect(kib).toBeGreaterThan(1024);
    const sampler = sampleRss(() => ({ generation: 1, pids: [child.pid!] }), 20);
    await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // the reaped child's pid reads as gone
    expect(rssKiB(child.pid!)).toBeUndefined();
    const samples = sampler.stop();
    expect(samples.length).toBeGreaterThan(1);
    expect(samples.every((s) => s.rank === 0 && s.generation === 1 && s.kib > 1024)).toBe(true);
    // none while the caller says the brokers are not there
    const none = sampleRss(() => undefined, 10);
    await new Promise((r) => setTimeout(r, 50));
    expect(none.stop()).toEqual([]);
  });
});

describe('verify report files', () => {
  it('writes one line per record in batches, the same text as joined whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'verify-lines-'));
    try {
      for (const n of [0, 1, 9_999, 10_000, 10_001, 25_003]) {
        const lines = Array.from({ length: n }, (_, i) => `{"id":${i}}`);
        const path = join(dir, `l${n}`);
        writeLines(path, lines);
        expect(readFileSync(path, 'utf8')).toBe(n === 0 ? '' : `${lines.join('\n')}\n`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("verify's event check", () => {
  afterEach(closeFakeBrokers);

  it('reads the journal page by page until an empty answer, so that no event past the first page is missed', async () => {
    const journal = Array.from({ length: 9 }, (_, i) => ({ seq: i + 1, topic: i % 3 === 0 ? 'other' : `lin.ev.c0.${i}` }));
    const fake = await simpleBroker((req) => {
      const { from, limit, topic } = JSON.parse(req.payload!.subarray(0, -1).toString()) as { from: number; limit: number; topic: string };
      const entries = journal.filter((e) => e.seq >= from && e.topic.startsWith(topic)).slice(0, limit);
      return [{ payload: Buffer.from(`${JSON.stringify({ entries })}\0`) }];
    });
    const h = await Flux.open(fake.uri);
    try {
      const got = await journalTopics(h, 'lin.ev.', 2);
      expect([...got]).toEqual(journal.filter((e) => e.topic.startsWith('lin.ev.')).map((e) => [e.seq, e.topic]));
      // 6 events in pages of 2, and the empty answer that ends it
      expect(fake.got.length).toBe(4);
    } finally {
      h.close();
    }
  });
});
