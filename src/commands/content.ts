// `flux content store|load|flush|dropcache|checkpoint`: the content store, with flux-core's raw payloads.
import { readFileSync } from 'node:fs';
import { Flux } from '../api/handle.js';
import { FluxError, EINVAL, ENOENT, ENOSYS } from '../core/errors.js';
import { program, parse } from './common.js';

const BLOBREF = /^(sha1|sha256)-([0-9a-f]+)$/;

function digestOf(ref: string): Buffer {
  const m = BLOBREF.exec(ref);
  if (!m) throw new FluxError(EINVAL, `${ref}: invalid blobref`);
  return Buffer.from(m[2]!, 'hex');
}

function readStdin(): Buffer {
  return readFileSync(0);
}

export interface CheckpointRow {
  rootref?: string;
  sequence?: number;
  timestamp?: number;
}

/** the checkpoint table: index (newest first), sequence, ISO time, root blobref */
export function formatCheckpoints(rows: CheckpointRow[], header: boolean): string {
  const lines = rows.map((r, i) => [
    String(i), String(r.sequence ?? '-'), r.timestamp !== undefined ? new Date(r.timestamp * 1000).toISOString() : '-', r.rootref ?? '-',
  ]);
  const all = header ? [['INDEX', 'SEQUENCE', 'TIME', 'ROOTREF'], ...lines] : lines;
  const w = [0, 1, 2].map((c) => Math.max(...all.map((l) => l[c]!.length)));
  return all.map((l) => `${l[0]!.padStart(w[0]!)}  ${l[1]!.padStart(w[1]!)}  ${l[2]!.padEnd(w[2]!)}  ${l[3]}\n`).join('');
}

/** the primary namespace's version, for a checkpoint; 0 where no KVS is loaded */
async function rootseq(h: Flux): Promise<number> {
  try {
    return Number((await h.call('kvs.getroot', { namespace: 'primary', flags: 0 })).rootseq ?? 0);
  } catch (err) {
    if (err instanceof FluxError && err.errno === ENOSYS) return 0;
    throw err;
  }
}

export async function run(args: string[]): Promise<number> {
  const p = program('content', 'Access the content store');
  let action: (() => Promise<number>) | undefined;
  p.command('store')
    .description('store stdin as a blob, print its blobref')
    .option('-b, --bypass-cache', 'bypass the cache (accepted; this store writes through)')
    .option('--chunksize <N>', 'split the input into blobs of at most N bytes')
    .action((o: { chunksize?: string }) => {
      action = async () => {
        const data = readStdin();
        const size = o.chunksize !== undefined ? Number(o.chunksize) : 0;
        if (o.chunksize !== undefined && (!Number.isInteger(size) || size < 1)) throw new FluxError(EINVAL, '--chunksize must be a positive integer');
        const h = await Flux.open();
        try {
          const hash = String((await h.call('attr.get', { name: 'content.hash' })).value);
          const chunks: Buffer[] = [];
          if (size > 0) for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
          else chunks.push(data);
          for (const c of chunks) {
            const r = await h.rpc('content.store', c.length > 0 ? c : undefined);
            process.stdout.write(`${hash}-${(r.payload ?? Buffer.alloc(0)).toString('hex')}\n`);
          }
          return 0;
        } finally {
          h.close();
        }
      };
    });
  p.command('load')
    .description('print the blobs named by the arguments (or by the lines of stdin)')
    .option('-b, --bypass-cache', 'bypass the cache (accepted; misses always go to rank 0)')
    .argument('[blobref...]')
    .action((refs: string[]) => {
      action = async () => {
        const list = refs.length > 0 ? refs : readStdin().toString().split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
        const digests = list.map(digestOf);
        const h = await Flux.open();
        try {
          for (const d of digests) process.stdout.write((await h.rpc('content.load', d)).payload ?? Buffer.alloc(0));
          return 0;
        } finally {
          h.close();
        }
      };
    });
  for (const [name, summary] of [['flush', 'flush dirty blobs to the backing store'], ['dropcache', 'drop the cache of clean blobs']] as const) {
    p.command(name).description(summary).action(() => {
      action = async () => {
        const h = await Flux.open();
        try {
          await h.rpc(`content.${name}`);
          return 0;
        } finally {
          h.close();
        }
      };
    });
  }
  const cp = p.command('checkpoint').description('list or update the KVS checkpoints');
  cp.command('list')
    .option('-n, --no-header', 'omit the header')
    .option('-j, --json', 'print each checkpoint as a JSON line')
    .action((o: { header: boolean; json?: boolean }) => {
      action = async () => {
        const h = await Flux.open();
        try {
          let rows: CheckpointRow[] = [];
          try {
            rows = (await h.call('content.checkpoint-get', {})).value as CheckpointRow[];
          } catch (err) {
            if (!(err instanceof FluxError && err.errno === ENOENT)) throw err;
          }
          if (o.json) for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
          else process.stdout.write(formatCheckpoints(rows, o.header));
          return 0;
        } finally {
          h.close();
        }
      };
    });
  cp.command('update')
    .argument('<blobref>')
    .action((ref: string) => {
      action = async () => {
        digestOf(ref);
        const h = await Flux.open();
        try {
          const seq = await rootseq(h);
          await h.call('content.checkpoint-put', { value: { version: 1, rootref: ref, sequence: seq, timestamp: Date.now() / 1000 } });
          return 0;
        } finally {
          h.close();
        }
      };
    });
  const code = parse(p, args);
  if (code !== undefined) return code;
  if (!action) {
    process.stderr.write(p.helpInformation());
    return 1;
  }
  return action();
}
