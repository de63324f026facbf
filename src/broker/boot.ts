// One broker process from start to exit: PMI bootstrap, overlay wiring, services, the initial program on
// rank 0, and a clean shutdown in which children say goodbye before their parent leaves.
import { spawn, type ChildProcess } from 'node:child_process';
// node:crypto's randomUUID, not the global crypto's: that one is Web Crypto, a module more for every broker to load
import { randomUUID } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, chmodSync, existsSync, accessSync, statSync, constants as fsConstants } from 'node:fs';
import { hostname as osHostname, tmpdir, constants as osConstants } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FluxError, EINVAL, EBUSY, EROFS, ENOTDIR, ECONNRESET, errnoOf, strerror } from '../core/errors.js';
import { parseJobId } from '../core/jobs/fluid.js';
import { connect } from '../transport/connector.js';
import { commandLineAttrError } from '../core/config/broker-attrs.js';
import type { ContentStore } from '../core/content/store.js';
import type { JournalStore } from '../core/journal/store.js';
import { checkHashName, blobref, digestOf } from '../core/content/blobref.js';
import type { Signer } from '../core/journal/signing.js';
import { journalModule } from '../services/journal.js';
import { Message, encodeFrames, makeControl, makeRequest, jsonPayload } from '../core/wire/message.js';
import { childrenOf, descendantsOf, levelOf, maxLevel, parentOf, parseTopo } from '../core/overlay/topology.js';
import { VERSION, VERSION_CODE } from '../core/version.js';
import { parseFSD } from '../core/time/fsd.js';
import { compressHostlist } from '../core/resource/hostlist.js';
import { HWLOC_XMLFILE_ENV, SHARED_TOPOLOGY_FILE } from '../core/resource/discovery.js';
import { statusCode } from '../core/overlay/subtree-status.js';
import { pmiLibraryPath } from '../core/pmi-library.js';
import { fluxEnvironment } from '../core/jobs/flux-env.js';
import type { PmiClient } from '../transport/pmi-client.js';
import { selectPmi } from '../transport/pmi-select.js';
import { exchangeCards } from './business-cards.js';
import { type Config, loadConfig } from '../core/config/load.js';
import { type AccessConfig, parseAccess } from '../core/access/config.js';
import { parsePurgeLimits } from '../core/jobs/purge-config.js';
import { USERS, TOPIC_ADDROLE, type UserTable, allUsers, rolesOf } from '../projections/users.js';
import { userModule } from '../services/user.js';
import { limitsFrom } from '../transport/local-limits.js';
import { type Bootstrap, parseBootstrap, rankOf } from '../core/config/bootstrap.js';
import { type Liveness, OverlayServer, OverlayClient } from '../transport/overlay.js';
import { type Keypair, generateKeypair, readCert } from '../transport/keys.js';
import { LocalServer, type LocalConnection } from '../transport/local-server.js';
import { Attrs, ATTR_IMMUTABLE, ATTR_RUNTIME } from '../services/attrs.js';
import { attrModule } from '../services/attr.js';
import { logModule } from '../services/log.js';
import { eventModule } from '../services/event.js';
import { PROJECTIONS } from '../projections/index.js';
import { Broker, CONTROL_DISCONNECT, CONTROL_HEARTBEAT } from './broker.js';
import { ATTR_REPLAY_STATEDIR, ATTR_REPLAY_TO, readOnlyGate, readOnlyReason } from '../core/journal/read-only.js';
import { brokerModule, stateMachineModule, type BrokerControl } from './builtins.js';
import { builtinModules, createBuiltin, startsOn } from './builtin-modules.js';
import { moduleModule } from './module-service.js';
import { BrokerConfig, configModule } from './config-service.js';
import { overlayModule } from './overlay-service.js';
import { DEFAULT_HEAP_GROWING_PERCENT, holdHeapGrowth } from './heap-growth.js';
import { DEFAULT_HEAP_TRIM, type HeapTrim, startHeapTrim } from './heap-trim.js';

/** where `flux` itself lives: the instance puts this bin dir first on the initial program's PATH */
export const BIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin');

const SYNC_PERIOD_MS = 1000;

/**
 * The overlay's heartbeats for tbon.torpid_max (seconds): a connection whose peer has stopped, or whose host is
 * unreachable, for that long is closed. None where it is 0, which flux-core reads as "never torpid".
 */
function overlayLiveness(torpidMax: number): Liveness | undefined {
  if (!(torpidMax > 0)) return undefined;
  const timeoutMs = Math.round(torpidMax * 1000);
  return { intervalMs: Math.min(SYNC_PERIOD_MS, Math.max(100, Math.floor(timeoutMs / 2))), timeoutMs };
}

