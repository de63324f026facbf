// The fault injectors: each is named, draws from its own seeded generator, does its damage, waits, and heals
// (or, for a crash, restarts the instance from its statedir) before returning. One runs at a time.
import { execFileSync } from 'node:child_process';
import { openSync, writeSync, closeSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../api/handle.js';
import type { Cluster } from './cluster.js';
import type { Random } from './random.js';

export interface FaultContext {
  cluster: Cluster;
  rng: Random;
  log: (line: string) => void;
  /** the directory the statedir's filesystem is mounted on, when it is a small tmpfs of its own */
  mount?: string;
}

export interface Fault {
  name: string;
  run(ctx: FaultContext): Promise<void>;
}

export const FAULT_NAMES = ['kill9-rank0', 'kill9-leaf', 'sigstop', 'drop', 'disk-full'] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setAttr(c: Cluster, rank: number, name: string, value: string): Promise<void> {
  const h = await Flux.open(c.uri(rank));
  try {
    await h.call('attr.set', { name, value });
  } finally {
    h.close();
  }
}

export const FAULTS: Record<FaultName, Fault> = {
  'kill9-rank0': {
    name: 'kill9-rank0',
    async run({ cluster, log }) {
      log('kill -9 rank 0, then start again from the statedir');
      await cluster.crashAndRestart();
    },
  },
  'kill9-leaf': {
    name: 'kill9-leaf',
    async run({ cluster, rng, log }) {
      const rank = rng.int(1, cluster.opts.size - 1);
      const ms = rng.int(1000, 4000);
      log(`kill -9 rank ${rank}; the instance runs without it for ${ms} ms, then restarts`);
      cluster.signal(rank, 'SIGKILL');
      await sleep(ms);
      await cluster.restart();
    },
  },
  sigstop: {
    name: 'sigstop',
    async run({ cluster, rng, log }) {
      const rank = rng.int(0, cluster.opts.size - 1);
      const ms = rng.int(300, 2500);
      log(`SIGSTOP rank ${rank} for ${ms} ms`);
      cluster.signal(rank, 'SIGSTOP');
      await sleep(ms);
      cluster.signal(rank, 'SIGCONT');
    },
  },
  drop: {
    name: 'drop',
    async run({ cluster, rng, log }) {
      const rank = rng.int(1, cluster.opts.size - 1);
      const fraction = (rng.int(2, 7) / 10).toFixed(1);
      const ms = rng.int(1000, 4000);
      log(`rank ${rank} drops ${fraction} of the journal entries it receives for ${ms} ms`);
      const gen = cluster.generation;
      await setAttr(cluster, rank, 'journal.drop-fraction', fraction);
      await sleep(ms);
      // a restart in between already reset it
      if (cluster.generation === gen) await setAttr(cluster, rank, 'journal.drop-fraction', '0');
    },
  },
  'disk-full': {
    name: 'disk-full',
    async run({ mount, rng, log }) {
      if (!mount) throw new Error('disk-full needs the statedir on a tmpfs of its own');
      const ms = rng.int(500, 2500);
      const filler = join(mount, 'filler');
      const fd = openSync(filler, 'w');
      let written = 0;
      try {
        // big writes to fill quickly, then smaller ones for the last pages
        for (const size of [1 << 20, 1 << 16, 1 << 12]) {
          const chunk = Buffer.alloc(size, 0xaa);
          try {
            for (;;) written += writeSync(fd, chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          }
        }
      } finally {
        closeSync(fd);
      }
      log(`statedir filesystem full (${written} bytes of filler) for ${ms} ms`);
      await sleep(ms);
      rmSync(filler, { force: true });
    },
  },
};

/** a small tmpfs for the statedir (needs root, as CI has); returns the mount point */
export function mountSmallTmpfs(megabytes: number): string {
  const mnt = mkdtempSync(join(tmpdir(), 'flux-verify-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', mnt]);
  return mnt;
}

export function unmount(mnt: string): void {
  try {
    execFileSync('umount', [mnt]);
  } catch {
    execFileSync('umount', ['-l', mnt]);
  }
  rmSync(mnt, { recursive: true, force: true });
}

export function parseFaults(spec: string): FaultName[] {
  if (spec === 'all') return [...FAULT_NAMES];
  if (spec === 'none' || spec === '') return [];
  const names = spec.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(FAULT_NAMES as readonly string[]).includes(n)) throw new Error(`unknown fault ${n} (known: ${FAULT_NAMES.join(', ')}, all, none)`);
  }
  return names as FaultName[];
}
