// resource: hardware discovery on every rank, and on rank 0 the instance's resource set R gathered from them.
// At start each broker runs lstopo in the background (start-up never waits for it), or reads the XML file
// FLUX_HWLOC_XMLFILE names, and keeps its topology XML and the summary of it. Rank 0 asks every rank for its
// summary the first time the instance's resources are wanted; a rank that does not answer within the gather
// timeout is left out of that answer (and logged), and asked again the next time, unless it is down then: a rank
// lost before it answered is not waited for again until it is back. Discovery is not journaled: what the
// scheduler decides from it is.
//
//   resource.topo-get {xml?}  -> {rank, hostname, summary, xml?}   this rank's discovery (waits for it)
//   resource.R        {}      -> {R}                               rank 0: the instance's R (RFC 20)
//   resource.get-xml  {ranks?} -> {xml:[…]}                        rank 0: each rank's topology XML, in rank
//                                                                 order (all ranks, or the idset `ranks`);
//                                                                 "" for a rank that has none
//   resource.drain    {targets, reason?, mode?} -> {}              rank 0, owner: take ranks (an idset) out of
//                                                                 scheduling; mode fail (default), update,
//                                                                 overwrite or overwrite-timestamp (-f, -ff)
//   resource.undrain  {targets, force?} -> {}                      rank 0, owner
//   resource.status   {} -> {R, online, offline, drain}            rank 0: the system view; drain is
//                                                                 {idset: {timestamp, reason}}
//
// Drains are appended to the KVS eventlog resource.eventlog, so they are journaled and outlive a restart; the
// scheduler counts a drained rank as down (it runs no new job there; jobs running there go on).
// When lstopo is missing or fails, the rank logs one error and reports no cores: the instance then visibly
// lacks that rank's resources instead of guessing at them.
import { FluxError, EPROTO, EINVAL, ENOENT } from '../core/errors.js';
import { type Message, ROLE_ALL, payloadJson } from '../core/wire/message.js';
import { type DrainMap, type DrainMode, type ResourceEvent, applyResourceEvent, drainEvent, undrainEvent } from '../core/resource/drain.js';
import { appendOp } from '../core/jobs/ops.js';
import { eventlogLine, parseEventlog } from '../core/jobs/kvs.js';
import { wallclock } from '../core/kvs/format-eventlog.js';
import { formatIdset, parseIdset } from '../core/resource/idset.js';
import { type HwlocSummary, type RankTopology, parseHwlocXml, toRankTopology } from '../core/resource/hwloc-xml.js';
import { LSTOPO, readTopologyFile, runDiscovery } from '../core/resource/discovery.js';
import { type ResourceSet, buildResourceSet, decodeR, encodeR } from '../core/resource/rset.js';
import { compressHostlist } from '../core/resource/hostlist.js';
import type { ModuleDef, ModuleHost } from './module.js';

/** a discovery not finished by then is given up: a device driver that hangs must not hold topo-get forever */
const DISCOVERY_TIMEOUT_MS = 60_000;
const GATHER_TIMEOUT_MS = 30_000;
/** a rank not yet online (EHOSTUNREACH) is asked again this often */
const RETRY_MS = 200;

export interface ResourceOptions {
  /** the discovery command; it prints the topology XML */
  command?: string[];
  /** the topology XML is read from this file, not discovered (FLUX_HWLOC_XMLFILE) */
  xmlFile?: string;
  /** how long rank 0 waits for a rank's answer */
  gatherTimeoutMs?: number;
  /** rank 0: the ranks that are down now (not joined, lost or gone) */
  down?: () => number[];
  /** rank 0: called after a drain or undrain has been recorded */
  onDrain?: () => void;
}

export interface ResourceService {
  def: ModuleDef;
  /** the instance's resources: every rank's discovery, or those that answered within the gather timeout */
  resources(): Promise<ResourceSet>;
  /** whether every rank has answered (a rank that found no cores has too) */
  gathered(): boolean;
  /** rank 0: the drained ranks (known once resources() has answered) */
  drained(): number[];
}

