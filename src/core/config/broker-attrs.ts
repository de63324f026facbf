// The broker attributes a command line may set (flux start -S, flux broker -S), each with the check its value
// must pass: an instance that would fail later on a bad value, or ignore a misspelt name, is refused before it
// starts, with flux-core's words ("unknown attribute", "attribute may not be set on the command line").
import { parseFSD } from '../time/fsd.js';
import { parseTopo } from '../overlay/topology.js';

/** why a value is refused, or undefined when it is good */
type Check = (value: string) => string | undefined;

const intIn = (lo: number, hi = Number.MAX_SAFE_INTEGER): Check => (v) => {
  const n = Number(v);
  return /^\d+$/.test(v) && Number.isSafeInteger(n) && n >= lo && n <= hi
    ? undefined
    : `invalid value "${v}": expected an integer${hi === Number.MAX_SAFE_INTEGER ? ` of at least ${lo}` : ` from ${lo} to ${hi}`}`;
};

const oneOf = (...allowed: string[]): Check => (v) => (allowed.includes(v) ? undefined : `invalid value "${v}": expected ${allowed.join(' or ')}`);

const duration = (positive: boolean): Check => (v) => {
  let d: number;
  try {
    d = parseFSD(v);
  } catch {
    return `invalid value "${v}": expected a duration (e.g. 2, 0.5s, 1m)`;
  }
  return positive && !(d > 0) ? `invalid value "${v}": expected a duration above 0` : undefined;
};

const number = (lo: number, hi: number): Check => (v) => {
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) && n >= lo && n <= hi ? undefined : `invalid value "${v}": expected a number from ${lo} to ${hi}`;
};

const anything: Check = () => undefined;
const severity = intIn(0, 7);

const SETTABLE: Record<string, Check> = {
  statedir: anything,
  rundir: anything,
  'instance-level': intIn(0),
  'log-ring-size': intIn(0),
  'log-level': severity,
  'log-forward-level': severity,
  'log-critical-level': severity,
  'log-stderr-level': severity,
  'log-stderr-mode': oneOf('leader', 'local'),
  'log-filename': anything,
  'tbon.fanout': intIn(0),
  'tbon.topo': (v) => {
    try {
      parseTopo(v);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
  'tbon.prefertcp': oneOf('0', '1'),
  'tbon.torpid_min': duration(false),
  'tbon.torpid_max': duration(false),
  'tbon.max-message-size': intIn(1),
  'heartbeat.period': duration(true),
  'broker.heap-growing-percent': intIn(0, 1000),
  'journal.retain': intIn(0),
  'journal.checkpoint-period': number(1, Number.MAX_SAFE_INTEGER),
  'journal.checkpoint-entries': intIn(1),
  'journal.drop-fraction': number(0, 1),
  'content.hash': oneOf('sha1', 'sha256'),
  'content.blob-size-limit': intIn(0),
  'content.purge-target-size': intIn(0),
  'content.restore': anything,
  'content.synchronous': oneOf('full', 'normal'),
  'kvs.checkpoint-period': duration(false),
  'access.allow-guest-user': oneOf('0', '1'),
  'access.allow-root-owner': oneOf('0', '1'),
  // the local connector's limits (src/transport/local-limits.ts)
  'local.max-message-size': intIn(1),
  'local.max-inflight': intIn(1),
  'local.max-queued-bytes': intIn(1),
  'local.max-connections-per-uid': intIn(1),
  // set by flux start --replay
  'replay.statedir': anything,
  'replay.to': intIn(0),
};

/** what the broker works out itself: flux-core refuses these on a command line too */
const COMPUTED = new Set([
  'rank', 'size', 'version', 'security.owner', 'parent-uri', 'jobid', 'jobid-path', 'local-uri', 'hostname', 'hostlist',
  'rundir-cleanup', 'broker.mapping', 'broker.pid', 'broker.starttime', 'broker.uuid', 'broker.boot-method',
  'broker.critical-ranks', 'broker.quorum', 'conf.pmi_library_path', 'tbon.descendants', 'tbon.level',
  'tbon.maxlevel', 'tbon.endpoint', 'tbon.parent-endpoint',
]);

/** Why `name=value` cannot be set on the command line, in flux-core's words; undefined when it can. */
export function commandLineAttrError(name: string, value: string): string | undefined {
  if (COMPUTED.has(name)) return 'attribute may not be set on the command line';
  const check = Object.hasOwn(SETTABLE, name) ? SETTABLE[name] : undefined;
  if (check === undefined) return 'unknown attribute';
  return check(value);
}
