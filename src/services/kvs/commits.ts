// Commit requests: admitted where they arrive, made by rank 0's queue (relayed there from a broker below, with
// the client's credentials), and answered once this broker's projection holds them, so that a client reads its
// own writes on whichever rank it is connected to.
import { FluxError, EINVAL, EPERM, EPROTO } from '../../core/errors.js';
import { ROLE_USER, payloadJson } from '../../core/wire/message.js';
import { type Op, TXN_FLAGS } from '../../core/kvs/tree.js';
import { PRIMARY } from '../../projections/kvs.js';
import type { HandlerDef } from '../module.js';
import { type Cred, checkAccess, checkGuestOps, credOf } from './access.js';
import type { KvsContext } from './context.js';
import type { CommitQueue, CommitResult } from './commit-queue.js';
import type { ProjectionWaiters } from './waiters.js';
import { COMMIT_SCHEMA, RELAY_SCHEMA } from './schemas.js';

export function commitHandlers(
  ctx: KvsContext, queue: Pick<CommitQueue, 'commit'>, waiters: ProjectionWaiters, nextName: () => string,
): HandlerDef[] {
  const { host } = ctx;

  /** what a commit must pass where it arrives, and again at rank 0 with the credentials it was relayed with */
  async function admit(body: Record<string, unknown>, cred: Cred): Promise<{ ns: string; flags: number; ops: Op[] }> {
    const ns = body.namespace as string;
    const flags = body.flags as number;
    const ops = body.ops as Op[];
    if (flags & ~TXN_FLAGS) throw new FluxError(EINVAL, `unknown commit flags 0x${flags.toString(16)}`);
    checkAccess(cred, await waiters.known(ns));
    checkGuestOps(cred, ops);
    return { ns, flags, ops };
  }

  return [
    {
      topic: 'kvs.commit',
      allow: ROLE_USER,
      schema: COMMIT_SCHEMA,
      handler: async (msg, body) => {
        const cred = credOf(msg);
        const { ns, flags, ops } = await admit(body!, cred);
        const name = nextName();
        const jobs = body!.jobs as unknown[] | undefined;
        // job events are the job manager's, on rank 0: a request that came from outside this broker carries a route
        if (jobs !== undefined && (host.rank !== 0 || ns !== PRIMARY || (msg.routes?.length ?? 0) > 0)) {
          throw new FluxError(EPERM, 'job events are committed by the job manager only');
        }
        let r: CommitResult;
        if (host.rank === 0) {
          r = await queue.commit(ns, flags, ops, cred, name, jobs);
        } else {
          const resp = await host.rpc('kvs.relaycommit', { namespace: ns, flags, ops, name, ...cred }, { nodeid: 0 });
          r = payloadJson(resp) as unknown as CommitResult;
          await waiters.waitSeq(r.seq);
        }
        host.respond(msg, { rootref: r.rootref, rootseq: r.rootseq });
      },
    },
    {
      // a commit from a broker below, made on behalf of its client (whose credentials it carries)
      topic: 'kvs.relaycommit',
      schema: RELAY_SCHEMA,
      handler: async (msg, body) => {
        if (host.rank !== 0) throw new FluxError(EPROTO, 'kvs.relaycommit is served by rank 0');
        const cred = { userid: body!.userid as number, rolemask: body!.rolemask as number };
        const { ns, flags, ops } = await admit(body!, cred);
        const r = await queue.commit(ns, flags, ops, cred, body!.name as string);
        host.respond(msg, { ...r });
      },
    },
  ];
}
