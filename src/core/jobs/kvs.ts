// Where a job lives in the KVS (RFC 16: job.<dothex>.*) and its RFC 18 eventlogs' lines: what the job services
// write (job-ops.ts makes the KVS ops) and what clients read. It imports nothing of the KVS's own code, which
// every `flux run` would load for nothing.
import { encodeFluid } from './fluid.js';
import { FluxError, EPROTO } from '../errors.js';
import { parseIdset } from '../resource/idset.js';

/** an RFC 18 eventlog entry as plain JSON */
export interface JobEvent {
  timestamp: number;
  name: string;
  context?: Record<string, unknown>;
}

export const EVENTLOG = 'eventlog';
export const EXEC_EVENTLOG = 'guest.exec.eventlog';
export const OUTPUT_EVENTLOG = 'guest.output';
/** job-info.lookup's flags (flux-core's FLUX_JOB_LOOKUP_*): jobspec and R answered as objects; with their updates */
export const LOOKUP_JSON_DECODE = 1;
export const LOOKUP_CURRENT = 2;

/** the job's directory key, e.g. job.0000.0004.b200.0000 */
export function jobDir(id: number): string {
  return `job.${encodeFluid(id, 'dothex')}`;
}

export function jobKey(id: number, path: string): string {
  return `${jobDir(id)}.${path}`;
}

/** one RFC 18 eventlog line, newline included; members in flux-core's order */
export function eventlogLine(timestamp: number, name: string, context?: Record<string, unknown>): string {
  return context === undefined
    ? `${JSON.stringify({ timestamp, name })}\n`
    : `${JSON.stringify({ timestamp, name, context })}\n`;
}

/** the whole lines of an eventlog's bytes, parsed; what follows the last newline is not an entry yet */
export function parseEventlog(text: string): JobEvent[] {
  const out: JobEvent[] = [];
  for (const line of text.split('\n').slice(0, -1)) {
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      throw new FluxError(EPROTO, `malformed eventlog entry: ${line.slice(0, 80)}`);
    }
    const o = e as Partial<JobEvent> | null;
    if (typeof o !== 'object' || o === null || typeof o.name !== 'string' || typeof o.timestamp !== 'number') {
      throw new FluxError(EPROTO, `malformed eventlog entry: ${line.slice(0, 80)}`);
    }
    out.push(o as JobEvent);
  }
  return out;
}

/**
 * The streams of an RFC 24 output eventlog: the header says how many there are; each ends with its eof, or with a
 * redirect to a file, after which nothing more of it comes through the eventlog.
 */
export class OutputStreams {
  private expected: number | undefined;
  private ended = 0;

  /** takes one entry of the eventlog; true once every stream the header counted has ended */
  take(e: JobEvent): boolean {
    const c = e.context ?? {};
    if (e.name === 'header') {
      this.expected = Object.values((c.count ?? {}) as Record<string, unknown>).reduce<number>((n, v) => n + (typeof v === 'number' ? v : 0), 0);
    } else if (e.name === 'data' && c.eof === true) {
      this.ended++;
    } else if (e.name === 'redirect' && typeof c.rank === 'string') {
      this.ended += parseIdset(c.rank).length;
    }
    return this.done;
  }

  get done(): boolean {
    return this.expected !== undefined && this.ended >= this.expected;
  }
}
