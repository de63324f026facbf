// flux keygen: the long-term CURVE certificate every broker of a system instance holds (bootstrap.curve_cert),
// in the ZPL form ZeroMQ's tools and flux-core write, readable only by its owner.
import { hostname } from 'node:os';
import { FluxError, EINVAL } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { generateKeypair, writeCert } from '../transport/keys.js';
import { program, parse } from './common.js';

export async function run(args: string[]): Promise<number> {
  const p = program('keygen', 'Generate a CURVE certificate for a Flux system instance')
    .option('-n, --name <NAME>', 'Set the certificate metadata name field (default: the local hostname)')
    .option('--meta <KEY=VAL,...>', 'Add metadata fields to the certificate')
    .argument('<path>', 'where the certificate is written (it must not exist)');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{ name?: string; meta?: string }>();
  const host = hostname();
  const meta: Record<string, string> = {
    name: o.name ?? host,
    'keygen.hostname': host,
    'keygen.time': new Date().toISOString().replace(/\.\d+Z$/, ''),
    'keygen.userid': String(process.getuid?.() ?? 0),
    'keygen.flux-core-version': VERSION,
    'keygen.zmq-version': (await import('zeromq')).version,
  };
  for (const kv of (o.meta ?? '').split(',').filter((s) => s.length > 0)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new FluxError(EINVAL, `--meta ${kv}: expected KEY=VAL`);
    meta[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  writeCert(p.args[0]!, generateKeypair(), meta);
  return 0;
}
