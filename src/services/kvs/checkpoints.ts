// Rank 0: flux-core's checkpoints of the primary namespace (checkpt_v2 rows), and primary restored at start from
// a checkpoint or an archive (-S content.restore).
import { FluxError, ENOENT, EPROTO } from '../../core/errors.js';
import { ROLE_OWNER } from '../../core/wire/message.js';
import { blobrefOf } from '../../core/content/blobref.js';
import { dirref } from '../../core/kvs/treeobj.js';
import { parseFSD } from '../../core/time/fsd.js';
import { TXN_SYNC } from '../../core/kvs/tree.js';
import { PRIMARY } from '../../projections/kvs.js';
import { ATTR_RUNTIME } from '../attrs.js';
import type { KvsContext } from './context.js';
import type { CommitQueue, CommitResult } from './commit-queue.js';

/** blobs stored per transaction while an archive is restored at start */
const RESTORE_BATCH = 4096;

export interface Checkpoints {
  /**
   * A checkpt_v2 row for primary's current root, in flux-core's form ({version, rootref, sequence, timestamp}),
   * as flux-core's KVS writes one on unload, after a SYNC commit and every kvs.checkpoint-period. The journal
   * stays the truth; these rows are what `flux content checkpoint list` shows, what `flux dump --checkpoint`
   * reads, and what `-S content.restore=N` returns to. The root's objects are durable before the projection
   * holds it: they are written in the setroot entry's transaction.
   */
  write(): void;
  /** primary's start: the restore asked for, then a checkpoint every kvs.checkpoint-period */
  start(restore: string | undefined): Promise<void>;
  stop(): void;
}

export function checkpoints(ctx: KvsContext, queue: Pick<CommitQueue, 'commit'>): Checkpoints {
  const { host, backing, hash, rootOf, instanceOwner } = ctx;
  /** the root the newest checkpt_v2 row names, so that an unchanged root is not written again */
  let checkpointed: string | undefined;
  let checkpointTimer: NodeJS.Timeout | undefined;

  function write(): void {
    const root = rootOf(PRIMARY)!;
    const key = `${root.rootseq} ${root.rootref}`;
    if (key === checkpointed) return;
    backing!.checkpointPut({ version: 1, rootref: root.rootref, sequence: root.rootseq, timestamp: Date.now() / 1000 });
    checkpointed = key;
  }

  /**
   * `-S content.restore=N`: primary goes back to the root of checkpoint N (0 = the newest, as `flux content
   * checkpoint list` numbers them) by a new setroot entry that replaces the root. The journal is kept and versions
   * keep counting up: going back is itself a change, recorded like any other.
   */
  async function restoreCheckpoint(spec: string): Promise<void> {
    const list = backing!.checkpointGet();
    const n = Number(spec);
    const cp = list[n] as { rootref?: unknown } | undefined;
    if (cp === undefined) throw new FluxError(ENOENT, `content.restore=${spec}: there are ${list.length} checkpoints`);
    const ref = typeof cp === 'string' ? cp : cp.rootref;
    if (typeof ref !== 'string') throw new FluxError(EPROTO, `content.restore=${spec}: the checkpoint names no root`);
    if (rootOf(PRIMARY)!.rootref === ref) return;
    const r = await replaceRoot(ref, `restore.checkpoint-${n}`);
    host.log(6, 'kvs', `restored primary from checkpoint ${n} (${ref}) as version ${r.rootseq}`);
  }

  /**
   * `-S content.restore=PATH`: primary's tree is replaced by an archive's (tar or gzipped tar, flux-core's layout),
   * as `flux restore --checkpoint` does on a running instance; its blobs are stored in transactions of
   * RESTORE_BATCH before the setroot entry names them.
   */
  async function restoreArchive(path: string): Promise<void> {
    // loaded here: only a rank 0 started from an archive reads one
    const [{ readTar }, { TreeBuilder, addEntry }, { archiveSource }] = await Promise.all([
      import('../../core/kvs/tar.js'), import('../../core/kvs/archive.js'), import('../../core/kvs/archive-file.js'),
    ]);
    const tree = new TreeBuilder();
    let batch: Buffer[] = [];
    const store = (blob: Buffer) => {
      batch.push(blob);
      return blobrefOf(hash, blob);
    };
    const flushBatch = () => {
      backing!.storeMany(batch);
      batch = [];
    };
    for await (const e of readTar(archiveSource(path))) {
      const outcome = addEntry(tree, e, store);
      if (outcome !== undefined && 'skipped' in outcome) host.log(4, 'kvs', `content.restore: ${outcome.skipped}`);
      if (batch.length >= RESTORE_BATCH) flushBatch();
    }
    const ref = tree.finish(store);
    flushBatch();
    const r = await replaceRoot(ref, 'restore.archive');
    host.log(6, 'kvs', `restored primary from ${path} (${tree.entries} keys) as version ${r.rootseq}`);
  }

  /** a commit that makes `ref` (a stored directory) primary's root: an op on "." */
  function replaceRoot(ref: string, name: string): Promise<CommitResult> {
    const cred = { userid: instanceOwner, rolemask: ROLE_OWNER };
    return queue.commit(PRIMARY, TXN_SYNC, [{ key: '.', flags: 0, dirent: dirref(ref) }], cred, name);
  }

  return {
    write,
    start: async (restore) => {
      const newest = backing!.checkpointGet()[0] as { rootref?: unknown; sequence?: unknown } | undefined;
      if (newest !== undefined) checkpointed = `${String(newest.sequence)} ${String(newest.rootref)}`;
      // flux-core's attribute names an archive; an index (what checkpoint list prints) names a checkpoint
      if (restore !== undefined) await (/^\d+$/.test(restore) ? restoreCheckpoint(restore) : restoreArchive(restore));
      if (!host.attrs.has('kvs.checkpoint-period')) host.attrs.define('kvs.checkpoint-period', '0', ATTR_RUNTIME);
      const period = parseFSD(host.attrs.get('kvs.checkpoint-period') ?? '0');
      if (period > 0 && Number.isFinite(period)) {
        checkpointTimer = setInterval(() => {
          try {
            write();
          } catch (err) {
            host.log(3, 'kvs', `checkpoint failed: ${(err as Error).message}`);
          }
        }, period * 1000);
        checkpointTimer.unref();
      }
    },
    stop: () => clearInterval(checkpointTimer),
  };
}
