// `flux proxy [-f] [-n] TARGET [COMMAND...]`: connects to the instance TARGET names, then runs COMMAND (default:
// $SHELL) with FLUX_URI set to a local socket of its own whose clients it routes to the instance over that one
// connection; exits with COMMAND's exit code. If the instance goes away the command gets SIGHUP and SIGCONT.
import { spawn } from 'node:child_process';
import { constants, hostname } from 'node:os';
import { FluxError, EPERM, errnoOf, reasonOf, ENOENT } from '../core/errors.js';
import { parseSshUri, sshDestination, toLocalUri } from '../core/wire/uri.js';
import { VERSION } from '../core/version.js';
import { compatibleVersion, openProxy } from '../api/proxy.js';
import { fluxEnvironment } from '../core/jobs/flux-env.js';
import { installRoot, program, parse } from './common.js';
import { targetUri } from './target.js';

const signals = constants.signals as Record<string, number>;

export async function run(args: string[]): Promise<number> {
  const p = program('proxy', 'Route messages to/from Flux instance')
    .enablePositionalOptions()
    .passThroughOptions()
    .option('-f, --force', 'Skip checks when connecting to Flux broker')
    .option('-n, --nohup', 'Do not send SIGHUP to child processes when connection to Flux is lost')
    .argument('<target>', 'a local:// or ssh:// URI, or the id of a job that runs a Flux instance')
    .argument('[command...]', 'what to run (default: $SHELL)');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{ force?: boolean; nohup?: boolean }>();
  const [target, ...command] = p.args as [string, ...string[]];
  const say = (text: string): void => {
    process.stderr.write(`flux-proxy: ${text}\n`);
  };
  const found = await targetUri(target);
  // an instance on this host is reached through its socket, not through ssh to this host
  const uri = found.startsWith('ssh://') && parseSshUri(found).host === hostname() ? toLocalUri(found) : found;
  const proxy = await openProxy(uri, say);
  let child: ReturnType<typeof spawn> | undefined;
  const forward = (sig: NodeJS.Signals): void => {
    child?.kill(sig);
  };
  try {
    checkVersion(proxy.brokerVersion, o.force === true, say);
    const argv = command.length > 0 ? command : [process.env.SHELL || '/bin/sh'];
    // the flux environment, as `flux start` gives its initial program: this installation's `flux` first on PATH
    const env: NodeJS.ProcessEnv = { ...process.env, ...fluxEnvironment(process.env, installRoot()), FLUX_URI: proxy.uri };
    // where the instance is, for what runs under the proxy (flux-core's commands use it)
    if (uri.startsWith('ssh://')) env.FLUX_PROXY_REMOTE = sshDestination(parseSshUri(uri));
    // Ctrl-C is the command's to act on; a signal sent to the proxy alone is passed on, so cleanup still happens.
    // Taken before the command starts: a signal sent as soon as the command shows signs of life must not kill the
    // proxy and leave the command behind
    process.on('SIGINT', ignore);
    process.on('SIGTERM', forward);
    process.on('SIGHUP', forward);
    child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    const exited = new Promise<number>((resolve) => {
      child!.once('error', (err) => {
        say(`${argv[0]}: ${reasonOf(err)}`);
        resolve(errnoOf(err) === ENOENT ? 127 : 126);
      });
      child!.once('exit', (status, sig) => resolve(status ?? 128 + (sig ? (signals[sig] ?? 0) : 0)));
    });
    void proxy.lost.then((err) => {
      say(`Lost connection to Flux${err.message ? `: ${err.message}` : ''}`);
      if (!o.nohup) {
        say('Sending SIGHUP to child processes');
        child!.kill('SIGHUP');
        child!.kill('SIGCONT');
      }
      // the command's own clients learn now that there is nothing behind the socket
      void proxy.close();
    });
    return await exited;
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', forward);
    process.off('SIGHUP', forward);
    await proxy.close();
  }
}

function ignore(): void {}

/** a broker of another major.minor version is refused unless forced */
function checkVersion(broker: string, force: boolean, say: (text: string) => void): void {
  if (compatibleVersion(broker)) return;
  if (!force) {
    throw new FluxError(EPERM, `fatal: proxy version ${VERSION} and broker version ${broker} may not work together (--force to connect anyway)`);
  }
  say(`warning: proxy version ${VERSION} and broker version ${broker} may not work together`);
}
