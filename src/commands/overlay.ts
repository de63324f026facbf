// flux overlay status|errors|lookup|parentof|disconnect: the tree-based overlay network as flux-core shows it,
// one line per broker ("├─ 2 test2: full"), asking only the brokers whose subtree is not full unless -v wants
// every broker's time in its state.
import { type Flux, withHandle } from '../api/handle.js';
import { type OverlayNode, type Topology, disconnectSubtree, topology, walk, watchHealth } from '../api/overlay.js';
import { getAttr } from '../api/attrs.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { formatDuration, parseFSD } from '../core/time/fsd.js';
import { compressHostlist, expandHostlist } from '../core/resource/hostlist.js';
import { formatIdset, parseIdset } from '../core/resource/idset.js';
import { isStatusName } from '../core/overlay/subtree-status.js';
import { parentOf } from '../core/overlay/topology.js';
import { GREEN, RED, RESET, YELLOW } from '../core/format/terminal.js';
import { program, runChosen } from './common.js';

export interface RenderOptions {
  verbose: number;
  summary: boolean;
  down: boolean;
  pretty: boolean;
  ghost: boolean;
  color: boolean;
  /** ranks to highlight (targets and their ancestors) */
  highlight: Set<number>;
}

const COLOR: Record<string, string> = { full: GREEN, partial: YELLOW, degraded: YELLOW, lost: RED, offline: RED };

function line(n: OverlayNode, o: RenderOptions): string {
  let who = `${n.rank} ${n.host}`;
  if (o.highlight.has(n.rank)) who = o.color ? `\x1b[1;7m${who}${RESET}` : `<<${who}>>`;
  let status = n.status;
  if (o.color && COLOR[status] !== undefined) status = `${COLOR[status]}${status}${RESET}`;
  let text = `${who}: ${status}`;
  if (o.verbose >= 1 && n.duration !== undefined) text += ` for ${formatDuration(n.duration)}`;
  if (o.verbose >= 2 && n.rtt !== undefined) text += ` (${n.rtt.toFixed(3)} ms)`;
  return text;
}

/** the walk as flux-core draws it: the root alone, then each child under its parent with line-drawing prefixes */
export function renderStatus(root: OverlayNode, o: RenderOptions): string {
  const out: string[] = [`${line(root, o)}\n`];
  if (o.summary) return out.join('');
  const visit = (n: OverlayNode, indent: string) => {
    const shown = n.children.filter((c) => (o.ghost || !c.ghost) && (!o.down || c.status !== 'full'));
    shown.forEach((c, i) => {
      const last = i === shown.length - 1;
      const prefix = o.pretty ? `${indent}${last ? '└─ ' : '├─ '}` : '';
      out.push(`${prefix}${line(c, o)}\n`);
      visit(c, o.pretty ? `${indent}${last ? '   ' : '│  '}` : '');
    });
  };
  visit(root, '');
  return out.join('');
}

/** lost and offline brokers grouped by why: "test[2,5]: lost connection" */
export function renderErrors(root: OverlayNode): string {
  const byError = new Map<string, string[]>();
  const visit = (n: OverlayNode) => {
    if (!n.ghost && (n.status === 'lost' || n.status === 'offline') && n.error !== undefined) {
      const hosts = byError.get(n.error) ?? [];
      hosts.push(n.host);
      byError.set(n.error, hosts);
    }
    n.children.forEach(visit);
  };
  visit(root);
  return [...byError].map(([error, hosts]) => `${compressHostlist(hosts)}: ${error}\n`).join('');
}

interface Instance {
  size: number;
  fanout: number;
  hosts: string[];
}

async function instance(h: Flux): Promise<Instance> {
  const attr = (name: string) => getAttr(h, name);
  const [size, fanout, hostlist] = await Promise.all([attr('size'), attr('tbon.fanout'), attr('hostlist')]);
  return { size: Number(size), fanout: Number(fanout), hosts: expandHostlist(hostlist) };
}

/** a rank, or a hostname: the first rank on that host */
function rankOf(target: string, inst: Instance): number {
  if (/^\d+$/.test(target)) {
    const rank = Number(target);
    if (rank >= inst.size) throw new FluxError(EINVAL, `rank ${rank} is not in this instance of size ${inst.size}`);
    return rank;
  }
  const rank = inst.hosts.indexOf(target);
  if (rank < 0) throw new FluxError(EINVAL, `${target}: no such host in this instance`);
  return rank;
}

/** the ranks of a target: an idset of ranks or a hostlist */
function ranksOf(target: string, inst: Instance): number[] {
  if (/^[\d,\-[\]]+$/.test(target)) {
    const ranks = parseIdset(target);
    const bad = ranks.find((r) => r >= inst.size);
    if (bad !== undefined) throw new FluxError(EINVAL, `rank ${bad} is not in this instance of size ${inst.size}`);
    return ranks;
  }
  const ranks: number[] = [];
  for (const host of expandHostlist(target)) {
    const mine = inst.hosts.flatMap((hh, r) => (hh === host ? [r] : []));
    if (mine.length === 0) throw new FluxError(EINVAL, `${host}: no such host in this instance`);
    ranks.push(...mine);
  }
  return [...new Set(ranks)].sort((a, b) => a - b);
}

interface StatusOpts {
  verbose?: number;
  timeout: string;
  rank?: string;
  summary?: boolean;
  down?: boolean;
  pretty: boolean;
  ghost: boolean;
  color?: string | boolean;
  highlight?: string;
  wait?: string;
}

