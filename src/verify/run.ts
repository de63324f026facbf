// One verification run: an instance on a fresh statedir, clients and fault injectors for a while, then the
// checks: the journal verifies, every rank's head is rank 0's, every acknowledged write is where its version
// says, subscribers and watchers saw every change in order, and the KVS history is linearizable. A failing run
// leaves a report directory and the command that replays its seed.
import { execFile } from 'node:child_process';
import {
  mkdtempSync, mkdirSync, writeFileSync, copyFileSync, existsSync, readdirSync, rmSync, statSync, openSync, writeSync, closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Flux } from '../api/handle.js';
import { Cluster } from './cluster.js';
import { FAULTS, mountTmpfs, regrow, unmount, type FaultName } from './faults.js';
import { Random } from './random.js';
import { check } from './linearizability.js';
import { kvsModel, versionOf } from './kvs-model.js';
import { checkEvents, checkWatch, keyValues, type KeyValues, type Publish } from './event-log.js';
import { attribute, keyTimelines, settle, type KeyTimeline, type SetrootOp } from './attribution.js';
import { entryFromJson } from '../core/journal/entry.js';
import {
  type Record as HistoryRecord, Recorder, KEYS, EVENT_PREFIX, END_TOPIC, now, lookup, decodeVal, runClient, runSubscriber, runWatcher, runReplicaReader,
} from './workload.js';
import { checkReplicaReads, type AckedWrite } from './replica-reads.js';
import { sampleRss, selfMemory, summarize, type RankMemory } from './memory.js';

const FLUX = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'flux');

export interface RunOptions {
  seed: number;
  faults: FaultName[];
  durationMs: number;
  clients?: number;
  reportDir?: string;
  /** how the replay command is spelled (the caller knows how it was started) */
  replay?: (seed: number) => string;
  log?: (line: string) => void;
  /** how often each broker's RSS is read (5 s) */
  rssIntervalMs?: number;
  /** minutes left out of the memory's slope, while caches fill and the heap grows to its working size (2) */
  settleMinutes?: number;
  /** given, once the run has them, what ends its instance and removes its directories: for an interrupt to call */
  undo?: (undo: () => Promise<void>) => void;
}

export interface FaultTally {
  runs: number;
  struck: number;
  recovered: number;
}

export interface Violation {
  property: string;
  detail: string;
}

