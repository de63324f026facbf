import { Flux } from '../api/handle.js';
import { FluxError, EINVAL } from '../core/errors.js';
import { clearLog, dmesg } from '../api/log.js';
import { parseEntry, isoLocalMicros, localOffsetMinutes, SEVERITY_NAMES, twoDigits as two, type LogEntry } from '../core/format/logline.js';
import { formatFixed } from '../core/kvs/format-json.js';
import { BLUE, BOLD, GREEN, MONTHS, RED, RESET, REVERSE, YELLOW } from '../core/format/terminal.js';
import { program, parse } from './common.js';

export interface DmesgFormat {
  /** `[MonDD HH:MM]` at each new minute, `[  +S.ssssss]` offsets from it in between */
  human?: boolean;
  /** with human: offsets from the previous entry rather than from the minute's first */
  delta?: boolean;
  color?: boolean;
  /** minutes east of UTC for an instant; the local zone unless a test pins one */
  offsetMin?: (timeUs: number) => number;
}

/** flux-core's dmesg palette, by severity: emerg, alert, crit, err, warning, notice, info, debug */
const SEVERITY_COLORS = [REVERSE + RED, REVERSE + RED, BOLD + RED, RED, BOLD, '', '', BLUE];

/** Turns the ring's RFC 5424 entries into dmesg lines; keeps the state -H needs between lines. */
export class DmesgFormatter {
  private minuteKey: string | undefined;
  private lastUs = 0;

  constructor(private readonly opts: DmesgFormat = {}) {}

  private paint(code: string, text: string): string {
    return this.opts.color === true ? `${code}${text}${RESET}` : text;
  }

  /** One output line (with its newline); a line that does not parse is printed as it came. */
  line(raw: string): string {
    const e = parseEntry(raw);
    if (!e) return `${raw}\n`;
    const sev = SEVERITY_NAMES[e.severity] ?? String(e.severity);
    const who = this.paint(YELLOW, `${e.appname}.${sev}[${e.rank}]`);
    return `${this.stamp(e)} ${who}: ${this.paint(SEVERITY_COLORS[e.severity] ?? '', e.msg)}\n`;
  }

  private stamp(e: LogEntry): string {
    const offset = (this.opts.offsetMin ?? localOffsetMinutes)(e.timeUs);
    if (!this.opts.human) return this.paint(GREEN, isoLocalMicros(e.timeUs, offset));
    const local = new Date(Math.floor(e.timeUs / 1000) + offset * 60_000);
    const key = `${local.getUTCFullYear()} ${MONTHS[local.getUTCMonth()]}${two(local.getUTCDate())} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}`;
    if (key !== this.minuteKey) {
      this.minuteKey = key;
      this.lastUs = e.timeUs;
      return this.paint(BOLD + GREEN, `[${key.substring(key.indexOf(' ') + 1)}]`);
    }
    const d = (e.timeUs - this.lastUs) / 1e6;
    if (this.opts.delta) this.lastUs = e.timeUs;
    return this.paint(GREEN, `[${`${d < 0 ? '' : '+'}${formatFixed(d, 6)}`.padStart(11)}]`);
  }
}

export function colorWanted(when: string | boolean | undefined, isTTY: boolean): boolean {
  if (when === undefined || when === 'auto') return isTTY;
  if (when === true || when === 'always') return true;
  if (when === 'never') return false;
  throw new FluxError(EINVAL, `Invalid argument to --color: '${String(when)}'`);
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
    .option('-L, --color [when]', 'colorize: always (when WHEN is left out), never or auto')
    .argument('[free...]');
  const code = parse(p, args);
  if (code !== undefined) return code;
  if (p.args.length > 0) throw new FluxError(EINVAL, 'flux-dmesg accepts no free arguments');
  const o = p.opts<Opts>();
  if (o.delta && !o.human) throw new FluxError(EINVAL, '--delta can only be used with --human');
  const fmt = new DmesgFormatter({
    human: o.human, delta: o.delta, color: colorWanted(o.color, process.stdout.isTTY === true),
  });
  const h = await Flux.open();
  try {
    if (!o.clear) {
      await dmesg(h, { follow: o.follow, nobacklog: o.new }, (line) => process.stdout.write(fmt.line(line)));
    }
    if (o.clear || o.readClear) await clearLog(h);
    return 0;
  } finally {
    h.close();
  }
}
