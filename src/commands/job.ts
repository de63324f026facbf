// flux job: act on jobs one by one: attach, cancel, raise, kill, urgency, wait, status, last, taskmap, timeleft,
// eventlog, wait-event, info, id.
// Messages and exit codes as flux-core's flux-job prints them (`flux-job: …`).
import { constants as osConstants } from 'node:os';
import { readFileSync } from 'node:fs';
import { Flux, withHandle } from '../api/handle.js';
import { FluxError, ECHILD, ENOENT, EPERM } from '../core/errors.js';
import { type FluidEncoding, encodeFluid, parseJobId } from '../core/jobs/fluid.js';
import { EventlogFormatter, colorFor, decodeEventlog } from '../core/kvs/format-eventlog.js';
import { PURGE_BATCH_MAX, URGENCY_EXPEDITE, URGENCY_HOLD } from '../core/jobs/state.js';
import { decodeJ } from '../core/jobs/jobspec.js';
import { type JobResult, JOBID_ANY, cancel, kill, last, lookup, purge, purgeIds, raise, result, setUrgency, stats, wait, watchEventlog } from '../api/jobs.js';
import { parseFSD } from '../core/time/fsd.js';
import { exitCodeOf } from '../core/jobs/wait-status.js';
import { program, runChosen } from './common.js';
import { attach } from './job-attach.js';
import { type TaskmapOpts, taskmap, timeleft } from './job-taskmap.js';
import { urgencyOf } from './submit-options.js';

/** the command ends: the text goes to stderr and the exit code is `code` */
class Exit extends Error {
  constructor(readonly text: string, readonly code = 1) {
    super(text);
  }
}

const fail = (msg: string, code = 1): never => {
  throw new Exit(`flux-job: ${msg}\n`, code);
};

function jobid(text: string): number {
  try {
    return parseJobId(text);
  } catch {
    return fail(`invalid jobid: ${text}`);
  }
}

const EVENTLOG_PATHS: Record<string, string> = { exec: 'guest.exec.eventlog', output: 'guest.output', input: 'guest.input' };

