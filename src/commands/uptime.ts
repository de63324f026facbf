// `flux uptime`: flux-core's one line, " HH:MM:SS STATE DURATION,  owner USER,  depth N,  size N" and
// ",  N offline" when brokers are missing.
import { withHandle } from '../api/handle.js';
import { uptime, type Uptime } from '../api/uptime.js';
import { formatDuration } from '../core/time/fsd.js';
import { twoDigits as two } from '../core/format/logline.js';
import { ownerNames, readPasswd } from './ps.js';
import { program, parse } from './common.js';

export function uptimeLine(u: Uptime, now: Date, userName: (uid: number) => string): string {
  const clock = `${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`;
  const offline = u.offline > 0 ? `,  ${u.offline} offline` : '';
  return ` ${clock} ${u.state} ${formatDuration(u.duration, 2)},  owner ${userName(u.owner)},  depth ${u.level},  size ${u.size}${offline}\n`;
}

export async function run(args: string[]): Promise<number> {
  const code = parse(program('uptime', 'Show how long this Flux instance has been running'), args);
  if (code !== undefined) return code;
  const u = await withHandle(uptime);
  process.stdout.write(uptimeLine(u, new Date(), ownerNames(readPasswd())));
  return 0;
}
