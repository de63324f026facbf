// A cron entry as cron.create, cron.list and the other cron requests answer it (reference §9), and the next time
// an entry is due. Both read only the projected entry and the `now` they are given.
import { nextWakeup, parseCronodate } from '../core/time/cronodate.js';
import type { CronEntry } from './cron.js';

/** interval entries: seconds between runs, and before the first run after a start (the interval by default) */
export function intervalOf(e: CronEntry): { interval: number; after: number } {
  const interval = Number(e.args.interval);
  return { interval, after: e.args.after === undefined ? interval : Number(e.args.after) };
}

/** event entries: run on every nth event, the first time after `after` events (nth by default) */
export function eventArgsOf(e: CronEntry): { topic: string; nth: number; after: number; minInterval: number } {
  const nth = e.args.nth === undefined ? 1 : Number(e.args.nth);
  return {
    topic: String(e.args.topic),
    nth,
    after: e.args.after === undefined ? nth : Number(e.args.after),
    minInterval: e.args.min_interval === undefined ? 0 : Number(e.args.min_interval),
  };
}

/** true when the `count`-th event (from 1) is one an event entry runs on */
export function eventFires(count: number, nth: number, after: number): boolean {
  return count >= after && (count - after) % nth === 0;
}

/** when the entry is next due (seconds since the epoch); undefined for stopped and event entries */
export function nextWakeupOf(e: CronEntry, now: number): number | undefined {
  if (e.stopped) return undefined;
  if (e.type === 'interval') {
    const { interval, after } = intervalOf(e);
    const ranSinceStart = e.stats.count > 0 && e.stats.lastrun >= e.stats.starttime;
    // an interval of 0 runs once after a start
    if (ranSinceStart && interval === 0) return undefined;
    return ranSinceStart ? e.stats.lastrun + interval : e.stats.starttime + after;
  }
  if (e.type === 'datetime') return nextWakeup(parseCronodate(e.args as Record<string, string>), Math.max(now, e.stats.lastrun));
  return undefined;
}

export function entryJson(e: CronEntry, now: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: e.id, rank: e.rank, name: e.name, command: e.command, repeat: e.repeat, stopped: e.stopped, type: e.type,
  };
  if (e.timeout !== undefined) out.timeout = e.timeout;
  out.stats = { ...e.stats };
  const typedata: Record<string, unknown> = { ...e.args };
  if (e.type === 'interval') Object.assign(typedata, intervalOf(e));
  if (e.type === 'event') {
    const a = eventArgsOf(e);
    Object.assign(typedata, { nth: a.nth, after: a.after, min_interval: a.minInterval, counter: e.events });
  }
  const next = nextWakeupOf(e, now);
  if (next !== undefined) typedata.next_wakeup = next;
  out.typedata = typedata;
  out.tasks = e.tasks.map((t) => {
    const task: Record<string, unknown> = { ...t };
    if (t['start-time'] !== undefined) task['running-time'] = Math.round(((t['end-time'] ?? now) - t['start-time']) * 1e6) / 1e6;
    return task;
  });
  return out;
}
