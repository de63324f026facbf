// How flux cron prints entries (reference §9): the list table, dump's `key = value` lines, relative run times and
// the date a datetime entry is scheduled for. Pure: the time to measure from is given.
import { FluxError, EINVAL } from '../core/errors.js';
import { twoDigits as two } from '../core/format/logline.js';
import { MONTHS } from '../core/format/terminal.js';

/** a task as the cron service describes it */
export interface TaskJson {
  rank: number;
  pid?: number;
  state: string;
  status?: number;
  code?: number;
  rexec_errno?: number;
  timedout?: boolean;
  [key: string]: unknown;
}

/** an entry as the cron service describes it */
export interface EntryJson {
  id: number;
  name: string;
  command: string;
  repeat: number;
  stopped: boolean;
  type: string;
  stats: {
    ctime: number; starttime: number; lastrun: number; count: number; failcount: number; total: number; success: number;
    failure: number; deferred: number;
  };
  typedata: Record<string, unknown>;
  tasks: TaskJson[];
  [key: string]: unknown;
}

const right = (s: string, w: number) => s.padStart(w);
const left = (s: string, w: number) => s.padEnd(w);

/** one line in the layout "%6s %-15s %-8s %9s %18s  %-18s" */
function columns(c: [string, string, string, string, string, string]): string {
  return `${right(c[0], 6)} ${left(c[1], 15)} ${left(c[2], 8)} ${right(c[3], 9)} ${right(c[4], 18)}  ${left(c[5], 18)}`;
}

export function listHeader(): string {
  return columns(['ID', 'CMD/NAME', 'STATE', '#RUNS', 'LASTRUN', 'STATUS']);
}

/** how long ago a time was, in flux-core's words: "a second ago", "12 seconds ago", "1.5 hours ago", … */
export function relativeTime(seconds: number): string {
  if (seconds < 0) return 'in the future';
  if (seconds < 2) return 'a second ago';
  if (seconds < 90) return `${Math.floor(seconds)} seconds ago`;
  const minutes = seconds / 60;
  if (minutes < 2) return 'a minute ago';
  if (minutes < 90) return `${Math.floor(minutes)} minutes ago`;
  const hours = minutes / 60;
  if (hours < 36) return `${hours.toFixed(1)} hours ago`;
  const days = hours / 24;
  if (days < 14) return `${days.toFixed(1)} days ago`;
  const d = Math.floor(days);
  if (d < 70) return `${Math.floor((d + 3) / 7)} weeks ago`;
  if (d < 365) return `${Math.floor((d + 15) / 30)} months ago`;
  return `${(days / 365).toFixed(1)} years ago`;
}

/** a run time in flux-core's units: "3.250s", "1.500m", … and "12.34ms" below a second */
export function runTime(seconds: number): string {
  if (seconds > 86400) return `${(seconds / 86400).toFixed(3)}d`;
  if (seconds > 3600) return `${(seconds / 3600).toFixed(3)}h`;
  if (seconds > 60) return `${(seconds / 60).toFixed(3)}m`;
  if (seconds > 1) return `${seconds.toFixed(3)}s`;
  return `${(seconds * 1000).toFixed(2)}ms`;
}

/** the status column: the newest task's outcome */
export function taskStatus(t: TaskJson | undefined): string {
  if (!t) return '';
  if (t.state === 'Failed') return t.code === 127 ? 'Exec-Error' : `Failed:rc=${t.code ?? '?'}`;
  if (t.state === 'Exited') return 'Success';
  return t.state;
}

/** what `flux cron delete` says: the entry, and when its newest task ran and for how long, or that it still runs */
export function removedLine(e: EntryJson, now: number): string {
  const t = e.tasks[0];
  let extra = '';
  if (t) {
    const start = Number(t['start-time'] ?? t['create-time']);
    const end = t['end-time'];
    extra = typeof end === 'number'
      ? ` last ran ${relativeTime(now - end)} for ${runTime(end - start)}`
      : ` still running. Started ${relativeTime(now - start)}`;
  }
  return `Removed cron-${e.id}: ${e.name}${extra}`;
}

