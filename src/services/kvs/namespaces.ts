// Namespace requests: creation and removal are made by rank 0's queue (a broker below relays them and answers
// once it has the change too); the list is this broker's projection's, caught up with rank 0 first.
import { FluxError, EINVAL } from '../../core/errors.js';
import { type Message, USERID_UNKNOWN } from '../../core/wire/message.js';
import { digestOf } from '../../core/content/blobref.js';
import { isStoredDirectory } from '../../core/kvs/tree.js';
import { PRIMARY } from '../../projections/kvs.js';
import type { HandlerDef } from '../module.js';
import type { KvsContext } from './context.js';
import type { CommitQueue } from './commit-queue.js';
import type { ProjectionWaiters } from './waiters.js';
import { CREATE_SCHEMA, NAMESPACE_SCHEMA } from './schemas.js';

export function namespaceHandlers(ctx: KvsContext, queue: Pick<CommitQueue, 'create' | 'remove'>, waiters: ProjectionWaiters): HandlerDef[] {
  const { host, backing, hash, instanceOwner } = ctx;

  /** below rank 0: a namespace change is made by rank 0, and answered once this broker has it too */
  async function relayed(msg: Message, topic: string, body: Record<string, unknown>): Promise<void> {
    await host.rpc(topic, body, { nodeid: 0 });
    await waiters.catchUp();
    host.respond(msg);
  }

  /** the stored directory a new namespace starts from */
  function checkRoot(rootref: string): void {
    if (!isStoredDirectory(backing!.load(digestOf(hash, rootref)), rootref)) throw new FluxError(EINVAL, `${rootref} is not a directory`);
  }

  return [
    {
      topic: 'kvs.namespace-create',
      schema: CREATE_SCHEMA,
      handler: async (msg, body) => {
        if (host.rank > 0) return relayed(msg, 'kvs.namespace-create', body!);
        const ns = body!.namespace as string;
        const rootref = body!.rootref as string;
        const owner = (body!.owner as number) >>> 0;
        checkRoot(rootref);
        await queue.create(ns, {
          rootseq: 0, rootref, owner: owner === USERID_UNKNOWN ? instanceOwner : owner, flags: body!.flags as number,
        });
        host.respond(msg);
      },
    },
    {
      topic: 'kvs.namespace-remove',
      schema: NAMESPACE_SCHEMA,
      handler: async (msg, body) => {
        if (host.rank > 0) return relayed(msg, 'kvs.namespace-remove', body!);
        const ns = body!.namespace as string;
        if (ns === PRIMARY) throw new FluxError(EINVAL, 'the primary namespace cannot be removed');
        await queue.remove(ns);
        host.respond(msg);
      },
    },
    {
      // flux-core's client sends this one without a payload
      topic: 'kvs.namespace-list',
      handler: async (msg) => {
        if (host.rank > 0) await waiters.catchUp();
        host.respond(msg, {
          namespaces: ctx.listNamespaces().map((r) => ({ namespace: r.namespace, owner: r.owner, flags: r.flags })),
        });
      },
    },
  ];
}
