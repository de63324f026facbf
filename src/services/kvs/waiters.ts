// Waiting for this broker's projection: a commit is answered, a read below rank 0 begins and a kvs.wait-version
// request is answered once the journal entries they depend on have been applied here.
import { FluxError, ENOSYS, ENOTSUP } from '../../core/errors.js';
import { type Message, payloadJson, senderOf } from '../../core/wire/message.js';
import { type NamespaceRoot, isKvsEntry } from '../../projections/kvs.js';
import type { Applied } from '../journal.js';
import type { KvsContext } from './context.js';

/**
 * how often a broker that waits for its projection to reach a seq looks again without an entry arriving: only
 * the jump to the parent's snapshot at startup moves the head that way
 */
const RECHECK_MS = 100;

interface VersionWaiter {
  msg: Message;
  rootseq: number;
  sender: string | undefined;
}

export interface ProjectionWaiters {
  /** resolves once this broker has applied the journal up to `seq` */
  waitSeq(seq: number): Promise<void>;
  /** catch up with rank 0's journal head: what rank 0 has acknowledged is then in this broker's projection */
  catchUp(): Promise<void>;
  /** a read's wait, below rank 0, for what rank 0 had when the client's first read arrived */
  session(msg: Message, body: Record<string, unknown>): Promise<void>;
  /** a namespace's root, once this broker can know it */
  known(ns: string): Promise<NamespaceRoot>;
  /** the root a read of `ns` begins from when it need not wait for session() or known(): undefined when it must */
  knownNow(msg: Message, body: Record<string, unknown>, ns: string): NamespaceRoot | undefined;
  /** answers `msg` once the namespace's root reaches `rootseq` */
  waitVersion(msg: Message, ns: string, rootseq: number): void;
  versionWaiters(ns: string): number;
  /** the journal's apply hook */
  applied(a: Applied): void;
  disconnect(sender: string): void;
  stop(): void;
}

export function projectionWaiters(ctx: KvsContext): ProjectionWaiters {
  const { host, journal, rootOf } = ctx;
  let seqWaiters: Array<{ seq: number; resolve: () => void }> = [];
  const versionWaiters = new Map<string, VersionWaiter[]>();
  let recheck: NodeJS.Timeout | undefined;

  function waitSeq(seq: number): Promise<void> {
    if (journal.head().seq >= seq) return Promise.resolve();
    return new Promise((resolve) => {
      seqWaiters.push({ seq, resolve });
      watchHead();
    });
  }

  function watchHead(): void {
    if (recheck !== undefined) return;
    recheck = setInterval(() => {
      wakeSeq(journal.head().seq);
      for (const ns of [...versionWaiters.keys()]) wakeVersions(ns);
      if (seqWaiters.length === 0 && versionWaiters.size === 0) {
        clearInterval(recheck);
        recheck = undefined;
      }
    }, RECHECK_MS);
    recheck.unref();
  }

  function wakeSeq(head: number): void {
    if (seqWaiters.length === 0) return;
    const ready = seqWaiters.filter((w) => w.seq <= head);
    if (ready.length === 0) return;
    seqWaiters = seqWaiters.filter((w) => w.seq > head);
    for (const w of ready) w.resolve();
  }

  function wakeVersions(ns: string): void {
    const list = versionWaiters.get(ns);
    if (!list) return;
    const root = rootOf(ns);
    const keep = list.filter((w) => {
      if (root === undefined) host.respondError(w.msg, new FluxError(ENOTSUP));
      else if (root.rootseq >= w.rootseq) host.respond(w.msg, { rootseq: root.rootseq, rootref: root.rootref });
      else return true;
      return false;
    });
    if (keep.length > 0) versionWaiters.set(ns, keep);
    else versionWaiters.delete(ns);
  }

  async function catchUp(): Promise<void> {
    const r = await host.rpc('journal.head', undefined, { nodeid: 0 });
    await waitSeq(Number(payloadJson(r).seq));
  }

  /** clients of this broker (below rank 0) whose reads have caught up with rank 0 once */
  const caughtUp = new Set<string>();

  /** a broker below rank 0 starts from its parent's snapshot, some time after it starts answering requests */
  let started: Promise<void> | undefined;
  let startedDone = false;

  /** the client whose read must first catch up with rank 0 (session); undefined when none must */
  const mustCatchUp = (msg: Message, body: Record<string, unknown>): string | undefined => {
    const sender = senderOf(msg);
    return host.rank === 0 || body.rootdir !== undefined || sender === undefined || caughtUp.has(sender) ? undefined : sender;
  };

  return {
    waitSeq,
    catchUp,
    /**
     * A client's first read below rank 0 waits until this broker has what rank 0 had when the read arrived: a
     * read begun after a commit returned, on whatever rank, sees it. Later reads of the client need no wait to be
     * as new.
     */
    session: async (msg, body) => {
      const sender = mustCatchUp(msg, body);
      if (sender === undefined) return;
      await catchUp();
      caughtUp.add(sender);
    },
    /**
     * A broker below rank 0 catches up with rank 0 once before its first answer (until then its projection may
     * be the empty one it booted with), and again when it does not know the namespace: it may just not have its
     * creation yet.
     */
    known: async (ns) => {
      if (host.rank > 0) {
        started ??= catchUp().then(() => {
          startedDone = true;
        }, (err: unknown) => {
          started = undefined;
          throw err;
        });
        await started;
      }
      let root = rootOf(ns);
      if (root === undefined && host.rank > 0) {
        await catchUp();
        root = rootOf(ns);
      }
      if (root === undefined) throw new FluxError(ENOTSUP);
      return root;
    },
    knownNow: (msg, body, ns) => {
      if ((host.rank > 0 && !startedDone) || mustCatchUp(msg, body) !== undefined) return undefined;
      return rootOf(ns);
    },
    waitVersion: (msg, ns, rootseq) => {
      let list = versionWaiters.get(ns);
      if (!list) {
        list = [];
        versionWaiters.set(ns, list);
      }
      list.push({ msg, rootseq, sender: senderOf(msg) });
      // the root may have moved while the caller waited for it
      wakeVersions(ns);
      if (host.rank > 0 && versionWaiters.size > 0) watchHead();
    },
    versionWaiters: (ns) => versionWaiters.get(ns)?.length ?? 0,
    applied: (a) => {
      wakeSeq(a.entry.seq);
      if (versionWaiters.size > 0 && isKvsEntry(a.entry)) {
        const ns = (a.entry.payload as { namespace?: unknown } | null)?.namespace;
        if (typeof ns === 'string') wakeVersions(ns);
      }
    },
    disconnect: (sender) => {
      caughtUp.delete(sender);
      for (const [ns, list] of versionWaiters) {
        const keep = list.filter((w) => w.sender !== sender);
        if (keep.length > 0) versionWaiters.set(ns, keep);
        else versionWaiters.delete(ns);
      }
    },
    stop: () => {
      clearInterval(recheck);
      for (const list of versionWaiters.values()) {
        for (const w of list) host.respondError(w.msg, new FluxError(ENOSYS, 'the kvs module is unloading'));
      }
      versionWaiters.clear();
    },
  };
}
