// flux queue: the anonymous queue's administration: status; enable/disable (submissions), start/stop (scheduling),
// each with a reason (-m) kept across a restart unless --nocheckpoint; drain and idle wait for the queue to empty or
// for no job to be running (--timeout FSD). Messages as flux-core's flux-queue prints them.
import { type Flux, withHandle } from '../api/handle.js';
import { FluxError, ETIMEDOUT } from '../core/errors.js';
import { parseFSD } from '../core/time/fsd.js';
import { program, runChosen } from './common.js';

interface Status {
  enable: boolean;
  start: boolean;
  disable_reason?: string;
  stop_reason?: string;
}

const status = async (h: Flux) => (await h.call('job-manager.queue-status', {}, { nodeid: 0 })) as unknown as Status;

function statusLines(s: Status): string {
  const why = (r: string | undefined) => (r ? `: ${r}` : '');
  return `Job submission is ${s.enable ? 'enabled' : `disabled${why(s.disable_reason)}`}\n`
    + `Scheduling is ${s.start ? 'started' : `stopped${why(s.stop_reason)}`}\n`;
}

/** a change, then the queue's status unless --quiet */
function change(topic: string, body: Record<string, unknown>, quiet: boolean): () => Promise<number> {
  return () => withHandle(async (h) => {
    await h.call(topic, body, { nodeid: 0 });
    if (!quiet) process.stdout.write(statusLines(await status(h)));
    return 0;
  });
}

/** drain or idle: the request's answer, or ETIMEDOUT once --timeout has passed */
function wait(topic: string, timeout: string | undefined): () => Promise<number> {
  const ms = timeout === undefined ? undefined : parseFSD(timeout) * 1000;
  return () => withHandle(async (h) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      if (ms !== undefined) timer = setTimeout(() => reject(new FluxError(ETIMEDOUT, `${topic.split('.')[1]}: timeout`)), ms);
    });
    try {
      await Promise.race([h.call(topic, {}, { nodeid: 0 }), late]);
    } finally {
      clearTimeout(timer);
    }
    return 0;
  });
}

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('queue', 'Manage the job queue');
  p.command('status')
    .description('Report the queue\'s status')
    .option('-v, --verbose', 'Display more detail')
    .action(() => {
      action = () => withHandle(async (h) => {
        process.stdout.write(statusLines(await status(h)));
        return 0;
      });
    });
  for (const [name, topic, key, on, what] of [
    ['enable', 'job-manager.queue-enable', 'enable', true, 'Allow jobs to be submitted'],
    ['disable', 'job-manager.queue-enable', 'enable', false, 'Refuse jobs submitted, with a reason shown to their submitters'],
    ['start', 'job-manager.queue-start', 'start', true, 'Start giving jobs resources'],
    ['stop', 'job-manager.queue-start', 'start', false, 'Stop giving jobs resources: pending jobs wait, running ones go on'],
  ] as const) {
    const cmd = p.command(name).description(what)
      .option('-a, --all', 'Select all queues (there is one)')
      .option('-v, --verbose', 'Display more detail')
      .option('--quiet', 'Display only errors');
    if (!on) cmd.option('-m, --message <REASON>', 'Why').option('--nocheckpoint', 'Do not keep the new state across a restart');
    cmd.action((o: { quiet?: boolean; message?: string; nocheckpoint?: boolean }) => {
      const body: Record<string, unknown> = { [key]: on };
      if (o.message !== undefined) body.reason = o.message;
      if (o.nocheckpoint) body.nocheckpoint = true;
      action = change(topic, body, o.quiet === true);
    });
  }
  p.command('drain')
    .description('Wait until the queue is empty')
    .option('--timeout <FSD>', 'Give up after FSD')
    .action((o: { timeout?: string }) => { action = wait('job-manager.drain', o.timeout); });
  p.command('idle')
    .description('Wait until no job is running')
    .option('--timeout <FSD>', 'Give up after FSD')
    .action((o: { timeout?: string }) => { action = wait('job-manager.idle', o.timeout); });
  return runChosen(p, args, () => action);
}
