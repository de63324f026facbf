// `flux broker [-S NAME=VALUE]... [COMMAND...]`: one broker process, as flux start or a PMI launcher runs it.
import { FluxError } from '../core/errors.js';
import { restoreLaunchEnv } from '../core/launch-env.js';
import { runBroker } from './boot.js';

export async function run(args: string[]): Promise<number> {
  restoreLaunchEnv(process.env);
  let code: number;
  try {
    code = await runBroker(args);
  } catch (err) {
    // one line for a broker that cannot start; a trace only for what nobody expected
    process.stderr.write(`flux-broker: ${err instanceof FluxError ? err.message : (err as Error)?.stack ?? String(err)}\n`);
    code = 1;
  }
  // a finished broker's sockets and timers must not keep the process alive
  process.exit(code);
}
