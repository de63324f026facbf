// `flux restore [-v] [-q] (--checkpoint | --key=NAME) [--size-limit=SIZE] ARCHIVE|-`: a tar archive in flux-core's
// layout (ours, or one GNU tar or flux-core made) stored as a KVS tree on a running instance, then either linked
// at key NAME or, with --checkpoint, made the primary namespace's root. Both are one KVS commit, so the change is
// a journal entry like any other: versions keep counting up and the history before it stays readable. (flux-core
// writes a checkpoint with the KVS unloaded instead; here the journal, not the checkpoint, is the truth.)
import { Flux } from '../api/handle.js';
import { FluxError, EINVAL, EPROTO } from '../core/errors.js';
import { type HashName, blobrefOf, checkHashName, isDigest, blobref } from '../core/blobref.js';
import { TreeBuilder, addEntry } from '../core/kvs-archive.js';
import { readTar } from '../core/tar.js';
import { dirref } from '../core/treeobj.js';
import { TXN_SYNC } from '../core/kvs-tree.js';
import { program, parse } from './common.js';
import { Progress, WINDOW, parseSize } from './archive-io.js';
import { archiveSource } from '../core/archive-file.js';

interface Options {
  verbose?: boolean;
  quiet?: boolean;
  checkpoint?: boolean;
  key?: string;
  sizeLimit?: string;
  cache: boolean;
}

const warn = (text: string) => process.stderr.write(`flux-restore: ${text}\n`);

/** content.store with up to WINDOW requests in flight; each blobref is known at once (it is the blob's hash) */
class BlobUploader {
  private inFlight = new Set<Promise<void>>();
  private failed: unknown;
  stored = 0;

  constructor(private readonly h: Flux, private readonly hash: HashName, private readonly topic: string) {}

  /** the blobref now; the request goes out at once, and store() waits for room before the next one */
  store(blob: Buffer): string {
    const ref = blobrefOf(this.hash, blob);
    const p = this.h.rpc(this.topic, blob.length > 0 ? blob : undefined).then((m) => {
      if (!m.payload || !isDigest(this.hash, m.payload) || blobref(this.hash, m.payload) !== ref) {
        throw new FluxError(EPROTO, `content.store answered another digest for ${ref}`);
      }
      this.stored++;
    }).catch((err: unknown) => {
      this.failed ??= err;
    }).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return ref;
  }

  /** wait until fewer than WINDOW stores are in flight (throws the first failure) */
  async room(): Promise<void> {
    while (this.inFlight.size >= WINDOW) await Promise.race(this.inFlight);
    if (this.failed !== undefined) throw this.failed;
  }

  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failed !== undefined) throw this.failed;
  }
}

async function restore(archive: string, o: Options): Promise<number> {
  if ((o.checkpoint === true) === (o.key !== undefined)) throw new FluxError(EINVAL, 'one of --checkpoint or --key=NAME is required');
  const limit = o.sizeLimit === undefined ? undefined : parseSize(o.sizeLimit);
  const h = await Flux.open();
  try {
    const hash = checkHashName(String((await h.call('attr.get', { name: 'content.hash' })).value));
    const up = new BlobUploader(h, hash, o.cache ? 'content.store' : 'content-backing.store');
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
    const op = { key: o.checkpoint ? '.' : o.key!, flags: 0, dirent: dirref(rootref) };
    await h.call('kvs.commit', { namespace: 'primary', flags: o.checkpoint ? TXN_SYNC : 0, ops: [op] });
    progress.done();
    if (skipped > 0) warn(`${skipped} archive entries were skipped`);
    return 0;
  } finally {
    h.close();
  }
}

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('restore', 'Restore the KVS from a tar archive');
  p.argument('<archive>', 'the archive to read (tar, or gzipped tar), or - for stdin')
    .option('-v, --verbose', 'list each key as it is restored (on stderr)')
    .option('-q, --quiet', 'print no progress')
    .option('--checkpoint', 'make the restored tree the root of the primary namespace')
    .option('--key <name>', 'link the restored tree at KVS key NAME')
    .option('--size-limit <size>', 'skip values larger than SIZE bytes (k, M, G suffixes)')
    .option('--no-cache', 'store blobs in the backing store directly, bypassing the content cache')
    .action((archive: string, o: Options) => { action = () => restore(archive, o); });
  const code = parse(p, args);
  if (code !== undefined) return code;
  return action ? action() : 1;
}
