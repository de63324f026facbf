// The command table: name -> the one-line summary `flux --help` shows and the module that runs it, loaded on
// demand (each loader names its module plainly, so bundlers and test runners can see every one of them).
export interface CommandModule {
  run(args: string[]): Promise<number>;
}

export interface CommandInfo {
  summary: string;
  /** listed under "Common commands from flux-core" in flux --help, the rest under "Other commands" */
  common?: boolean;
  load: () => Promise<CommandModule>;
}

export const COMMANDS: Record<string, CommandInfo> = {
  start: { summary: 'Bootstrap a local Flux instance', common: true, load: () => import('./commands/start.js') },
  broker: {
    summary: 'Run one Flux message broker (started by flux start or a PMI launcher)',
    load: () => import('./broker/main.js'),
  },
  getattr: { summary: 'Get broker attribute', common: true, load: () => import('./commands/getattr.js') },
  setattr: { summary: 'Set broker attribute', load: () => import('./commands/setattr.js') },
  lsattr: { summary: 'List broker attributes', load: () => import('./commands/lsattr.js') },
  user: { summary: 'Manage the instance user database', load: () => import('./commands/user.js') },
  ping: { summary: 'Send echo requests to a service', common: true, load: () => import('./commands/ping.js') },
  logger: { summary: 'Create a Flux log entry', common: true, load: () => import('./commands/logger.js') },
  dmesg: { summary: 'Print or control the broker log ring buffer', common: true, load: () => import('./commands/dmesg.js') },
  event: { summary: 'Send and receive Flux events', common: true, load: () => import('./commands/event.js') },
  journal: { summary: 'List, show, follow and verify the instance journal', load: () => import('./commands/journal.js') },
  replay: {
    summary: 'Replay, step through and verify the journal of a stopped instance',
    load: () => import('./commands/replay.js'),
  },
  module: { summary: 'Manage Flux broker modules', common: true, load: () => import('./commands/module.js') },
  content: { summary: 'Access the content store', load: () => import('./commands/content.js') },
  config: { summary: 'Manage configuration', load: () => import('./commands/config.js') },
  kvs: { summary: 'Access the Flux key-value store', common: true, load: () => import('./commands/kvs.js') },
  dump: { summary: 'Write KVS snapshot to a portable archive format', load: () => import('./commands/dump.js') },
  restore: { summary: 'Restore KVS snapshot from a portable archive format', load: () => import('./commands/restore.js') },
  fsck: { summary: 'Check the integrity of the content store data', load: () => import('./commands/fsck.js') },
  exec: { summary: 'Execute processes across flux ranks', common: true, load: () => import('./commands/exec.js') },
  cron: { summary: 'Schedule commands on intervals, events and dates', load: () => import('./commands/cron.js') },
  ps: { summary: 'List the processes rexec runs across the instance', load: () => import('./commands/ps.js') },
  resource: { summary: 'List the resources of the instance, drain and undrain them', load: () => import('./commands/resource.js') },
  hwloc: { summary: 'Control/query resource-hwloc service', load: () => import('./commands/hwloc.js') },
  submit: { summary: 'Submit a job to a Flux instance', common: true, load: () => import('./commands/submit.js') },
  bulksubmit: { summary: 'Submit a job for each combination of inputs, as xargs or GNU parallel would', load: () => import('./commands/bulksubmit.js') },
  run: { summary: 'Run a job interactively', common: true, load: () => import('./commands/run.js') },
  batch: { summary: 'Submit a batch script to run in a new Flux instance', common: true, load: () => import('./commands/batch.js') },
  alloc: { summary: 'Run a command in a new Flux instance of the resources allocated', common: true, load: () => import('./commands/alloc.js') },
  'multi-prog': { summary: 'Run a different command for each task of a job (MPMD)', load: () => import('./commands/multi-prog.js') },
  jobs: { summary: 'List jobs submitted to Flux', common: true, load: () => import('./commands/jobs.js') },
  job: { summary: 'Job housekeeping utility', common: true, load: () => import('./commands/job.js') },
  watch: { summary: 'Follow the output and state of jobs, running or ended', load: () => import('./commands/watch.js') },
  update: { summary: 'Update a job\'s duration or name', load: () => import('./commands/update.js') },
  pgrep: { summary: 'List jobs by name or id range', load: () => import('./commands/pgrep.js') },
  pkill: { summary: 'Cancel jobs by name or id range', load: () => import('./commands/pkill.js') },
  queue: { summary: 'Manage the job queue: enable, disable, start, stop, status, drain, idle', load: () => import('./commands/queue.js') },
  cancel: { summary: 'Cancel one or more jobs', common: true, load: () => import('./commands/cancel.js') },
  overlay: { summary: 'Manage overlay network', load: () => import('./commands/overlay.js') },
  keygen: { summary: 'Generate a CURVE certificate for a system instance', load: () => import('./commands/keygen.js') },
  shutdown: { summary: 'Shut down the Flux instance', load: () => import('./commands/shutdown.js') },
  uptime: { summary: 'Show how long this Flux instance has been running', common: true, load: () => import('./commands/uptime.js') },
  version: { summary: 'Display flux version information', load: () => import('./commands/version.js') },
  env: { summary: 'Print the flux environment or run a command in it', common: true, load: () => import('./commands/env.js') },
  proxy: { summary: 'Route messages to/from Flux instance', load: () => import('./commands/proxy.js') },
  relay: { summary: 'Relay messages between stdio and local://path', load: () => import('./commands/relay.js') },
  uri: { summary: 'Resolve TARGET to a Flux URI', load: () => import('./commands/uri.js') },
  help: { summary: 'Display help information for flux commands', common: true, load: () => import('./commands/help.js') },
};

const section = (title: string, names: string[]) => [
  '',
  title,
  ...names.map((n) => `   ${n.padEnd(18)} ${COMMANDS[n]!.summary}`),
];

/** flux-core's usage: its options, then every command by section (it goes to stderr, as flux-core's does) */
export function usage(): string {
  const names = Object.keys(COMMANDS);
  return [
    'Usage: flux [OPTIONS] COMMAND ARGS',
    '  -h, --help             Display this message.',
    '  -V, --version          Display command and component versions',
    ...section('Common commands from flux-core:', names.filter((n) => COMMANDS[n]!.common)),
    ...section('Other commands:', names.filter((n) => !COMMANDS[n]!.common)),
    '',
    "See 'flux help COMMAND' for more information about a specific command.",
    '',
  ].join('\n');
}
