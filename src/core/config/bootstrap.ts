// flux-core's [bootstrap] table: an instance whose brokers find each other from one shared config file, with no
// launcher. Each host of `hosts` (RFC 29 hostlists) is one rank, in order; a broker knows its rank by its
// hostname. URIs are templates: %h the host, %p default_port, %% a percent sign.
//
//   [bootstrap]
//   curve_cert = "/etc/flux/system/curve.cert"
//   default_port = 8050
//   default_bind = "tcp://eth0:%p"
//   default_connect = "tcp://%h:%p"
//   hosts = [ { host = "node[0-3]" }, { host = "login", bind = "tcp://10.0.0.1:%p" } ]
import { FluxError, EINVAL } from '../errors.js';
import { expandHostlist } from '../resource/hostlist.js';
import type { Config } from './load.js';

export interface BootstrapHost {
  host: string;
  /** where this rank listens for its children (templates expanded) */
  bind: string;
  /** where its children reach it */
  connect: string;
}

export interface Bootstrap {
  hosts: BootstrapHost[];
  curveCert?: string;
}

const KEYS = new Set(['curve_cert', 'default_port', 'default_bind', 'default_connect', 'hosts', 'enable_ipv6']);
const HOST_KEYS = new Set(['host', 'bind', 'connect']);

function expand(template: string, host: string, port: number | undefined, where: string): string {
  return template.replace(/%(.)/g, (_m, c: string) => {
    if (c === 'h') return host;
    if (c === '%') return '%';
    if (c === 'p') {
      if (port === undefined) throw new FluxError(EINVAL, `${where}: %p needs bootstrap.default_port`);
      return String(port);
    }
    throw new FluxError(EINVAL, `${where}: unknown %${c} in "${template}"`);
  });
}

/** the [bootstrap] table of `cfg` checked and expanded; undefined when there is none. `file` names it in errors. */
export function parseBootstrap(cfg: Config, file: string): Bootstrap | undefined {
  const b = cfg.bootstrap;
  if (b === undefined) return undefined;
  const bad = (key: string, why: string): never => {
    throw new FluxError(EINVAL, `${file}: bootstrap.${key}: ${why}`);
  };
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new FluxError(EINVAL, `${file}: bootstrap must be a table`);
  const t = b as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!KEYS.has(k)) bad(k, 'unknown key');
  if (t.curve_cert !== undefined && typeof t.curve_cert !== 'string') bad('curve_cert', 'must be a string');
  const port = t.default_port;
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)) {
    bad('default_port', 'must be a port number');
  }
  for (const k of ['default_bind', 'default_connect']) if (t[k] !== undefined && typeof t[k] !== 'string') bad(k, 'must be a string');
  if (!Array.isArray(t.hosts) || t.hosts.length === 0) bad('hosts', 'must be a non-empty array of tables');
  const hosts: BootstrapHost[] = [];
  const seen = new Set<string>();
  (t.hosts as unknown[]).forEach((entry, i) => {
    const key = `hosts[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) bad(key, 'must be a table');
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) if (!HOST_KEYS.has(k)) bad(`${key}.${k}`, 'unknown key');
    if (typeof e.host !== 'string' || e.host === '') bad(`${key}.host`, 'must be a hostname or hostlist');
    let names: string[];
    try {
      names = expandHostlist(e.host as string);
    } catch (err) {
      return bad(`${key}.host`, (err as Error).message);
    }
    const bind = e.bind ?? t.default_bind;
    const connect = e.connect ?? t.default_connect;
    for (const [k, v] of [['bind', bind], ['connect', connect]] as const) {
      if (v !== undefined && typeof v !== 'string') bad(`${key}.${k}`, 'must be a string');
    }
    for (const host of names) {
      if (seen.has(host)) bad(`${key}.host`, `${host} is listed twice`);
      seen.add(host);
      const where = `${file}: bootstrap.${key}`;
      hosts.push({
        host,
        bind: bind === undefined ? '' : expand(bind as string, host, port as number | undefined, where),
        connect: connect === undefined ? '' : expand(connect as string, host, port as number | undefined, where),
      });
    }
  });
  return { hosts, ...(typeof t.curve_cert === 'string' ? { curveCert: t.curve_cert } : {}) };
}

/** the rank of the broker on `hostname` */
export function rankOf(b: Bootstrap, hostname: string, file: string): number {
  const rank = b.hosts.findIndex((h) => h.host === hostname);
  if (rank < 0) throw new FluxError(EINVAL, `${file}: bootstrap.hosts: this host (${hostname}) is not listed`);
  return rank;
}