export interface RunResult {
  seed: number;
  /** operations whose outcome the checks covered (KVS ops, replica reads and publishes) */
  operations: number;
  /** answered reads served by brokers below rank 0 (checked for what a replica promises) */
  replicaReads: number;
  /** per fault: how often it ran, struck (was seen to happen) and was recovered from */
  faults: { [name: string]: FaultTally };
  violations: Violation[];
  report?: string;
  replay: string;
  elapsedMs: number;
  /** each rank's RSS while the workload ran */
  memory: RankMemory[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function shuffled<T>(xs: readonly T[], rng: Random): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const replayCommand = (seed: number, faults: FaultName[], durationMs: number) =>
  `npm run verify -- --seed ${seed} --faults ${faults.length > 0 ? faults.join(',') : 'none'} --duration ${Math.round(durationMs / 1000)}s`;

export async function verifyRun(opts: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  const lines: string[] = [];
  const log = (line: string) => {
    const l = `${new Date().toISOString()} ${line}`;
    lines.push(l);
    opts.log?.(l);
  };
  const rng = new Random(opts.seed);
  const mount = opts.faults.includes('disk-full') ? mountTmpfs() : undefined;
  const base = mount ?? mkdtempSync(join(tmpdir(), 'flux-verify-'));
  const statedir = join(base, 'state');
  mkdirSync(statedir);
  const cluster = new Cluster({ size: 4, fanout: 2, statedir, log });
  let removed = false;
  const removeDirs = () => {
    if (removed) return;
    removed = true;
    if (mount) unmount(mount);
    else rmSync(base, { recursive: true, force: true });
  };
  opts.undo?.(async () => {
    await cluster.dispose();
    removeDirs();
  });
  const rec = new Recorder();
  const faultCount: { [name: string]: FaultTally } = {};
  const violations: Violation[] = [];
  const replay = (opts.replay ?? ((s) => replayCommand(s, opts.faults, opts.durationMs)))(opts.seed);
  let report: string | undefined;
  let memory: RankMemory[] = [];
  let rss: ReturnType<typeof sampleRss> | undefined;
  try {
    await cluster.start();
    // not while a restart is filling in the new brokers' pids
    rss = sampleRss(() => (cluster.up ? { generation: cluster.generation, pids: cluster.pids } : undefined), opts.rssIntervalMs ?? 5000);
    let stop = false;
    const stopped = () => stop;
    const nclients = opts.clients ?? 6;
    const clients = Array.from({ length: nclients }, (_, i) =>
      runClient({ cluster, rec, rng: rng.fork(`client${i}`), client: i, stopped }));
    const readers = [1, 2, 3].map((r) => runReplicaReader({ cluster, rec, rng: rng.fork(`reader${r}`), client: 300 + r, stopped }));
    const subscribers = [1, 3].map((r) => runSubscriber({ cluster, rec, client: 100 + r }));
    let endWatch!: () => void;
    const over = new Promise<void>((r) => (endWatch = r));
    const watchers = [2, 3].map((r) => runWatcher({ cluster, rec, rng: rng.fork(`watch${r}`), client: 200 + r, stopped }, over));

    const faulting = (async () => {
      const frng = rng.fork('schedule');
      const frngs = new Map(opts.faults.map((f) => [f, rng.fork(f)]));
      // every fault named strikes once, in a seeded order, before any strikes again
      let round: FaultName[] = [];
      while (!stop && opts.faults.length > 0) {
        await sleep(frng.int(500, 2000));
        if (stop) break;
        if (round.length === 0) round = shuffled(opts.faults, frng);
        const name = round.shift()!;
        const tally = (faultCount[name] ??= { runs: 0, struck: 0, recovered: 0 });
        try {
          const out = await FAULTS[name].run({ cluster, rng: frngs.get(name)!, log, ...(mount ? { mount } : {}), statedir });
          tally.runs++;
          if (out.struck) tally.struck++;
          if (out.recovered) tally.recovered++;
          log(`fault ${name} ${out.struck ? 'struck' : 'did NOT strike'} and ${out.recovered ? 'was recovered from' : 'was NOT recovered from'}: ${out.detail}`);
          if (!out.recovered) {
            violations.push({ property: 'the instance recovers from every fault', detail: `${name}: ${out.detail}` });
            stop = true;
          }
        } catch (err) {
          log(`fault ${name} failed: ${(err as Error).message}`);
          violations.push({ property: 'instance survives faults', detail: `${name}: ${(err as Error).message}` });
          stop = true;
        }
      }
    })();
    // the run lasts its duration, and longer if a fault named has not struck yet (up to three times as long)
    const deadline = Date.now() + 3 * opts.durationMs;
    await sleep(opts.durationMs);
    while (!stop && opts.faults.some((f) => (faultCount[f]?.struck ?? 0) === 0) && Date.now() < deadline) await sleep(200);
    stop = true;
    await faulting;
    endWatch();
    await Promise.all([...clients, ...readers, ...watchers]);
    memory = summarize(rss.stop(), opts.settleMinutes ?? 2);
    const atEnd = selfMemory();
    log(`workload over: ${rec.records.length} operations (heap ${atEnd.heapMiB} MiB, peak RSS ${atEnd.peakRssMiB} MiB)`);
    const tChecks = Date.now();
    // what each check took, for the log: an hour's checks take minutes, and the search is the least of them
    const phases: string[] = [];
    let tPhase = tChecks;
    const lap = (name: string) => {
      const t = Date.now();
      const mem = selfMemory();
      phases.push(`${name} ${((t - tPhase) / 1000).toFixed(1)}s, heap ${mem.heapMiB} MiB, peak RSS ${mem.peakRssMiB} MiB`);
      tPhase = t;
    };

    // heal: every broker running and answering
    if (mount) regrow(mount);
    if (cluster.dead.size > 0) await cluster.restart();
    for (let r = 0; r < 4; r++) cluster.signal(r, 'SIGCONT');

    const h0 = await Flux.open(cluster.uri(0));
    try {
      await h0.call('event.publish', { topic: END_TOPIC, flags: 0 }, { nodeid: 0 });
      violations.push(...await converge(cluster));
      lap('heal, heads');
      violations.push(...await journalVerify(cluster));
      lap('journal verify');
      const subsDone = await Promise.race([Promise.all(subscribers).then(() => true), sleep(20_000).then(() => false)]);
      if (!subsDone) violations.push({ property: 'subscriptions see every event', detail: `a subscriber never received ${END_TOPIC}` });
      violations.push(...await finalReads(cluster, rec));
      lap('subscribers, final reads');
      violations.push(...await eventChecks(h0, rec));
      lap('events');
    } finally {
      h0.close();
    }
    const batches = await setroots(cluster);
    lap('journal read back');
    const kvsRecords = rec.records.filter((r): r is Extract<HistoryRecord, { kind: 'kvs' }> => r.kind === 'kvs');
    const attr = attribute(kvsRecords, batches);
    violations.push(...attr.problems.map((detail) => ({ property: 'every acknowledged write is present (and no refused one)', detail })));
    const lines = keyTimelines(batches);
    violations.push(...watchChecks(rec, lines));
    violations.push(...replicaChecks(rec, lines));
    const kvsOps = settle(kvsRecords, attr.exact);
    lap('writes, watches, replica reads');
    const lin = check(kvsModel, kvsOps, { maxStates: 5_000_000 });
    lap('search');
    if (lin.ok === false) violations.push({ property: 'linearizability', detail: lin.reason });
    // a search that gave up proves nothing: the run fails rather than passing unchecked
    if (lin.ok === 'unknown') violations.push({ property: 'linearizability decided', detail: `${lin.partition}: ${lin.reason}` });
    for (const f of opts.faults) {
      if ((faultCount[f]?.struck ?? 0) === 0) {
        violations.push({ property: 'every fault named strikes', detail: `${f}: ${JSON.stringify(faultCount[f] ?? { runs: 0 })}` });
      }
    }
    const maybe = rec.records.filter((r) => r.ret === Infinity).length;
    const refused = rec.records.filter((r) => 'refused' in r && r.refused).length;
    log(`outcomes: ${maybe} unknown (maybe applied), ${refused} refused or failed reads`);
    log(`checked ${kvsOps.length} KVS operations (${lin.explored} states) and ${rec.records.filter((r) => r.kind === 'publish').length} publishes ` +
      `in ${((Date.now() - tChecks) / 1000).toFixed(1)}s (${phases.join('; ')})`);
  } catch (err) {
    violations.push({ property: 'run completes', detail: (err as Error).stack ?? String(err) });
  } finally {
    rss?.stop();
    await cluster.dispose().catch(() => {});
    if (violations.length > 0) report = writeReport(opts, rec, violations, lines, statedir, replay, cluster.stderr);
    removeDirs();
  }
  const replicaReads = rec.records.filter((r) => r.kind === 'replica' && r.rank > 0 && r.value !== undefined).length;
  return { seed: opts.seed, operations: rec.records.length, replicaReads, faults: faultCount, violations, ...(report ? { report } : {}), replay, elapsedMs: Date.now() - t0, memory };
}

/** every setroot of the primary namespace, from rank 0's journal: rootseq -> its ops in order */
async function setroots(cluster: Cluster): Promise<Map<number, SetrootOp[]>> {
  const out = new Map<number, SetrootOp[]>();
  const h = await Flux.open(cluster.uri(0));
  try {
    const head = Number((await h.call('journal.head')).seq);
    for (let from = 1; from <= head; ) {
      const r = await h.call('journal.fetch', { from, count: Math.min(1000, head - from + 1) });
      const entries = (r.entries as unknown[]).map(entryFromJson);
      if (entries.length === 0) break;
      for (const e of entries) {
        if (e.topic !== 'kvs.namespace-primary-setroot') continue;
        const p = e.payload as { rootseq: number; ops: Array<{ key: string; flags: number; dirent: { type: string; data: unknown } | null }> };
        out.set(p.rootseq, p.ops.map((op) => ({ key: op.key, flags: op.flags, value: op.dirent === null ? null : decodeVal(op.dirent) })));
      }
      from = entries[entries.length - 1]!.seq + 1;
    }
  } finally {
    h.close();
  }
  return out;
}

async function heads(cluster: Cluster): Promise<Array<{ seq: number; ref: string }>> {
  const out = [];
  for (let r = 0; r < cluster.opts.size; r++) {
    const h = await Flux.open(cluster.uri(r));
    try {
      out.push((await h.call('journal.head')) as { seq: number; ref: string });
    } finally {
      h.close();
    }
  }
  return out;
}

async function converge(cluster: Cluster): Promise<Violation[]> {
  const t0 = Date.now();
  for (;;) {
    const all = await heads(cluster);
    if (all.every((x) => x.seq === all[0]!.seq && x.ref === all[0]!.ref)) return [];
    if (Date.now() - t0 > 20_000) {
      return [{ property: 'every rank\'s journal head equals rank 0\'s', detail: all.map((x, r) => `rank ${r}: ${x.seq} ${x.ref}`).join('\n') }];
    }
    await sleep(200);
  }
}

/** an hour's journal (1.5 million entries) took rank 0 31 s to verify on an idle machine: a loaded one, longer */
function journalVerify(cluster: Cluster): Promise<Violation[]> {
  return new Promise((resolve) => {
    execFile(process.execPath, [FLUX, 'journal', 'verify'], { env: { ...process.env, FLUX_URI: cluster.uri(0) }, timeout: 15 * 60_000 },
      (err, stdout, stderr) => resolve(err ? [{ property: 'flux journal verify passes', detail: `${stdout}${stderr}${err.message}` }] : []));
  });
}

/** after the faults: every rank reads what rank 0 reads; rank 0's reads join the history */
async function finalReads(cluster: Cluster, rec: Recorder): Promise<Violation[]> {
  const bad: Violation[] = [];
  const hs = await Promise.all(Array.from({ length: cluster.opts.size }, (_, r) => Flux.open(cluster.uri(r))));
  try {
    const root = await hs[0]!.call('kvs.getroot', { namespace: 'primary' });
    for (const key of KEYS) {
      const call = now();
      const value = await lookup(hs[0]!, { key, namespace: 'primary', flags: 0 });
      rec.records.push({ kind: 'kvs', id: rec.id(), client: -1, rank: 0, session: -1, input: { f: 'get', key }, call, ret: now(), output: { value } });
      for (let r = 1; r < hs.length; r++) {
        await hs[r]!.call('kvs.wait-version', { namespace: 'primary', rootseq: root.rootseq });
        const there = await lookup(hs[r]!, { key, namespace: 'primary', flags: 0 });
        if (there !== value) bad.push({ property: 'every rank reads what rank 0 reads', detail: `${key}: rank 0 ${JSON.stringify(value)}, rank ${r} ${JSON.stringify(there)}` });
      }
    }
  } finally {
    for (const h of hs) h.close();
  }
  return bad;
}

/**
 * seq -> topic of every journal entry whose topic starts with `prefix`, page by page: a long run publishes more
 * events than one answer holds (journal.list gives at most 100,000)
 */
export async function journalTopics(h: Flux, prefix: string, page = 100_000): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let from = 1; ;) {
    const entries = (await h.call('journal.list', { from, topic: prefix, limit: page }, { nodeid: 0 })).entries as Array<{ seq: number; topic: string }>;
    if (entries.length === 0) return out;
    for (const e of entries) out.set(e.seq, e.topic);
    from = entries[entries.length - 1]!.seq + 1;
  }
}

