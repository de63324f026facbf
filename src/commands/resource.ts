// flux resource list|info|R: the scheduler's view of the instance's resources (sched.resource-status), in
// flux-core's output formats (list takes -o FORMAT, in flux-core's format language); status, drain and
// undrain: the system view (resource.status), and taking ranks out of scheduling and giving them back.
import { type Flux, withHandle } from '../api/handle.js';
import { type ResourceStatus, type SystemStatus, drain, resourceStatus, systemStatus, undrain } from '../api/resource.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { formatIdset, parseIdset } from '../core/resource/idset.js';
import { expandHostlist } from '../core/resource/hostlist.js';
import { ranksOf } from '../core/resource/rset.js';
import type { DrainMode } from '../core/resource/drain.js';
import {
  type ListState, type SystemView, formatDrain, formatInfo, formatList, formatR, formatStatus, parseStates, parseStatusStates,
  unionOfStates,
} from './resource-format.js';
import { program, runChosen } from './common.js';

const status = (): Promise<ResourceStatus> => withHandle(resourceStatus);

async function list(o: { format?: string; states: string; header: boolean }): Promise<number> {
  const states = parseStates(o.states);
  process.stdout.write(formatList(await status(), states, o.header, o.format === undefined || o.format === 'default' ? undefined : o.format));
  return 0;
}

async function summary(o: { states?: string }, format: (states: ListState[], s: ResourceStatus) => string): Promise<number> {
  const states = parseStates(o.states ?? 'all');
  process.stdout.write(format(states, await status()));
  return 0;
}

/** the system view, with what the scheduler says is allocated */
async function systemView(h: Flux): Promise<{ view: SystemView; status: SystemStatus }> {
  const [status, sched] = await Promise.all([systemStatus(h), resourceStatus(h)]);
  const hosts = new Map(status.R.nodes.map((n) => [n.rank, n.hostname]));
  const drained = new Map<number, { timestamp: number; reason: string }>();
  for (const d of status.drain) for (const r of d.ranks) drained.set(r, { timestamp: d.timestamp, reason: d.reason });
  const view: SystemView = {
    ranks: [...status.online, ...status.offline].sort((a, b) => a - b).map((rank) => ({ rank, hostname: hosts.get(rank) })),
    offline: new Set(status.offline),
    drained,
    allocated: new Set(ranksOf(sched.allocated)),
  };
  return { view, status };
}

/** TARGETS: an idset of ranks, or a hostlist naming the instance's hosts */
function targetRanks(text: string, status: SystemStatus): string {
  try {
    return formatIdset(parseIdset(text));
  } catch {
    const want = new Set(expandHostlist(text));
    const ranks = status.R.nodes.filter((n) => n.hostname !== undefined && want.has(n.hostname)).map((n) => n.rank);
    const known = new Set(status.R.nodes.map((n) => n.hostname));
    const unknown = [...want].filter((h) => !known.has(h));
    if (unknown.length > 0 || ranks.length === 0) throw new FluxError(EINVAL, `invalid targets: ${text}`);
    return formatIdset(ranks);
  }
}

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('resource', 'List the resources of the instance, drain and undrain them');
  p.command('list')
    .description('Show the scheduler view of resources')
    .option('-o, --format <FORMAT>', 'Specify output format using Python\'s string format syntax')
    .option('-s, --states <STATE,...>', 'Output resources in given states', 'free,allocated,down')
    .option('-n, --no-header', 'Suppress header output')
    .action((o: { format?: string; states: string; header: boolean }) => { action = () => list(o); });
  p.command('info')
    .description('Show a brief summary of the scheduler view of resources')
    .option('-s, --states <STATE,...>', 'Show output only for resources in given states')
    .action((o: { states?: string }) => { action = () => summary(o, (states, s) => formatInfo(unionOfStates(s, states))); });
  p.command('R')
    .description('Emit an RFC 20 Resource Set based on the scheduler view of resources')
    .option('-s, --states <STATE,...>', 'Limit the output to resources in given states')
    .action((o: { states?: string }) => { action = () => summary(o, (states, s) => formatR(unionOfStates(s, states))); });
  p.command('status')
    .description('Show the system view of resources: available, drained, offline')
    .option('-o, --format <FORMAT>', 'Specify output format using Python\'s string format syntax')
    .option('-s, --states <STATE,...>', 'Output resources in given states (avail, exclude, draining, drained, drain, torpid, allocated, housekeeping, offline, online)')
    .option('-n, --no-header', 'Suppress header output')
    .option('--skip-empty', 'Leave out lines with no resources, even for states asked for')
    .action((o: { format?: string; states?: string; header: boolean; skipEmpty?: boolean }) => {
      const states = o.states === undefined ? undefined : parseStatusStates(o.states);
      action = () => withHandle(async (h) => {
        const { view } = await systemView(h);
        process.stdout.write(formatStatus(view, states, o.header, o.format, o.skipEmpty === true));
        return 0;
      });
    });
  p.command('drain')
    .description('List drained nodes, or drain TARGETS (an idset of ranks or a hostlist) with a REASON')
    .option('-f, --force', 'Drain ranks already drained with the new reason (twice: and a new timestamp)', (_v: string, n: number) => n + 1, 0)
    .option('-u, --update', 'Drain only the ranks not drained yet, leaving the others as they are')
    .option('-o, --format <FORMAT>', 'Specify output format using Python\'s string format syntax (listing)')
    .option('-n, --no-header', 'Suppress header output (listing)')
    .argument('[targets]')
    .argument('[reason...]')
    .action((targets: string | undefined, reason: string[], o: { force: number; update?: boolean; format?: string; header: boolean }) => {
      action = () => withHandle(async (h) => {
        const { view, status } = await systemView(h);
        if (targets === undefined) {
          process.stdout.write(formatDrain(view, o.header, o.format));
          return 0;
        }
        const mode: DrainMode = o.update ? 'update' : o.force >= 2 ? 'overwrite-timestamp' : o.force === 1 ? 'overwrite' : 'fail';
        await drain(h, targetRanks(targets, status), reason.join(' '), mode);
        return 0;
      });
    });
  p.command('undrain')
    .description('Give drained TARGETS (an idset of ranks or a hostlist) back to the scheduler')
    .option('-f, --force', 'Do not fail if some of the targets are not drained')
    .argument('<targets>')
    .action((targets: string, o: { force?: boolean }) => {
      action = () => withHandle(async (h) => {
        const { status } = await systemView(h);
        await undrain(h, targetRanks(targets, status), o.force === true);
        return 0;
      });
    });
  return runChosen(p, args, () => action);
}
