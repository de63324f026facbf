// The soak's steady load on a size-4 instance, shared by the benches that watch memory under it: on each rank a
// client commits one key of a bounded key space, looks it up, and publishes an event every tenth round.
import { Flux } from '../dist/api/handle.js';

const val = (s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });

/** the load running on every rank of `inst`; stop() ends it and resolves with the operations done */
export async function soakLoad(inst, ranks = [0, 1, 2, 3]) {
  const handles = await Promise.all(ranks.map((r) => Flux.open(`local://${inst.rundir}/local-${r}`)));
  let stopped = false;
  let ops = 0;
  const work = handles.map(async (h, r) => {
    for (let i = 0; !stopped; i++) {
      // a bounded key space: the store grows with history, the live state does not
      const key = `soak.r${r}.k${i % 1000}`;
      await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key, flags: 0, dirent: val(`${i}`) }] });
      await h.call('kvs.lookup', { key, namespace: 'primary', flags: 0 });
      if (i % 10 === 0) await h.call('event.publish', { topic: 'soak.tick', flags: 0 }, { nodeid: 0 });
      ops += 2;
    }
  });
  const done = Promise.all(work);
  // a failed operation is told by stop(); until then it must not end the process (a bench that fails elsewhere
  // stops its instance first, which fails the operations in flight, and must still clean up)
  done.catch(() => undefined);
  return {
    ops: () => ops,
    stop: async () => {
      stopped = true;
      await done;
      for (const h of handles) h.close();
      return ops;
    },
  };
}
