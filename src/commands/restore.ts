// `flux restore [-v] [-q] (--checkpoint | --key=NAME) [--size-limit=SIZE] ARCHIVE|-`: a tar archive in flux-core's
// layout (ours, or one GNU tar or flux-core made) stored as a KVS tree on a running instance, then either linked
// at key NAME or, with --checkpoint, made the primary namespace's root. Both are one KVS commit, so the change is
// a journal entry like any other: versions keep counting up and the history before it stays readable. (flux-core
// writes a checkpoint with the KVS unloaded instead; here the journal, not the checkpoint, is the truth.)
import { Flux } from '../api/handle.js';
import { FluxError, EINVAL, EPROTO } from '../core/errors.js';
import { type HashName, blobrefOf } from '../core/content/blobref.js';
import { contentHash, storeBlob } from '../api/content.js';
import { Txn, commit } from '../api/kvs.js';
import { TreeBuilder, addEntry } from '../core/kvs/archive.js';
import { readTar } from '../core/kvs/tar.js';
import { dirref } from '../core/kvs/treeobj.js';
import { TXN_SYNC } from '../core/kvs/tree.js';
import { cProgram, parse } from './common.js';
import { Progress, WINDOW, parseMaxreqs, parseSize } from './archive-io.js';
import { archiveSource } from '../core/kvs/archive-file.js';

interface Options {
  verbose?: boolean;
  quiet?: boolean;
  checkpoint?: boolean;
  key?: string;
  sizeLimit?: string;
  cache: boolean;
  maxreqs?: string;
}

const warn = (text: string) => process.stderr.write(`flux-restore: ${text}\n`);

/** content.store with up to `window` requests in flight; each blobref is known at once (it is the blob's hash) */
class BlobUploader {
  private inFlight = new Set<Promise<void>>();
  private failed: unknown;
  stored = 0;

  constructor(private readonly h: Flux, private readonly hash: HashName, private readonly bypassCache: boolean, private readonly window: number) {}

  /** the blobref now; the request goes out at once, and store() waits for room before the next one */
  store(blob: Buffer): string {
    const ref = blobrefOf(this.hash, blob);
    const p = storeBlob(this.h, this.hash, blob, { bypassCache: this.bypassCache }).then((stored) => {
      if (stored !== ref) {
        throw new FluxError(EPROTO, `content.store answered another digest for ${ref}`);
      }
      this.stored++;
    }).catch((err: unknown) => {
      this.failed ??= err;
    }).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return ref;
  }

  /** wait until fewer than `window` stores are in flight (throws the first failure) */
  async room(): Promise<void> {
    while (this.inFlight.size >= this.window) await Promise.race(this.inFlight);
    if (this.failed !== undefined) throw this.failed;
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failed !== undefined) throw this.failed;
  }
}

async function restore(archive: string, o: Options): Promise<number> {
  const limit = o.sizeLimit === undefined ? undefined : parseSize(o.sizeLimit);
  const window = parseMaxreqs(o.maxreqs);
  if (o.checkpoint === true && o.key !== undefined) throw new FluxError(EINVAL, 'specify only one of --checkpoint and --key');
  if (o.checkpoint !== true && o.key === undefined) throw new FluxError(EINVAL, 'Please specify a restore target with --checkpoint or --key');
  const h = await Flux.open();
  try {
    const hash = await contentHash(h);
    const up = new BlobUploader(h, hash, !o.cache, window);
    const tree = new TreeBuilder();
    const progress = new Progress((n) => `flux-restore: restored ${n} keys`, o.quiet === true || o.verbose === true);
    let skipped = 0;
    for await (const e of readTar(archiveSource(archive), { maxData: limit })) {
      const outcome = addEntry(tree, e, (b) => up.store(b), limit);
      if (outcome === undefined) continue;
      if ('skipped' in outcome) {
        skipped++;
        warn(outcome.skipped);
        continue;
      }
      await up.room();
      if (o.verbose) process.stderr.write(`${outcome.key}\n`);
      progress.tick();
    }
    // directories last: every blob they name is stored before the commit that makes them reachable
    const rootref = tree.finish((b) => up.store(b));
    await up.drain();
    await commit(h, 'primary', o.checkpoint ? TXN_SYNC : 0, new Txn().putTreeobj(o.checkpoint ? '.' : o.key!, dirref(rootref)).ops);
    progress.done();
    if (skipped > 0) warn(`${skipped} archive entries were skipped`);
    return 0;
  } finally {
    h.close();
  }
}

export async function run(args: string[]): Promise<number> {
  const p = cProgram('restore', 'Restore KVS snapshot from a portable archive format', '[OPTIONS] INFILE', { builtin: true })
    .option('-v, --verbose', 'List keys on stderr as they are restored')
    .option('-q, --quiet', "Don't show periodic progress updates")
    .option('--checkpoint', 'Restore to checkpoint')
    .option('--key <KEY>', 'Restore to KVS key')
    .option('--no-cache', 'Bypass the broker content cache')
    .option('--size-limit <SIZE>', 'Do not restore blobs greater than SIZE bytes')
    .option('--maxreqs <N>', `Max concurrent content store requests (default ${WINDOW})`)
    .argument('[infile...]');
  const code = parse(p, args);
  if (code !== undefined) return code;
  if (p.args.length !== 1) {
    process.stderr.write(p.helpInformation());
    return 1;
  }
  return restore(p.args[0]!, p.opts<Options>());
}
