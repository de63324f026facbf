// `flux fsck [-v] [-q] [--rootref=BLOBREF] [STATEDIR|content.sqlite]`: every object reachable from the KVS
// checkpoints (flux-core's checkpt_v2 rows), from every KVS root the journal recorded and from the journal's
// snapshots must exist and hash right; damage is reported with the keys that reach it, and the exit code is 1.
// Without an argument, inside an instance (as flux-core's fsck runs): that instance's store, through its content
// and journal services. With one, a stopped instance's statedir, read offline (a running instance holds the file
// exclusively, as `flux replay` finds it).
import type { Flux } from '../api/handle.js';
import { FluxError, EINVAL, ENOENT } from '../core/errors.js';
import { digestOf, parseBlobref } from '../core/content/blobref.js';
import { decodeEntry, type Entry } from '../core/journal/entry.js';
import { type FsckRoot, fsck } from '../core/kvs/fsck.js';
import { isKvsEntry } from '../projections/kvs.js';
import { program, parse } from './common.js';

interface Options {
  verbose?: boolean;
  quiet?: boolean;
  rootref?: string;
}

const say = (text: string) => process.stderr.write(`flux-fsck: ${text}\n`);

/** a store to check, however it is reached */
interface Source {
  /** the KVS checkpoints, newest first */
  checkpoints(): Promise<unknown[]>;
  /** the journal's KVS entries, oldest first; `damage` when one cannot be read */
  kvsEntries(): AsyncIterable<{ seq: number; ref: string; entry?: Entry; damage?: string }>;
  /** the snapshots the journal's checkpoints hold */
  snapshots(): Promise<Array<{ seq: number; snapshot: string | null }>>;
  read(ref: string): Buffer | Promise<Buffer>;
  close(): void;
}

/** a stopped instance's statedir, read where it lies */
async function offline(path: string): Promise<Source> {
  const [{ openReadOnly }, { JournalStore }] = await Promise.all([import('../core/journal/past.js'), import('../core/journal/store.js')]);
  const ro = openReadOnly(path);
  const store = ro.content;
  const hasJournal = store.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'journal'").get() !== undefined;
  const journal = hasJournal ? new JournalStore(store) : undefined;
  return {
    checkpoints: async () => store.checkpointGet(),
    async* kvsEntries() {
      if (!journal) return;
      const head = journal.head().seq;
      for (let next = journal.first() ?? 1; next <= head;) {
        const page = journal.rows(next, head, 4096);
        if (page.length === 0) break;
        for (const row of page) {
          if (!row.topic.startsWith('kvs.namespace-')) continue;
          try {
            yield { seq: row.seq, ref: row.ref, entry: journal.entry(row.seq).entry };
          } catch (err) {
            yield { seq: row.seq, ref: row.ref, damage: (err as Error).message };
          }
        }
        next = page[page.length - 1]!.seq + 1;
      }
    },
    snapshots: async () => journal?.checkpoints() ?? [],
    read: (ref) => store.load(parseBlobref(ref).digest),
    close: () => ro.close(),
  };
}

/** the instance FLUX_URI names, through its content and journal services on rank 0 */
async function online(): Promise<Source> {
  const { Flux } = await import('../api/handle.js');
  const h: Flux = await Flux.open();
  const { checkpointGet, contentHash, loadDigest } = await import('../api/content.js');
  const journal = await import('../api/journal.js');
  const hash = await contentHash(h);
  const read = (ref: string): Promise<Buffer> => loadDigest(h, digestOf(hash, ref));
  return {
    checkpoints: async () => {
      try {
        const v = await checkpointGet(h, { nodeid: 0 });
        return Array.isArray(v) ? v : [v];
      } catch (err) {
        if (err instanceof FluxError && err.errno === ENOENT) return [];
        throw err;
      }
    },
    async* kvsEntries() {
      // from 0: a compacted journal starts later, and 0 asks for wherever it starts
      for (let from = 0; ;) {
        const rows = await journal.listPage(h, { from, topic: 'kvs.namespace-', limit: 4096 });
        if (rows.length === 0) return;
        for (const row of rows) {
          try {
            yield { seq: row.seq, ref: row.ref, entry: decodeEntry(await read(row.ref)) };
          } catch (err) {
            yield { seq: row.seq, ref: row.ref, damage: (err as Error).message };
          }
        }
        from = rows.at(-1)!.seq + 1;
      }
    },
    snapshots: () => journal.checkpoints(h),
    read,
    close: () => h.close(),
  };
}

