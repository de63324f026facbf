// The commit workloads issue 16's figures are measured with, shared by the benches that report them.
import { Flux } from '../dist/api/handle.js';

export const val = (s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });

/** the ops of one commit of `keys` keys named `${prefix}.d<i/100>.k<i%100>` */
export function bigOps(prefix, keys) {
  return Array.from({ length: keys }, (_, i) => ({ key: `${prefix}.d${Math.floor(i / 100)}.k${i % 100}`, flags: 0, dirent: val(`v${i}`) }));
}

/** one commit of `ops` to the primary namespace */
export function commitOps(h, ops) {
  return h.call('kvs.commit', { namespace: 'primary', flags: 0, ops });
}

/** one commit of bigOps(prefix, keys) */
export function bigCommit(h, prefix, keys) {
  return commitOps(h, bigOps(prefix, keys));
}

/** `clients` committers (spread over `uris`), each making `each` commits of one key one after another: commits/s */
export async function concurrentCommits(uris, clients, each, prefix) {
  const handles = await Promise.all(Array.from({ length: clients }, (_, i) => Flux.open(uris[i % uris.length])));
  const t0 = process.hrtime.bigint();
  await Promise.all(handles.map(async (h, c) => {
    for (let i = 0; i < each; i++) {
      await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: `${prefix}.c${c}.k${i}`, flags: 0, dirent: val(`${i}`) }] });
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const h of handles) h.close();
  return (clients * each) / secs;
}
