// Issue 4 figures: durable (acknowledged) KVS commits/s of one key each from 16 concurrent clients at size 1,
// each client with one commit in flight (as `flux kvs put` in a loop) and with several; lookups/s from 16
// clients; the same commits made through rank 1 of a size-2 instance (relayed, answered after rank 1 has them).
// Then the price of durability through a power loss: the same commits on a statedir with content.synchronous=full
// (each group commit's transaction synced before its answers) and =normal (synced at log checkpoints only), in
// one run, and their ratio.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { ROOT, emit, median, startInstance } from './lib.mjs';

const CLIENTS = 16;
const SECONDS = 3;

const val = (s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });

/** clients commit one key per commit for SECONDS, `window` commits in flight each; returns the counts */
async function commitRate(uris, window, prefix) {
  const handles = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => Flux.open(uris[i % uris.length])));
  const start = (await handles[0].call('kvs.getroot', { namespace: 'primary' })).rootseq;
  let acked = 0;
  let stop = false;
  setTimeout(() => (stop = true), SECONDS * 1000);
  const t0 = process.hrtime.bigint();
  await Promise.all(handles.map(async (h, c) => {
    let n = 0;
    const lane = async () => {
      while (!stop) {
        const key = `${prefix}.c${c}.k${n++}`;
        await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key, flags: 0, dirent: val(key) }] });
        acked++;
      }
    };
    await Promise.all(Array.from({ length: window }, lane));
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const end = (await handles[0].call('kvs.getroot', { namespace: 'primary' })).rootseq;
  for (const h of handles) h.close();
  return { rate: acked / secs, acked, versions: end - start, seconds: Number(secs.toFixed(2)) };
}

async function lookupRate(uri, window) {
  const handles = await Promise.all(Array.from({ length: CLIENTS }, () => Flux.open(uri)));
  await handles[0].call('kvs.commit', {
    namespace: 'primary', flags: 0,
    ops: Array.from({ length: 1000 }, (_, i) => ({ key: `look.d${i % 10}.k${i}`, flags: 0, dirent: val(`value ${i}`) })),
  });
  let done = 0;
  let stop = false;
  setTimeout(() => (stop = true), SECONDS * 1000);
  const t0 = process.hrtime.bigint();
  await Promise.all(handles.map(async (h) => {
    const lane = async () => {
      for (let i = 0; !stop; i++) {
        const k = (i * 7919 + done) % 1000;
        await h.call('kvs.lookup', { key: `look.d${k % 10}.k${k}`, namespace: 'primary', flags: 0 });
        done++;
      }
    };
    await Promise.all(Array.from({ length: window }, lane));
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const h of handles) h.close();
  return { rate: done / secs, done, seconds: Number(secs.toFixed(2)) };
}

async function main() {
  const one = await startInstance(1);
  for (const window of [1, 16]) {
    const r = await commitRate([one.uri], window, `w${window}`);
    emit(`kvs-commits-16-clients-window-${window}`, r.rate, 'commits/s', { acked: r.acked, versions: r.versions, seconds: r.seconds });
  }
  for (const window of [1, 16]) {
    const r = await lookupRate(one.uri, window);
    emit(`kvs-lookups-16-clients-window-${window}`, r.rate, 'lookups/s', { done: r.done, seconds: r.seconds });
  }
  await one.stop();

  const two = await startInstance(2);
  const rank1 = `local://${two.rundir}/local-1`;
  const r = await commitRate([rank1], 1, 'relay');
  emit('kvs-commits-16-clients-via-rank1', r.rate, 'commits/s', { acked: r.acked, versions: r.versions, seconds: r.seconds });
  const l = await lookupRate(rank1, 16);
  emit('kvs-lookups-16-clients-rank1-window-16', l.rate, 'lookups/s', { done: l.done, seconds: l.seconds });
  await two.stop();

  // the statedir beside the project: on the disk a statedir lives on, not a memory filesystem. The two settings
  // take turns, three runs each, so that what else the machine does weighs on both alike; medians are reported
  for (const window of [1, 16]) {
    const runs = { normal: [], full: [] };
    for (let rep = 0; rep < 3; rep++) {
      for (const sync of ['normal', 'full']) {
        const dir = mkdtempSync(join(ROOT, '.bench-state-'));
        const inst = await startInstance(1, ['-S', `statedir=${dir}`, '-S', `content.synchronous=${sync}`]);
        runs[sync].push(await commitRate([inst.uri], window, `${sync}${window}.${rep}`));
        await inst.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const rates = {};
    for (const sync of ['normal', 'full']) {
      rates[sync] = median(runs[sync].map((c) => c.rate));
      emit(`kvs-commits-statedir-synchronous-${sync}-window-${window}`, rates[sync], 'commits/s', {
        runs: runs[sync].map((c) => Math.round(c.rate)), versions: runs[sync].map((c) => c.versions),
      });
    }
    emit(`kvs-commits-full-over-normal-window-${window}`, rates.full / rates.normal, 'ratio');
  }
}

await main();
