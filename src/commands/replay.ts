// flux replay: a stopped instance's journal, offline. A timeline of its entries; the KVS, the process table,
// the events or any projection as it was after a seq or a time; an interactive stepper; a full verification.
import { createInterface } from 'node:readline';
import { Replay, type ReplayState, type Progress } from '../api/replay.js';
import { KvsView, kvsKeys } from '../api/replay-kvs.js';
import { FluxError, EINVAL, EUCLEAN, strerror } from '../core/errors.js';
import { type Entry, ENTRY_RAW, decodeEntry, entryPayloadBytes } from '../core/journal/entry.js';
import { kvLine, linkText, windowWidth } from '../core/kvs/format.js';
import { KVS, PRIMARY, isKvsEntry } from '../projections/kvs.js';
import { jobItems } from '../projections/jobs.js';
import { parseTimeArg } from '../core/time/arg.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { type ProcTable, PROCTABLE, TOPIC_FINISHED, TOPIC_LOST, TOPIC_STARTED, records } from '../projections/proctable.js';
import { eventLine, parseSeq } from './event.js';
import { isoTime, showEntry } from './journal.js';
import { headerLine as psHeader, rowLine as psRow, jsonLine as psJson, ownerNames, readPasswd, toRow } from './ps.js';
import { program, parse, renamed } from './common.js';
import type { EntryJson } from './cron-format.js';
import type { JobListing } from '../api/jobs.js';
import type { JobRow } from './jobs-fields.js';

interface Opts {
  atSeq?: string;
  atTime?: string;
  from?: string;
  show?: string;
  namespace: string;
  all?: boolean;
  json?: boolean;
  verify?: boolean;
  step?: boolean;
}

const out = (s: string | Buffer) => process.stdout.write(s);

/** ISO-8601, or seconds since the epoch */
export function parseTime(text: string): number {
  const t = parseTimeArg(text);
  if (t === undefined) throw new FluxError(EINVAL, `--at-time: "${text}" is neither ISO-8601 nor seconds since the epoch`);
  return t;
}