const EVENTLOG_KEY = 'resource.eventlog';
const DRAIN_MODES = ['fail', 'update', 'overwrite', 'overwrite-timestamp'];

const NO_SUMMARY: HwlocSummary = { counts: {}, cores: [], pus: [], gpus: [] };

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** the promise's value, or undefined if it has not settled by `deadline` (ms since the epoch) */
async function until<T>(p: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), Math.max(0, deadline - Date.now()))));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export function resourceModule(host: ModuleHost, opts: ResourceOptions = {}): ResourceService {
  const command = opts.command ?? LSTOPO;
  const gatherTimeout = opts.gatherTimeoutMs ?? GATHER_TIMEOUT_MS;
  const abort = new AbortController();
  let local: Promise<{ summary: HwlocSummary; xml?: string }> | undefined;
  /** rank 0: the summaries gathered so far (an answer, once had, does not change) */
  const known = new Map<number, RankTopology>();
  let gathering: Promise<void> | undefined;
  let complete: ResourceSet | undefined;
  /** rank 0: ranks a gather gave up on, which are waited for again only once they are up */
  const gaveUp = new Set<number>();
  /** rank 0: the drains, read from resource.eventlog once and kept up with what this service appends */
  let drains: DrainMap = new Map();
  let drainsRead: Promise<void> | undefined;
  /** drain requests one at a time: each decides on the map the one before it left */
  let drainQueue: Promise<void> = Promise.resolve();

  const hostname = () => host.attrs.get('hostname') ?? '';

  function discover(): Promise<{ summary: HwlocSummary; xml?: string }> {
    const source = opts.xmlFile !== undefined
      ? readTopologyFile(opts.xmlFile).then((xml) => ({ xml, stderr: '' }))
      : runDiscovery(command, { timeoutMs: DISCOVERY_TIMEOUT_MS, signal: abort.signal });
    const fail = (why: string) => {
      host.log(3, 'resource', `${why}: this rank reports no cores`);
      return { summary: NO_SUMMARY };
    };
    return source.then(({ xml, stderr }) => {
      if (abort.signal.aborted) return { summary: NO_SUMMARY };
      if (stderr.trim() !== '') host.log(7, 'resource', `${command[0]}: ${stderr.trim()}`);
      try {
        return { summary: parseHwlocXml(xml), xml };
      } catch (parseErr) {
        const what = opts.xmlFile === undefined ? `${command[0]} printed` : `${opts.xmlFile} holds`;
        return fail(`${what} no usable topology: ${(parseErr as Error).message}`);
      }
    }, (err: unknown) => (abort.signal.aborted ? { summary: NO_SUMMARY } : fail((err as Error).message)));
  }

  async function topoGet(msg: Message, body: Record<string, unknown>): Promise<void> {
    const d = await local!;
    const out: Record<string, unknown> = { rank: host.rank, hostname: hostname(), summary: d.summary };
    if (body.xml === true && d.xml !== undefined) out.xml = d.xml;
    host.respond(msg, out);
  }

  /**
   * Each rank's discovery, asked until `deadline`; the ranks that did not answer are left out and logged.
   * Any summary that arrives, even after the deadline, is kept in `known`.
   */
  async function ask(ranks: number[], xml: boolean, deadline: number): Promise<Map<number, RankTopology>> {
    const got = new Map<number, RankTopology>();
    const failures = new Map<number, string>();
    await Promise.all(ranks.map(async (rank) => {
      while (Date.now() < deadline && !abort.signal.aborted) {
        const answer = host.rpc('resource.topo-get', xml ? { xml: true } : {}, { nodeid: rank }).then((m) => {
          const disc = toRankTopology(payloadJson(m));
          if (disc.rank !== rank) throw new FluxError(EPROTO, `rank ${rank} answered for rank ${disc.rank}`);
          known.set(rank, { rank, hostname: disc.hostname, summary: disc.summary });
          return disc;
        });
        answer.catch(() => {});
        try {
          const d = await until(answer, deadline);
          if (d) got.set(rank, d);
          else failures.set(rank, 'no answer');
          return;
        } catch (err) {
          failures.set(rank, (err as Error).message);
          await delay(Math.min(RETRY_MS, Math.max(0, deadline - Date.now())));
        }
      }
    }));
    const missing = ranks.filter((r) => !got.has(r));
    for (const r of missing) gaveUp.add(r);
    if (missing.length > 0 && !abort.signal.aborted) {
      const why = [...new Set(missing.map((r) => failures.get(r) ?? 'no answer'))].join('; ');
      host.log(3, 'resource', `no topology from rank ${formatIdset(missing)} within ${gatherTimeout / 1000}s (${why}): answering without it`);
    }
    return got;
  }

  /** the drains recorded in resource.eventlog, read once (a restarted instance keeps its drained ranks) */
  function readDrains(): Promise<void> {
    drainsRead ??= host.rpc('kvs.lookup', { namespace: 'primary', key: EVENTLOG_KEY, flags: 0 }).then((m) => {
      const v = payloadJson(m).val as { type?: unknown; data?: unknown } | undefined;
      if (v?.type !== 'val' || typeof v.data !== 'string') throw new FluxError(EPROTO, `${EVENTLOG_KEY} is not a value`);
      drains = parseEventlog(Buffer.from(v.data, 'base64').toString('utf8')).reduce(applyResourceEvent, drains);
    }, (err: unknown) => {
      if (err instanceof FluxError && err.errno === ENOENT) return;
      // asked again next time: a failed read must not leave the drains unknown for good
      drainsRead = undefined;
      throw err;
    });
    return drainsRead;
  }

  /** one drain or undrain: decided on the current map, appended to resource.eventlog, then applied */
  function changeDrains(decide: (map: DrainMap, ranks: number[]) => ResourceEvent | undefined, targets: string): Promise<void> {
    const next = drainQueue.then(async () => {
      await readDrains();
      const ranks = parseIdset(targets);
      const bad = ranks.find((r) => r >= host.size);
      if (bad !== undefined) throw new FluxError(EINVAL, `rank ${bad} is not in this instance of size ${host.size}`);
      const e = decide(drains, ranks);
      if (e === undefined) return;
      const hosts = complete ? ranks.map((r) => complete!.nodes.find((n) => n.rank === r)?.hostname) : [];
      if (hosts.length > 0 && hosts.every((h) => h !== undefined)) e.context!.nodelist = compressHostlist(hosts as string[]);
      await host.rpc('kvs.commit', { namespace: 'primary', flags: 0, ops: [appendOp(EVENTLOG_KEY, eventlogLine(e.timestamp, e.name, e.context))] });
      drains = applyResourceEvent(drains, e);
      opts.onDrain?.();
    });
    drainQueue = next.catch(() => undefined);
    return next;
  }

  async function resources(): Promise<ResourceSet> {
    if (host.rank === 0) await readDrains();
    if (complete) return complete;
    if (host.rank !== 0) return decodeR((payloadJson(await host.rpc('resource.R', undefined, { nodeid: 0 })) as { R: unknown }).R);
    const down = new Set(opts.down?.() ?? []);
    const missing = () => Array.from({ length: host.size }, (_, r) => r).filter((r) => !known.has(r) && !(gaveUp.has(r) && down.has(r)));
    if (missing().length > 0) {
      gathering ??= ask(missing(), false, Date.now() + gatherTimeout).then(() => undefined).finally(() => (gathering = undefined));
      await gathering;
    }
    const set = buildResourceSet([...known.values()].map((d) => ({
      rank: d.rank, hostname: d.summary.hostname ?? d.hostname, cores: d.summary.cores, gpus: d.summary.gpus,
    })));
    if (known.size === host.size) complete = set;
    return set;
  }

  async function getXml(msg: Message, body: Record<string, unknown>): Promise<void> {
    const ranks = body.ranks === undefined ? Array.from({ length: host.size }, (_, r) => r) : parseIdset(body.ranks as string, host.size);
    const bad = ranks.find((r) => r >= host.size);
    if (bad !== undefined) throw new FluxError(EINVAL, `rank ${bad} is not in this instance of size ${host.size}`);
    const got = await ask(ranks, true, Date.now() + gatherTimeout);
    host.respond(msg, { xml: ranks.map((r) => got.get(r)?.xml ?? '') });
  }

  /** rank 0 serves the instance-wide requests; another rank passes them on */
  const onRankZero = (fn: (msg: Message, body: Record<string, unknown>) => Promise<void>) =>
    async (msg: Message, body: Record<string, unknown> | undefined): Promise<void> => {
      if (host.rank === 0) return fn(msg, body ?? {});
      host.respond(msg, payloadJson(await host.rpc(msg.topic!, body ?? {}, { nodeid: 0 })));
    };

  const def: ModuleDef = {
    name: 'resource',
    start: () => {
      local = discover();
    },
    stop: () => abort.abort(),
    handlers: [
      {
        topic: 'resource.topo-get',
        allow: ROLE_ALL,
        schema: { type: 'object', properties: { xml: { type: 'boolean' } } },
        handler: (msg, body) => topoGet(msg, body!),
      },
      {
        topic: 'resource.R',
        allow: ROLE_ALL,
        handler: onRankZero(async (msg) => host.respond(msg, { R: encodeR(await resources()) })),
      },
      {
        topic: 'resource.get-xml',
        allow: ROLE_ALL,
        schema: { type: 'object', properties: { ranks: { type: 'string' } } },
        handler: onRankZero(getXml),
      },
      {
        topic: 'resource.drain',
        schema: {
          type: 'object',
          properties: { targets: { type: 'string', minLength: 1 }, reason: { type: 'string' }, mode: { enum: DRAIN_MODES } },
          required: ['targets'],
        },
        handler: onRankZero(async (msg, body) => {
          const reason = (body.reason as string | undefined) ?? '';
          const mode = (body.mode as DrainMode | undefined) ?? 'fail';
          await changeDrains((map, ranks) => drainEvent(map, ranks, reason, mode, wallclock()), body.targets as string);
          host.respond(msg, {});
        }),
      },
      {
        topic: 'resource.undrain',
        schema: { type: 'object', properties: { targets: { type: 'string', minLength: 1 }, force: { type: 'boolean' } }, required: ['targets'] },
        handler: onRankZero(async (msg, body) => {
          await changeDrains((map, ranks) => undrainEvent(map, ranks, body.force === true, wallclock()), body.targets as string);
          host.respond(msg, {});
        }),
      },
      {
        topic: 'resource.status',
        allow: ROLE_ALL,
        handler: onRankZero(async (msg) => {
          const R = await resources();
          const down = new Set(opts.down?.() ?? []);
          const all = Array.from({ length: host.size }, (_, r) => r);
          // ranks drained together (one reason, one time) are one entry, as flux-core answers them
          const groups = new Map<string, { ranks: number[]; timestamp: number; reason: string }>();
          for (const [rank, d] of [...drains].sort((a, b) => a[0] - b[0])) {
            const key = JSON.stringify([d.timestamp, d.reason]);
            const g = groups.get(key) ?? { ranks: [], timestamp: d.timestamp, reason: d.reason };
            g.ranks.push(rank);
            groups.set(key, g);
          }
          host.respond(msg, {
            R: encodeR(R),
            online: formatIdset(all.filter((r) => !down.has(r))),
            offline: formatIdset(all.filter((r) => down.has(r))),
            drain: Object.fromEntries([...groups.values()].map((g) => [formatIdset(g.ranks), { timestamp: g.timestamp, reason: g.reason }])),
          });
        }),
      },
    ],
    stats: () => ({ known: known.size }),
  };
  return { def, resources, gathered: () => complete !== undefined, drained: () => [...drains.keys()] };
}
