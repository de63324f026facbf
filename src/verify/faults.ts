// The fault injectors: each is named, draws from its own seeded generator, does its damage, waits, and heals
// (or, for a crash, restarts the instance from its statedir) before returning. One runs at a time. Each says
// whether it really struck (the process is gone or stopped, entries were dropped, a write was refused for want
// of space) and whether the instance recovered from it (every rank answers and has caught up), so a run named
// for a fault can prove that it happened.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, mkdtempSync, readFileSync, statSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../api/handle.js';
import { errnoOf, ENOSPC } from '../core/errors.js';
import type { Cluster } from './cluster.js';
import type { Random } from './random.js';

export interface FaultContext {
  cluster: Cluster;
  rng: Random;
  log: (line: string) => void;
  /** the directory the statedir's filesystem is mounted on, when it is a tmpfs of its own */
  mount?: string;
  /** the statedir (on the mount when there is one) */
  statedir?: string;
}

export interface FaultOutcome {
  /** the damage was seen to happen */
  struck: boolean;
  /** the instance answered on every rank afterwards and the rank struck caught up */
  recovered: boolean;
  detail: string;
}

export interface Fault {
  name: string;
  run(ctx: FaultContext): Promise<FaultOutcome>;
}

export const FAULT_NAMES = ['kill9-rank0', 'kill9-leaf', 'sigstop', 'drop', 'disk-full'] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** what a recovered broker must do in this long */
const RECOVERY_MS = 20_000;

async function call(c: Cluster, rank: number, topic: string, body?: Record<string, unknown> | Buffer): Promise<Record<string, unknown>> {
  const h = await Flux.open(c.uri(rank));
  try {
    return await h.call(topic, body);
  } finally {
    h.close();
  }
}

const setAttr = (c: Cluster, rank: number, name: string, value: string) => call(c, rank, 'attr.set', { name, value });
const headSeq = async (c: Cluster, rank: number) => Number((await call(c, rank, 'journal.head')).seq);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** the process state letter from /proc (T: stopped), or undefined when it is gone */
function procState(pid: number): string | undefined {
  try {
    return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** poll `fn` until it is true or `ms` pass */
async function within(ms: number, fn: () => boolean | Promise<boolean>): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return true;
    } catch {
      // not answering yet
    }
    if (Date.now() > end) return false;
    await sleep(100);
  }
}

/** every rank answers, and `rank` holds at least what rank 0 held once every rank answered */
async function recoveredAt(c: Cluster, rank: number): Promise<boolean> {
  await c.ready();
  const all = await within(RECOVERY_MS, async () => {
    for (let r = 0; r < c.opts.size; r++) await headSeq(c, r);
    return true;
  });
  if (!all) return false;
  const target = await headSeq(c, 0);
  return within(RECOVERY_MS, async () => (await headSeq(c, rank)) >= target);
}

