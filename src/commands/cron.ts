// flux cron: create, list, stop, start, delete and dump the cron service's entries, and set its sync event.
// `at TIME` reads TIME with date(1) (`date -d TIME +%s`), so it takes what GNU date takes ("now + 1 minute",
// "tomorrow 10:00", …), as flux-core's does.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type Flux, withHandle } from '../api/handle.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { parseFSD } from '../core/time/fsd.js';
import { exactFields } from '../core/time/cronodate.js';
import { program, runChosen } from './common.js';
import {
  type CronRequest, asEntry as cronEntry, cronAct, cronCreate, cronList, cronRequest, cronSync,
} from '../api/cron.js';
import { type Past, type PastOpts, pastOf, pastOptions, stateAt } from './replay-at.js';
import {
  type EntryJson, listHeader, listRow, dumpLines, scheduledText, parseId, parseEntryOptions, parseTabLine, removedLine,
} from './cron-format.js';

interface CommonOpts {
  options: string[];
  preserveEnv?: boolean;
  workingDir?: string;
}

interface RepeatOpts extends CommonOpts {
  count?: string;
  name?: string;
}

const collect = (v: string, acc: string[]) => [...acc, v];

function duration(text: string, what: string): number {
  try {
    return parseFSD(text);
  } catch {
    throw new FluxError(EINVAL, `${what}: invalid duration "${text}"`);
  }
}

function count(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new FluxError(EINVAL, `${what}: expected a non-negative integer, not "${text}"`);
  return Number(text);
}

/** the options every creating subcommand takes */
function withCommon(c: Command): Command {
  return c
    .option('-o, --options <key=val,...>', 'timeout, rank, task-history-count, stop-on-failure (repeatable)', collect, [] as string[])
    .option('-E, --preserve-env', 'run the command in this environment (else the broker\'s)')
    .option('-d, --working-dir <dir>', 'run the command in this directory');
}

function withRepeat(c: Command): Command {
  return withCommon(c)
    .option('-c, --count <n>', 'run at most n times (0: no limit)')
    .option('-N, --name <name>', 'name the entry (default: the first word of the command)');
}

/** the cron.create request for a command line and a type's arguments */
function createRequest(type: CronRequest['type'], args: Record<string, unknown>, words: string[], o: RepeatOpts, repeat?: number): CronRequest {
  let environ: Record<string, string> | undefined;
  if (o.preserveEnv) {
    environ = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) environ[k] = v;
  }
  return cronRequest(type, args, words.join(' '), {
    options: parseEntryOptions(o.options, (s) => duration(s, '-o timeout')),
    name: o.name,
    repeat: repeat ?? (o.count !== undefined ? count(o.count, '--count') : undefined),
    cwd: o.workingDir,
    environ,
  });
}

