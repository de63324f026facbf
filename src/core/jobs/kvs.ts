// Where a job lives in the KVS (RFC 16: job.<dothex>.*) and its RFC 18 eventlogs' lines: what the job services
// write (job-ops.ts makes the KVS ops) and what clients read. It imports nothing of the KVS's own code, which
// every `flux run` would load for nothing.
import { encodeFluid } from './fluid.js';
import { FluxError, EPROTO } from '../errors.js';

/** an RFC 18 eventlog entry as plain JSON */
export interface JobEvent {
  timestamp: number;
  name: string;
  context?: Record<string, unknown>;
}

export const EVENTLOG = 'eventlog';
export const EXEC_EVENTLOG = 'guest.exec.eventlog';
export const OUTPUT_EVENTLOG = 'guest.output';

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
