// `flux dump [-v] [-q] [--checkpoint] [--no-cache] [--ignore-failed-read] ARCHIVE|-`: the primary namespace (or
// the tree of the newest checkpoint) as a tar archive in flux-core's layout, streamed: directories are loaded
// ahead of the walk, and values a window at a time, in key order.
import { Flux } from '../api/handle.js';
import { FluxError, ENOENT, EPROTO, strerror } from '../core/errors.js';
import { type HashName, digestOf } from '../core/content/blobref.js';
import { checkpointGet, contentHash, loadDigest } from '../api/content.js';
import { getroot, stringField } from '../api/kvs.js';
import { type Leaf, walkTree } from '../core/kvs/walk.js';
import { linkTargetOf, pathOfKey } from '../core/kvs/archive.js';
import { TYPE_FILE, TYPE_SYMLINK, encodeHeader, padding, trailer } from '../core/kvs/tar.js';
import { cProgram, parse } from './common.js';
import { Progress, WINDOW, openSink, parseMaxreqs } from './archive-io.js';

/** bytes gathered before one write to the archive */
const OUT_CHUNK = 256 * 1024;

interface Options {
  verbose?: boolean;
  quiet?: boolean;
  checkpoint?: boolean;
  cache: boolean;
  ignoreFailedRead?: boolean;
  maxreqs?: string;
}

const warn = (text: string) => process.stderr.write(`flux-dump: ${text}\n`);

const reason = (err: unknown) => (err instanceof FluxError ? err.message || strerror(err.errno) : String(err));

/** the root to dump and the time its files carry */
async function rootToDump(h: Flux, checkpoint: boolean): Promise<{ rootref: string; mtime: number }> {
  if (!checkpoint) {
    const r = await getroot(h, 'primary', { flags: 0 });
    return { rootref: stringField(r, 'rootref'), mtime: Math.floor(Date.now() / 1000) };
  }
  let value: unknown;
  try {
    value = await checkpointGet(h);
  } catch (err) {
    if (err instanceof FluxError && err.errno === ENOENT) throw new FluxError(ENOENT, 'there is no checkpoint to dump');
    throw err;
  }
  const newest = (Array.isArray(value) ? value[0] : value) as { rootref?: unknown; timestamp?: unknown } | undefined;
  if (typeof newest?.rootref !== 'string') throw new FluxError(EPROTO, 'the newest checkpoint names no root');
  const t = typeof newest.timestamp === 'number' ? newest.timestamp : Date.now() / 1000;
  return { rootref: newest.rootref, mtime: Math.floor(t) };
}

/** a value's blobs joined, a window of them loading at a time: a long value has tens of thousands */
async function joined(refs: readonly string[], load: (ref: string) => Promise<Buffer>, window: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < refs.length; i += window) parts.push(...(await Promise.all(refs.slice(i, i + window).map(load))));
  return Buffer.concat(parts);
}

/** a leaf's bytes: a val's inline data at once, a valref's blobs joined */
function valueOf(leaf: Leaf, load: (ref: string) => Promise<Buffer>, window: number): Buffer | Promise<Buffer> {
  if (leaf.obj.type === 'val') return Buffer.from(leaf.obj.data, 'base64');
  if (leaf.obj.type === 'valref') {
    const refs = leaf.obj.data;
    const p = refs.length === 1 ? load(refs[0]!) : joined(refs, load, window);
    // awaited in walk order later; until then a failure must not count as unhandled
    p.catch(() => {});
    return p;
  }
  return Buffer.alloc(0);
}

async function dump(archive: string, o: Options): Promise<number> {
  const window = parseMaxreqs(o.maxreqs);
  const h = await Flux.open();
  try {
    const hash: HashName = await contentHash(h);
    const load = async (ref: string): Promise<Buffer> => {
      try {
        return await loadDigest(h, digestOf(hash, ref), { bypassCache: !o.cache });
      } catch (err) {
        throw err instanceof FluxError ? new FluxError(err.errno, `${ref}: ${reason(err)}`) : err;
      }
    };
    const { rootref, mtime } = await rootToDump(h, o.checkpoint === true);
    const sink = openSink(archive);
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const progress = new Progress((n) => `flux-dump: archived ${n} keys`, o.quiet === true || o.verbose === true);
    let written = 0;
    let skipped = 0;
    // small headers and values are gathered into writes of OUT_CHUNK bytes: a write per piece costs more than it
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      await sink.write(b);
    };
    const put = async (b: Buffer) => {
      if (b.length === 0) return;
      written += b.length;
      pending.push(b);
      pendingBytes += b.length;
      if (pendingBytes >= OUT_CHUNK) await flush();
    };
    const onDirError = o.ignoreFailedRead
      ? (key: string, err: unknown) => {
        skipped++;
        warn(`${key}: ${reason(err)}`);
      }
      : undefined;
    // values are loaded a window ahead of the one being written, and written in walk order
    const ahead: Array<{ leaf: Leaf; value: Buffer | Promise<Buffer> }> = [];
    const writeOne = async (): Promise<void> => {
      const { leaf, value } = ahead.shift()!;
      let data: Buffer;
      try {
        data = Buffer.isBuffer(value) ? value : await value;
      } catch (err) {
        if (!o.ignoreFailedRead) throw new FluxError(err instanceof FluxError ? err.errno : EPROTO, `${leaf.key}: ${reason(err)}`);
        skipped++;
        warn(`${leaf.key}: ${reason(err)}`);
        return;
      }
      const link = leaf.obj.type === 'symlink';
      await put(encodeHeader({
        path: pathOfKey(leaf.key), type: link ? TYPE_SYMLINK : TYPE_FILE, size: link ? 0 : data.length,
        mode: link ? 0o777 : 0o644, uid, gid, mtime, linkpath: link ? linkTargetOf(leaf.obj as Extract<Leaf['obj'], { type: 'symlink' }>) : '',
      }));
      if (!link) {
        await put(data);
        await put(padding(data.length));
      }
      if (o.verbose) process.stderr.write(`${leaf.key}\n`);
      progress.tick();
    };
    try {
      for await (const leaf of walkTree(rootref, load, { window, onDirError })) {
        ahead.push({ leaf, value: valueOf(leaf, load, window) });
        if (ahead.length >= window) await writeOne();
      }
      while (ahead.length > 0) await writeOne();
      await put(trailer(written));
      await flush();
      await sink.close();
    } catch (err) {
      sink.abort();
      throw err;
    }
    progress.done();
    if (skipped > 0) warn(`${skipped} keys or directories could not be read and were left out`);
    return 0;
  } finally {
    h.close();
  }
}

export async function run(args: string[]): Promise<number> {
  const p = cProgram('dump', 'Dump KVS snapshot to a portable archive format', '[OPTIONS] OUTFILE', { builtin: true })
    .option('-v, --verbose', 'List keys on stderr as they are archived')
    .option('-q, --quiet', "Don't show periodic progress updates")
    .option('--checkpoint', 'Dump from checkpoint')
    .option('--no-cache', 'Bypass the broker content cache')
    .option('--ignore-failed-read', 'Treat content load errors as non-fatal')
    .option('--maxreqs <N>', `Increase number of concurrent requests (default ${WINDOW})`)
    .argument('[outfile...]');
  const code = parse(p, args);
  if (code !== undefined) return code;
  if (p.args.length !== 1) {
    process.stderr.write(p.helpInformation());
    return 1;
  }
  return dump(p.args[0]!, p.opts<Options>());
}