/** seconds since the epoch for a date(1) time */
function dateSeconds(time: string): number {
  let out: string;
  try {
    out = execFileSync('date', ['-d', time, '+%s'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    throw new FluxError(EINVAL, `Unable to get time for "${time}"`);
  }
  return Number(out.trim());
}

function asEntry(r: Record<string, unknown>): EntryJson {
  return cronEntry(r) as unknown as EntryJson;
}

async function listEntries(h: Flux): Promise<EntryJson[]> {
  return (await cronList(h)) as unknown as EntryJson[];
}

/** the entries at a past point of the journal, through the projection the brokers run; times are told from there */
async function entriesAt(h: Flux, past: Past): Promise<{ entries: EntryJson[]; now: number }> {
  const [{ cronProjection, entries }, { entryJson }] = await Promise.all([
    import('../projections/cron.js'), import('../projections/cron-json.js'),
  ]);
  const { state, time } = await stateAt(h, past, cronProjection);
  return { entries: entries(state).map((e) => asEntry(entryJson(e, time))), now: time };
}

type Action = (h: Flux) => Promise<number>;

const say = (sub: string, text: string) => process.stdout.write(`${sub}: ${text}\n`);

function creating(sub: string, makeRequest: () => CronRequest, scheduled = false): Action {
  return async (h) => {
    const e = (await cronCreate(h, makeRequest())) as unknown as EntryJson;
    say(sub, scheduled ? scheduledText(e, Date.now() / 1000) : `cron-${e.id} created`);
    return 0;
  };
}

function readTab(file: string | undefined): string {
  try {
    return readFileSync(file ?? 0, 'utf8');
  } catch (err) {
    throw new FluxError(EINVAL, `${file ?? 'stdin'}: ${(err as Error).message}`);
  }
}

export async function run(args: string[]): Promise<number> {
  let action: Action | undefined;
  const p = program('cron', 'Schedule commands on intervals, events and dates').enablePositionalOptions();

  withRepeat(p.command('interval'))
    .description('Run COMMAND every INTERVAL (a duration: 30, 2.5s, 10m, 1h, 1d)')
    .option('-a, --after <time>', 'first run after this long (default: the interval)')
    .argument('<interval>').argument('<command...>')
    .passThroughOptions()
    .action((interval: string, words: string[], o: RepeatOpts & { after?: string }) => {
      action = creating('interval', () => {
        const a: Record<string, unknown> = { interval: duration(interval, 'interval') };
        if (o.after !== undefined) a.after = duration(o.after, '--after');
        return createRequest('interval', a, words, o);
      });
    });

  withRepeat(p.command('event'))
    .description('Run COMMAND on events with topic TOPIC')
    .option('-n, --nth <n>', 'run on every nth event')
    .option('-a, --after <n>', 'first run after n events (default: nth)')
    .option('-i, --min-interval <time>', 'at least this long between runs')
    .argument('<topic>').argument('<command...>')
    .passThroughOptions()
    .action((topic: string, words: string[], o: RepeatOpts & { nth?: string; after?: string; minInterval?: string }) => {
      action = creating('event', () => {
        const a: Record<string, unknown> = { topic };
        if (o.nth !== undefined) a.nth = count(o.nth, '--nth');
        if (o.after !== undefined) a.after = count(o.after, '--after');
        if (o.minInterval !== undefined) a.min_interval = duration(o.minInterval, '--min-interval');
        return createRequest('event', a, words, o);
      });
    });

  withCommon(p.command('tab'))
    .description('Create entries from crontab lines (min hour mday month(0-11) weekday(0-6) command) in FILE or stdin')
    .argument('[file]')
    .action((file: string | undefined, o: CommonOpts) => {
      action = async (h) => {
        const lines = readTab(file).split('\n').map(parseTabLine).filter((l) => l !== undefined);
        for (const l of lines) {
          await creating('tab', () => createRequest('datetime', l.fields, [l.command], o), true)(h);
        }
        return 0;
      };
    });

  withCommon(p.command('at'))
    .description('Run COMMAND once at TIME (anything date -d takes)')
    .argument('<time>').argument('<command...>')
    .passThroughOptions()
    .action((time: string, words: string[], o: CommonOpts) => {
      action = creating('at', () => {
        const t = dateSeconds(time);
        if (t <= Date.now() / 1000) throw new FluxError(EINVAL, `"${time}" is in the past`);
        return createRequest('datetime', exactFields(t), words, o, 1);
      }, true);
    });

  pastOptions(p.command('list').description('List cron entries'), 'the entries')
    .action((o: PastOpts) => {
      const at = pastOf(o);
      action = async (h) => {
        const past = at === undefined ? undefined : await entriesAt(h, at);
        const list = past?.entries ?? await listEntries(h);
        const now = past?.now ?? Date.now() / 1000;
        process.stdout.write([listHeader(), ...list.map((e) => listRow(e, now))].map((l) => `${l}\n`).join(''));
        return 0;
      };
    });

  // these three print without the subcommand's name in front, as flux-core's do
  const byId = (what: 'stop' | 'start' | 'delete', done: (e: EntryJson) => string) =>
    (id: string, o: { kill?: boolean }) => {
      action = async (h) => {
        const e = (await cronAct(h, what, parseId(id), { kill: o.kill })) as unknown as EntryJson;
        process.stdout.write(`${done(e)}\n`);
        return 0;
      };
    };
  p.command('stop').description('Stop a cron entry').argument('<id>')
    .action(byId('stop', (e) => `Stopped cron-${e.id}`));
  p.command('start').description('Start a stopped cron entry').argument('<id>')
    .action(byId('start', (e) => `Started cron-${e.id}`));
  p.command('delete').description('Delete a cron entry').argument('<id>')
    .option('-k, --kill', 'also kill its running tasks')
    .action(byId('delete', (e) => removedLine(e, Date.now() / 1000)));

  p.command('dump').description('Print every field of a cron entry as key = value').argument('<id>')
    .option('-k, --key <key>', 'print only this key\'s value')
    .action((id: string, o: { key?: string }) => {
      action = async (h) => {
        const want = parseId(id);
        const e = (await listEntries(h)).find((x) => x.id === want);
        if (!e) throw new FluxError(EINVAL, `cron-${want}: no such entry`);
        process.stdout.write(dumpLines(e, o.key).map((l) => `${l}\n`).join(''));
        return 0;
      };
    });

  p.command('sync').description('Hold tasks until the next event TOPIC (or show the sync setting)')
    .argument('[topic]')
    .option('-d, --disable', 'stop syncing to an event')
    .option('-e, --epsilon <time>', 'run at once when the sync event came at most this long ago')
    .action((topic: string | undefined, o: { disable?: boolean; epsilon?: string }) => {
      action = async (h) => {
        const r = await cronSync(h, {
          disable: o.disable, topic, epsilon: o.epsilon === undefined ? undefined : duration(o.epsilon, '--epsilon'),
        });
        if (r.sync_disabled === true) say('sync', 'sync disabled.');
        else say('sync', `sync to event "${String(r.sync_event)}" epsilon=${Number(r.sync_epsilon).toFixed(3)}s.`);
        return 0;
      };
    });

  return runChosen(p, args, () => (action === undefined ? undefined : () => withHandle(action!)));
}
