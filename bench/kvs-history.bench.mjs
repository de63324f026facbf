// Issue 4's history figure: `flux kvs history KEY` for a key changed 1,000 times in a journal of 1,000,000 entries,
// as a whole process (beside `node -e 0` timed in the same run), and the index query alone. The journal is
// filled straight through the store, as rank 0 would write it (the way journal.bench.mjs builds its restart
// figure); an instance then makes the 1,000 commits on top, and a restarted instance answers the queries.
// Beside the wall times, the CPU the command and the broker spent (cpu_*): on a loaded machine, the steadier figure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux } from '../dist/api/handle.js';
import { ContentStore } from '../dist/core/content/store.js';
import { JournalStore, checkpointMessage } from '../dist/core/journal/store.js';
import { canonical } from '../dist/core/journal/entry.js';
import { blobref } from '../dist/core/content/blobref.js';
import { loadOrCreateSigner } from '../dist/core/journal/signing.js';
import { FLUX, emit, median, startInstance } from './lib.mjs';
import { brokerPids, timeProcessCpu, totalCpu } from './proc-cpu.mjs';

const ENTRIES = Number(process.env.BENCH_HISTORY_ENTRIES ?? 1_000_000);
const CHANGES = 1000;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const val = (s) => ({ ver: 1, type: 'val', data: Buffer.from(s).toString('base64') });

/** a statedir whose journal holds `n` entries other than the KVS's, with a signed checkpoint at its head */
async function fillStatedir(n) {
  const dir = mkdtempSync(join(tmpdir(), 'flux-bench-kvs-history-'));
  const cs = ContentStore.open(join(dir, 'content.sqlite'), 'sha256');
  const js = new JournalStore(cs);
  let head = js.head();
  for (let done = 0; done < n; ) {
    const k = Math.min(10000, n - done);
    const items = [];
    for (let i = 0; i < k; i++) items.push({ time: 1.7e9 + done + i, topic: 'bench.fill', userid: 0, rolemask: 1, flags: 0, payload: { i: done + i } });
    const out = js.appendBatch(head, items);
    head = { seq: out[out.length - 1].entry.seq, ref: out[out.length - 1].ref };
    done += k;
  }
  const snapshot = blobref('sha256', cs.store(Buffer.from(canonical({ seq: head.seq, ref: head.ref, states: {} }))));
  const c = { seq: head.seq, ref: head.ref, time: Date.now() / 1000, snapshot };
  const signer = await loadOrCreateSigner(join(dir, 'journal.key'));
  js.putCheckpoint({ ...c, pubkey: signer.publicKey, sig: await signer.sign(checkpointMessage(c)) });
  cs.close();
  return dir;
}

async function main() {
  const dir = await fillStatedir(ENTRIES - CHANGES);
  const statedir = ['-S', `statedir=${dir}`];
  {
    const inst = await startInstance(1, statedir);
    const h = await Flux.open(inst.uri);
    for (let i = 0; i < CHANGES; i++) {
      await h.call('kvs.commit', { namespace: 'primary', flags: 0, ops: [{ key: 'hot', flags: 0, dirent: val(`value ${i}`) }] });
    }
    const head = (await h.call('journal.head')).seq;
    h.close();
    await inst.stop();
    emit('kvs-history-journal-built', head, 'entries', { changes: CHANGES });
  }
  const inst = await startInstance(1, statedir);
  const env = { FLUX_URI: inst.uri };
  const h = await Flux.open(inst.uri);
  const rpc = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = await h.call('kvs-history.key', { namespace: 'primary', key: 'hot' });
    rpc.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.versions.length !== CHANGES) throw new Error(`history has ${r.versions.length} versions, not ${CHANGES}`);
  }
  const pids = brokerPids(inst.rundir);
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const node = await timeProcessCpu(process.execPath, ['-e', '0']);
    const b0 = totalCpu(pids);
    const r = await timeProcessCpu(process.execPath, [FLUX, 'kvs', 'history', 'hot'], env);
    runs.push({ ...r, broker: (totalCpu(pids) - b0) * 1000, node });
  }
  const m = (f) => Math.round(median(runs.map(f)));
  emit('kvs-history-1000-changes-process', median(runs.map((r) => r.wall)), 'ms', {
    journal_entries: ENTRIES, runs_ms: runs.map((r) => Math.round(r.wall)), cpu_command_ms: m((r) => r.cpu),
    cpu_broker_ms: m((r) => r.broker), node_e_0_ms: m((r) => r.node.wall), cpu_node_e_0_ms: m((r) => r.node.cpu), target: 100,
  });
  emit('kvs-history-1000-changes-index-rpc', median(rpc), 'ms', { journal_entries: ENTRIES, runs: rpc.map((x) => Number(x.toFixed(1))) });
  h.close();
  await inst.stop();
  rmSync(dir, { recursive: true, force: true });
}

await main();
