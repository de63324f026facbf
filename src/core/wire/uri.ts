// Flux URIs: local:///path names a broker's socket on this host; ssh://[user@]host[:port]/path names the same
// kind of socket on another host, reached through ssh and `flux relay` there. Also what `flux uri` and
// `flux proxy` accept as a target, and the local <-> remote conversions of `flux uri`.
import { FluxError, EINVAL } from '../errors.js';
import { parseJobId } from '../jobs/fluid.js';

const LOCAL = 'local://';
const SSH = 'ssh://';

export interface SshTarget {
  user?: string;
  host: string;
  port?: number;
  /** the socket path on the far host */
  path: string;
  /** NAME=VALUE assignments for the far side's relay command, from ?setenv=NAME=VALUE[&setenv=…] */
  setenv: string[];
}

/** `local:///abs/path` -> `/abs/path`. */
export function parseLocalUri(uri: string): string {
  if (!uri.startsWith(LOCAL)) {
    throw new FluxError(EINVAL, `${JSON.stringify(uri)} is not a local:// URI (expected local:///absolute/path)`);
  }
  const path = uri.substring(LOCAL.length);
  if (!path.startsWith('/')) {
    throw new FluxError(EINVAL, `${JSON.stringify(uri)}: the socket path must be absolute (local:///absolute/path)`);
  }
  return path;
}

export function parseSshUri(uri: string): SshTarget {
  const bad = (why: string): never => {
    throw new FluxError(EINVAL, `${uri}: ${why} (expected ssh://[user@]host[:port]/absolute/path)`);
  };
  if (!uri.startsWith(SSH)) bad('not an ssh:// URI');
  let rest = uri.substring(SSH.length);
  let query: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.substring(q + 1);
    rest = rest.substring(0, q);
  }
  const slash = rest.indexOf('/');
  if (slash < 0) bad('the socket path is missing');
  let authority = rest.substring(0, slash);
  const path = rest.substring(slash);
  let user: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    user = authority.substring(0, at);
    authority = authority.substring(at + 1);
    if (user.length === 0) bad('the user name before @ is empty');
  }
  // a bracketed IPv6 address has colons of its own
  const colon = authority.lastIndexOf(':');
  let host = authority;
  let port: number | undefined;
  if (colon >= 0 && colon > authority.lastIndexOf(']')) {
    host = authority.substring(0, colon);
    const text = authority.substring(colon + 1);
    port = Number(text);
    if (!/^[0-9]+$/.test(text) || port < 1 || port > 65535) bad(`bad port ${JSON.stringify(text)}`);
  }
  if (host.length === 0) bad('the host is missing');
  return { user, host, port, path, setenv: query === undefined ? [] : parseQuery(uri, query) };
}

function parseQuery(uri: string, query: string): string[] {
  const setenv: string[] = [];
  for (const item of query.split('&')) {
    if (item.length === 0) continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.substring(0, eq);
    const value = item.substring(eq + 1);
    if (key !== 'setenv' || !/^[A-Za-z_][A-Za-z0-9_]*=/.test(value)) {
      throw new FluxError(EINVAL, `${uri}: unknown query option ${JSON.stringify(item)} (only setenv=NAME=VALUE)`);
    }
    setenv.push(value);
  }
  return setenv;
}

/** `[user@]host`, as ssh takes it: an IPv6 address without the brackets the URI needs */
export function sshDestination(t: SshTarget): string {
  const host = t.host.startsWith('[') && t.host.endsWith(']') ? t.host.slice(1, -1) : t.host;
  return t.user === undefined ? host : `${t.user}@${host}`;
}

/**
 * A `flux uri` / `flux proxy` target that names a job ("jobid:ƒID", or a job id alone): the job's id, whose instance's
 * URI the job manager keeps (api/jobs.ts jobUri); undefined for any other target.
 */
export function jobTarget(target: string): number | undefined {
  const text = target.startsWith('jobid:') ? target.slice('jobid:'.length) : target;
  if (text !== target || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) {
    try {
      return parseJobId(text);
    } catch (err) {
      // given as jobid:, it must be one; otherwise it is some other target, which resolveTarget judges
      if (text !== target) throw err;
    }
  }
  return undefined;
}

/**
 * A `flux uri` / `flux proxy` target as a URI a connector opens: local:// and ssh:// URIs are checked and returned
 * as given (a job id is resolved by its job: jobTarget). flux-core also resolves pid:, slurm: and lsf: targets.
 */
export function resolveTarget(target: string): string {
  if (target.startsWith(LOCAL)) {
    parseLocalUri(target);
    return target;
  }
  if (target.startsWith(SSH)) {
    parseSshUri(target);
    return target;
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(target)?.[1];
  if (scheme === undefined) throw new FluxError(EINVAL, `Unable to resolve ${target} to a URI: not a URI nor a job id`);
  throw new FluxError(EINVAL, `Unable to resolve ${target} to a URI: no resolver for the scheme ${scheme} (local://, ssh:// and jobid: only)`);
}

/** The local:// form of a URI (flux uri --local): ssh://host/path -> local:///path; a local:// URI as it is. */
export function toLocalUri(uri: string): string {
  if (uri.startsWith(LOCAL)) return uri;
  return `${LOCAL}${collapseSlashes(parseSshUri(uri).path)}`;
}

/** The ssh:// form of a URI (flux uri --remote): local:///path -> ssh://HOST/path; an ssh:// URI as it is. */
export function toRemoteUri(uri: string, host: string): string {
  if (uri.startsWith(SSH)) return uri;
  return `${SSH}${host}${collapseSlashes(parseLocalUri(uri))}`;
}

function collapseSlashes(path: string): string {
  return path.replace(/\/+/g, '/');
}
