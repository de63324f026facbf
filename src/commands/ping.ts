import { Flux } from '../api/handle.js';
import { FluxError, EINVAL, EPROTO, errnoOf, strerror } from '../core/errors.js';
import { NODEID_ANY, NODEID_UPSTREAM } from '../core/wire/message.js';
import { ping } from '../api/ping.js';
import { expandHostlist } from '../core/resource/hostlist.js';
import { getAttr } from '../api/attrs.js';
import { cProgram, parse } from './common.js';

/** TARGET and --rank as given, before any hostname is looked up. */
export interface PingSpec {
  /** "any", "upstream", a rank or a hostname */
  where: string;
  service: string;
  /** a bare word that names a host when the hostlist has it, a service otherwise */
  maybeHost?: string;
}

export interface PingDest {
  nodeid: number;
  /** what the header shows before the "!": any, upstream, the rank or the host */
  label: string;
  service: string;
  /** the rank a hostname resolved to */
  hostRank?: number;
}

const isRank = (s: string) => /^\d+$/.test(s);
const isSpecial = (s: string) => s === 'any' || s === 'upstream';

export function parseTarget(target: string, rankOpt?: string): PingSpec {
  const bang = target.indexOf('!');
  if (bang >= 0) {
    const where = target.substring(0, bang);
    const service = target.substring(bang + 1);
    if (rankOpt !== undefined) throw new FluxError(EINVAL, '--rank and TARGET both try to specify a nodeid');
    if (where === '' || service === '') throw new FluxError(EINVAL, `${target}: expected RANK!SERVICE`);
    return { where, service };
  }
  if (rankOpt !== undefined) return { where: rankOpt, service: target };
  if (isRank(target) || isSpecial(target)) return { where: target, service: 'broker' };
  return { where: 'any', service: target, maybeHost: target };
}

/** Whether resolving the spec needs the instance's hostlist. */
export function needsHostlist(spec: PingSpec): boolean {
  return spec.maybeHost !== undefined || !(isRank(spec.where) || isSpecial(spec.where));
}

export function resolveTarget(spec: PingSpec, hosts: string[] = []): PingDest {
  if (spec.maybeHost !== undefined) {
    const r = hosts.indexOf(spec.maybeHost);
    if (r >= 0) return { nodeid: r, label: spec.maybeHost, service: 'broker', hostRank: r };
    return { nodeid: NODEID_ANY, label: 'any', service: spec.service };
  }
  const w = spec.where;
  if (w === 'any') return { nodeid: NODEID_ANY, label: w, service: spec.service };
  if (w === 'upstream') return { nodeid: NODEID_UPSTREAM, label: w, service: spec.service };
  if (isRank(w)) {
    const n = Number(w);
    if (n >= NODEID_UPSTREAM) throw new FluxError(EINVAL, `${w}: rank out of range`);
    return { nodeid: n, label: w, service: spec.service };
  }
  const r = hosts.indexOf(w);
  if (r < 0) throw new FluxError(EINVAL, `${w}: not a rank or a host of this instance`);
  return { nodeid: r, label: w, service: spec.service, hostRank: r };
}

export function header(d: PingDest): string {
  return `flux-ping ${d.label}!${d.service}${d.hostRank !== undefined ? ` (rank ${d.hostRank})` : ''}\n`;
}

export interface PingReply {
  rank?: number;
  pad: number;
  seq: number;
  ms: number;
  route: string;
  userid?: number;
  rolemask?: number;
}

export function formatReply(service: string, r: PingReply, showUser: boolean): string {
  const who = r.rank !== undefined ? `${r.rank}!` : '';
  const user = showUser ? ` userid=${r.userid ?? '-'} rolemask=0x${(r.rolemask ?? 0).toString(16)}` : '';
  return `${who}${service}.ping pad=${r.pad}${user} seq=${r.seq} time=${r.ms.toFixed(3)} ms (${r.route})\n`;
}

/** "1024", "1.5k", "2M": a size in bytes (k/K = 1024, M = 1024², G = 1024³). */
export function parsePad(s: string): number {
  const m = /^(\d+(?:\.\d*)?|\.\d+)([kKMG]?)$/.exec(s);
  if (!m) throw new FluxError(EINVAL, `invalid pad size "${s}"`);
  const scale = { '': 1, k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!]!;
  return Math.floor(Number(m[1]) * scale);
}