async function eventChecks(h: Flux, rec: Recorder): Promise<Violation[]> {
  const journal = await journalTopics(h, EVENT_PREFIX);
  const pubs: Publish[] = [];
  for (const r of rec.records) {
    if (r.kind !== 'publish') continue;
    pubs.push({ id: r.id, topic: r.topic, call: r.call, ret: r.seq !== undefined ? r.ret : Infinity, ...(r.seq !== undefined ? { seq: r.seq } : {}), failed: r.refused === true });
  }
  return checkEvents(pubs, rec.subs, journal).map((detail) => ({ property: 'events: sequenced, durable, delivered in order without gap or duplicate', detail }));
}

function replicaChecks(rec: Recorder, lines: Map<string, KeyTimeline>): Violation[] {
  const reads = rec.records.filter((r): r is Extract<HistoryRecord, { kind: 'replica' }> => r.kind === 'replica' && r.ret !== Infinity);
  const writes: AckedWrite[] = [];
  for (const r of rec.records) {
    if (r.kind !== 'kvs') continue;
    const version = versionOf(r.output);
    if (version !== undefined) writes.push({ session: r.session, version, ret: r.ret });
  }
  return checkReplicaReads(reads, writes, lines).map((detail) => ({ property: 'replica reads: never back, never a state rank 0 never had, a first read sees what was acknowledged before it', detail }));
}

