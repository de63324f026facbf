import { Flux } from '../api/handle.js';
import { FluxError, EPROTO } from '../core/errors.js';
import { payloadJson } from '../core/message.js';
import { parseSeq } from './event.js';
import { program, parse } from './common.js';

export interface Row {
  seq: number;
  ref: string;
  /** seconds since the epoch */
  time: number;
  topic: string;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  head: { seq: number; ref: string | null };
  checkpoints: number;
  firstBad?: { seq: number; reason: string };
}

/** rows asked for per journal.list */
const PAGE = 1000;
/** what follow pads to, not knowing the rows to come */
const FOLLOW_WIDTHS: Widths = { seq: 6, topic: 32 };

export interface Widths {
  seq: number;
  topic: number;
}

export const isoTime = (t: number) => new Date(Math.round(t * 1000)).toISOString();

export function widthsOf(rows: Row[], min: Widths = { seq: 3, topic: 5 }): Widths {
  let { seq, topic } = min;
  for (const r of rows) {
    seq = Math.max(seq, String(r.seq).length);
    topic = Math.max(topic, r.topic.length);
  }
  return { seq, topic };
}

export function headerLine(w: Widths): string {
  return `${'SEQ'.padStart(w.seq)}  ${'TIME'.padEnd(24)}  ${'TOPIC'.padEnd(w.topic)}  REF\n`;
}

export function rowLine(r: Row, w: Widths): string {
  return `${String(r.seq).padStart(w.seq)}  ${isoTime(r.time)}  ${r.topic.padEnd(w.topic)}  ${r.ref}\n`;
}

export const jsonLine = (r: Row) => `${JSON.stringify({ seq: r.seq, time: r.time, topic: r.topic, ref: r.ref })}\n`;

export function formatList(rows: Row[]): string {
  const w = widthsOf(rows);
  return headerLine(w) + rows.map((r) => rowLine(r, w)).join('');
}

const entries = (n: number) => `${n} ${n === 1 ? 'entry' : 'entries'}`;

/** the report line for a journal that verified; a failed one is reported by failureLine */
export function verifyLine(v: VerifyResult): string {
  return `journal: ${entries(v.checked)} verified, chain intact, head ${v.head.seq} ${v.head.ref ?? '-'}, `
    + `${v.checkpoints} checkpoint${v.checkpoints === 1 ? '' : 's'}\n`;
}

export function failureLine(v: VerifyResult): string {
  const bad = v.firstBad;
  return bad
    ? `flux-journal: verify failed at seq ${bad.seq}: ${bad.reason}\n`
    : `flux-journal: verify failed after ${entries(v.checked)}\n`;
}

/** the fields people look for first come first, whatever order the entry was stored in */
const SHOW_ORDER = ['seq', 'time', 'topic', 'userid', 'rolemask', 'flags', 'prev', 'payload'];

export function showEntry(entry: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const k of SHOW_ORDER) if (Object.hasOwn(entry, k)) out[k] = entry[k];
  for (const k of Object.keys(entry)) if (!Object.hasOwn(out, k)) out[k] = entry[k];
  return `${JSON.stringify(out, null, 2)}\n`;
}

export interface CompactReport {
  first: number;
  dropped: number;
  deleted: number;
}

export function compactLine(r: CompactReport): string {
  return `journal: starts at ${r.first}; ${entries(r.dropped)} and ${r.deleted} object${r.deleted === 1 ? '' : 's'} dropped\n`;
}

export function headLine(h: { seq: number; ref: string | null; rank: number }): string {
  return `seq=${h.seq} ref=${h.ref ?? '-'} rank=${h.rank}\n`;
}

function rowOf(v: unknown): Row {
  const r = v as Partial<Row> | null;
  if (typeof r?.seq !== 'number' || typeof r.ref !== 'string' || typeof r.time !== 'number' || typeof r.topic !== 'string') {
    throw new FluxError(EPROTO, 'malformed journal row in the response');
  }
  return { seq: r.seq, ref: r.ref, time: r.time, topic: r.topic };
}

async function listRows(h: Flux, from: number | undefined, to: number | undefined, topic: string | undefined): Promise<Row[]> {
  const out: Row[] = [];
  // without --from the service starts at the journal's first kept entry
  for (let next = from; to === undefined || next === undefined || next <= to; ) {
    const body: Record<string, unknown> = { limit: PAGE };
    if (next !== undefined) body.from = next;
    if (to !== undefined) body.to = to;
    if (topic !== undefined) body.topic = topic;
    const r = await h.call('journal.list', body, { nodeid: 0 });
    const page = r.entries;
    if (!Array.isArray(page)) throw new FluxError(EPROTO, 'journal.list response has no entries');
    const rows = page.map(rowOf);
    out.push(...rows);
    // a guest's answer stops where the broker stopped looking, which it names
    if (typeof r.last === 'number') {
      next = r.last + 1;
      continue;
    }
    if (rows.length < PAGE) break;
    next = rows[rows.length - 1]!.seq + 1;
  }
  return out;
}