export function listRow(e: EntryJson, now: number): string {
  const runs = e.repeat > 0 ? `${e.stats.count}/${e.repeat}` : String(e.stats.count);
  const last = e.stats.count > 0 ? relativeTime(now - e.stats.lastrun) : 'None';
  return columns([String(e.id), e.name, e.stopped ? 'Stopped' : 'Active', runs, last, taskStatus(e.tasks[0])]);
}

/** strings quoted, objects as JSON, numbers and booleans bare */
function dumpValue(v: unknown): string {
  return typeof v === 'string' || (typeof v === 'object' && v !== null) ? JSON.stringify(v) : String(v);
}

/** `key = value` pairs: top-level keys, then stats.*, typedata.* and task.N.* (N from 1, newest first) */
export function dumpPairs(e: EntryJson): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(e)) {
    if (k === 'stats' || k === 'typedata') {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) out.push([`${k}.${k2}`, v2]);
    } else if (k === 'tasks') {
      e.tasks.forEach((t, i) => {
        for (const [k2, v2] of Object.entries(t)) out.push([`task.${i + 1}.${k2}`, v2]);
      });
    } else {
      out.push([k, v]);
    }
  }
  return out;
}

export function dumpLines(e: EntryJson, key?: string): string[] {
  const pairs = dumpPairs(e);
  if (key === undefined) return pairs.map(([k, v]) => `${k} = ${dumpValue(v)}`);
  const hit = pairs.find(([k]) => k === key);
  if (!hit) throw new FluxError(EINVAL, `cron-${e.id}: no key ${key}`);
  return [typeof hit[1] === 'string' ? hit[1] : dumpValue(hit[1])];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** local time as ctime(3) writes it: "Thu Nov 26 01:27:21 2026" */
export function ctime(t: number): string {
  const d = new Date(t * 1000);
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} `
    + `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** "cron-2 created: scheduled in 12.345s at <date>" for a datetime entry */
export function scheduledText(e: EntryJson, now: number): string {
  const next = e.typedata.next_wakeup;
  if (typeof next !== 'number') return `cron-${e.id} created`;
  return `cron-${e.id} created: scheduled in ${(next - now).toFixed(3)}s at ${ctime(next)}`;
}

/** "3" or "cron-3" */
export function parseId(text: string): number {
  const m = /^(?:cron-)?(\d+)$/.exec(text);
  if (!m || Number(m[1]) < 1) throw new FluxError(EINVAL, `invalid cron id "${text}"`);
  return Number(m[1]);
}

/** the -o options: timeout (a duration), rank, task-history-count, stop-on-failure */
export function parseEntryOptions(items: string[], parseDuration: (s: string) => number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kv of items.flatMap((s) => s.split(','))) {
    if (kv.length === 0) continue;
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq);
    const v = eq < 0 ? '' : kv.slice(eq + 1);
    if (k === 'timeout') out.timeout = parseDuration(v);
    else if (k === 'rank' || k === 'task-history-count' || k === 'stop-on-failure') {
      if (!/^\d+$/.test(v)) throw new FluxError(EINVAL, `-o ${k}: expected a non-negative integer, not "${v}"`);
      out[k] = Number(v);
    } else {
      throw new FluxError(EINVAL, `-o ${kv}: unknown option (timeout, rank, task-history-count, stop-on-failure)`);
    }
  }
  return out;
}

/** a crontab line: min hour mday month(0-11) weekday(0-6) command; undefined for blank and comment lines */
export function parseTabLine(line: string): { fields: Record<string, string>; command: string } | undefined {
  const t = line.trim();
  if (t.length === 0 || t.startsWith('#')) return undefined;
  const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.+)$/.exec(t);
  if (!m) throw new FluxError(EINVAL, `cannot parse crontab line "${t}": expected 5 fields and a command`);
  return {
    fields: { second: '0', minute: m[1]!, hour: m[2]!, mday: m[3]!, month: m[4]!, weekday: m[5]! },
    command: m[6]!,
  };
}
