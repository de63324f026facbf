// The KVS service (flux-core's kvs module) as a projection of the journal. Rank 0 is the only writer (its commit
// queue merges and journals commits); every broker serves reads from its own copy of the kvs projection (the
// namespace roots), loading objects through its content cache. This file wires the parts into one module.
import { EMPTY_DIR_BLOB } from '../../core/kvs/tree.js';
import type { ModuleDef, ModuleHost } from '../module.js';
import { type KvsOptions, kvsContext } from './context.js';
import { projectionWaiters } from './waiters.js';
import { commitQueue } from './commit-queue.js';
import { historyIndex } from './history-index.js';
import { checkpoints } from './checkpoints.js';
import { commitHandlers } from './commits.js';
import { lookupHandlers } from './lookups.js';
import { namespaceHandlers } from './namespaces.js';

export type { KvsOptions } from './context.js';

export function kvsModule(host: ModuleHost, opts: KvsOptions): ModuleDef {
  const ctx = kvsContext(host, opts);
  const { journal, backing, cache, listNamespaces } = ctx;
  const waiters = projectionWaiters(ctx);
  const queue = commitQueue(ctx, () => primaryCheckpoints.write());
  const index = historyIndex(ctx, opts.store, queue);
  const primaryCheckpoints = checkpoints(ctx, queue);
  let commitCount = 0;
  let unsubscribe: (() => void) | undefined;

  return {
    name: 'kvs',
    start: async () => {
      unsubscribe = journal.onApply(waiters.applied);
      // the root primary starts from, and every namespace created without one (a past state served read-only
      // has it from the run that wrote it, and restores nothing)
      if (host.rank === 0 && !journal.readOnly) {
        backing!.store(EMPTY_DIR_BLOB);
        await primaryCheckpoints.start(opts.restore);
      }
    },
    stop: async () => {
      // what was accepted is applied and journaled before the journal goes
      await queue.settle();
      primaryCheckpoints.stop();
      index.stop();
      // an instance serving a past state writes nothing, a checkpoint included
      if (host.rank === 0 && !journal.readOnly) primaryCheckpoints.write();
      unsubscribe?.();
      waiters.stop();
    },
    handlers: [
      ...commitHandlers(ctx, queue, waiters, () => `commit.${host.rank}.${++commitCount}`),
      ...lookupHandlers(ctx, waiters, index),
      ...namespaceHandlers(ctx, queue, waiters),
    ],
    disconnect: waiters.disconnect,
    stats: () => ({
      commits: commitCount,
      batches: queue.batches(),
      namespaces: listNamespaces().length,
      // per namespace, what flux-core's tests wait on: readers waiting for a version, writes queued (rank 0)
      namespace: Object.fromEntries(listNamespaces().map((r) => [r.namespace, {
        '#versionwaiters': waiters.versionWaiters(r.namespace),
        '#transactions': queue.queued(r.namespace),
      }])),
      'cache-objects': cache.count,
      'cache-bytes': cache.bytes,
    }),
  };
}
