// `flux fsck [-v] [-q] [--rootref=BLOBREF] STATEDIR|content.sqlite`: offline, on a stopped instance's content
// store (as `flux replay` reads it; a running instance holds the file exclusively). Every object reachable from
// the checkpoints (flux-core's checkpt_v2 rows) and from every KVS root the journal recorded must exist and hash
// right; damage is reported with the keys that reach it, and the exit code is 1.
import { FluxError, EINVAL } from '../core/errors.js';
import { parseBlobref } from '../core/blobref.js';
import type { ContentStore } from '../core/content-store.js';
import { JournalStore } from '../core/journal-store.js';
import { openReadOnly } from '../core/journal-past.js';
import { type FsckRoot, fsck } from '../core/fsck.js';
import { isKvsEntry } from '../projections/kvs.js';
import { program, parse } from './common.js';

interface Options {
  verbose?: boolean;
  quiet?: boolean;
  rootref?: string;
}

const say = (text: string) => process.stderr.write(`flux-fsck: ${text}\n`);

/** every root to check: the checkpoints, then each KVS root the journal recorded, oldest first */
function rootsOf(store: ContentStore, journalDamage: string[]): FsckRoot[] {
  const roots: FsckRoot[] = [];
  store.checkpointGet().forEach((v, i) => {
    const ref = typeof v === 'string' ? v : (v as { rootref?: unknown } | null)?.rootref;
    if (typeof ref === 'string') roots.push({ label: `checkpoint ${i}`, rootref: ref });
  });
  const has = store.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'journal'").get();
  if (!has) return roots;
  const journal = new JournalStore(store);
  const head = journal.head().seq;
  for (let next = journal.first() ?? 1; next <= head;) {
    const page = journal.rows(next, head, 4096);
    if (page.length === 0) break;
    for (const row of page) {
      if (!row.topic.startsWith('kvs.namespace-')) continue;
      let entry;
      try {
        entry = journal.entry(row.seq).entry;
      } catch (err) {
        journalDamage.push(`journal entry ${row.seq} (${row.ref}): ${(err as Error).message}`);
        continue;
      }
      const p = entry.payload as { namespace?: unknown; rootseq?: unknown; rootref?: unknown } | null;
      if (!isKvsEntry(entry) || typeof p?.rootref !== 'string') continue;
      roots.push({ label: `${String(p.namespace)} version ${String(p.rootseq)} (journal seq ${row.seq})`, rootref: p.rootref });
    }
    next = page[page.length - 1]!.seq + 1;
  }
  for (const c of journal.checkpoints()) {
    if (c.snapshot !== null) roots.push({ label: `snapshot of journal seq ${c.seq}`, rootref: c.snapshot, blob: true });
  }
  return roots;
}

function check(path: string, o: Options): number {
  const ro = openReadOnly(path);
  const store = ro.content;
  try {
    const journalDamage: string[] = [];
    let roots: FsckRoot[];
    if (o.rootref !== undefined) {
      parseBlobref(o.rootref);
      roots = [{ label: 'rootref', rootref: o.rootref }];
    } else {
      roots = rootsOf(store, journalDamage);
    }
    const read = (ref: string) => store.load(parseBlobref(ref).digest);
    const report = fsck(roots, read, o.verbose ? (r) => say(`checking ${r.label}: ${r.rootref}`) : undefined);
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
  } finally {
    ro.close();
  }
}

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('fsck', 'Check the integrity of the content store data');
  p.argument('<statedir>', "a stopped instance's statedir, or its content.sqlite")
    .option('-v, --verbose', 'name each root as it is checked')
    .option('-q, --quiet', 'print only damage')
    .option('--rootref <blobref>', 'check only the tree under this root')
    .action((path: string, o: Options) => {
      if (path === '') throw new FluxError(EINVAL, 'a statedir is required');
      action = async () => check(path, o);
    });
  const code = parse(p, args);
  if (code !== undefined) return code;
  return action ? action() : 1;
}
