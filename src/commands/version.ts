// `flux version` (and `flux -V`): flux-core's lines, tab-aligned as it prints them; the broker's version and the
// URI only when FLUX_URI names an instance.
import { createRequire } from 'node:module';
import { VERSION } from '../core/version.js';
import { program, parse } from './common.js';

export async function run(args: string[]): Promise<number> {
  const code = parse(program('version', 'Display flux version information'), args);
  if (code !== undefined) return code;
  const lines = [`commands:    \t\t${VERSION}`, `libflux-core:\t\t${VERSION}`];
  const uri = process.env.FLUX_URI;
  if (uri !== undefined && uri !== '') {
    const { withHandle } = await import('../api/handle.js');
    const { getAttr } = await import('../api/attrs.js');
    const broker = await withHandle((h) => getAttr(h, 'version'));
    lines.push(`broker:  \t\t${broker}`, `FLUX_URI:\t\t${uri}`);
  }
  // the ZeroMQ the overlay is built on; hwloc is read through lstopo, not linked
  const zmq = (createRequire(import.meta.url)('zeromq') as { version: string }).version;
  lines.push(`build-options:\t\t+zmq==${zmq}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
