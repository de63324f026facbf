// The command table: name -> module file and the one-line summary `flux --help` shows.
export interface CommandInfo {
  /** the module under dist/ that exports run(args) */
  file: string;
  summary: string;
  /** listed under "common commands" in flux --help */
  common?: boolean;
}

export const COMMANDS: Record<string, CommandInfo> = {
  start: { file: 'commands/start', summary: 'Bootstrap a local Flux instance', common: true },
  broker: { file: 'broker/main', summary: 'Run one Flux message broker (started by flux start or a PMI launcher)' },
  getattr: { file: 'commands/getattr', summary: 'Get broker attribute', common: true },
  setattr: { file: 'commands/setattr', summary: 'Set broker attribute' },
  lsattr: { file: 'commands/lsattr', summary: 'List broker attributes' },
  ping: { file: 'commands/ping', summary: 'Send echo requests to a service', common: true },
  logger: { file: 'commands/logger', summary: 'Create a Flux log entry', common: true },
  dmesg: { file: 'commands/dmesg', summary: 'Print or control the broker log ring buffer', common: true },
  event: { file: 'commands/event', summary: 'Send and receive Flux events', common: true },
  journal: { file: 'commands/journal', summary: 'List, show, follow and verify the instance journal' },
  replay: { file: 'commands/replay', summary: 'Replay, step through and verify the journal of a stopped instance' },
  module: { file: 'commands/module', summary: 'Manage Flux broker modules', common: true },
  content: { file: 'commands/content', summary: 'Access the content store' },
  kvs: { file: 'commands/kvs', summary: 'Access the Flux key-value store', common: true },
  dump: { file: 'commands/dump', summary: 'Write KVS snapshot to a portable archive format' },
  restore: { file: 'commands/restore', summary: 'Restore KVS snapshot from a portable archive format' },
  fsck: { file: 'commands/fsck', summary: 'Check the integrity of the content store data' },
  exec: { file: 'commands/exec', summary: 'Execute processes across flux ranks', common: true },
  cron: { file: 'commands/cron', summary: 'Schedule commands on intervals, events and dates' },
  ps: { file: 'commands/ps', summary: 'List the processes rexec runs across the instance' },
  resource: { file: 'commands/resource', summary: 'List the resources of the instance' },
  hwloc: { file: 'commands/hwloc', summary: 'Control/query resource-hwloc service' },
  submit: { file: 'commands/submit', summary: 'Submit a job to a Flux instance', common: true },
  run: { file: 'commands/run', summary: 'Run a job interactively', common: true },
  jobs: { file: 'commands/jobs', summary: 'List jobs submitted to Flux', common: true },
  job: { file: 'commands/job', summary: 'Job housekeeping utility', common: true },
  cancel: { file: 'commands/cancel', summary: 'Cancel one or more jobs', common: true },
  overlay: { file: 'commands/overlay', summary: 'Manage overlay network' },
  keygen: { file: 'commands/keygen', summary: 'Generate a CURVE certificate for a system instance' },
  env: { file: 'commands/env', summary: 'Print the flux environment or run a command in it', common: true },
  proxy: { file: 'commands/proxy', summary: 'Route messages to/from Flux instance' },
  relay: { file: 'commands/relay', summary: 'Relay messages between stdio and local://path' },
  uri: { file: 'commands/uri', summary: 'Resolve TARGET to a Flux URI' },
  help: { file: 'commands/help', summary: 'Display help information for flux commands', common: true },
};

export function usage(): string {
  const lines = [
    'Usage: flux [OPTIONS] COMMAND ARGS',
    '  -h, --help             Display this message',
    '  -V, --version          Display command and component versions',
    '',
    'For general Flux documentation, please visit',
    '    https://flux-framework.readthedocs.io',
    '',
    'Common commands from flux-core:',
  ];
  for (const [name, info] of Object.entries(COMMANDS)) {
    if (info.common) lines.push(`   ${name.padEnd(18)} ${info.summary}`);
  }
  lines.push('', "See 'flux help COMMAND' for more information about a specific command.", '');
  return lines.join('\n');
}