interface BootArgs {
  setattrs: Map<string, string>;
  command: string[];
  /** --config-path: a directory of TOML files (or one file) */
  configPath?: string;
}

export function parseBrokerArgs(args: string[]): BootArgs {
  const setattrs = new Map<string, string>();
  let configPath: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i++;
      break;
    }
    let kv: string | undefined;
    if (a === '-h' || a === '--help') throw new FluxError(EINVAL, 'usage: flux broker [-c DIR] [-S NAME=VALUE]... [COMMAND...]');
    if (a === '-c' || a === '--config-path' || a.startsWith('--config-path=')) {
      configPath = a.startsWith('--config-path=') ? a.slice('--config-path='.length) : args[++i];
      if (configPath === undefined || configPath === '') throw new FluxError(EINVAL, `${a} needs a directory`);
      continue;
    }
    if (a === '-S' || a === '--setattr') kv = args[++i];
    else if (a.startsWith('--setattr=')) kv = a.slice('--setattr='.length);
    else if (a.startsWith('-S')) kv = a.slice(2);
    else if (a.startsWith('-')) throw new FluxError(EINVAL, `unknown option ${a}`);
    else break;
    if (kv === undefined) throw new FluxError(EINVAL, `${a} needs NAME=VALUE`);
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new FluxError(EINVAL, `${a} ${kv}: expected NAME=VALUE`);
    setattrs.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return { setattrs, command: args.slice(i), ...(configPath !== undefined ? { configPath } : {}) };
}

