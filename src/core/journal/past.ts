// A statedir opened read-only, and its journal as it was at a past seq: everything after that seq is hidden,
// and nothing can be appended or checkpointed. Used by an offline replay and by an instance that serves a past
// state (flux start --replay). The statedir is left as it was found.
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ContentStore } from '../content/store.js';
import { JournalStore, type Checkpoint, type Head, type IndexRow } from './store.js';
import type { Entry } from './entry.js';
import { FluxError, EBUSY, EINVAL, ENOENT, EROFS } from '../errors.js';
import { checkHashName } from '../content/blobref.js';

/** the content store file of a statedir, or the file itself */
export function contentFile(path: string): string {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new FluxError(ENOENT, `${path}: no such statedir or content store`);
  }
  const file = isDir ? join(path, 'content.sqlite') : path;
  if (!existsSync(file)) throw new FluxError(ENOENT, `${path} holds no content.sqlite`);
  return file;
}

function openStore(file: string, hash: string, shown: string, check: boolean): ContentStore {
  try {
    return ContentStore.open(file, checkHashName(hash), { readonly: true, check });
  } catch (err) {
    if (err instanceof FluxError && err.errno === EBUSY) {
      throw new FluxError(EBUSY, `${shown} is in use by a running instance: stop it, or use a copy`);
    }
    throw err;
  }
}

export interface ReadOnlyStore {
  content: ContentStore;
  /** the content store file */
  file: string;
  /** close the store and remove what sqlite added beside it */
  close(): void;
}

/**
 * Open a statedir (or its content.sqlite) read-only, with the hash its journal was written with. `check`: run
 * sqlite's quick_check first (it reads the whole file; an offline replay skips it and reports damage it meets).
 */
export function openReadOnly(path: string, { check = true }: { check?: boolean } = {}): ReadOnlyStore {
  const file = contentFile(path);
  // a WAL database opened read-only gets -wal and -shm files when it has none (a clean shutdown removes them)
  const made = [`${file}-wal`, `${file}-shm`].filter((f) => !existsSync(f));
  let cs: ContentStore | undefined;
  try {
    cs = openStore(file, 'sha256', path, check);
    let hash: string | undefined;
    try {
      hash = cs.db.prepare("SELECT value FROM journal_meta WHERE key = 'hash'").pluck().get() as string | undefined;
    } catch {
      hash = undefined;
    }
    if (hash === undefined) throw new FluxError(EINVAL, `${path} holds no journal`);
    if (hash !== cs.hashName) {
      cs.close();
      cs = undefined;
      cs = openStore(file, hash, path, false);
    }
  } catch (err) {
    cs?.close();
    removeMade(made);
    throw err;
  }
  const content = cs;
  return {
    content,
    file,
    close: () => {
      content.close();
      removeMade(made);
    },
  };
}

function removeMade(made: string[]): void {
  const wal = made.find((f) => f.endsWith('-wal'));
  // only an empty log is ours to remove: one with content was written by an instance that has started since
  if (wal === undefined || !existsSync(wal) || statSync(wal).size > 0) return;
  for (const f of made) if (existsSync(f)) unlinkSync(f);
}

/** The journal of a read-only store as it was right after entry `upTo`: later entries are not there. */
export class PastJournal extends JournalStore {
  constructor(content: ContentStore, private readonly upTo: number, private readonly why: string) {
    super(content);
    const real = super.head().seq;
    if (upTo > real) throw new FluxError(EINVAL, `the journal ends at seq ${real}, before ${upTo}`);
    const first = super.first() ?? 1;
    if (upTo < first - 1) throw new FluxError(ENOENT, `version ${upTo} has been compacted`);
  }

  override head(): Head {
    if (this.upTo === 0) return { seq: 0, ref: null };
    const r = super.row(this.upTo);
    return r ? { seq: r.seq, ref: r.ref } : { seq: this.upTo, ref: null };
  }

  override row(seq: number): IndexRow | undefined {
    return seq > this.upTo ? undefined : super.row(seq);
  }

  override rows(from: number, to: number, limit: number): IndexRow[] {
    return super.rows(from, Math.min(to, this.upTo), limit);
  }

  override entry(seq: number): { entry: Entry; ref: string; blob: Buffer } {
    if (seq > this.upTo) throw new FluxError(ENOENT, `journal has no entry ${seq}`);
    return super.entry(seq);
  }

  override *scan(from = 1): Generator<IndexRow & { blob: Buffer | undefined; damage?: string }> {
    for (const r of super.scan(from)) {
      if (r.seq > this.upTo) return;
      yield r;
    }
  }

  override checkpoints(): Checkpoint[] {
    return super.checkpoints().filter((c) => c.seq <= this.upTo);
  }

  override appendBatch(): never {
    throw new FluxError(EROFS, this.why);
  }

  override putCheckpoint(): never {
    throw new FluxError(EROFS, this.why);
  }
}
