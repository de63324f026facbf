// `flux relay PATH`: what the ssh:// connector runs on the broker's host; copies the bytes of a connection to the
// local socket PATH to and from stdin and stdout, until either side closes.
import { hostname } from 'node:os';
import { FluxError } from '../core/errors.js';
import { relay } from '../transport/relay.js';
import { program, parse } from './common.js';

export async function run(args: string[]): Promise<number> {
  const p = program('relay', 'Relay messages between stdio and local://path').argument('<path>', 'a broker socket on this host');
  const code = parse(p, args);
  if (code !== undefined) return code;
  try {
    await relay(p.args[0]!, process.stdin, process.stdout);
  } catch (err) {
    // the connector shows this on the far client's terminal: say which host it comes from
    if (err instanceof FluxError) throw new FluxError(err.errno, `${hostname()}: ${err.message}`);
    throw err;
  } finally {
    process.stdin.destroy();
  }
  return 0;
}
