// `flux content store|load|flush|dropcache|checkpoint`: the content store, with flux-core's raw payloads (binary
// digests on the wire, blobrefs on the terminal). Loads and chunked stores keep many requests in flight.
import { readFileSync } from 'node:fs';
import { Flux, withHandle } from '../api/handle.js';
import { FluxError, EINVAL, ENOENT, ENOSYS } from '../core/errors.js';
import { digestOf, parseBlobref } from '../core/content/blobref.js';
import { checkpointGet, checkpointPut, contentControl, contentHash, loadDigest, storeBlob } from '../api/content.js';
import { getroot } from '../api/kvs.js';
import { program, runChosen } from './common.js';

/** requests kept in flight by one command: enough to hide the round trip, bounded so memory stays small */
const WINDOW = 256;

export interface CheckpointValue {
  rootref?: unknown;
  sequence?: unknown;
  timestamp?: unknown;
}

/** seconds since the epoch as flux-core prints them: ISO 8601 UTC to the second */
export function isoSeconds(t: number): string {
  return new Date(Math.floor(t) * 1000).toISOString().replace('.000Z', 'Z');
}

/** flux-core's `flux content checkpoint list` table: index (0 = newest), sequence, ISO time, rootref */
export function formatCheckpoints(values: CheckpointValue[], header: boolean): string {
  const row = (a: string, b: string, c: string, d: string) => `${a.padEnd(10)} ${b.padEnd(10)} ${c.padEnd(20)} ${d}\n`;
  let out = header ? row('Index', 'Sequence', 'Time', 'Rootref') : '';
  values.forEach((v, i) => {
    const seq = typeof v.sequence === 'number' ? String(v.sequence) : '-';
    const time = typeof v.timestamp === 'number' ? isoSeconds(v.timestamp) : '-';
    out += row(String(i), seq, time, typeof v.rootref === 'string' ? v.rootref : '-');
  });
  return out;
}

/**
 * Run fn over 0..n-1 with up to WINDOW calls in flight, handing each result to `each` in index order as soon as
 * it and all before it are done. The first failure stops it.
 */
export async function inOrder<T>(n: number, fn: (i: number) => Promise<T>, each: (r: T, i: number) => void): Promise<void> {
  const done = new Map<number, T>();
  let next = 0;
  let emitted = 0;
  let failed: unknown;
  const lane = async (): Promise<void> => {
    while (next < n && failed === undefined) {
      const i = next++;
      try {
        done.set(i, await fn(i));
      } catch (err) {
        failed ??= err;
        return;
      }
      while (done.has(emitted)) {
        each(done.get(emitted)!, emitted);
        done.delete(emitted++);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WINDOW, n) }, lane));
  if (failed !== undefined) throw failed;
}

