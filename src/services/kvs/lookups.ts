// Reads, served by every broker from its own projection's roots, loading objects through its content cache:
// lookups under a namespace's root or a snapshot of it, a namespace's root, and a past version's root.
import { FluxError, EINVAL, ENOENT } from '../../core/errors.js';
import { type Message, ROLE_OWNER, ROLE_USER, payloadJson } from '../../core/wire/message.js';
import { blobref, digestOf } from '../../core/content/blobref.js';
import { type TreeObj, checkTreeObj } from '../../core/kvs/treeobj.js';
import { type ReadAccess, lookupNow } from '../../core/kvs/tree.js';
import { compactedError } from '../../core/journal/store.js';
import { type NamespaceRoot, PRIMARY } from '../../projections/kvs.js';
import type { HandlerDef } from '../module.js';
import { type Cred, checkAccess, credOf } from './access.js';
import type { KvsContext } from './context.js';
import type { ProjectionWaiters } from './waiters.js';
import type { HistoryIndex } from './history-index.js';
import { LOOKUP_SCHEMA, NAMESPACE_SCHEMA, VERSION_SCHEMA } from './schemas.js';

const namespaceOf = (body: Record<string, unknown>): string => (body.namespace as string | undefined) ?? PRIMARY;

interface LookupAt {
  rootref: string;
  rootseq: number;
  val: () => TreeObj | Promise<TreeObj>;
}

export function lookupHandlers(ctx: KvsContext, waiters: ProjectionWaiters, index: HistoryIndex): HandlerDef[] {
  const { host, journal, content, hash, cache, primaryAtStart } = ctx;
  const { known, session } = waiters;

  function reader(cred: Cred): ReadAccess {
    return {
      cache,
      load: (ref) => content.load(digestOf(hash, ref)),
      // a TREEOBJ lookup of a directory kept hashed answers the plain dir object it stands for, stored here
      store: async (blob) => blobref(hash, await content.store(blob)),
      rootOf: async (ns) => {
        const root = await known(ns);
        checkAccess(cred, root);
        return root.rootref;
      },
    };
  }

  /**
   * a lookup request, once the read may begin: the root it resolves under (the namespace's current one, or the
   * snapshot it names as rootdir) and the lookup of its key there
   */
  async function lookupAt(msg: Message, body: Record<string, unknown>, ns = namespaceOf(body)): Promise<LookupAt> {
    await session(msg, body);
    return lookupFrom(msg, body, ns, await known(ns));
  }

  /** the lookup `body` asks for, under `root` (the namespace's) or the snapshot it names as rootdir */
  function lookupFrom(msg: Message, body: Record<string, unknown>, ns: string, root: NamespaceRoot): LookupAt {
    const cred = credOf(msg);
    checkAccess(cred, root);
    let rootref = root.rootref;
    let rootseq = root.rootseq;
    if (body.rootdir !== undefined) {
      const t = checkTreeObj(body.rootdir, EINVAL);
      if (t.type !== 'dirref') throw new FluxError(EINVAL, 'rootdir must be a dirref');
      rootref = t.data[0]!;
      rootseq = (body.rootseq as number | undefined) ?? 0;
    }
    return { rootref, rootseq, val: () => lookupNow(rootref, body.key as string, body.flags as number, reader(cred), ns) };
  }

  return [
    {
      topic: 'kvs.lookup',
      allow: ROLE_USER,
      schema: LOOKUP_SCHEMA,
      handler: (msg, body) => {
        // answered at once where the read need not wait and its directories are cached: most lookups
        const ns = namespaceOf(body!);
        const root = waiters.knownNow(msg, body!, ns);
        const val = root !== undefined ? lookupFrom(msg, body!, ns, root).val() : lookupAt(msg, body!, ns).then((at) => at.val());
        if (!(val instanceof Promise)) return host.respond(msg, { val });
        return val.then((v) => host.respond(msg, { val: v }));
      },
    },
    {
      topic: 'kvs.lookup-plus',
      allow: ROLE_USER,
      schema: LOOKUP_SCHEMA,
      handler: async (msg, body) => {
        const at = await lookupAt(msg, body!);
        let val: TreeObj;
        try {
          val = await at.val();
        } catch (err) {
          // a missing key is an answer here (kvs-watch waits for it to appear), with the root it is missing from
          if (!(err instanceof FluxError) || err.errno !== ENOENT) throw err;
          host.respond(msg, { errno: ENOENT, rootseq: at.rootseq, rootref: at.rootref });
          return;
        }
        host.respond(msg, { val, rootseq: at.rootseq, rootref: at.rootref });
      },
    },
    {
      topic: 'kvs.getroot',
      allow: ROLE_USER,
      schema: NAMESPACE_SCHEMA,
      handler: async (msg, body) => {
        await session(msg, body!);
        const ns = body!.namespace as string;
        const root = await known(ns);
        checkAccess(credOf(msg), root);
        host.respond(msg, { owner: root.owner, rootseq: root.rootseq, rootref: root.rootref, flags: root.flags, namespace: ns });
      },
    },
    {
      topic: 'kvs.wait-version',
      allow: ROLE_USER,
      schema: VERSION_SCHEMA,
      handler: async (msg, body) => {
        const ns = body!.namespace as string;
        checkAccess(credOf(msg), await known(ns));
        waiters.waitVersion(msg, ns, body!.rootseq as number);
      },
    },
    {
      // a past version's root, from rank 0's index (--at-version and history build on it)
      topic: 'kvs.version-root',
      allow: ROLE_USER,
      schema: VERSION_SCHEMA,
      handler: async (msg, body) => {
        const ns = body!.namespace as string;
        const cred = credOf(msg);
        if (!(cred.rolemask & ROLE_OWNER)) checkAccess(cred, await known(ns));
        if (host.rank > 0) {
          const resp = await host.rpc('kvs.version-root', body, { nodeid: 0 });
          host.respond(msg, payloadJson(resp));
          return;
        }
        const rootseq = body!.rootseq as number;
        if (rootseq < index.floorOf(ns)) throw compactedError(rootseq);
        // primary's first version is the empty directory it starts at, older than any entry
        const v = ns === PRIMARY && rootseq === 0 ? { rootref: primaryAtStart.rootref, seq: 0, time: 0 } : index.versionRoot(ns, rootseq);
        // the index may hold versions past the journal's head when this instance serves a past state
        if (v === undefined || v.seq > journal.head().seq) throw new FluxError(ENOENT);
        host.respond(msg, { rootref: v.rootref, seq: v.seq, time: v.time });
      },
    },
  ];
}
