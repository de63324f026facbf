// flux shutdown [--background] [-q|-v] [TARGET]: stop an instance (this one, or TARGET: a URI or the id of a job
// that runs one). Rank 0 has every broker below it leave, then leaves itself, ending the initial program; the
// command prints the instance's log while it goes down (info and above; -q errors only, -v debug too) and returns
// once it is gone, or at once with --background. The instance owner's alone.
import { Flux } from '../api/handle.js';
import { dmesg } from '../api/log.js';
import { ECONNRESET, FluxError } from '../core/errors.js';
import { SEVERITY_NAMES, parseEntry } from '../core/format/logline.js';
import { program, parse } from './common.js';
import { targetUri } from './target.js';

const LOG_ERR = 3;
const LOG_INFO = 6;
const LOG_DEBUG = 7;

export async function run(args: string[]): Promise<number> {
  const p = program('shutdown', 'Shut down the Flux instance')
    .option('--background', 'Return once the shutdown has begun, without waiting for it')
    .option('-q, --quiet', 'Print only errors of the log')
    .option('-v, --verbose', 'Print the log at debug level too')
    .argument('[target]', 'a local:// or ssh:// URI, or the id of a job that runs a Flux instance');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{ background?: boolean; quiet?: boolean; verbose?: boolean }>();
  const h = await Flux.open(p.args[0] === undefined ? undefined : await targetUri(p.args[0]));
  const level = o.quiet ? LOG_ERR : o.verbose ? LOG_DEBUG : LOG_INFO;
  // the log from now on, asked for before the shutdown on the same connection, so that none of it is missed; how
  // it ended is looked at once the shutdown was accepted
  const following = o.background ? undefined : dmesg(h, { follow: true, nobacklog: true }, (line) => {
    const e = parseEntry(line);
    if (e === undefined || e.severity > level) return;
    process.stderr.write(`${e.appname}.${SEVERITY_NAMES[e.severity] ?? e.severity}[${e.rank}]: ${e.msg}\n`);
  }).then(() => undefined, (err: unknown) => err);
  try {
    await h.call('broker.shutdown', {}, { nodeid: 0 });
    const ended = await following;
    // the instance gone is the end this waits for: its broker closes the connection as it exits
    if (ended !== undefined && !(ended instanceof FluxError && ended.errno === ECONNRESET)) throw ended;
    return 0;
  } finally {
    h.close();
  }
}