/** a commit of its own key on rank 0: refused or not */
async function probeCommit(c: Cluster, value: string): Promise<unknown> {
  const dirent = { ver: 1, type: 'val', data: Buffer.from(value).toString('base64') };
  return call(c, 0, 'kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'lin-probe', flags: 0, dirent }] });
}

export const FAULTS: Record<FaultName, Fault> = {
  'kill9-rank0': {
    name: 'kill9-rank0',
    async run({ cluster, log }) {
      const pid = cluster.pids[0]!;
      const before = await headSeq(cluster, 0).catch(() => 0);
      log('kill -9 rank 0, then start again from the statedir');
      await cluster.crashAndRestart();
      const struck = !alive(pid);
      const recovered = await recoveredAt(cluster, 0) && (await headSeq(cluster, 0)) >= before;
      return { struck, recovered, detail: `pid ${pid} ${struck ? 'gone' : 'still there'}; journal head was ${before}` };
    },
  },
  'kill9-leaf': {
    name: 'kill9-leaf',
    async run({ cluster, rng, log }) {
      const rank = rng.int(1, cluster.opts.size - 1);
      const ms = rng.int(1000, 4000);
      const pid = cluster.pids[rank]!;
      log(`kill -9 rank ${rank}; the instance runs without it for ${ms} ms, then restarts`);
      cluster.signal(rank, 'SIGKILL');
      const struck = await within(2000, () => !alive(pid));
      await sleep(ms);
      await cluster.restart();
      return { struck, recovered: await recoveredAt(cluster, rank), detail: `rank ${rank} (pid ${pid})` };
    },
  },
  sigstop: {
    name: 'sigstop',
    async run({ cluster, rng, log }) {
      const rank = rng.int(0, cluster.opts.size - 1);
      const ms = rng.int(300, 2500);
      const pid = cluster.pids[rank]!;
      log(`SIGSTOP rank ${rank} for ${ms} ms`);
      cluster.signal(rank, 'SIGSTOP');
      const struck = await within(1000, () => procState(pid) === 'T');
      await sleep(ms);
      cluster.signal(rank, 'SIGCONT');
      return { struck, recovered: await recoveredAt(cluster, rank), detail: `rank ${rank} (pid ${pid})` };
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
      const dropped = async () => Number((await call(cluster, rank, 'journal.stats-get')).dropped);
      const before = await dropped();
      await setAttr(cluster, rank, 'journal.drop-fraction', fraction);
      await sleep(ms);
      // a restart in between already reset it (and the count)
      const same = cluster.generation === gen;
      if (same) await setAttr(cluster, rank, 'journal.drop-fraction', '0');
      const n = same ? (await dropped()) - before : 0;
      return { struck: n > 0, recovered: await recoveredAt(cluster, rank), detail: `rank ${rank} dropped ${n} entries` };
    },
  },
  'disk-full': {
    name: 'disk-full',
    async run({ cluster, mount, statedir, rng, log }) {
      if (!mount || !statedir) throw new Error('disk-full needs the statedir on a tmpfs of its own');
      const ms = rng.int(500, 2500);
      const held = makeFull(mount);
      log(`statedir filesystem full (shrunk to the ${held} bytes it holds) for ${ms} ms`);
      // more than the write-ahead log holds, incompressible: sqlite must grow a file, and is refused
      let walBytes = 0;
      try {
        walBytes = statSync(join(statedir, 'content.sqlite-wal')).size;
      } catch {
        // no log yet
      }
      let refused = false;
      try {
        await call(cluster, 0, 'content.store', randomBytes(walBytes + (4 << 20)));
      } catch (err) {
        refused = errnoOf(err) === ENOSPC;
      }
      await sleep(Math.max(0, ms));
      regrow(mount);
      const recovered = await within(RECOVERY_MS, async () => {
        await probeCommit(cluster, `after-disk-full-${Date.now()}`);
        return true;
      }) && await recoveredAt(cluster, 0);
      return { struck: refused, recovered, detail: `filesystem full; a store of ${walBytes + (4 << 20)} bytes ${refused ? 'refused with ENOSPC' : 'not refused'}` };
    },
  },
};

/** the size a tmpfs of the statedir's is made with, and given back after the disk-full fault */
const ROOM = '50%';

/**
 * A tmpfs of its own for the statedir (needs root, as CI has), as large as tmpfs makes one (half the memory): the
 * disk-full fault shrinks it to what it holds, so a long run's journal does not fill it by itself, and making it
 * full writes nothing. Returns the mount point.
 */
export function mountTmpfs(): string {
  const mnt = mkdtempSync(join(tmpdir(), 'flux-verify-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${ROOM}`, 'tmpfs', mnt]);
  return mnt;
}

/** the tmpfs at `mnt` shrunk to what it holds, so that it is full; returns the bytes it holds */
export function makeFull(mnt: string): number {
  for (let attempt = 1; ; attempt++) {
    const st = statfsSync(mnt);
    const used = (st.blocks - st.bfree) * st.bsize;
    try {
      execFileSync('mount', ['-o', `remount,size=${used}`, mnt], { stdio: 'ignore' });
      return used;
    } catch (err) {
      // a write between reading what it holds and the remount makes it refuse a size below that: read again
      if (attempt === 20) throw err;
    }
  }
}

/** the room the tmpfs at `mnt` was made with, given back */
export function regrow(mnt: string): void {
  execFileSync('mount', ['-o', `remount,size=${ROOM}`, mnt]);
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
