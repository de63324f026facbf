// flux hwloc info|topology|lstopo: the instance's hardware as the brokers discovered it, in the form of
// flux-core v0.11's command: the summary line, the topology XML of all (or some) ranks as one document, or
// that document drawn by lstopo.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Flux, withHandle } from '../api/handle.js';
import { rankTopology, topology } from '../api/resource.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { aggregateHwlocXml, parseHwlocXml } from '../core/resource/hwloc-xml.js';
import { parseIdset } from '../core/resource/idset.js';
import { formatHwlocInfo } from './resource-format.js';
import { getAttr } from '../api/attrs.js';
import { program, runChosen } from './common.js';

interface Opts {
  local?: boolean;
  rank?: string;
}

/** the XML of each selected rank (or of the local host only), ranks without any left out */
async function xmls(h: Flux, o: Opts): Promise<string[]> {
  if (o.local) {
    const t = await rankTopology(h, { xml: true });
    return t.xml === undefined ? [] : [t.xml];
  }
  let ranks: string | undefined;
  if (o.rank !== undefined && o.rank !== 'all') {
    const size = Number(await getAttr(h, 'size'));
    let ids: number[];
    try {
      ids = parseIdset(o.rank);
    } catch {
      ids = [];
    }
    if (ids.length === 0 || ids[ids.length - 1]! > size - 1) throw new FluxError(EINVAL, `Invalid rank argument: '${o.rank}'`);
    ranks = o.rank;
  }
  return (await topology(h, ranks)).map((t) => t.xml).filter((x) => x !== '');
}

async function info(o: Opts): Promise<number> {
  const docs = await withHandle((h) => xmls(h, o));
  process.stdout.write(formatHwlocInfo(docs.map(parseHwlocXml)));
  return 0;
}

async function printTopology(o: Opts): Promise<number> {
  const docs = await withHandle((h) => xmls(h, o));
  // flux-core wrote the document with puts(): the local one as it is, the instance's joined into one
  const xml = o.local ? docs[0] ?? '' : aggregateHwlocXml(docs);
  process.stdout.write(`${xml}\n`);
  return 0;
}

/** how `cmd args` ended, or undefined when there is no such program */
function runTool(cmd: string, args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(undefined) : reject(err)));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
}

async function lstopo(args: string[]): Promise<number> {
  const xml = aggregateHwlocXml(await withHandle((h) => xmls(h, {})));
  // a file rather than stdin: lstopo opens /dev/stdin, which fails on the socket Node gives a child as a pipe
  const dir = mkdtempSync(join(tmpdir(), 'flux-hwloc-'));
  try {
    const file = join(dir, 'topology.xml');
    writeFileSync(file, xml);
    for (const cmd of ['lstopo', 'lstopo-no-graphics']) {
      const end = await runTool(cmd, ['-i', file, '--if', 'xml', '--of', 'console', ...args]);
      if (end === undefined) continue;
      if (end.signal !== null && end.signal !== 'SIGPIPE') throw new FluxError(EINVAL, `lstopo: ${end.signal}`);
      if (end.code !== null && end.code !== 0) throw new FluxError(EINVAL, `lstopo: Exited with ${end.code}`);
      return 0;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  throw new FluxError(EINVAL, 'Unable to find an lstopo variant to execute.');
}

export async function run(args: string[]): Promise<number> {
  // every argument after `lstopo` is lstopo's own
  if (args[0] === 'lstopo') return lstopo(args.slice(1));
  let action: (() => Promise<number>) | undefined;
  const p = program('hwloc', 'Control/query resource-hwloc service');
  const selection = (c: ReturnType<typeof p.command>) => c
    .option('-l, --local', 'Dump topology XML for the local host only')
    .option('-r, --rank <NODESET>', 'Target specified nodeset, or "all" (default)');
  selection(p.command('info').description('Short-form dump of instance resources'))
    .action((o: Opts) => { action = () => info(o); });
  selection(p.command('topology').description('Dump system topology XML to stdout'))
    .action((o: Opts) => { action = () => printTopology(o); });
  p.command('lstopo [lstopo-OPTIONS...]').description('Show hwloc topology of the system');
  return runChosen(p, args, () => action);
}
