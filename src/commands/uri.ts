// `flux uri [--remote|--local] TARGET`: TARGET as a URI to connect with (a job id: the URI of the instance the job
// runs, as its rank 0 posted it); --remote turns local:///path into ssh://<this host>/path, --local turns
// ssh://host/path into local:///path (FLUX_URI_RESOLVE_LOCAL set: --local).
import { hostname } from 'node:os';
import { toLocalUri, toRemoteUri } from '../core/wire/uri.js';
import { program, parse } from './common.js';
import { targetUri } from './target.js';

export async function run(args: string[]): Promise<number> {
  const p = program('uri', 'Resolve TARGET to a Flux URI')
    .option('--remote', 'convert a local URI to remote')
    .option('--local', 'convert a remote URI to local')
    .argument('<target>', 'a local:// or ssh:// URI, or the id of a job that runs a Flux instance');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{ remote?: boolean; local?: boolean }>();
  const uri = await targetUri(p.args[0]!);
  let out = uri;
  if (o.remote) out = toRemoteUri(uri, hostname());
  else if (o.local || process.env.FLUX_URI_RESOLVE_LOCAL) out = toLocalUri(uri);
  process.stdout.write(`${out}\n`);
  return 0;
}
