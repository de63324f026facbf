import { Flux } from '../api/handle.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { payloadString } from '../core/message.js';
import { parseEntry, isoLocalMicros, localOffsetMinutes, SEVERITY_NAMES, type LogEntry } from '../core/logline.js';
import { program, parse } from './common.js';

export interface DmesgFormat {
  /** `[Mon DD HH:MM]` once per minute, offsets in between */
  human?: boolean;
  /** with human: offsets from the previous entry rather than from the last full stamp */
  delta?: boolean;
  color?: boolean;
  /** minutes east of UTC for an instant; the local zone unless a test pins one */
  offsetMin?: (timeUs: number) => number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const RESET = '\x1b[0m';
const STAMP_COLOR = '\x1b[32m';

function severityColor(sev: number): string {
  if (sev <= 3) return '\x1b[1;31m';
  if (sev === 4) return '\x1b[1;33m';
  if (sev === 5) return '\x1b[1m';
  return '';
}

const paint = (on: boolean, code: string, text: string) => (on && code !== '' ? `${code}${text}${RESET}` : text);

/** Turns the ring's RFC 5424 entries into dmesg lines; keeps the state -H needs between lines. */
export class DmesgFormatter {
  private minuteKey: string | undefined;
  private baseUs = 0;
  private prevUs = 0;

  constructor(private readonly opts: DmesgFormat = {}) {}

  /** One output line (with its newline); a line that does not parse is printed as it came. */
  line(raw: string): string {
    const e = parseEntry(raw);
    if (!e) return `${raw}\n`;
    const color = this.opts.color === true;
    const stamp = paint(color, STAMP_COLOR, this.stamp(e));
    const sev = SEVERITY_NAMES[e.severity] ?? String(e.severity);
    const who = paint(color, severityColor(e.severity), `${e.appname}.${sev}[${e.rank}]:`);
    return `${stamp} ${who} ${e.msg}\n`;
  }

  private stamp(e: LogEntry): string {
    const offset = (this.opts.offsetMin ?? localOffsetMinutes)(e.timeUs);
    if (!this.opts.human) return isoLocalMicros(e.timeUs, offset);
    const local = new Date(Math.floor(e.timeUs / 1000) + offset * 60_000);
    const pad2 = (n: number) => String(n).padStart(2, '0');
    const day = `${MONTHS[local.getUTCMonth()]} ${pad2(local.getUTCDate())}`;
    const key = `${local.getUTCFullYear()} ${day} ${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}`;
    let text: string;
    if (key !== this.minuteKey) {
      this.minuteKey = key;
      this.baseUs = e.timeUs;
      text = `[${key.substring(5)}]`;
    } else {
      const d = (e.timeUs - (this.opts.delta ? this.prevUs : this.baseUs)) / 1e6;
      text = `[${d < 0 ? '-' : '+'}${Math.abs(d).toFixed(6).padStart(9, '0')}]`;
    }
    this.prevUs = e.timeUs;
    return text;
  }
}

export function colorWanted(when: string | boolean | undefined, isTTY: boolean): boolean {
  if (when === undefined || when === 'auto') return isTTY;
  if (when === true || when === 'always') return true;
  if (when === 'never') return false;
  throw new FluxError(EINVAL, `--color: expected always, never or auto, not "${String(when)}"`);
}

interface Opts {
  clear?: boolean;
  readClear?: boolean;
  follow?: boolean;
  new?: boolean;
  human?: boolean;
  delta?: boolean;
  color?: string | boolean;
}

export async function run(args: string[]): Promise<number> {
  const p = program('dmesg', 'Print or control the broker log ring buffer')
    .option('-C, --clear', 'clear the ring buffer')
    .option('-c, --read-clear', 'clear the ring buffer after printing it')
    .option('-f, --follow', 'keep printing new entries as they arrive')
    .option('-n, --new', 'only entries logged from now on')
    .option('-H, --human', 'human readable times')
    .option('-d, --delta', 'with --human, show the time between entries')
    .option('-L, --color [when]', 'colorize: always (when WHEN is left out), never or auto');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const o = p.opts<Opts>();
  const fmt = new DmesgFormatter({
    human: o.human, delta: o.delta, color: colorWanted(o.color, process.stdout.isTTY === true),
  });
  const h = await Flux.open();
  try {
    if (!o.clear) {
      await h.stream('log.dmesg', { follow: o.follow === true, nobacklog: o.new === true }, {}, (m) => {
        const line = payloadString(m);
        if (line !== undefined) process.stdout.write(fmt.line(line));
      });
    }
    if (o.clear || o.readClear) await h.rpc('log.clear');
    return 0;
  } finally {
    h.close();
  }
}
