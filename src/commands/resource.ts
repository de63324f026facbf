// flux resource list|info|R: the scheduler's view of the instance's resources (sched.resource-status), in
// flux-core's output formats (list takes -o FORMAT, in flux-core's format language).
import { withHandle } from '../api/handle.js';
import { resourceStatus, type ResourceStatus } from '../api/resource.js';
import { type ListState, formatInfo, formatList, formatR, parseStates, unionOfStates } from './resource-format.js';
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

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('resource', 'List resources of the instance');
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
  return runChosen(p, args, () => action);
}
