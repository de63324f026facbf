// The ssh:// connector: $FLUX_SSH (ssh) runs `flux relay PATH` on the broker's host, and the local framing goes
// over ssh's stdin and stdout. The broker there checks the relay's credentials as it does any local client's: the
// far side admits whom the ssh login makes the relay.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { FluxError, EINVAL, ECONNRESET, EPROTO, errnoOf, strerror } from '../core/errors.js';
import { parseSshUri, sshDestination, type SshTarget } from '../core/wire/uri.js';
import { LocalClient } from './local-client.js';

/** this install's bin/flux: its directory goes on the far side's PATH, on the bet that the install is the same there */
const BIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin');
/** how much of ssh's stderr is kept to explain a failed connection */
const STDERR_KEEP = 4096;
/** how long ssh may linger once its stdout has closed before it is killed */
const LINGER_MS = 2000;

type SshChild = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * The ssh command line for a target, as flux-core's connector builds it: `FLUX_SSH [-p PORT] [user@]host` then the
 * far side's command. Without FLUX_SSH_RCMD that is `env PATH=… flux relay PATH`, the PATH trying the instance's
 * rundir/bin, then where flux and node live here, then the system's; FLUX_SSH_RCMD replaces `flux` as it is
 * (it may be a command with arguments). LD_LIBRARY_PATH goes along: ssh does not forward the environment.
 */
export function sshArgv(t: SshTarget, env: NodeJS.ProcessEnv): string[] {
  const ssh = env.FLUX_SSH ?? 'ssh';
  if (ssh === '') throw new FluxError(EINVAL, 'FLUX_SSH is set but empty');
  const rcmd = env.FLUX_SSH_RCMD;
  if (rcmd === '') throw new FluxError(EINVAL, 'FLUX_SSH_RCMD is set but empty');
  const assign: string[] = [];
  if (rcmd === undefined) {
    const dirs = [join(dirname(t.path), 'bin'), BIN_DIR, dirname(process.execPath), '/bin', '/usr/bin'];
    assign.push(`PATH=${[...new Set(dirs)].join(':')}`);
  }
  if (env.LD_LIBRARY_PATH) assign.push(`LD_LIBRARY_PATH=${env.LD_LIBRARY_PATH}`);
  assign.push(...t.setenv);
  const far = [...(assign.length > 0 ? ['env', ...assign.map(shellQuote)] : []), rcmd ?? 'flux', 'relay', shellQuote(t.path)];
  return [ssh, ...(t.port !== undefined ? ['-p', String(t.port)] : []), sshDestination(t), ...far];
}

/** a word as a POSIX shell reads it back (ssh joins its command words for the far side's shell): quoted if anything in it is special */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_/.,:=+@%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Opens ssh://… : resolves once the far broker has accepted the relay; ssh ends with the connection. */
export async function connectSsh(uri: string, env: NodeJS.ProcessEnv = process.env): Promise<LocalClient> {
  const target = parseSshUri(uri);
  const [prog, ...args] = sshArgv(target, env);
  const child: SshChild = spawn(prog!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // until the broker answers, ssh's words (or the far side's) are kept for the error; then they go to stderr
  let early: Buffer[] | undefined = [];
  let kept = 0;
  child.stderr.on('data', (d: Buffer) => {
    if (!early) {
      process.stderr.write(d);
      return;
    }
    early.push(d);
    kept += d.length;
    while (kept > STDERR_KEEP && early.length > 1) kept -= early.shift()!.length;
  });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  try {
    const client = await LocalClient.open({ input: child.stdout, output: child.stdin }, uri);
    for (const d of early) process.stderr.write(d);
    early = undefined;
    child.stdout.once('close', () => reap(child));
    return client;
  } catch (err) {
    child.kill();
    const end = await ended;
    throw explain(uri, target, prog!, err as FluxError, end, Buffer.concat(early ?? []).toString());
  }
}

/** the connection is over: ssh normally exits at once, and must not stay behind if it does not */
function reap(child: SshChild): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const timer = setTimeout(() => child.kill('SIGKILL'), LINGER_MS);
  timer.unref();
  child.once('exit', () => clearTimeout(timer));
}

function explain(
  uri: string, t: SshTarget, prog: string, err: FluxError,
  end: { code: number | null; signal: NodeJS.Signals | null; error?: Error }, stderr: string,
): FluxError {
  if (end.error) {
    const errno = errnoOf(end.error);
    return new FluxError(errno, `ssh connector: ${prog}: ${strerror(errno)} (FLUX_SSH names the ssh program to run)`);
  }
  if (err.errno === EPROTO) {
    return new FluxError(EPROTO, `${uri}: the remote command wrote something before the broker's handshake: do shell init files on ${t.host} write to stdout?`);
  }
  if (err.errno !== ECONNRESET) return err;
  const said = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0).join('; ');
  if (said.length > 0) return new FluxError(ECONNRESET, `${uri}: ${said}`);
  const how = end.signal !== null ? `was killed by ${end.signal}` : `exited with code ${end.code}`;
  return new FluxError(ECONNRESET, `${uri}: ${prog} ${how} before the broker answered`);
}