/** A Flux Standard Duration ("1", "0.5s", "100ms", "2m") in milliseconds. */
export function parseInterval(s: string): number {
  const m = /^(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)?$/.exec(s);
  if (!m) throw new FluxError(EINVAL, `invalid interval "${s}"`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's']!;
  return Number(m[1]) * scale;
}

function parseCount(s: string): number {
  if (!/^\d+$/.test(s)) throw new FluxError(EINVAL, `invalid count "${s}"`);
  return Number(s);
}

/** The echoed request plus what the service added; the send time comes back in it, so no table is kept. */
function decodeReply(body: Record<string, unknown>, now: bigint): PingReply {
  const { seq, pad, route, rank, userid, rolemask } = body;
  const sec = body['time.tv_sec'];
  const nsec = body['time.tv_nsec'];
  if (typeof seq !== 'number' || typeof sec !== 'number' || typeof nsec !== 'number'
    || typeof pad !== 'string' || typeof route !== 'string') {
    throw new FluxError(EPROTO, 'malformed ping response');
  }
  const sent = BigInt(sec) * 1_000_000_000n + BigInt(nsec);
  return {
    seq, route, pad: Buffer.byteLength(pad), ms: Number(now - sent) / 1e6,
    rank: typeof rank === 'number' ? rank : undefined,
    userid: typeof userid === 'number' ? userid : undefined,
    rolemask: typeof rolemask === 'number' ? rolemask : undefined,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

/** how flux-core's ping names the destination in its messages: "" for any, "upstream!" or "RANK!" */
export function rankBang(nodeid: number): string {
  if (nodeid === NODEID_ANY) return '';
  if (nodeid === NODEID_UPSTREAM) return 'upstream!';
  return `${nodeid}!`;
}

export async function run(args: string[]): Promise<number> {
  const p = cProgram('ping', 'Send echo requests to a service', '[OPTIONS] TARGET')
    .option('-r, --rank <RANK>', 'Find target on a specific broker rank')
    .option('-p, --pad <N>', 'Include in the payload a string of length N bytes', '0')
    .option('-i, --interval <N>', 'Specify the delay, in seconds, between successive requests', '1')
    .option('-c, --count <N>', 'Specify the number of requests to send', '0')
    .option('-b, --batch', 'Begin processing responses after all requests are sent')
    .option('-u, --userid', 'Include userid and rolemask in ping output')
    .argument('[target...]');
  const code = parse(p, args);
  if (code !== undefined) return code;
  if (p.args.length !== 1) {
    process.stderr.write(p.helpInformation());
    return 1;
  }
  const o = p.opts<{ rank?: string; pad: string; interval: string; count: string; batch?: boolean; userid?: boolean }>();
  const pad = 'p'.repeat(parsePad(o.pad));
  const intervalMs = parseInterval(o.interval);
  const count = parseCount(o.count);
  if (o.batch && count === 0) throw new FluxError(EINVAL, '--batch should only be used with --count');
  const spec = parseTarget(p.args[0]!, o.rank);

  const h = await Flux.open();
  try {
    const hosts = needsHostlist(spec)
      ? expandHostlist(await getAttr(h, 'hostlist'))
      : undefined;
    const dest = resolveTarget(spec, hosts);
    // the handle addresses "upstream" relative to its own broker's rank
    if (dest.nodeid === NODEID_UPSTREAM) await h.getRank();
    const topic = `${dest.service}.ping`;
    process.stdout.write(header(dest));

    let held: string[] | undefined = o.batch ? [] : undefined;
    let received = 0;
    let failed: Error | undefined;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const onReply = (text: string) => {
      if (held) held.push(text);
      else process.stdout.write(text);
      if (++received === count) finish();
    };
    const onError = (err: Error) => {
      failed ??= err;
      finish();
    };

    for (let seq = 0; !failed && (count === 0 || seq < count); seq++) {
      ping(h, dest.service, { nodeid: dest.nodeid, seq, pad }).then((r) => {
        onReply(formatReply(dest.service, decodeReply(r, process.hrtime.bigint()), o.userid === true));
      }).catch(onError);
      if (count === 0 || seq + 1 < count) await sleep(intervalMs);
    }
    if (held) {
      process.stdout.write(held.join(''));
      held = undefined;
    }
    await done;
    if (failed) {
      // flux-core names the failure by its errno alone, whatever text the service sent
      process.stderr.write(`flux-ping: ${rankBang(dest.nodeid)}${topic}: ${strerror(errnoOf(failed))}\n`);
      return 1;
    }
    return 0;
  } finally {
    h.close();
  }
}