function watchChecks(rec: Recorder, lines: Map<string, KeyTimeline>): Violation[] {
  const bad: Violation[] = [];
  // each key's successive values, from before it existed
  const histories = new Map<string, KeyValues>();
  for (const w of rec.watches) {
    if (!histories.has(w.key)) histories.set(w.key, keyValues([null, ...(lines.get(w.key)?.values ?? [])]));
    const why = checkWatch(w.key, w.seen, histories.get(w.key)!);
    if (why) bad.push({ property: 'watches see every change in order without gap or duplicate', detail: `client ${w.client} on rank ${w.rank}: ${why}` });
  }
  return bad;
}

/** 10,000 lines of a history are a few MB, far under V8's longest string (~512 MiB) */
const LINES_PER_WRITE = 10_000;

/** one line each, written a batch at a time: an hour's history joined whole is past V8's longest string */
export function writeLines(path: string, lines: readonly string[]): void {
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < lines.length; i += LINES_PER_WRITE) writeSync(fd, `${lines.slice(i, i + LINES_PER_WRITE).join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
}

function writeReport(
  opts: RunOptions, rec: Recorder, violations: Violation[], lines: string[], statedir: string, replay: string, stderr: string,
): string {
  const dir = opts.reportDir ? join(opts.reportDir, `seed-${opts.seed}`) : mkdtempSync(join(tmpdir(), `flux-verify-${opts.seed}-`));
  mkdirSync(join(dir, 'journal'), { recursive: true });
  writeFileSync(join(dir, 'seed'), `${opts.seed}\n`);
  writeFileSync(join(dir, 'replay'), `${replay}\n`);
  const fin = (x: number) => (x === Infinity ? null : x);
  writeLines(join(dir, 'history.jsonl'), rec.records.map((r) => JSON.stringify({ ...r, ret: fin(r.ret) })));
  writeLines(join(dir, 'subscriptions.jsonl'), rec.subs.map((s) => JSON.stringify(s)));
  writeLines(join(dir, 'watches.jsonl'), rec.watches.map((w) => JSON.stringify(w)));
  writeLines(join(dir, 'log'), lines);
  writeFileSync(join(dir, 'brokers.stderr'), stderr);
  writeLines(join(dir, 'violation.txt'), [...violations.map((v) => `violated: ${v.property}\n${v.detail}\n`),
    `seed ${opts.seed}, faults ${opts.faults.join(',') || 'none'}\nreplay: ${replay}`]);
  if (existsSync(statedir)) for (const f of readdirSync(statedir)) if (statSync(join(statedir, f)).isFile()) copyFileSync(join(statedir, f), join(dir, 'journal', f));
  return dir;
}