/** every root to check: the checkpoints, then each KVS root the journal recorded, oldest first, then the snapshots */
async function rootsOf(src: Source, journalDamage: string[]): Promise<FsckRoot[]> {
  const roots: FsckRoot[] = [];
  (await src.checkpoints()).forEach((v, i) => {
    const ref = typeof v === 'string' ? v : (v as { rootref?: unknown } | null)?.rootref;
    if (typeof ref === 'string') roots.push({ label: `checkpoint ${i}`, rootref: ref });
  });
  for await (const e of src.kvsEntries()) {
    if (e.damage !== undefined) {
      journalDamage.push(`journal entry ${e.seq} (${e.ref}): ${e.damage}`);
      continue;
    }
    const p = e.entry!.payload as { namespace?: unknown; rootseq?: unknown; rootref?: unknown } | null;
    if (!isKvsEntry(e.entry!) || typeof p?.rootref !== 'string') continue;
    roots.push({ label: `${String(p.namespace)} version ${String(p.rootseq)} (journal seq ${e.seq})`, rootref: p.rootref });
  }
  for (const c of await src.snapshots()) {
    if (c.snapshot !== null) roots.push({ label: `snapshot of journal seq ${c.seq}`, rootref: c.snapshot, blob: true });
  }
  return roots;
}

async function check(src: Source, o: Options): Promise<number> {
  const journalDamage: string[] = [];
  let roots: FsckRoot[];
  if (o.rootref !== undefined) {
    parseBlobref(o.rootref);
    roots = [{ label: 'rootref', rootref: o.rootref }];
  } else {
    roots = await rootsOf(src, journalDamage);
  }
  const report = await fsck(roots, (ref) => src.read(ref), o.verbose ? (r) => say(`checking ${r.label}: ${r.rootref}`) : undefined);
  for (const d of report.damage) {
    for (const at of d.paths) say(`${at}: ${d.problem} blobref ${d.ref}${d.problem === 'corrupt' ? ` (${d.why})` : ''}`);
  }
  for (const text of journalDamage) say(text);
  const missing = report.damage.filter((d) => d.problem === 'missing').length;
  const corrupt = report.damage.length - missing;
  if (!o.quiet) {
    process.stdout.write(`${report.objects} objects under ${report.roots} roots checked: ` +
      `${missing} missing, ${corrupt} corrupt${journalDamage.length > 0 ? `, ${journalDamage.length} journal problems` : ''}\n`);
  }
  return report.damage.length > 0 || journalDamage.length > 0 ? 1 : 0;
}

export async function run(args: string[]): Promise<number> {
  const p = program('fsck', 'Check the integrity of the content store data')
    .argument('[statedir]', "a stopped instance's statedir, or its content.sqlite (default: the instance FLUX_URI names)")
    .option('-v, --verbose', 'name each root as it is checked')
    .option('-q, --quiet', 'print only damage')
    .option('--rootref <blobref>', 'check only the tree under this root');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const path = p.args[0];
  if (path === '') throw new FluxError(EINVAL, 'a statedir is required');
  if (path === undefined && !process.env.FLUX_URI) {
    throw new FluxError(EINVAL, 'give the statedir of a stopped instance, or run inside an instance (FLUX_URI is not set)');
  }
  const src = path === undefined ? await online() : await offline(path);
  try {
    return await check(src, p.opts<Options>());
  } finally {
    src.close();
  }
}
