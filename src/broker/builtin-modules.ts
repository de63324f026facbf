// The modules flux-ts is built with that can be removed and loaded again at run time, by the names `flux module
// load` takes, each made with what it needs from the broker. The broker's own services (attr, log, journal,
// event, overlay, module, broker, state-machine) are not among them: the broker cannot run without them.
import { FluxError, EINVAL, ENOSYS } from '../core/errors.js';
import type { HashName } from '../core/content/blobref.js';
import type { ContentStore } from '../core/content/store.js';
import type { JournalStore } from '../core/journal/store.js';
import { moduleArgs } from '../core/config/module-args.js';
import { type ContentService, contentModule } from '../services/content.js';
import { cronModule } from '../services/cron.js';
import { heartbeatModule } from '../services/heartbeat.js';
import type { JournalService } from '../services/journal.js';
import { kvsModule } from '../services/kvs/index.js';
import { kvsWatchModule } from '../services/kvs-watch.js';
import type { ModuleDef, ModuleFactory, ModuleHost } from '../services/module.js';
import type { ResourceService } from '../services/resource.js';
import type { DownRanks } from '../services/job-manager.js';
import { rexecModule } from '../services/rexec.js';

export interface BuiltinDeps {
  journal: JournalService;
  hashName: HashName;
  /** rank 0: the sqlite store the content module answers from and the KVS writes to */
  content?: ContentStore;
  /** rank 0: the journal's index, where the KVS keeps its history */
  store?: JournalStore;
  /** put first on the PATH of the commands cron runs */
  binDir: string;
  /** FLUX_HWLOC_XMLFILE: the topology the resource module reads instead of running lstopo */
  hwlocXmlFile?: string;
  /** -S content.restore: what the KVS the broker starts with restores */
  restore?: string;
  /** the ranks below that are down, which rank 0's scheduler leaves alone */
  down?: DownRanks;
}

export interface Builtin {
  create: ModuleFactory;
  /** kept on rank 0 only: its state is the instance's (the cron table, the job queue) */
  rank0?: boolean;
  /**
   * started on rank 0 only: a rank below answers nothing of its own (it would ask rank 0, or read the replica
   * rank 0 writes), so requests it does not serve go up the tree to rank 0 and get the same answer there.
   * `flux module load` still loads it on any rank.
   */
  servedUpstream?: boolean;
}

/** a module made of a service object other modules use: the one loaded now, or none */
interface Slot<T> {
  now?: T;
}

/** the service's module, which is the slot's service from its start to its stop */
function tracked<T extends { def: ModuleDef }>(svc: T, slot: Slot<T>): ModuleDef {
  return {
    ...svc.def,
    start: async () => {
      await svc.def.start?.();
      slot.now = svc;
    },
    stop: async () => {
      if (slot.now === svc) slot.now = undefined;
      await svc.def.stop?.();
    },
  };
}

const notLoaded = (name: string) => new FluxError(ENOSYS, `the ${name} module is not loaded`);

/** the factory of a module that takes no arguments, which says so when given some */
function noArgs(make: (host: ModuleHost) => ModuleDef | Promise<ModuleDef>): ModuleFactory {
  return (host, args) => {
    moduleArgs(args, {});
    return make(host);
  };
}

/** in the order a broker starts them */
export function builtinModules(host: ModuleHost, deps: BuiltinDeps): Map<string, Builtin> {
  const { journal } = deps;
  const content: Slot<ContentService> = {};
  const resource: Slot<ResourceService> = {};
  let restore = deps.restore;
  // the scheduler leaves alone the ranks that are down and those an administrator drained
  const drainWatchers = new Set<() => void>();
  const unavailable: DownRanks | undefined = deps.down && {
    ranks: () => {
      const drained = resource.now?.drained() ?? [];
      const down = deps.down!.ranks();
      return drained.length === 0 ? down : [...new Set([...down, ...drained])];
    },
    watch: (fn) => {
      const off = deps.down!.watch(fn);
      drainWatchers.add(fn);
      return () => {
        off();
        drainWatchers.delete(fn);
      };
    },
  };
  // what the KVS reads and writes blobs through: whichever content module is loaded (rank 0 writes to sqlite)
  const contentAccess = {
    hash: deps.hashName,
    backing: deps.content,
    load: (digest: Buffer) => content.now?.load(digest) ?? Promise.reject(notLoaded('content')),
    store: (blob: Buffer) => content.now?.store(blob) ?? Promise.reject(notLoaded('content')),
  };
  const table: Array<[string, Builtin]> = [
    ['content', { create: noArgs((h) => tracked(contentModule(h, deps.content, deps.hashName), content)) }],
    ['rexec', { create: noArgs((h) => rexecModule(h, journal)) }],
    ['kvs', {
      create: noArgs((h) => {
        const def = kvsModule(h, { journal, content: contentAccess, store: deps.store, restore });
        // -S content.restore is done once, by the KVS the broker starts with
        restore = undefined;
        return def;
      }),
    }],
    ['kvs-history', {
      servedUpstream: true,
      create: noArgs(async (h) => (await import('../services/kvs-history.js')).kvsHistoryModule(h, { journal, database: deps.store?.database })),
    }],
    ['kvs-watch', { create: noArgs((h) => kvsWatchModule(h, { journal, content: contentAccess })) }],
    ['resource', { create: noArgs(async (h) => tracked((await import('../services/resource.js')).resourceModule(h, {
      xmlFile: deps.hwlocXmlFile, down: deps.down?.ranks, onDrain: () => drainWatchers.forEach((fn) => fn()),
    }), resource)) }],
    ['cron', { rank0: true, create: (h, args) => cronModule(h, journal, { binDir: deps.binDir, args }) }],
    ['job-shell', { create: noArgs(async (h) => (await import('../services/job-shell.js')).jobShellModule(h)) }],
    ['job-ingest', { servedUpstream: true, create: noArgs(async (h) => (await import('../services/job-ingest.js')).jobIngestModule(h)) }],
    ['job-manager', {
      rank0: true,
      create: noArgs(async (h) => (await import('../services/job-manager.js')).jobManagerModule(h, {
        journal,
        resources: () => resource.now?.resources() ?? Promise.reject(notLoaded('resource')),
        gathered: () => resource.now?.gathered() ?? false,
        ...(unavailable ? { down: unavailable } : {}),
      })),
    }],
    ['job-info', { servedUpstream: true, create: noArgs(async (h) => (await import('../services/job-info.js')).jobInfoModule(h)) }],
    ['job-list', { rank0: true, create: noArgs(async (h) => (await import('../services/job-list.js')).jobListModule(h, journal)) }],
    ['heartbeat', { create: (h, args) => heartbeatModule(h, args) }],
  ];
  return new Map(table);
}

/** whether a broker of this rank starts the built-in with itself */
export function startsOn(rank: number, b: Builtin): boolean {
  return rank === 0 || (!b.rank0 && !b.servedUpstream);
}

/** a built-in made on this rank with `args`; EINVAL where it does not run */
export async function createBuiltin(host: ModuleHost, name: string, b: Builtin, args: string[]): Promise<ModuleDef> {
  if (b.rank0 && host.rank !== 0) throw new FluxError(EINVAL, `${name} runs on rank 0 only`);
  return b.create(host, args);
}
