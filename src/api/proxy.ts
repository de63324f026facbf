// flux proxy's machinery: a local socket in a private directory whose clients reach an instance through one
// connection to it (local:// or ssh://), routed as a broker routes its own clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FluxError, ECONNRESET } from '../core/errors.js';
import { payloadJson } from '../core/wire/message.js';
import { VERSION_MAJOR, VERSION_MINOR } from '../core/version.js';
import { connect } from '../transport/connector.js';
import { LocalServer } from '../transport/local-server.js';
import { Router } from '../transport/router.js';

const LOG_ERR = 3;

export interface Proxy {
  /** local://… of the proxy's own socket */
  readonly uri: string;
  /** the instance's `version` attribute */
  readonly brokerVersion: string;
  /** resolves with the reason if the connection to the instance is lost (never after close()) */
  readonly lost: Promise<Error>;
  /** Drops the proxy's clients, closes the connection to the instance and removes the socket directory. */
  close(): Promise<void>;
}

/** `log` gets the proxy's own errors (a failed accept and the like). */
export async function openProxy(uri: string, log: (text: string) => void): Promise<Proxy> {
  const upstream = await connect(uri);
  const router = new Router(upstream);
  let closing: Promise<void> | undefined;
  const lost = new Promise<Error>((resolve) => {
    upstream.onMessage = (m) => router.fromUpstream(m);
    upstream.onClose = (err) => {
      const why = err ?? new FluxError(ECONNRESET, 'the instance closed the connection');
      router.upstreamLost(why);
      if (!closing) resolve(why);
    };
  });
  let brokerVersion: string;
  try {
    brokerVersion = String(payloadJson(await router.rpc('attr.get', { name: 'version' })).value);
  } catch (err) {
    upstream.close();
    throw err;
  }
  const dir = privateDir();
  const server = new LocalServer({
    path: join(dir, 'local'),
    ownerUid: process.getuid!(),
    allowGuest: false,
    delegateCredentials: true,
    onMessage: (conn, msg) => router.fromClient(conn, msg),
    onDisconnect: (conn) => router.clientGone(conn),
    log: (severity, text) => {
      if (severity <= LOG_ERR) log(text);
    },
  });
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        // the clients' goodbyes go upstream before the connection ends
        await server.close();
        upstream.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    })();
    return closing;
  };
  try {
    await server.listen();
  } catch (err) {
    await close();
    throw err;
  }
  return { uri: `local://${join(dir, 'local')}`, brokerVersion, lost, close };
}

/** as flux-core's proxy has it: a broker of the same major.minor version works with this one */
export function compatibleVersion(broker: string): boolean {
  const m = /^(\d+)\.(\d+)\./.exec(broker);
  return m !== null && Number(m[1]) === VERSION_MAJOR && Number(m[2]) === VERSION_MINOR;
}

/** flux-core's $TMPDIR/flux-proxy-XXXXXX, mode 0700; /tmp when TMPDIR is unusable */
function privateDir(): string {
  try {
    return mkdtempSync(join(tmpdir(), 'flux-proxy-'));
  } catch {
    return mkdtempSync('/tmp/flux-proxy-');
  }
}
