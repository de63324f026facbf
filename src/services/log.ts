// The log ring: log.append, streaming log.dmesg (with follow), log.clear; severe entries are copied to stderr
// and forwarded to rank 0, as flux-core's broker does.
import { closeSync, openSync, writeSync } from 'node:fs';
import { FluxError, EPROTO, ENODATA, errnoOf, strerror } from '../core/errors.js';
import { FLAG_NORESPONSE, stringPayload } from '../core/wire/message.js';
import { formatEntry, parseEntry, nowMicros, isoMicros, type LogEntry, SEVERITY_NAMES } from '../core/format/logline.js';
import { ATTR_IMMUTABLE, ATTR_RUNTIME } from './attrs.js';
import type { ModuleDef, ModuleHost } from './module.js';
import { Followers } from './followers.js';

export interface LogService {
  def: ModuleDef;
  /** an entry made by this broker (its own messages and its modules') */
  log(severity: number, appname: string, text: string): void;
}

export function logModule(host: ModuleHost): LogService {
  const attrs = host.attrs;
  const num = (name: string, dflt: number) => {
    const v = Number(attrs.get(name));
    return Number.isFinite(v) ? v : dflt;
  };
  // flux-core's flags: only log-stderr-level changes at run time (the rest are set on the command line)
  attrs.define('log-ring-size', attrs.get('log-ring-size') ?? '1024', ATTR_IMMUTABLE);
  attrs.define('log-level', attrs.get('log-level') ?? '7', ATTR_IMMUTABLE);
  attrs.define('log-forward-level', attrs.get('log-forward-level') ?? '3', ATTR_IMMUTABLE);
  attrs.define('log-critical-level', attrs.get('log-critical-level') ?? '2', ATTR_IMMUTABLE);
  attrs.define('log-stderr-level', attrs.get('log-stderr-level') ?? '3', ATTR_RUNTIME);
  attrs.define('log-stderr-mode', attrs.get('log-stderr-mode') ?? 'leader', ATTR_IMMUTABLE);
  const filename = attrs.get('log-filename');
  attrs.define('log-filename', filename);
  /** rank 0 appends every entry it keeps to log-filename, one `TIME NAME.SEVERITY[RANK]: MESSAGE` line each */
  let file: number | undefined;
  if (host.rank === 0 && filename !== undefined) {
    try {
      file = openSync(filename, 'a');
    } catch (err) {
      throw new FluxError(errnoOf(err), `log-filename ${filename}: ${strerror(errnoOf(err))}`);
    }
  }

  let ring: string[] = [];
  let count = 0;
  let local = 0;
  let remote = 0;
  const followers = new Followers(host);


  function store(line: string, entry: LogEntry | undefined, fromRemote: boolean): void {
    const severity = entry?.severity ?? 6;
    if (severity > num('log-level', 7)) return;
    count++;
    if (fromRemote) remote++;
    else local++;
    ring.push(line);
    const cap = Math.max(0, num('log-ring-size', 1024));
    if (ring.length > cap) ring = ring.slice(ring.length - cap);
    if (followers.size > 0) followers.send(stringPayload(line));
    const stderrOk = attrs.get('log-stderr-mode') === 'local' || host.rank === 0;
    if (stderrOk && severity <= num('log-stderr-level', 3) && entry) {
      process.stderr.write(`${entry.appname}.${SEVERITY_NAMES[severity] ?? severity}[${entry.rank}]: ${entry.msg}\n`);
    }
    if (file !== undefined) {
      writeSync(file, entry
        ? `${isoMicros(entry.timeUs)} ${entry.appname}.${SEVERITY_NAMES[severity] ?? severity}[${entry.rank}]: ${entry.msg}\n`
        : `${line}\n`);
    }
    if (host.rank > 0 && !fromRemote && severity <= num('log-forward-level', 3)) {
      void host.rpc('log.append', Buffer.from(line), { nodeid: 0, flags: FLAG_NORESPONSE });
    }
  }

  function log(severity: number, appname: string, text: string): void {
    const entry: LogEntry = {
      severity, facility: 0, timeUs: nowMicros(), rank: String(host.rank), appname,
      procid: String(process.pid), msgid: '', msg: text,
    };
    store(formatEntry(entry), entry, false);
  }

  const def: ModuleDef = {
    name: 'log',
    handlers: [
      {
        topic: 'log.append',
        handler: (msg) => {
          const p = msg.payload;
          if (!p || p.length === 0) throw new FluxError(EPROTO, 'empty log entry');
          const line = p.toString('utf8', 0, p[p.length - 1] === 0 ? p.length - 1 : p.length);
          const entry = parseEntry(line);
          // an entry made on another rank was forwarded here: it is not forwarded again
          store(line, entry, entry !== undefined && entry.rank !== String(host.rank));
          if (msg.aux2 !== 0 && !(msg.flags & FLAG_NORESPONSE)) host.respond(msg);
        },
      },
      {
        topic: 'log.dmesg',
        streaming: true,
        schema: {
          type: 'object',
          properties: { follow: { type: 'boolean' }, nobacklog: { type: 'boolean' } },
          required: ['follow'],
        },
        handler: (msg, body) => {
          if (body!.nobacklog !== true) for (const line of ring) host.respond(msg, stringPayload(line));
          if (body!.follow === true) followers.add(msg);
          else host.respondError(msg, new FluxError(ENODATA));
        },
      },
      followers.cancelHandler('log.cancel'),
      {
        topic: 'log.clear',
        handler: (msg) => {
          ring = [];
          host.respond(msg);
        },
      },
      {
        topic: 'log.stats-get',
        handler: (msg) => host.respond(msg, { 'ring-used': ring.length, count, local, remote }),
      },
    ],
    disconnect: (sender) => {
      followers.drop(sender);
    },
    stop: () => {
      if (file !== undefined) closeSync(file);
      file = undefined;
    },
  };
  return { def, log };
}