function stdinLines(): string[] {
  return readFileSync(0, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
}

/** an error about one blobref names it, once */
function about(ref: string, err: unknown): unknown {
  if (!(err instanceof FluxError) || err.message.includes(ref)) return err;
  return new FluxError(err.errno, `${ref}: ${err.message}`);
}

async function store(o: { bypassCache?: boolean; chunksize?: string }): Promise<number> {
  let size = 0;
  if (o.chunksize !== undefined) {
    size = Number(o.chunksize);
    if (!/^\d+$/.test(o.chunksize) || size < 1) throw new FluxError(EINVAL, `--chunksize: expected a positive byte count, not "${o.chunksize}"`);
  }
  const data = readFileSync(0);
  const chunks: Buffer[] = [];
  if (size > 0) for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  if (chunks.length === 0) chunks.push(data);
  return withHandle(async (h) => {
    const hash = await contentHash(h);
    await inOrder(chunks.length, (i) => storeBlob(h, hash, chunks[i]!, o), (ref) => process.stdout.write(`${ref}\n`));
    return 0;
  });
}

async function load(refs: string[], o: { bypassCache?: boolean }): Promise<number> {
  const list = refs.length > 0 ? refs : stdinLines();
  // every blobref is checked before anything is printed
  const digests = list.map((r) => parseBlobref(r).digest);
  return withHandle(async (h) => {
    await inOrder(digests.length, async (i) => {
      try {
        return await loadDigest(h, digests[i]!, o);
      } catch (err) {
        throw about(list[i]!, err);
      }
    }, (payload) => {
      if (payload) process.stdout.write(payload);
    });
    return 0;
  });
}

/** newest first; none yet is an empty list, not an error */
async function checkpoints(h: Flux): Promise<unknown[]> {
  try {
    const value = await checkpointGet(h);
    // an older flux-core answered a single object
    return Array.isArray(value) ? value : [value];
  } catch (err) {
    if (err instanceof FluxError && err.errno === ENOENT) return [];
    throw err;
  }
}

async function checkpointList(o: { header: boolean; json?: boolean }): Promise<number> {
  return withHandle(async (h) => {
    const values = await checkpoints(h);
    if (o.json) {
      for (const v of values) process.stdout.write(`${JSON.stringify(v)}\n`);
    } else {
      const rows = values.map((v) => (typeof v === 'object' && v !== null ? v as CheckpointValue : { rootref: String(v) }));
      process.stdout.write(formatCheckpoints(rows, o.header));
    }
    return 0;
  });
}

/** the KVS's current root version where a KVS runs (so sequences never go back), else undefined */
async function kvsRootseq(h: Flux): Promise<number | undefined> {
  try {
    const seq = (await getroot(h, 'primary', { flags: 0 })).get('rootseq');
    return typeof seq === 'bigint' ? Number(seq) : undefined;
  } catch (err) {
    if (err instanceof FluxError && err.errno === ENOSYS) return undefined;
    throw err;
  }
}

async function checkpointUpdate(ref: string): Promise<number> {
  parseBlobref(ref);
  return withHandle(async (h) => {
    const digest = digestOf(await contentHash(h), ref);
    // a checkpoint naming a missing root could never be restarted from
    try {
      await loadDigest(h, digest);
    } catch (err) {
      throw about(ref, err);
    }
    const seqs = (await checkpoints(h)).map((v) => (v as CheckpointValue | null)?.sequence).filter((s): s is number => typeof s === 'number');
    const sequence = Math.max(0, ...seqs, (await kvsRootseq(h)) ?? 0);
    await checkpointPut(h, { version: 1, rootref: ref, sequence, timestamp: Date.now() / 1000 });
    return 0;
  });
}

async function simple(topic: 'content.flush' | 'content.dropcache'): Promise<number> {
  return withHandle(async (h) => {
    await contentControl(h, topic);
    return 0;
  });
}

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('content', 'Access instance content storage');
  p.command('store')
    .description('Store stdin as a blob (or as blobs of --chunksize bytes), print each blobref')
    .option('-b, --bypass-cache', 'store directly to the rank 0 backing store')
    .option('--chunksize <N>', 'split the input into blobs of at most N bytes')
    .action((o: { bypassCache?: boolean; chunksize?: string }) => { action = () => store(o); });
  p.command('load')
    .description('Print the blobs named by the BLOBREF arguments (or by the lines of stdin), concatenated')
    .option('-b, --bypass-cache', 'load directly from the rank 0 backing store')
    .argument('[blobref...]')
    .action((refs: string[], o: { bypassCache?: boolean }) => { action = () => load(refs, o); });
  p.command('flush')
    .description('Wait until every blob stored so far is in the backing store')
    .action(() => { action = () => simple('content.flush'); });
  p.command('dropcache')
    .description('Drop the clean entries of the local content cache')
    .action(() => { action = () => simple('content.dropcache'); });
  const cp = p.command('checkpoint').description('List or update the checkpoints in the backing store');
  cp.command('list')
    .description('List the checkpoints, newest (index 0) first')
    .option('-n, --no-header', 'omit the header')
    .option('-j, --json', 'print each checkpoint as a JSON line')
    .action((o: { header: boolean; json?: boolean }) => { action = () => checkpointList(o); });
  cp.command('update')
    .description('Write a checkpoint naming BLOBREF as the root')
    .argument('<blobref>')
    .action((ref: string) => { action = () => checkpointUpdate(ref); });
  return runChosen(p, args, () => action);
}