export function signalNumber(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
  } else {
    const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
    const n = (osConstants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  return fail(`kill: Invalid signal ${text}`);
}

/** each id in turn; a failure is printed as `flux-job: <verb> <id>: <error>` and makes the exit code 1 */
async function eachJob(ids: string[], verb: string, fn: (h: Flux, id: number) => Promise<void>): Promise<number> {
  const parsed = ids.map(jobid);
  return withHandle(async (h) => {
    let rc = 0;
    for (const [i, id] of parsed.entries()) {
      try {
        await fn(h, id);
      } catch (err) {
        process.stderr.write(`flux-job: ${verb} ${ids[i]}: ${(err as Error).message}\n`);
        rc = 1;
      }
    }
    return rc;
  });
}

/** the job's eventlog must exist for the job to be known */
async function known(h: Flux, id: number, text: string): Promise<void> {
  try {
    await lookup(h, id, 'eventlog');
  } catch (err) {
    if (err instanceof FluxError && err.errno === ENOENT) fail(`job ${text} not found`);
    throw err;
  }
}

export async function run(args: string[]): Promise<number> {
  const p = program('job', 'Job housekeeping utility');
  let action: (() => Promise<number>) | undefined;

  p.command('attach')
    .description('Interactively attach to job')
    .option('-l, --label-io', 'Label output by rank')
    .option('-E, --show-events', 'Show job events on stderr')
    .option('-r, --read-only', 'Disable reading stdin')
    .argument('<id>')
    .action((text: string, o: { labelIo?: boolean; showEvents?: boolean; readOnly?: boolean }) => {
      action = () => withHandle((h) => attach(h, jobid(text), { label: o.labelIo === true, stdin: !o.readOnly, idText: text, showEvents: o.showEvents }));
    });

  p.command('cancel')
    .description('Cancel one or more jobs')
    .option('-m, --message <NOTE>', 'Set cancel exception note')
    .argument('<ids-and-message...>')
    .action((words: string[], o: { message?: string }) => {
      const ids: string[] = [];
      let i = 0;
      for (; i < words.length && words[i] !== '--'; i++) {
        try {
          parseJobId(words[i]!);
        } catch {
          break;
        }
        ids.push(words[i]!);
      }
      const rest = words.slice(words[i] === '--' ? i + 1 : i);
      if (rest.length > 0 && o.message !== undefined) fail('Do not set note on command line and with --message');
      if (ids.length === 0) fail(`invalid jobid: ${words[0]}`);
      const note = o.message ?? rest.join(' ');
      action = () => eachJob(ids, 'cancel', (h, id) => cancel(h, id, note));
    });

  p.command('raise')
    .description('Raise an exception on one or more jobs')
    .option('-s, --severity <N>', 'Set exception severity [0-7] (default 0)', '0')
    .option('-t, --type <TYPE>', 'Set exception type (default cancel)', 'cancel')
    .option('-m, --message <NOTE>', 'Set exception note')
    .argument('<ids...>')
    .action((ids: string[], o: { severity: string; type: string; message?: string }) => {
      const sev = Number(o.severity);
      if (!Number.isInteger(sev) || sev < 0 || sev > 7) fail('invalid exception severity');
      action = () => eachJob(ids, 'raise', (h, id) => raise(h, id, o.type, o.message ?? '', sev));
    });

  p.command('kill')
    .description('Send a signal to one or more running jobs')
    .option('-s, --signal <SIG>', 'Send signal SIG (default SIGTERM)', 'SIGTERM')
    .argument('<ids...>')
    .action((ids: string[], o: { signal: string }) => {
      const signum = signalNumber(o.signal);
      action = () => eachJob(ids, 'kill', (h, id) => kill(h, id, signum));
    });

  p.command('urgency')
    .description('Set job urgency (0-31, HOLD, EXPEDITE, DEFAULT)')
    .option('-v, --verbose', 'Output old urgency value on success')
    .argument('<id>')
    .argument('<urgency>')
    .action((text: string, value: string, o: { verbose?: boolean }) => {
      const id = jobid(text);
      const urgency = urgencyOf(value);
      action = () => withHandle(async (h) => {
        let old: number;
        try {
          old = await setUrgency(h, id, urgency);
        } catch (err) {
          return fail(`${text}: ${(err as Error).message}`);
        }
        if (o.verbose) {
          const said = old === URGENCY_HOLD ? 'job held' : old === URGENCY_EXPEDITE ? 'job expedited' : String(old);
          process.stderr.write(`old urgency: ${said}\n`);
        }
        return 0;
      });
    });

  p.command('wait')
    .description('Wait for job(s) to complete')
    .option('-a, --all', 'Wait for all (waitable) jobs')
    .option('-v, --verbose', 'Emit a line of output for all jobs, not just failing ones')
    .argument('[id]')
    .action((text: string | undefined, o: { all?: boolean; verbose?: boolean }) => {
      if (o.all && text !== undefined) fail('jobid not supported with --all');
      action = () => withHandle((h) => (o.all ? waitAll(h, o.verbose === true) : waitOne(h, text)));
    });

  p.command('status')
    .description('Wait for job(s) to complete and exit with the largest exit code')
    .option('-v, --verbose', 'Increase verbosity', (_v: string, n: number) => n + 1, 0)
    .option('-e, --exception-exit-code <N>', 'Set the exit code for jobs that end by an exception (e.g. canceled jobs) to N', '1')
    .option('-j, --json', 'Dump job result information gleaned from eventlog to stdout')
    .argument('<ids...>')
    .action((texts: string[], o: { verbose: number; exceptionExitCode: string; json?: boolean }) => {
      const ids = texts.map(jobid);
      const excCode = Number(o.exceptionExitCode);
      if (!/^\d+$/.test(o.exceptionExitCode) || excCode > 255) fail(`invalid --exception-exit-code: ${o.exceptionExitCode}`);
      action = () => withHandle((h) => status(h, ids, texts, excCode, o.verbose, o.json === true));
    });

  p.command('stats')
    .description('Print the instance\'s job counts as JSON')
    .action(() => {
      action = () => withHandle(async (h) => {
        process.stdout.write(`${JSON.stringify(await stats(h))}\n`);
        return 0;
      });
    });

  p.command('purge')
    .description('Purge the oldest inactive jobs, or the jobs named, from the job table and the KVS')
    .option('--age-limit <FSD>', 'Purge jobs that became inactive longer ago than FSD')
    .option('--num-limit <N>', 'Purge the oldest inactive jobs beyond the newest N')
    .option('--batch <N>', 'Purge at most N jobs a request', '50')
    .option('--force', 'Purge: without it, only say how many would go')
    .argument('[ids...]')
    .action((texts: string[], o: { ageLimit?: string; numLimit?: string; batch: string; force?: boolean }) => {
      const batch = Number(o.batch);
      if (!Number.isInteger(batch) || batch < 1 || batch > PURGE_BATCH_MAX) fail(`batch must be >= 1 and <= ${PURGE_BATCH_MAX}`);
      const numLimit = o.numLimit === undefined ? undefined : Number(o.numLimit);
      if (numLimit !== undefined && !(Number.isInteger(numLimit) && numLimit >= 0)) fail('num limit must be >= 0');
      let ageLimit: number | undefined;
      try {
        ageLimit = o.ageLimit === undefined ? undefined : parseFSD(o.ageLimit);
      } catch (err) {
        fail(`--age-limit: ${(err as Error).message}`);
      }
      const ids = texts.map(jobid);
      const force = o.force === true;
      action = () => withHandle(async (h) => {
        const n = ids.length > 0 ? await purgeIds(h, ids, force) : await purge(h, { ageLimit, numLimit, batch }, force);
        process.stdout.write(force ? `purged ${n} inactive jobs\n` : `use --force to purge ${n} inactive jobs\n`);
        return 0;
      });
    });

  p.command('last')
    .description('Print the most recently submitted job id(s)')
    .argument('[N|SLICE]', 'how many, or a Python slice of the newest-first list ([:1] by default)')
    .action((arg: string | undefined) => {
      let slice = arg ?? '[:1]';
      if (!slice.includes('[')) {
        if (!/^-?\d+$/.test(slice)) fail(`invalid argument: ${slice} (give N or a slice such as [:3])`);
        slice = `[:${slice}]`;
      }
      action = () => withHandle(async (h) => {
        const ids = await last(h, slice);
        if (ids.length === 0) fail('job history is empty');
        process.stdout.write(ids.map((id) => `${encodeFluid(id, 'f58')}\n`).join(''));
        return 0;
      });
    });

  p.command('taskmap')
    .description('Print a job\'s task map (RFC 34), or what it says of a node or a task')
    .option('--taskids <NODEID>', 'Print an idset of the tasks node NODEID runs')
    .option('--ntasks <NODEID>', 'Print how many tasks node NODEID runs')
    .option('--nodeid <TASKID>', 'Print the node id that runs task TASKID')
    .option('--hostname <TASKID>', 'Print the host that runs task TASKID')
    .option('--to <FORMAT>', 'Print the task map as raw, pmi or multiline')
    .argument('<id|taskmap>')
    .action((target: string, o: TaskmapOpts) => {
      action = async () => {
        let handle: Flux | undefined;
        try {
          process.stdout.write(await taskmap(async () => (handle ??= await Flux.open()), target, o));
        } finally {
          handle?.close();
        }
        return 0;
      };
    });

  p.command('timeleft')
    .description('Print the whole seconds left in a job\'s time limit (this job\'s without an id)')
    .option('-H, --human', 'Print it as a Flux Standard Duration')
    .argument('[id]')
    .action((target: string | undefined, o: { human?: boolean }) => {
      action = () => withHandle(async (h) => {
        process.stdout.write(await timeleft(h, target, o.human === true));
        return 0;
      });
    });

  p.command('eventlog')
    .description('Display eventlog for a job')
    .option('-f, --format <FORMAT>', 'Specify output format: text, json', 'text')
    .option('-T, --time-format <FORMAT>', 'Specify time format: raw, iso, offset', 'raw')
    .option('-H, --human', 'Display human-readable output')
    .option('-L, --color <WHEN>', 'Colorize output when supported; WHEN can be always, never, or auto', 'auto')
    .option('-p, --path <PATH>', 'Specify alternate eventlog path suffix (e.g. "exec", "output")', 'eventlog')
    .argument('<id>')
    .action((text: string, o: { format: string; timeFormat: string; human?: boolean; color: string; path: string }) => {
      const id = jobid(text);
      if (o.format !== 'text' && o.format !== 'json') fail(`invalid format type '${o.format}'`);
      if (!['raw', 'iso', 'offset'].includes(o.timeFormat)) fail(`invalid time format '${o.timeFormat}'`);
      const path = EVENTLOG_PATHS[o.path] ?? o.path;
      const fmt = new EventlogFormatter({
        unformatted: o.format === 'json', human: o.human, time: o.timeFormat as 'raw', color: colorFor(o.color, process.stdout.isTTY === true),
      });
      action = () => withHandle(async (h) => {
        await known(h, id, text);
        let value: Buffer;
        try {
          value = await lookup(h, id, path);
        } catch (err) {
          if (err instanceof FluxError && err.errno === ENOENT) return fail(`eventlog path ${o.path} not found`);
          throw err;
        }
        process.stdout.write(decodeEventlog(value).map((e) => fmt.format(e)).join(''));
        return 0;
      });
    });

  p.command('wait-event')
    .description('Wait for an event')
    .option('-t, --timeout <SECONDS>', 'timeout after SECONDS')
    .option('-q, --quiet', 'Do not output matched event')
    .option('-v, --verbose', 'Output all events before matched event')
    .option('-m, --match-context <KEY=VAL>', 'Match only an event whose context has KEY set to VAL')
    .option('-p, --path <PATH>', 'Specify alternate eventlog path suffix (e.g. "exec", "output")', 'eventlog')
    .argument('<id>')
    .argument('<event>')
    .action((text: string, name: string, o: { timeout?: string; quiet?: boolean; verbose?: boolean; matchContext?: string; path: string }) => {
      if (o.matchContext !== undefined && !/^[^=]+=/.test(o.matchContext)) fail(`invalid --match-context: ${o.matchContext} (KEY=VAL)`);
      const id = jobid(text);
      const path = EVENTLOG_PATHS[o.path] ?? o.path;
      action = () => withHandle((h) => waitEvent(h, id, path, name, o));
    });

  p.command('info')
    .description('Display info for a job')
    .option('-o, --original', 'For key jobspec, the jobspec as submitted (from J)')
    .option('-b, --base', 'For key jobspec or R, the value without the updates flux update made')
    .argument('<id>')
    .argument('<keys...>')
    .action((text: string, keys: string[], o: { original?: boolean; base?: boolean }) => {
      if (o.original && (keys.length !== 1 || keys[0] !== 'jobspec')) fail('--original works only with the jobspec key');
      if (o.original && o.base) fail('--original and --base cannot be used together');
      const id = jobid(text);
      action = () => withHandle(async (h) => {
        await known(h, id, text).catch((err: unknown) => {
          // another user's job is there to see, only not to this user: say so, as `job eventlog` does
          if (err instanceof FluxError && err.errno === EPERM) throw err;
          fail('invalid job id');
        });
        for (const key of keys) {
          try {
            const v = o.original
              ? Buffer.from(JSON.stringify(decodeJ((await lookup(h, id, 'J')).toString('utf8')).jobspec))
              : await lookup(h, id, key, { current: !o.base });
            process.stdout.write(v.toString('utf8').endsWith('\n') ? v : Buffer.concat([v, Buffer.from('\n')]));
          } catch (err) {
            if (err instanceof FluxError && err.errno === ENOENT) fail(`${o.original ? 'J' : key}: key not found`);
            throw err;
          }
        }
        return 0;
      });
    });

  p.command('id')
    .description('Convert jobid(s) to another form')
    .option('-t, --to <TYPE>', 'Convert jobid to TYPE: dec, kvs, hex, dothex, words, f58, f58plain, emoji', 'dec')
    .argument('[ids...]')
    .action((ids: string[], o: { to: string }) => {
      const types = ['dec', 'kvs', 'hex', 'dothex', 'words', 'f58', 'f58plain', 'emoji'];
      if (!types.includes(o.to)) fail(`Unknown to=${o.to}`);
      action = async () => {
        const inputs = ids.length > 0 ? ids : readFileSync(0, 'utf8').split('\n').filter((l) => l.trim().length > 0);
        if (inputs.length === 0) return 1;
        for (const src of inputs) {
          let id: number;
          try {
            id = parseJobId(src);
          } catch {
            return fail(`${src}: malformed input`);
          }
          process.stdout.write(`${encodeFluid(id, o.to as FluidEncoding)}\n`);
        }
        return 0;
      };
    });

  try {
    return await runChosen(p, args, () => action);
  } catch (err) {
    // also an argument refused while the subcommand's options were read
    if (!(err instanceof Exit)) throw err;
    process.stderr.write(err.text);
    return err.code;
  }
}

async function waitOne(h: Flux, text: string | undefined): Promise<number> {
  const id = text === undefined ? JOBID_ANY : jobid(text);
  let r;
  try {
    r = await wait(h, id);
  } catch (err) {
    return fail((err as Error).message, err instanceof FluxError && err.errno === ECHILD ? 2 : 1);
  }
  if (text === undefined) process.stdout.write(`${encodeFluid(r.id, 'f58')}\n`);
  if (!r.success) fail(r.errstr ?? 'job failed');
  return 0;
}

async function waitAll(h: Flux, verbose: boolean): Promise<number> {
  let rc = 0;
  for (;;) {
    let r;
    try {
      r = await wait(h, JOBID_ANY);
    } catch (err) {
      if (err instanceof FluxError && err.errno === ECHILD) return rc;
      throw err;
    }
    const f58 = encodeFluid(r.id, 'f58');
    if (!r.success) {
      process.stderr.write(`${f58}: ${r.errstr ?? 'job failed'}\n`);
      rc = 1;
    } else if (verbose) {
      process.stderr.write(`${f58}: job completed successfully\n`);
    }
  }
}

/** -m KEY=VAL: the event's context holds KEY, and its value written out (a string as it is) is VAL */
function contextMatches(ctx: Record<string, unknown> | undefined, kv: string | undefined): boolean {
  if (kv === undefined) return true;
  const eq = kv.indexOf('=');
  const key = kv.slice(0, eq);
  if (ctx === undefined || !Object.hasOwn(ctx, key)) return false;
  const v = ctx[key];
  return (typeof v === 'string' ? v : JSON.stringify(v)) === kv.slice(eq + 1);
}

async function waitEvent(
  h: Flux, id: number, path: string, name: string, o: { timeout?: string; quiet?: boolean; verbose?: boolean; matchContext?: string },
): Promise<number> {
  const fmt = new EventlogFormatter({});
  let matched = false;
  const w = watchEventlog(h, id, path, (ev) => {
    const line = fmt.format(decodeEventlog(Buffer.from(`${JSON.stringify(ev)}\n`))[0]!);
    if (ev.name === name && contextMatches(ev.context, o.matchContext)) {
      matched = true;
      if (!o.quiet) process.stdout.write(line);
      return false;
    }
    if (o.verbose) process.stdout.write(line);
    return true;
  });
  let timer: NodeJS.Timeout | undefined;
  if (o.timeout !== undefined) {
    const secs = Number(o.timeout);
    if (!(secs >= 0)) fail(`invalid timeout ${o.timeout}`);
    timer = setTimeout(() => w.cancel(), secs * 1000);
  }
  try {
    await w.done;
  } catch (err) {
    if (err instanceof FluxError && err.errno === ENOENT) fail(`job ${encodeFluid(id, 'f58')} not found`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  if (!matched) fail(o.timeout !== undefined ? `wait-event timeout on event '${name}'` : `event '${name}' never received`);
  return 0;
}


/** flux job status: every job's end awaited, then the largest exit code (an exception's is -e's) */
async function status(h: Flux, ids: number[], texts: string[], excCode: number, verbose: number, json: boolean): Promise<number> {
  if (verbose > 0 && ids.length > 1) process.stderr.write(`flux-job: fetching status for ${ids.length} jobs\n`);
  const results = await Promise.all(ids.map((id, i) => result(h, id).catch((err: unknown): never => {
    if (err instanceof FluxError && err.errno === ENOENT) fail(`${texts[i]}: No such job`);
    throw err;
  })));
  if (verbose > 0 && ids.length > 1) process.stderr.write('flux-job: all done.\n');
  let rc = 0;
  results.forEach((r: JobResult, i) => {
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    const code = r.waitstatus === undefined ? 0 : exitCodeOf(r.waitstatus);
    const fatal = r.exception_occurred && r.exception_severity === 0;
    rc = Math.max(rc, code, fatal ? excCode : 0);
    if (verbose === 0) return;
    const sig = (r.waitstatus ?? 0) & 0x7f;
    if (sig !== 0) process.stderr.write(`flux-job: ${texts[i]}: job shell died by signal ${sig}\n`);
    else if (verbose > 1 || code !== 0) {
      process.stderr.write(fatal ? `flux-job: ${texts[i]}: exception type=${r.exception_type}\n` : `flux-job: ${texts[i]}: exited with exit code ${code}\n`);
    }
  });
  return rc;
}
