// `flux broker [-S NAME=VALUE]... [COMMAND...]`: one broker process, as flux start or a PMI launcher runs it.
import { runBroker } from './boot.js';

export async function run(args: string[]): Promise<number> {
  const code = await runBroker(args);
  // a finished broker's sockets and timers must not keep the process alive
  process.exit(code);
}
