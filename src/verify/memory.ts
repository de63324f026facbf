// What the brokers' memory does over a verification run: each broker's resident set read from /proc every few
// seconds while the workload and the faults run, and summed up per rank and per minute. The performance issue
// asks for memory flat over a long run once its first minutes are past; a run long enough says whether it is.
import { readFileSync } from 'node:fs';

export interface RssSample {
  /** ms since the sampling started */
  t: number;
  rank: number;
  /** which start of the instance the broker belongs to (a fault that restarts it makes a new one) */
  generation: number;
  kib: number;
}

export interface RankMemory {
  rank: number;
  /** mean RSS in MiB of each whole minute sampled, in order */
  minutes: number[];
  maxMiB: number;
  /** least-squares slope of the minutes after the first `settle`, MiB per minute; undefined with fewer than two */
  slope?: number;
  /** how many starts of the instance this rank was seen in */
  generations: number;
}

/** a process's resident set in KiB, undefined when it is gone */
export function rssKiB(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw err;
  }
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

/**
 * This process's own memory, for the log of a run's checks: its V8 heap now and the most it has been resident
 * (VmHWM), MiB. An hour's history and its checks take gigabytes, so which check pushes the peak is worth knowing.
 */
export function selfMemory(): { heapMiB: number; peakRssMiB: number } {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return { heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20), peakRssMiB: m ? Math.round(Number(m[1]) / 1024) : NaN };
}

/** the slope of the least-squares line through (i, ys[i]) */
export function slope(ys: readonly number[]): number | undefined {
  const n = ys.length;
  if (n < 2) return undefined;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, i) => {
    num += (i - mx) * (y - my);
    den += (i - mx) ** 2;
  });
  return num / den;
}

/**
 * Per rank: the mean of each whole minute (a minute not fully sampled is left out, so that the last one does not
 * stand for a few seconds), the largest sample, and the slope after `settle` minutes.
 */
export function summarize(samples: readonly RssSample[], settle: number): RankMemory[] {
  const end = samples.reduce((a, s) => Math.max(a, s.t), 0);
  const whole = Math.floor(end / 60_000);
  const ranks = [...new Set(samples.map((s) => s.rank))].sort((a, b) => a - b);
  return ranks.map((rank) => {
    const mine = samples.filter((s) => s.rank === rank);
    const sums = Array.from({ length: whole }, () => ({ kib: 0, n: 0 }));
    for (const s of mine) {
      const m = Math.floor(s.t / 60_000);
      if (m < whole) {
        sums[m]!.kib += s.kib;
        sums[m]!.n++;
      }
    }
    const minutes = sums.filter((x) => x.n > 0).map((x) => x.kib / x.n / 1024);
    const after = slope(minutes.slice(settle));
    return {
      rank, minutes, maxMiB: Math.max(...mine.map((s) => s.kib / 1024)),
      ...(after !== undefined ? { slope: after } : {}),
      generations: new Set(mine.map((s) => s.generation)).size,
    };
  });
}

/** samples the brokers `pids()` names (by rank) every `intervalMs` until stopped; none while it says undefined */
export function sampleRss(
  pids: () => { generation: number; pids: readonly number[] } | undefined, intervalMs: number,
): { stop: () => RssSample[] } {
  const t0 = Date.now();
  const samples: RssSample[] = [];
  const take = () => {
    const at = pids();
    if (at === undefined) return;
    const { generation } = at;
    at.pids.forEach((pid, rank) => {
      const kib = rssKiB(pid);
      if (kib !== undefined) samples.push({ t: Date.now() - t0, rank, generation, kib });
    });
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return samples;
    },
  };
}
