import { readFileSync } from 'node:fs';
import { Flux } from '../api/handle.js';
import { appendLog } from '../api/log.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { formatEntry, severityFromName, nowMicros } from '../core/format/logline.js';
import { program, parse } from './common.js';

/** The RFC 5424 line flux_log would make; LOG_USER contributes 0 to the facility bits. */
export function logLine(opts: {
  severity: number; appname: string; rank: number; timeUs: number; pid: number; message: string;
}): string {
  return formatEntry({
    severity: opts.severity, facility: 0, timeUs: opts.timeUs, rank: String(opts.rank), appname: opts.appname,
    procid: String(opts.pid), msgid: '', msg: opts.message,
  });
}

export async function run(args: string[]): Promise<number> {
  const p = program('logger', 'Create a Flux log entry')
    .option('-s, --severity <severity>', 'emerg, alert, crit, err, warning, notice, info, debug (or 0-7)', 'info')
    .option('-n, --appname <name>', 'the application name the entry carries', 'logger')
    .argument('[message...]', 'the message (words are joined with spaces); without one, stdin is read');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<{ severity: string; appname: string }>();
  const severity = severityFromName(o.severity);
  if (severity === undefined) throw new FluxError(EINVAL, `invalid severity "${o.severity}"`);
  // as flux-core's: no words means the message is all of stdin, less the newline that ends it
  const message = p.args.length > 0 ? p.args.join(' ') : readFileSync(0, 'utf8').replace(/[\r\n]+$/, '');
  const h = await Flux.open();
  try {
    const rank = await h.getRank();
    const line = logLine({
      severity, appname: o.appname, rank, timeUs: nowMicros(), pid: process.pid, message,
    });
    appendLog(h, line);
    return 0;
  } finally {
    h.close();
  }
}