export async function runBroker(argv: string[]): Promise<number> {
  const { setattrs, command, configPath } = parseBrokerArgs(argv);
  for (const [name, value] of setattrs) {
    const why = commandLineAttrError(name, value);
    if (why !== undefined) throw new FluxError(EINVAL, `${name}: ${why}`);
  }
  const debugPmi = process.env.FLUX_PMI_DEBUG === '1';
  // flux-core's name for faking this host's name, so that tests can run several "hosts" on one machine
  const hostname = process.env.FLUX_FAKE_HOSTNAME ?? osHostname();
  // an instance whose brokers find each other from a shared config ([bootstrap]), or from a launcher's PMI
  let bootstrap: Bootstrap | undefined;
  let bootRank = 0;
  let certKeypair: Keypair | undefined;
  let access: AccessConfig = { allowGuestUser: false, allowRootOwner: false };
  let config: Config = {};
  if (configPath !== undefined) {
    try {
      config = loadConfig(configPath);
      access = parseAccess(config, configPath);
      parsePurgeLimits(config, configPath);
      bootstrap = parseBootstrap(config, configPath);
      if (bootstrap) {
        bootRank = rankOf(bootstrap, hostname, configPath);
        if (bootstrap.curveCert !== undefined) certKeypair = readCert(bootstrap.curveCert).keypair;
        else if (bootstrap.hosts.length > 1) throw new FluxError(EINVAL, `${configPath}: bootstrap.curve_cert is required for more than one host`);
      }
    } catch (err) {
      process.stderr.write(`flux-broker: ${(err as Error).message}\n`);
      return 1;
    }
  }
  let pmi: PmiClient | null = null;
  let method = 'config';
  if (!bootstrap) {
    try {
      const choice = await selectPmi(process.env, { debug: debugPmi });
      pmi = choice.client;
      method = choice.method;
    } catch (err) {
      process.stderr.write(`flux-broker: PMI bootstrap failed: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const rank = bootstrap ? bootRank : pmi?.rank ?? 0;
  const size = bootstrap ? bootstrap.hosts.length : pmi?.size ?? 1;
  // an instance run as a job of another Flux instance is a level below it: the job shell's PMI says which
  let instanceLevel = setattrs.get('instance-level');
  if (instanceLevel === undefined && pmi && process.env.FLUX_JOB_ID !== undefined) {
    instanceLevel = await pmi.get('flux.instance-level').catch((err: unknown) => {
      if (debugPmi) process.stderr.write(`flux-broker: no flux.instance-level from PMI: ${(err as Error).message}\n`);
      return undefined;
    });
  }

  const attrs = new Attrs();
  const topo = setattrs.get('tbon.topo') ?? (setattrs.has('tbon.fanout') ? `kary:${setattrs.get('tbon.fanout')}` : 'kary:32');
  const k = parseTopo(topo);

  const children = childrenOf(rank, size, k);
  const parent = parentOf(rank, k);
  if (bootstrap) {
    // checked before anything is made: a bad config leaves nothing behind
    const missing = children.length > 0 && bootstrap.hosts[rank]!.bind === ''
      ? `${hostname} has children but no bind URI (set default_bind)`
      : parent !== undefined && bootstrap.hosts[parent]!.connect === ''
        ? `${bootstrap.hosts[parent]!.host} has no connect URI (set default_connect)`
        : undefined;
    if (missing !== undefined) {
      process.stderr.write(`flux-broker: ${configPath}: bootstrap.hosts: ${missing}\n`);
      return 1;
    }
  }

  let rundir = setattrs.get('rundir');
  let ownRundir = false;
  if (rundir === undefined) {
    rundir = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'flux-'));
    ownRundir = true;
  } else if (!existsSync(rundir)) {
    mkdirSync(rundir, { recursive: true, mode: 0o700 });
  }
  chmodSync(rundir, 0o700);

  const keypair = certKeypair ?? generateKeypair();
  const ownerUid = process.getuid?.() ?? 0;

  // ---- attributes flux-core users expect ----
  const imm = (n: string, v: string | undefined) => attrs.define(n, v, ATTR_IMMUTABLE);
  imm('rank', String(rank));
  imm('size', String(size));
  imm('version', VERSION);
  imm('rundir', rundir);
  attrs.define('rundir-cleanup', ownRundir ? '1' : '0');
  imm('statedir', setattrs.get('statedir'));
  imm('security.owner', String(ownerUid));
  imm('hostname', hostname);
  imm('instance-level', instanceLevel ?? '0');
  imm('jobid-path', '/');
  imm('conf.pmi_library_path', pmiLibraryPath());
  imm('local-uri', `local://${rundir}/local-${rank}`);
  const parentUri = process.env.FLUX_URI && !setattrs.has('rundir') ? process.env.FLUX_URI : undefined;
  imm('parent-uri', parentUri);
  imm('jobid', parentUri !== undefined ? process.env.FLUX_JOB_ID : undefined);
  imm('broker.pid', String(process.pid));
  imm('broker.starttime', (Date.now() / 1000).toFixed(2));
  imm('broker.boot-method', method);
  imm('config.path', configPath);
  imm('broker.mapping', `[[0,1,${size},1]]`);
  imm('broker.critical-ranks', '0');
  imm('broker.quorum', String(size));
  imm('tbon.topo', `kary:${k}`);
  imm('tbon.fanout', String(k));
  imm('tbon.level', String(levelOf(rank, k)));
  imm('tbon.maxlevel', String(maxLevel(size, k)));
  imm('tbon.descendants', String(descendantsOf(rank, size, k)));
  attrs.define('tbon.torpid_min', '5s', ATTR_RUNTIME);
  attrs.define('tbon.torpid_max', '30s', ATTR_RUNTIME);
  attrs.define('tbon.prefertcp', '0');
  // the largest message a child may send: a content blob at its limit with its envelope; a child that sends more
  // is disconnected
  attrs.define('tbon.max-message-size', String((1 << 30) + (1 << 16)));
  attrs.define('content.hash', 'sha256');
  // full: a commit is acknowledged once its transaction is synced to disk (survives a power loss); normal: once
  // written (survives the broker being killed, not the machine losing power)
  attrs.define('content.synchronous', 'full');
  // the config file's [access], unless the command line says otherwise
  attrs.define('access.allow-guest-user', access.allowGuestUser ? '1' : '0');
  attrs.define('access.allow-root-owner', access.allowRootOwner ? '1' : '0');
  // a change on a running broker applies at once; the value a broker starts with, once it is online
  attrs.define('broker.heap-growing-percent', String(DEFAULT_HEAP_GROWING_PERCENT), ATTR_RUNTIME, {
    set: (v) => {
      const why = commandLineAttrError('broker.heap-growing-percent', v);
      if (why !== undefined) throw new FluxError(EINVAL, why);
      holdHeapGrowth(Number(v));
    },
  });
  for (const [n, v] of setattrs) {
    if (n !== 'tbon.fanout' && n !== 'tbon.topo') attrs.put(n, v);
  }

  // ---- overlay: bind, exchange business cards, connect ----
  const uuid = randomUUID();
  // as the broker starts: a tbon.torpid_max set later changes when a child is torpid, not the connections' timeout
  const liveness = overlayLiveness(parseFSD(attrs.get('tbon.torpid_max') ?? '30s'));
  let server: OverlayServer | undefined;
  let client: OverlayClient | undefined;
  let endpoint: string | undefined;
  // children may say hello as soon as they connect, before this broker's services are loaded: their
  // messages wait here until then
  const held: Array<[string, Buffer[]]> = [];
  if (children.length > 0) {
    server = new OverlayServer({ uuid, keypair, liveness });
    server.onMessage = (peer, frames) => held.push([peer, frames]);
    let uri = attrs.get('tbon.prefertcp') === '1' ? 'tcp://127.0.0.1:*' : `ipc://${rundir}/tbon-${rank}`;
    if (bootstrap) uri = bootstrap.hosts[rank]!.bind;
    try {
      endpoint = await server.bind(uri);
    } catch (err) {
      process.stderr.write(`flux-broker: cannot bind ${uri}: ${(err as Error).message}\n`);
      await server.close();
      if (ownRundir) rmSync(rundir, { recursive: true, force: true });
      return 1;
    }
    imm('tbon.endpoint', endpoint);
  }
  const hosts: string[] = bootstrap ? bootstrap.hosts.map((h) => h.host) : new Array<string>(size).fill(hostname);
  /** the uuid each child published with its key */
  const childUuids = new Map<number, string>();
  if (bootstrap && size > 1) {
    // every broker holds the one certificate: a peer is one of ours if it proved it holds it too
    server?.allow(keypair.publicKey, 'instance');
    if (parent !== undefined) {
      const uri = bootstrap.hosts[parent]!.connect;
      client = new OverlayClient({ uuid, keypair, serverKey: keypair.publicKey, liveness });
      imm('tbon.parent-endpoint', uri);
      client.connect(uri);
    }
  } else if (pmi && size > 1) {
    const own = { host: hostname, pubkey: keypair.publicKey, uri: endpoint ? [endpoint] : [], uuid };
    const peers = await exchangeCards(pmi, own, parent, children, (cards) => {
      for (const [r, card] of cards) {
        server!.allow(card.pubkey, String(r));
        if (card.uuid !== undefined) childUuids.set(r, card.uuid);
      }
    });
    for (const [r, host] of peers.hosts.entries()) hosts[r] = host;
    const up = peers.parent;
    if (up !== undefined) {
      client = new OverlayClient({ uuid, keypair, serverKey: up.pubkey, liveness });
      const uri = up.uri.find((u) => u.startsWith('ipc://') && up.host === hostname) ?? up.uri[0];
      if (uri === undefined) throw new FluxError(EINVAL, `rank ${parent} published no overlay endpoint`);
      imm('tbon.parent-endpoint', uri);
      client.connect(uri);
    }
  }
  imm('hostlist', compressHostlist(hosts));

  // ---- the broker and its services ----
  const conns = new Map<string, LocalConnection>();
  const broker = new Broker(uuid, rank, size, k, attrs, ownerUid, {
    toParent: (frames) => client?.send(frames),
    toChild: (peer, frames) => server?.send(peer, frames),
    toClient: (id, msg) => {
      const c = conns.get(id);
      if (!c) return false;
      c.send(msg);
      return true;
    },
  });
  imm('broker.uuid', uuid);
  for (const c of children) broker.addChildSlot(c, childUuids.get(c));

  const log = logModule(broker);
  broker.logSink = log.log;

  let shuttingDown: Promise<void> | undefined;
  /** the liveness timer; a shutdown can come before it starts (a parent leaving while this one joins) */
  let timer: NodeJS.Timeout | undefined;
  let heapTrim: HeapTrim | undefined;
  let exitCode = 0;
  let initialProgram: ChildProcess | undefined;
  let finished!: (code: number) => void;
  const done = new Promise<number>((r) => (finished = r));
  let shutdownBegan!: () => void;
  const shutdownBegins = new Promise<void>((r) => (shutdownBegan = r));

  const ctl: BrokerControl = {
    broker,
    hostname: (r) => hosts[r] ?? hostname,
    shutdown: (code, why) => {
      if (shuttingDown) return;
      exitCode = code;
      broker.state = 'cleanup';
      broker.log(6, 'broker', `shutdown: ${why}`);
      shuttingDown = shutdown().then(() => finished(exitCode));
      shutdownBegan();
    },
    loadable: new Map(),
  };

  if (server) {
    server.onRefused = (address, why) => broker.logDrop(`overlay peer ${address}`, `refused: ${why}`);
    server.onSendError = (peer) => {
      const child = broker.childByPeer(peer);
      if (child) broker.childLost(child.rank, 'send failed: peer is gone');
    };
  }
  if (client) client.onMessage = (frames) => broker.fromParent(frames);
  broker.onParentControl = (msg: Message) => {
    if (msg.aux1 !== CONTROL_DISCONNECT) return;
    // the parent has let this broker go: what it would still say on its way out (its status, the ranks below it
    // that are down, goodbye) the parent would only refuse, each refusal an error in its log
    broker.parentUuid = undefined;
    ctl.shutdown(1, 'parent told this broker to disconnect');
  };
  broker.onChildControl = () => {};

  // ---- rank 0 keeps the journal: the content store file in the statedir (kept) or the rundir (removed) ----
  let content: ContentStore | undefined;
  let journalStore: JournalStore | undefined;
  let signer: (() => Promise<Signer>) | undefined;
  let hashName = checkHashName(attrs.get('content.hash') ?? 'sha256');
  // flux start --replay: the statedir is opened read-only at a past seq, and every write is refused
  const replayDir = attrs.get(ATTR_REPLAY_STATEDIR);
  const replayTo = attrs.get(ATTR_REPLAY_TO);
  let readOnly = replayDir === undefined ? undefined : readOnlyReason(replayDir, replayTo === undefined ? undefined : Number(replayTo));
  let closeStore = () => content?.close();
  let logSync: (() => Promise<void>) | undefined;
  let logSyncNow: (() => void) | undefined;
  if (rank === 0 && replayDir !== undefined) {
    try {
      const { openReadOnly, PastJournal } = await import('../core/journal/past.js');
      const ro = openReadOnly(replayDir);
      closeStore = ro.close;
      content = ro.content;
      hashName = ro.content.hashName;
      attrs.put('content.hash', hashName);
      const seq = replayTo === undefined ? new (await import('../core/journal/store.js')).JournalStore(content).head().seq : Number(replayTo);
      if (!Number.isSafeInteger(seq) || seq < 0) throw new FluxError(EINVAL, `--to ${replayTo}: expected a journal seq`);
      readOnly = readOnlyReason(replayDir, seq);
      journalStore = new PastJournal(content, seq, readOnly);
    } catch (err) {
      closeStore();
      process.stderr.write(`flux-broker: --replay ${replayDir}: ${(err as Error).message}\n`);
      return 1;
    }
  } else if (rank === 0) {
    const statedir = attrs.get('statedir');
    if (statedir !== undefined) makeStatedir(statedir);
    const dbdir = statedir ?? rundir;
    try {
      // loaded here only: the other ranks never open sqlite, and start faster without its native module
      const [{ ContentStore }, { JournalStore }, { loadOrCreateSigner, ensureKeyFile }] = await Promise.all([
        import('../core/content/store.js'), import('../core/journal/store.js'), import('../core/journal/signing.js'),
      ]);
      const sync = attrs.get('content.synchronous');
      if (sync !== 'full' && sync !== 'normal') throw new FluxError(EINVAL, `content.synchronous must be full or normal, not ${String(sync)}`);
      // sqlite itself syncs at its log's checkpoints only: the journal syncs the log once per group commit, off the
      // event loop, and answers after it (content.synchronous=full)
      content = ContentStore.open(join(dbdir, 'content.sqlite'), hashName, { synchronous: 'normal' });
      logSync = sync === 'full' ? () => content!.syncLog() : undefined;
      logSyncNow = sync === 'full' ? () => content!.syncLogNow() : undefined;
      // the journal holds every user's private entries: only the owner reads the file, whoever reaches the dir
      for (const f of ['content.sqlite', 'content.sqlite-wal']) if (existsSync(join(dbdir, f))) chmodSync(join(dbdir, f), 0o600);
      journalStore = new JournalStore(content);
      const keyPath = join(dbdir, 'journal.key');
      ensureKeyFile(keyPath);
      let made: Promise<Signer> | undefined;
      signer = () => (made ??= loadOrCreateSigner(keyPath));
    } catch (err) {
      content?.close();
      const e = err as FluxError;
      if (e.errno === EBUSY && statedir !== undefined) throw new FluxError(EBUSY, `statedir ${statedir} is in use by another instance`);
      if (!writable(dbdir)) throw new FluxError(EROFS, `${statedir !== undefined ? 'statedir' : 'rundir'} ${dbdir} is read-only`);
      throw err;
    }
  }
  const store = content;
  const journal = journalModule(broker, {
    store: journalStore,
    signer,
    storeBlob: store ? (b) => blobref(hashName, store.store(b)) : undefined,
    loadBlob: store ? (ref) => store.load(digestOf(hashName, ref)) : undefined,
    projections: PROJECTIONS,
    readOnly,
    sync: logSync,
    syncNow: logSyncNow,
    arrivals: () => broker.arrivals,
  });
  if (readOnly !== undefined) broker.registry.gate = readOnlyGate(readOnly);

  await broker.registry.load(attrModule(broker), 'builtin');
  await broker.registry.load(log.def, 'builtin');
  await broker.registry.load(journal.def, 'builtin');
  broker.journal = journal;
  broker.registry.projections = journal;
  await broker.registry.load(eventModule(broker, journal), 'builtin');
  let hwlocXmlFile = process.env[HWLOC_XMLFILE_ENV] || undefined;
  if (hwlocXmlFile === join(rundir, SHARED_TOPOLOGY_FILE)) {
    // the launcher's file is this instance's own: what this broker runs (a job, a nested instance) discovers afresh
    delete process.env[HWLOC_XMLFILE_ENV];
    // its discovery settled before the PMI barrier this broker is past: no file means it failed
    if (!existsSync(hwlocXmlFile)) hwlocXmlFile = undefined;
  }
  const builtins = builtinModules(broker, {
    journal, hashName, content, store: journalStore, binDir: BIN_DIR, restore: attrs.get('content.restore'),
    hwlocXmlFile, down: { ranks: () => broker.downRanks(), watch: (fn) => broker.watchStatus(fn) },
  });
  for (const [name, b] of builtins) {
    ctl.loadable.set(name, b);
    if (startsOn(rank, b)) await broker.registry.load(await createBuiltin(broker, name, b, []), 'builtin');
  }
  await broker.registry.load(userModule(broker, journal), 'builtin');
  await broker.registry.load(overlayModule(ctl), 'builtin');
  await broker.registry.load(stateMachineModule(ctl), 'builtin');
  await broker.registry.load(moduleModule(ctl), 'builtin');
  await broker.registry.load(brokerModule(ctl), 'builtin');
  await broker.registry.load(configModule(broker, new BrokerConfig(configPath, config)), 'builtin');

  const local = new LocalServer({
    path: `${rundir}/local-${rank}`,
    ownerUid,
    allowGuest: attrs.get('access.allow-guest-user') === '1',
    allowRootOwner: attrs.get('access.allow-root-owner') === '1',
    rolesOf: (uid) => rolesOf(journal.state<UserTable>(USERS), uid),
    limits: limitsFrom((name) => attrs.get(name)),
    onMessage: (conn, msg) => {
      if (!conns.has(conn.id)) conns.set(conn.id, conn);
      broker.fromClient(conn.id, msg);
    },
    onDisconnect: (conn) => {
      conns.delete(conn.id);
      broker.clientGone(conn.id);
    },
    log: (sev, text) => broker.log(sev, 'connector-local', text),
  });
  await local.listen();
  // the socket is made private; users other than the owner reach it once some may connect (the handshake still
  // decides who does): the rundir can be passed through, not listed
  const socketPath = `${rundir}/local-${rank}`;
  let opened = false;
  const openToOthers = (): void => {
    if (opened) return;
    opened = true;
    chmodSync(rundir, 0o711);
    chmodSync(socketPath, 0o777);
  };
  if (attrs.get('access.allow-guest-user') === '1' || allUsers(journal.state<UserTable>(USERS)).length > 0) openToOthers();
  // a role given later opens it then
  journal.onApply((a) => {
    if (a.entry.topic === TOPIC_ADDROLE) openToOthers();
  });
  if (server) {
    server.onMessage = (peer, frames) => broker.fromChild(peer, frames);
    for (const [peer, frames] of held.splice(0)) broker.fromChild(peer, frames);
  }

  // ---- join: wait for our children, then say hello upward (so rank 0 knows the whole tree is up). Brokers
  // booted from a config start whenever their hosts do: those join when they come, and wait for their parent ----
  // a broker told to stop while it joins stops as cleanly as one told later
  process.on('SIGTERM', () => ctl.shutdown(rank === 0 && initialProgram ? 143 : 0, 'SIGTERM'));
  process.on('SIGHUP', () => ctl.shutdown(129, 'SIGHUP'));
  const joinTree = async (): Promise<void> => {
    if (!bootstrap) await waitForChildren(broker, 60_000);
    if (client) {
      const hello = makeRequest('overlay.hello', jsonPayload({
        rank, version: VERSION_CODE, uuid, status: statusCode(broker.status), hostname,
      }), { nodeid: 0, matchtag: 0 });
      const resp = await helloParent(broker, client, hello);
      broker.parentUuid = resp;
      // a child may have come or gone while the hello was on its way
      broker.reportStatus();
      broker.reportLost(true);
      await journal.sync();
    }
  };
  // A shutdown can come before the join is done: rank 0's initial program may end while a broker deep in the
  // tree still waits for the journal snapshot its parent, leaving too, will never send. The join gives way, and
  // the broker ends with the shutdown.
  const joined = await Promise.race([joinTree().then(() => true), shutdownBegins.then(() => false)]);
  // held open until now: a broker that fails to start goes away without finalizing, which tells the launcher
  // to end every other broker at once rather than leave them waiting for it; one told to stop has not failed
  if (!joined) {
    if (pmi) await pmi.finalize();
    return done;
  }
  // finalized before it runs: a broker that says it runs has told its launcher it started, so that losing it from
  // then on is a lost rank, never a failed start, which would end the whole instance
  if (pmi) await pmi.finalize();
  if (broker.state === 'join') broker.state = 'run';
  broker.log(6, 'broker', `online: rank ${rank} of ${size}`);
  if (shuttingDown) return done;
  // an instance run as a job of another tells it where it can be reached (flux uri ƒID, flux proxy ƒID)
  if (rank === 0 && parentUri !== undefined && process.env.FLUX_JOB_ID !== undefined) {
    postUriMemo(parentUri, process.env.FLUX_JOB_ID, `ssh://${hostname}${rundir}/local-0`)
      .catch((err: unknown) => broker.log(4, 'broker', `cannot tell the enclosing instance this one's uri: ${(err as Error).message}`));
  }

  // ---- liveness: heartbeats both ways; a child whose connection is gone fails its send and is marked lost ----
  // A parent's connection is gone when its process has ended, or (the overlay's heartbeats) it has stopped or its
  // host is unreachable for tbon.torpid_max; a parent that is only busy keeps it, however long it says nothing
  if (client) {
    client.onDisconnect = () => {
      if (!shuttingDown) ctl.shutdown(1, 'lost connection to parent');
    };
  }
  const launcher = process.ppid;
  timer = setInterval(() => {
    // a launcher that died without ending its brokers (killed with SIGKILL) leaves them to the init process
    if (pmi && process.ppid !== launcher && !shuttingDown) ctl.shutdown(1, 'the launcher went away');
    if (client && !shuttingDown) client.send(encodeFrames(makeControl(CONTROL_HEARTBEAT, 0)));
    // a child that has said nothing (children heartbeat every second) for tbon.torpid_max is torpid
    const torpidMax = attrs.get('tbon.torpid_max') ?? '30s';
    const silence = parseFSD(torpidMax) * 1000;
    for (const c of broker.children.values()) {
      if (c.state !== 'online' || c.uuid === undefined) continue;
      if (silence > 0 && Date.now() - c.lastSeen > silence) broker.childTorpid(c, torpidMax);
      server!.send(c.uuid, encodeFrames(makeControl(CONTROL_HEARTBEAT, 0)));
    }
  }, SYNC_PERIOD_MS);
  timer.unref();
  holdHeapGrowth(Number(attrs.get('broker.heap-growing-percent')));
  heapTrim = startHeapTrim({
    ...DEFAULT_HEAP_TRIM,
    onError: (err) => broker.log(4, 'broker', `freed memory is not given back: ${err.message}`),
    onTrim: (returned) => broker.log(7, 'broker', `gave back ${(returned / (1 << 20)).toFixed(1)} MiB of freed memory`),
  });


  // ---- rank 0 runs the initial program; its exit ends the instance. An instance booted from a config runs
  // one only when given (a system instance has none: it runs until told to stop) ----
  if (rank === 0 && (command.length > 0 || !bootstrap)) {
    const argv = initialArgv(command, process.env.SHELL ?? '/bin/sh');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...fluxEnvironment(process.env, join(BIN_DIR, '..')),
      FLUX_URI: `local://${rundir}/local-0`,
    };
    delete env.PMI_FD;
    delete env.PMI_RANK;
    delete env.PMI_SIZE;
    initialProgram = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    initialProgram.on('error', (err) => {
      process.stderr.write(`flux-broker: ${argv[0]}: ${err.message}\n`);
      ctl.shutdown((err as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126, 'initial program failed');
    });
    initialProgram.on('exit', (code, signal) => {
      ctl.shutdown(code ?? 128 + (signal ? signalNumber(signal) : 0), 'initial program exited');
    });
  }

  async function shutdown(): Promise<void> {
    clearInterval(timer);
    heapTrim?.stop();
    broker.state = 'shutdown';
    // an instance ending for another reason than its initial program's exit takes the program with it
    if (initialProgram && initialProgram.exitCode === null && initialProgram.signalCode === null) initialProgram.kill('SIGHUP');
    // children first: each leaves only after its own subtree has said goodbye
    for (const c of broker.children.values()) {
      if (c.state !== 'online') continue;
      broker.rpc('broker.shutdown', undefined, { nodeid: c.rank }).catch((err: unknown) => {
        broker.log(7, 'broker', `shutdown of rank ${c.rank}: ${(err as Error).message}`);
      });
    }
    await childrenReach(broker, () => [...broker.children.values()].every((c) => c.state !== 'online'), 10_000);
    broker.state = 'finalize';
    await broker.registry.removeAll().catch((err: unknown) => {
      process.stderr.write(`flux-broker: unloading modules: ${(err as Error).message}\n`);
    });
    broker.state = 'goodbye';
    if (client && broker.parentUuid !== undefined) {
      await Promise.race([broker.rpc('overlay.goodbye', undefined, { upstream: true }), delay(2000)]).catch((err: unknown) => {
        process.stderr.write(`flux-broker: rank ${rank}: goodbye: ${(err as Error).message}\n`);
      });
    }
    await local.close();
    await server?.close();
    await client?.close();
    closeStore();
    if (content && attrs.get('statedir') === undefined && replayDir === undefined) {
      for (const f of ['content.sqlite', 'content.sqlite-wal', 'content.sqlite-shm', 'journal.key']) rmSync(join(rundir!, f), { force: true });
    }
    if (ownRundir || rank === 0) rmSync(rundir!, { recursive: true, force: true });
  }

  return done;
}

async function helloParent(broker: Broker, client: OverlayClient, hello: Message): Promise<string> {
  const resp = await broker.sendDirect(hello, (frames) => client.send(frames));
  const uuid = (resp as { uuid?: unknown }).uuid;
  if (typeof uuid !== 'string') throw new FluxError(EINVAL, 'parent answered hello without a uuid');
  return uuid;
}

async function waitForChildren(broker: Broker, timeoutMs: number): Promise<void> {
  const ok = await childrenReach(broker, () => [...broker.children.values()].every((c) => c.state === 'online'), timeoutMs);
  if (!ok) {
    const missing = [...broker.children.values()].filter((c) => c.state !== 'online').map((c) => c.rank);
    broker.log(3, 'broker', `children ${missing.join(',')} did not join within ${timeoutMs / 1000}s`);
  }
}

/**
 * The initial program's argv, by flux-core's rule: none means an interactive shell; one word runs through the
 * shell (`flux start "sh ./t.sh --root=/tmp/x"`) unless it is an executable file's path without spaces; several
 * words are run as they are.
 */
export function initialArgv(command: string[], shell: string): string[] {
  if (command.length === 0) return [shell];
  if (command.length > 1) return command;
  const word = command[0]!;
  if (!/\s/.test(word)) {
    try {
      if (statSync(word).isFile()) {
        accessSync(word, fsConstants.R_OK | fsConstants.X_OK);
        return command;
      }
    } catch {
      // not an executable file: the shell finds the command, or says why not
    }
  }
  return [shell, '-c', word];
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** the statedir, made if missing; a path that is not a directory, or one that cannot be written, is refused */
function makeStatedir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === ENOTDIR || (existsSync(dir) && !statSync(dir).isDirectory())) throw new FluxError(ENOTDIR, `statedir ${dir} is not a directory`);
    // a read-only parent makes mkdir say no more than ENOENT or EACCES: name the directory that is read-only
    let parent = resolve(dir);
    while (!existsSync(parent)) parent = dirname(parent);
    if (!writable(parent)) throw new FluxError(EROFS, `cannot create statedir ${dir}: ${parent} is read-only`);
    throw new FluxError(errno, `cannot create statedir ${dir}: ${strerror(errno)}`);
  }
  if (!statSync(dir).isDirectory()) throw new FluxError(ENOTDIR, `statedir ${dir} is not a directory`);
  if (!writable(dir)) throw new FluxError(EROFS, `statedir ${dir} is read-only`);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Whether `cond`, a condition on this broker's children, came to hold within `timeoutMs`: it is checked now and at
 * each change among them (a hello, a goodbye, a child lost), where a poll would add its period to every level of
 * the tree at start and at shutdown.
 */
function childrenReach(broker: Broker, cond: () => boolean, timeoutMs: number): Promise<boolean> {
  if (cond()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      unwatch();
      resolve(false);
    }, timeoutMs);
    const unwatch = broker.watchStatus(() => {
      if (!cond()) return;
      clearTimeout(timer);
      unwatch();
      resolve(true);
    });
  });
}

function signalNumber(sig: NodeJS.Signals): number {
  return osConstants.signals[sig] ?? 0;
}

/** the enclosing instance's job gets a memo with this instance's uri, as flux-core's brokers post one */
async function postUriMemo(parentUri: string, jobText: string, uri: string): Promise<void> {
  const conn = await connect(parentUri);
  try {
    const answer = new Promise<Message>((resolve, reject) => {
      conn.onMessage = resolve;
      conn.onClose = (err) => reject(err ?? new FluxError(ECONNRESET, 'the enclosing instance closed the connection'));
    });
    conn.send(makeRequest('job-manager.memo', jsonPayload({ id: parseJobId(jobText), memo: { uri } }), { matchtag: 1, nodeid: 0 }));
    const r = await answer;
    if (r.aux1 !== 0) throw new FluxError(r.aux1, r.payload?.toString('utf8').replace(/\0$/, ''));
  } finally {
    conn.close();
  }
}