/** a bar on stderr, only when stderr is a terminal */
function progressBar(label: string): { tick: Progress | undefined; done(): void } {
  if (!process.stderr.isTTY) return { tick: undefined, done: () => {} };
  let shown = false;
  return {
    tick: (done, total) => {
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const w = 30;
      const fill = Math.round(frac * w);
      process.stderr.write(`\r${label} [${'#'.repeat(fill)}${' '.repeat(w - fill)}] ${Math.floor(frac * 100)}% ${done}/${total}`);
      shown = true;
    },
    done: () => {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

// ---- the timeline ---------------------------------------------------------------------------------------------

const clip = (s: string, n = 72) => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

/** what an entry did, on one line */
export function summary(e: Entry): string {
  const p = (e.payload ?? {}) as Record<string, unknown>;
  if (isKvsEntry(e)) {
    const ns = String(p.namespace);
    if (e.topic.endsWith('-setroot')) {
      // the job events an entry carries say more than the eventlog keys they append to
      const jobs = jobItems(e);
      if (jobs.length > 0) {
        return clip(`${ns} version ${String(p.rootseq)}: ${jobs.map((j) => `${encodeFluid(j.id, 'f58')} ${j.event.name}`).join(', ')}`);
      }
      const keys = Array.isArray(p.keys) ? (p.keys as string[]) : [];
      // a commit of no ops (flux kvs sync) moves the version and nothing else
      return clip(`${ns} version ${String(p.rootseq)}: ${keys.length > 0 ? keys.join(', ') : 'no key changed'}`);
    }
    if (e.topic.endsWith('-created')) return `namespace ${ns} created, owner ${String(p.owner)}`;
    if (e.topic.endsWith('-removed')) return `namespace ${ns} removed`;
  }
  switch (e.topic) {
    case TOPIC_STARTED:
      return clip(`rank ${String(p.rank)} pid ${String(p.pid)} started: ${Array.isArray(p.cmd) ? p.cmd.join(' ') : ''}`);
    case TOPIC_FINISHED:
      return `rank ${String(p.rank)} pid ${String(p.pid)} finished, status ${String(p.status)}`;
    case TOPIC_LOST:
      return p.rank === undefined ? 'running processes lost on every rank' : `running processes lost on rank ${String(p.rank)}`;
  }
  if (e.flags & ENTRY_RAW) return `${Buffer.from(String(e.payload), 'base64').length} raw bytes`;
  return e.payload === null ? '' : clip(JSON.stringify(e.payload));
}

function timelineLine(e: Entry, ref: string, seqWidth: number, json: boolean): string {
  if (json) return `${JSON.stringify({ seq: e.seq, time: e.time, topic: e.topic, ref, summary: summary(e) })}\n`;
  return `${String(e.seq).padStart(seqWidth)}  ${isoTime(e.time)}  ${e.topic.padEnd(32)}  ${summary(e)}\n`;
}

function timeline(r: Replay, from: number, to: number, json: boolean): void {
  const w = Math.max(3, String(to).length);
  if (!json) out(`${'SEQ'.padStart(w)}  ${'TIME'.padEnd(24)}  ${'TOPIC'.padEnd(32)}  SUMMARY\n`);
  for (const e of entries(r, from, to)) out(timelineLine(e.entry, e.ref, w, json));
}

function* entries(r: Replay, from: number, to: number): Generator<{ entry: Entry; ref: string }> {
  for (const row of r.journal.scan(Math.max(from, r.first()))) {
    if (row.seq > to) return;
    if (row.blob === undefined) throw new FluxError(EUCLEAN, `journal entry ${row.seq} is missing or damaged${row.damage ? `: ${row.damage}` : ''}`);
    yield { entry: decodeEntry(row.blob), ref: row.ref };
  }
}

// ---- states -----------------------------------------------------------------------------------------------------

const outputWidth = () => windowWidth(undefined, process.stdout.isTTY ? process.stdout.columns : undefined, process.env.COLUMNS);

async function showKvs(r: Replay, s: ReplayState, ns: string, json: boolean): Promise<void> {
  const view = new KvsView(r);
  if (json) {
    const keys = await kvsKeys(view, s, ns);
    out(`${JSON.stringify({ seq: s.seq, namespace: ns, rootref: view.rootOf(s, ns), keys })}\n`);
    return;
  }
  const width = outputWidth();
  await view.walk(s, ns, (key, t) => {
    if (t.type === 'symlink') out(`${key} -> ${linkText({ ns: t.data.namespace, target: t.data.target })}\n`);
    else if (t.type === 'val') out(kvLine(key, Buffer.from(t.data, 'base64'), width));
    else out(`${key}.\n`);
  });
}

function showPs(r: Replay, s: ReplayState, all: boolean, json: boolean): void {
  const rows = records(r.stateOf<ProcTable>(s, PROCTABLE)).filter((p) => all || p.state === 'running').map(toRow);
  const owner = rows.length > 0 ? ownerNames(readPasswd()) : String;
  if (json) out(rows.map((p) => psJson(p, owner(p.userid))).join(''));
  else out(psHeader() + rows.map((p) => psRow(p, owner(p.userid))).join(''));
}

async function showCron(r: Replay, s: ReplayState, json: boolean): Promise<void> {
  const [{ CRONTABLE, entries: cronEntries }, { entryJson }, { listHeader, listRow }] = await Promise.all([
    import('../projections/cron.js'), import('../projections/cron-json.js'), import('./cron-format.js'),
  ]);
  // "LASTRUN ... ago" is told from the time of the entry the state is at, as `flux cron list --at-seq` does
  const now = s.seq > 0 ? r.entry(s.seq).entry.time : 0;
  const list = cronEntries(r.stateOf(s, CRONTABLE)).map((e) => entryJson(e, now));
  if (json) out(list.map((e) => `${JSON.stringify(e)}\n`).join(''));
  else out([listHeader(), ...list.map((e) => listRow(e as unknown as EntryJson, now))].map((l) => `${l}\n`).join(''));
}

async function showJobs(r: Replay, s: ReplayState, json: boolean): Promise<void> {
  const [{ JOBTABLE, allJobs }, { listing, listOrder }, fields, { OutputFormat }, { jsonLine }] = await Promise.all([
    import('../projections/jobs.js'), import('../projections/job-listing.js'), import('./jobs-fields.js'),
    import('../core/format/output.js'), import('./jobs.js'),
  ]);
  // running times are told from the time of the entry the state is at, as `flux jobs --at-seq` does
  const now = s.seq > 0 ? r.entry(s.seq).entry.time : 0;
  const jobs = allJobs(r.stateOf(s, JOBTABLE)).sort(listOrder).map((j) => listing(j) as unknown as JobListing);
  const username = jobs.length > 0 ? ownerNames(readPasswd()) : String;
  if (json) {
    out(jsonLine(jobs, username, now, false));
    return;
  }
  const lines = new OutputFormat<JobRow>(fields.DEFAULT_FORMAT, fields.JOB_FIELDS).render(jobs.map((job) => ({ job, username, now })));
  out(lines.map((l) => `${l}\n`).join(''));
}

function showEvents(r: Replay, from: number, to: number, json: boolean): void {
  for (const { entry: e } of entries(r, from, to)) {
    if (json) out(`${JSON.stringify({ seq: e.seq, time: e.time, topic: e.topic, payload: e.payload })}\n`);
    else out(eventLine(e.topic, entryPayloadBytes(e)));
  }
}

async function show(r: Replay, what: string, s: ReplayState, o: Opts, from: number): Promise<void> {
  switch (what) {
    case 'kvs':
      return showKvs(r, s, o.namespace, o.json === true);
    case 'ps':
      return showPs(r, s, o.all === true, o.json === true);
    case 'events':
      return showEvents(r, from, s.seq, o.json === true);
    case 'cron':
      return showCron(r, s, o.json === true);
    case 'jobs':
      return showJobs(r, s, o.json === true);
    default: {
      // any other projection the brokers run, as the JSON its snapshots hold
      const p = r.projections.find((x) => x.name === what);
      if (!p) {
        const names = ['kvs', 'ps', 'events', ...r.projections.map((x) => x.name).filter((n) => n !== KVS && n !== PROCTABLE)];
        throw new FluxError(EINVAL, `--show ${what}: expected one of ${names.join(', ')}`);
      }
      out(`${JSON.stringify(p.save(r.stateOf(s, what)))}\n`);
    }
  }
}

// ---- verify -------------------------------------------------------------------------------------------------------

async function verify(r: Replay, json: boolean): Promise<number> {
  const bar = progressBar('verify');
  const v = await r.verify(bar.tick).finally(() => bar.done());
  if (json) out(`${JSON.stringify(v)}\n`);
  if (!v.ok) {
    const bad = v.firstBad;
    process.stderr.write(bad ? `flux-replay: verify failed at seq ${bad.seq}: ${bad.reason}\n` : 'flux-replay: verify failed\n');
    return 1;
  }
  if (!json) {
    out(`replay: ${v.checked} entries verified, chain intact, ${v.roots} KVS roots recomputed, `
      + `${v.checkpoints} checkpoint signatures good, head ${v.head.seq} ${v.head.ref ?? '-'}\n`);
  }
  return 0;
}

// ---- step -----------------------------------------------------------------------------------------------------------

const STEP_HELP = 'next [N] | back [N] | jump SEQ | find TOPIC | print KEY | show | help | quit\n';

async function step(r: Replay, start: ReplayState, o: Opts): Promise<number> {
  const json = o.json === true;
  const head = r.head().seq;
  const w = Math.max(3, String(head).length);
  const view = new KvsView(r);
  let s = start;
  const say = (obj: Record<string, unknown>, text: string) => out(json ? `${JSON.stringify(obj)}\n` : text);
  const where = () => {
    if (s.seq === 0) return say({ seq: 0 }, 'at seq 0, before the first entry\n');
    const e = r.entry(s.seq);
    say({ seq: s.seq, time: e.entry.time, topic: e.entry.topic, ref: e.ref, summary: summary(e.entry) }, timelineLine(e.entry, e.ref, w, false));
  };
  const goTo = (seq: number) => {
    if (seq < 0 || seq > head) throw new FluxError(EINVAL, `seq ${seq} is outside the journal (0..${head})`);
    if (seq === s.seq + 1) {
      const e = r.entry(seq);
      s = r.apply(s, e.entry, e.ref);
    } else if (seq !== s.seq) {
      s = r.stateAt(seq);
    }
    where();
  };
  const value = async (st: ReplayState, key: string): Promise<string> => {
    try {
      const t = await view.lookup(st, o.namespace, key, 0);
      return t.type === 'val' ? Buffer.from(t.data, 'base64').toString('utf8') : '(directory)';
    } catch (err) {
      if (err instanceof FluxError && (err.errno === 2 || err.errno === 21)) return err.errno === 2 ? '(none)' : '(directory)';
      throw err;
    }
  };
  const changes = async () => {
    if (s.seq === 0) return say({ seq: 0, changes: [] }, 'nothing: at seq 0, before the first entry\n');
    const { entry } = r.entry(s.seq);
    const p = entry.payload as { namespace?: unknown; keys?: unknown };
    if (isKvsEntry(entry) && entry.topic.endsWith('-setroot') && Array.isArray(p.keys) && p.namespace === o.namespace) {
      const before = r.stateAt(s.seq - 1);
      const changed: Array<{ key: string; old: string; new: string }> = [];
      for (const key of p.keys as string[]) changed.push({ key, old: await value(before, key), new: await value(s, key) });
      say({ seq: s.seq, changes: changed }, changed.map((c) => `${c.key}: ${c.old} -> ${c.new}\n`).join(''));
      return;
    }
    say({ seq: s.seq, entry }, showEntry(entry as unknown as Record<string, unknown>));
  };
  const commands: Record<string, (arg: string) => Promise<boolean | void> | boolean | void> = {
    next: (a) => goTo(s.seq + (a ? parseSeq(a, 'next') : 1)),
    back: (a) => goTo(s.seq - (a ? parseSeq(a, 'back') : 1)),
    jump: (a) => goTo(parseSeq(a, 'jump')),
    find: (a) => {
      if (!a) throw new FluxError(EINVAL, 'find: which topic?');
      for (const row of r.journal.scan(s.seq + 1)) {
        if (row.topic.startsWith(a)) return goTo(row.seq);
      }
      throw new FluxError(EINVAL, `find: no entry after seq ${s.seq} has a topic starting with ${a}`);
    },
    print: async (a) => {
      if (!a) throw new FluxError(EINVAL, 'print: which key?');
      const t = await view.lookup(s, o.namespace, a, 0);
      const v = t.type === 'val' ? Buffer.from(t.data, 'base64').toString('utf8') : '';
      say({ seq: s.seq, key: a, value: v }, `${v}\n`);
    },
    show: () => changes(),
    help: () => void out(STEP_HELP),
    quit: () => true,
  };
  const alias: Record<string, string> = { n: 'next', b: 'back', j: 'jump', f: 'find', p: 'print', s: 'show', q: 'quit', h: 'help', '?': 'help' };
  where();
  const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
  const prompt = () => {
    if (process.stdin.isTTY) process.stdout.write('replay> ');
  };
  prompt();
  let failed = false;
  for await (const line of rl) {
    const [word = '', ...rest] = line.trim().split(/\s+/);
    if (word === '') {
      prompt();
      continue;
    }
    const fn = commands[alias[word] ?? word];
    try {
      if (!fn) throw new FluxError(EINVAL, `unknown command "${word}": ${STEP_HELP.trim()}`);
      if ((await fn(rest.join(' '))) === true) break;
    } catch (err) {
      failed = true;
      const msg = err instanceof FluxError ? (err.explicit ? err.message : strerror(err.errno)) : String(err);
      process.stderr.write(`flux-replay: ${word}${rest.length > 0 ? ` ${rest.join(' ')}` : ''}: ${msg}\n`);
    }
    prompt();
  }
  rl.close();
  // piped commands that failed make the run fail, so a script notices
  return failed && !process.stdin.isTTY ? 1 : 0;
}

// ---- main ---------------------------------------------------------------------------------------------------------

export async function run(args: string[]): Promise<number> {
  const p = program('replay', 'Replay the journal of a stopped instance from its statedir')
    .argument('<path>', 'statedir or content.sqlite')
    .option('--at-seq <seq>', 'stop after this entry')
    .option('--at-time <time>', 'stop after the last entry at or before this time (ISO-8601 or seconds since the epoch)')
    .option('--from <seq>', 'the timeline (and --show events) start at this entry')
    .option('--show <what>', 'print the state after the last entry: kvs, ps, events, cron, jobs, or another projection')
    .option('-N, --namespace <ns>', 'the KVS namespace --show kvs, print and show use', PRIMARY)
    .option('-a, --all', '--show ps: also processes that have exited')
    .option('--json', 'JSON output')
    .option('--verify', 'check the hash chain, every checkpoint signature and every KVS root')
    .option('--step', 'step through the journal with commands read from stdin');
  renamed(renamed(p, '--to <seq>', '--at-seq'), '--to-time <time>', '--at-time');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<Opts>();
  const path = p.args[0]!;
  if (o.atSeq !== undefined && o.atTime !== undefined) throw new FluxError(EINVAL, 'specify at most one of --at-seq and --at-time');
  const r = Replay.open(path);
  try {
    if (o.verify) return await verify(r, o.json === true);
    const head = r.head().seq;
    let to = head;
    if (o.atSeq !== undefined) to = parseSeq(o.atSeq, '--at-seq');
    if (o.atTime !== undefined) to = r.seqAtTime(parseTime(o.atTime));
    if (to > head) throw new FluxError(EINVAL, `--at-seq ${to}: the journal ends at seq ${head}`);
    const from = o.from === undefined ? r.first() : parseSeq(o.from, '--from');
    if (!o.show && !o.step) {
      timeline(r, from, to, o.json === true);
      return 0;
    }
    const bar = progressBar(`replay to ${to}`);
    let s: ReplayState;
    try {
      s = r.stateAt(o.step && o.atSeq === undefined && o.atTime === undefined ? r.first() - 1 : to, bar.tick);
    } finally {
      bar.done();
    }
    if (o.step) return await step(r, s, o);
    await show(r, o.show!, s, o, from);
    return 0;
  } finally {
    r.close();
  }
}