type Action =
  | { op: 'list'; from?: number; to?: number; topic?: string; json: boolean }
  | { op: 'show'; seq: number }
  | { op: 'follow'; from?: number; count?: number; json: boolean }
  | { op: 'verify' }
  | { op: 'compact'; before: number }
  | { op: 'head' };

const optSeq = (s: string | undefined, what: string) => (s === undefined ? undefined : parseSeq(s, what));

export async function run(args: string[]): Promise<number> {
  let action: Action | undefined;
  const p = program('journal', 'Inspect the instance journal').enablePositionalOptions();
  p.command('list')
    .description('List journal entries: SEQ, TIME (UTC), TOPIC, REF')
    .option('--from <seq>', 'first seq')
    .option('--to <seq>', 'last seq')
    .option('--topic <prefix>', 'only entries whose topic starts with prefix')
    .option('--json', 'one JSON object per line')
    .action((o: { from?: string; to?: string; topic?: string; json?: boolean }) => {
      action = { op: 'list', from: optSeq(o.from, '--from'), to: optSeq(o.to, '--to'), topic: o.topic, json: o.json === true };
    });
  p.command('show')
    .description('Print one entry as JSON')
    .argument('<seq>', 'entry seq')
    .action((seq: string) => {
      action = { op: 'show', seq: parseSeq(seq, 'SEQ') };
    });
  p.command('follow')
    .description('Print entries as they are appended')
    .option('--from <seq>', 'start with this past entry')
    .option('-c, --count <n>', 'exit after n entries (0: never)')
    .option('--json', 'one JSON object per line')
    .action((o: { from?: string; count?: string; json?: boolean }) => {
      action = { op: 'follow', from: optSeq(o.from, '--from'), count: optSeq(o.count, '--count'), json: o.json === true };
    });
  p.command('verify')
    .description('Check the hash chain and the signed checkpoints')
    .action(() => {
      action = { op: 'verify' };
    });
  p.command('compact')
    .description('Drop the entries below SEQ and the objects only they reach, keeping a snapshot at SEQ')
    .requiredOption('--before <seq>', 'the first entry to keep')
    .action((o: { before: string }) => {
      action = { op: 'compact', before: parseSeq(o.before, '--before') };
    });
  p.command('head')
    .description('Print the seq and ref of the newest entry the connected broker holds')
    .action(() => {
      action = { op: 'head' };
    });
  const code = parse(p, args);
  if (code !== undefined) return code;
  const a = action as Action;
  const h = await Flux.open();
  try {
    switch (a.op) {
      case 'list': {
        const rows = await listRows(h, a.from, a.to, a.topic);
        process.stdout.write(a.json ? rows.map(jsonLine).join('') : formatList(rows));
        return 0;
      }
      case 'show': {
        const { entry } = await h.call('journal.show', { seq: a.seq });
        if (typeof entry !== 'object' || entry === null) throw new FluxError(EPROTO, 'journal.show response has no entry');
        process.stdout.write(showEntry(entry as Record<string, unknown>));
        return 0;
      }
      case 'follow':
        await follow(h, a.from, a.count, a.json);
        return 0;
      case 'verify': {
        const v = (await h.call('journal.verify', undefined, { nodeid: 0 })) as unknown as VerifyResult;
        if (v.ok) {
          process.stdout.write(verifyLine(v));
          return 0;
        }
        process.stderr.write(failureLine(v));
        return 1;
      }
      case 'compact': {
        const r = (await h.call('journal.compact', { before: a.before }, { nodeid: 0 })) as unknown as CompactReport;
        process.stdout.write(compactLine(r));
        return 0;
      }
      case 'head': {
        const r = await h.call('journal.head');
        process.stdout.write(headLine(r as unknown as { seq: number; ref: string | null; rank: number }));
        return 0;
      }
    }
  } finally {
    h.close();
  }
}

async function follow(h: Flux, from: number | undefined, count: number | undefined, json: boolean): Promise<void> {
  if (!json) process.stdout.write(headerLine(FOLLOW_WIDTHS));
  let n = 0;
  let stoppedAt: number | undefined;
  const body = from === undefined ? {} : { from: Math.max(1, from) };
  await h.stream('journal.follow', body, {}, (m) => {
    const { entry, ref } = payloadJson(m) as { entry?: Partial<Row>; ref?: unknown };
    const row = rowOf({ ...entry, ref });
    process.stdout.write(json ? jsonLine(row) : rowLine(row, widthsOf([row], FOLLOW_WIDTHS)));
    if (!count || ++n < count) return true;
    stoppedAt = m.aux2;
    return false;
  });
  // the service streams until told to stop; its closing ENODATA then goes to a matchtag no longer listened to
  if (stoppedAt !== undefined) h.send('journal.cancel', { matchtag: stoppedAt });
}