function useColor(when: string | boolean | undefined): boolean {
  if (when === undefined || when === 'auto') return process.stdout.isTTY === true;
  if (when === true || when === 'always') return true;
  if (when === 'never') return false;
  throw new FluxError(EINVAL, `--color: expected always, never or auto, not "${String(when)}"`);
}

async function status(o: StatusOpts): Promise<number> {
  const timeout = parseFSD(o.timeout);
  const color = useColor(o.color);
  if (o.wait !== undefined && (!isStatusName(o.wait) || o.wait === 'unknown')) {
    throw new FluxError(EINVAL, `--wait: unknown status "${o.wait}" (full, partial, degraded, lost, offline)`);
  }
  const text = await withHandle(async (h) => {
    const inst = await instance(h);
    const root = o.rank === undefined ? 0 : rankOf(o.rank, inst);
    const highlight = new Set<number>();
    if (o.highlight !== undefined) {
      for (const target of ranksOf(o.highlight, inst)) {
        for (let r: number | undefined = target; r !== undefined; r = parentOf(r, inst.fanout)) highlight.add(r);
      }
    }
    if (o.wait !== undefined) await watchHealth(h, root, (hl) => hl.status === o.wait);
    const topo: Topology = await topology(h, root);
    const tree = await walk(h, topo, { timeout, everyRank: (o.verbose ?? 0) > 0 });
    return renderStatus(tree, {
      verbose: o.verbose ?? 0, summary: o.summary === true, down: o.down === true, pretty: o.pretty, ghost: o.ghost,
      color, highlight,
    });
  });
  process.stdout.write(text);
  return 0;
}

async function errors(o: { timeout: string }): Promise<number> {
  const timeout = parseFSD(o.timeout);
  const text = await withHandle(async (h) => renderErrors(await walk(h, await topology(h, 0), { timeout, everyRank: false })));
  process.stdout.write(text);
  return 0;
}

async function lookup(target: string): Promise<number> {
  const inst = await withHandle(instance);
  if (/^[\d,\-[\]]+$/.test(target)) {
    process.stdout.write(`${compressHostlist(ranksOf(target, inst).map((r) => inst.hosts[r]!))}\n`);
  } else {
    process.stdout.write(`${formatIdset(ranksOf(target, inst))}\n`);
  }
  return 0;
}

async function parentof(target: string): Promise<number> {
  const inst = await withHandle(instance);
  const rank = rankOf(target, inst);
  const parent = parentOf(rank, inst.fanout);
  if (parent === undefined) throw new FluxError(EINVAL, 'rank 0 has no parent');
  process.stdout.write(`${parent}\n`);
  return 0;
}

async function disconnect(target: string, o: { parent?: string }): Promise<number> {
  await withHandle(async (h) => {
    const inst = await instance(h);
    const rank = rankOf(target, inst);
    const parent = o.parent === undefined ? parentOf(rank, inst.fanout) : rankOf(o.parent, inst);
    if (parent === undefined) throw new FluxError(EINVAL, 'rank 0 has no parent: it cannot be disconnected');
    process.stderr.write(`flux-overlay: asking ${inst.hosts[parent]} (rank ${parent}) to disconnect child ${inst.hosts[rank]} (rank ${rank})\n`);
    await disconnectSubtree(h, rank, parent);
  });
  return 0;
}

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('overlay', 'Manage overlay network');
  const increment = (_: string, prev: number | undefined) => (prev ?? 0) + 1;
  p.command('status')
    .description('Display overlay subtree health status')
    .option('-v, --verbose', 'Increase reporting detail: 1=time in state, 2=round-trip times', increment)
    .option('-t, --timeout <FSD>', 'Set RPC timeout, 0=disable', '0.5s')
    .option('-r, --rank <RANK>', 'Check health of the subtree rooted at RANK (default 0)')
    .option('--summary', 'Show only the root subtree status')
    .option('--down', 'Show only the partial/degraded subtrees')
    .option('--no-pretty', 'Do not indent entries or draw the tree')
    .option('--no-ghost', 'Do not fill in the presumed state of brokers behind offline/lost parents')
    .option('-L, --color [WHEN]', 'Colorize output: always (default if omitted), never or auto (default)')
    .option('-H, --highlight <TARGET>', 'Highlight one or more targets and their ancestors')
    .option('-w, --wait <STATE>', 'Wait until the subtree enters STATE before reporting')
    .action((o: StatusOpts) => { action = () => status(o); });
  p.command('errors')
    .description('Summarize errors of lost and offline brokers')
    .option('-t, --timeout <FSD>', 'Set RPC timeout, 0=disable', '0.5s')
    .action((o: { timeout: string }) => { action = () => errors(o); });
  p.command('lookup <TARGET>')
    .description('Translate a hostlist to ranks, or ranks to a hostlist')
    .action((t: string) => { action = () => lookup(t); });
  p.command('parentof <RANK>')
    .description('Show the parent of RANK')
    .action((t: string) => { action = () => parentof(t); });
  p.command('disconnect <TARGET>')
    .description('Disconnect the subtree rooted at TARGET (hostname or rank)')
    .option('-r, --parent <NODEID>', 'Set the parent rank (default: from the topology)')
    .action((t: string, o: { parent?: string }) => { action = () => disconnect(t, o); });
  return runChosen(p, args, () => action);
}
