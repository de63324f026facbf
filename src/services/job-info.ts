// job-info: a job's values in the KVS (RFC 16: job.<dothex>.eventlog, jobspec, R, J, guest.*) as flux-core's
// job-info module answers them. The primary namespace is the owner's; through here a guest reads its own job's
// values too, and another user's job is refused with EPERM. Whose a job is, its eventlog's submit event says.
//
//   job-info.lookup {id, keys: [key…], flags} -> {id, <key>: <value as text>…}
//                   flags: 1 = JSON decode, jobspec and R answered as objects; 2 = current, jobspec and R with the
//                   job's jobspec-update and resource-update events applied (what flux update changed)
//   job-info.eventlog-watch {id, path, flags} -> {event: <one entry, newline included>}…, then ENODATA once the
//                   eventlog's last entry is there (eventlog: clean, guest.exec.eventlog: done, guest.input: eof,
//                   guest.output: eof on every stream the header counts), the job's clean (a guest path: what it
//                   holds then is answered first; ENOENT if the job never made it) or the watch is canceled.
//                   flags: 1 = waitcreate, wait for a path the job does not have yet
//   job-info.eventlog-watch-cancel {matchtag}                     (no response)
import { FluxError, ENODATA, ENOENT, EPERM, EPROTO } from '../core/errors.js';
import { FLAG_NORESPONSE, type Message, ROLE_OWNER, ROLE_USER, payloadJson, senderOf } from '../core/wire/message.js';
import {
  EVENTLOG, EXEC_EVENTLOG, LOOKUP_CURRENT, LOOKUP_JSON_DECODE, OUTPUT_EVENTLOG, OutputStreams, type JobEvent, jobKey, parseEventlog,
} from '../core/jobs/kvs.js';
import { encodeFluid } from '../core/jobs/fluid.js';
import { currentJobspec, currentR } from '../core/jobs/update.js';
import type { ModuleDef, ModuleHost } from './module.js';

/** kvs-watch lookup flags */
const WATCH = 4;
const WAITCREATE = 8;
const WATCH_APPEND = 256;
/** job-info.eventlog-watch's own flag */
const EVENTLOG_WAITCREATE = 1;
/** the keys those flags apply to: the job's JSON values that updates change */
const UPDATABLE: Record<string, typeof currentR> = { jobspec: currentJobspec, R: currentR };

interface Watch {
  msg: Message;
  sender: string | undefined;
  /** the matchtags of the kvs-watch requests under it */
  tags: number[];
  done: boolean;
}

/** whether an eventlog has ended with this entry: what RFC 18's writers of each put last */
function terminator(path: string): (e: JobEvent) => boolean {
  if (path === EVENTLOG) return (e) => e.name === 'clean';
  if (path === EXEC_EVENTLOG) return (e) => e.name === 'done';
  if (path === 'guest.input') return (e) => e.name === 'data' && e.context?.eof === true;
  if (path !== OUTPUT_EVENTLOG) return () => false;
  const streams = new OutputStreams();
  return (e) => streams.take(e);
}

/** a job's JSON value, an object (EPROTO when the KVS holds something else under its name) */
function jsonOf(key: string, text: string): object {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new FluxError(EPROTO, `${key} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FluxError(EPROTO, `${key} is not a JSON object`);
  return v;
}

export function jobInfoModule(host: ModuleHost): ModuleDef {
  const watches = new Set<Watch>();

  /** a value of the job's directory, read with the broker's own credentials (ENOENT when it has none) */
  async function value(id: number, key: string): Promise<string> {
    const r = payloadJson(await host.rpc('kvs.lookup', { namespace: 'primary', key: jobKey(id, key), flags: 0 }));
    const v = r.val as { type?: unknown; data?: unknown } | undefined;
    if (v?.type !== 'val' || typeof v.data !== 'string') throw new FluxError(EPROTO, `${key} is not a value`);
    return Buffer.from(v.data, 'base64').toString('utf8');
  }

  /** the job's eventlog, when the asker may read the job's values (a guest its own job's only); ENOENT for no job */
  async function permitted(msg: Message, id: number): Promise<string> {
    const log = await value(id, EVENTLOG);
    if (!(msg.rolemask & ROLE_OWNER)) {
      const submit = parseEventlog(log)[0];
      if (submit?.name !== 'submit' || submit.context?.userid !== msg.userid) {
        throw new FluxError(EPERM, "guests may read their own jobs' values only");
      }
    }
    return log;
  }

  const cancelBelow = (tag: number) => void host.rpc('kvs-watch.cancel', { matchtag: tag }, { flags: FLAG_NORESPONSE });

  function stop(w: Watch): void {
    if (w.done) return;
    w.done = true;
    for (const tag of w.tags) cancelBelow(tag);
  }

  /** a job's value as kvs-watch hands on its appends, in whole lines (an append may end inside one), until the
   *  watch under it ends */
  function follow(w: Watch, id: number, path: string, flags: number, lines: (text: string) => void): Promise<void> {
    let held = Buffer.alloc(0);
    const payload = { namespace: 'primary', key: jobKey(id, path), flags: WATCH | WATCH_APPEND | flags };
    return host.rpcStream('kvs-watch.lookup', payload, {}, (m) => {
      if (w.done) return;
      const v = payloadJson(m).val as { type?: unknown; data?: unknown } | undefined;
      if (v?.type !== 'val' || typeof v.data !== 'string') throw new FluxError(EPROTO, `${path} is not a value`);
      const bytes = Buffer.concat([held, Buffer.from(v.data, 'base64')]);
      const end = bytes.lastIndexOf(0x0a) + 1;
      held = bytes.subarray(end);
      lines(bytes.toString('utf8', 0, end));
    }, (tag) => {
      w.tags.push(tag);
      if (w.done) cancelBelow(tag);
    });
  }

  /** the entries of a job's eventlog as they are appended, each answered on its own, read with the broker's
   *  credentials. A guest eventlog's watch ends also when the job does (its clean event): whatever the path then
   *  holds is answered first, and a path the job never made is ENOENT. */
  async function watch(msg: Message, id: number, path: string, flags: number): Promise<void> {
    await permitted(msg, id);
    const w: Watch = { msg, sender: senderOf(msg), tags: [], done: false };
    const last = terminator(path);
    let sent = 0;
    let outcome: FluxError = new FluxError(ENODATA);
    const answer = (text: string): void => {
      const events = parseEventlog(text);
      text.split('\n').slice(0, -1).forEach((line, i) => {
        if (w.done) return;
        host.respond(msg, { event: `${line}\n` });
        sent += Buffer.byteLength(line) + 1;
        if (last(events[i]!)) stop(w);
      });
    };
    let failure: unknown;
    const fail = (e: unknown): void => {
      failure ??= e;
      stop(w);
    };
    let closing: Promise<void> | undefined;
    const ended = async (): Promise<void> => {
      try {
        answer(Buffer.from(await value(id, path)).subarray(sent).toString('utf8'));
      } catch (e) {
        if (!(e instanceof FluxError && e.errno === ENOENT)) throw e;
        if (!w.done) outcome = new FluxError(ENOENT, `job ${encodeFluid(id, 'f58')} ended without ${path}`);
      }
      stop(w);
    };
    watches.add(w);
    try {
      const follows = [follow(w, id, path, flags & EVENTLOG_WAITCREATE ? WAITCREATE : 0, answer).catch(fail)];
      if (path !== EVENTLOG) {
        const inactive = (text: string): void => {
          if (!closing && parseEventlog(text).some((e) => e.name === 'clean')) closing = ended().catch(fail);
        };
        follows.push(follow(w, id, EVENTLOG, 0, inactive).catch(fail));
      }
      await Promise.all(follows);
      await closing;
    } finally {
      watches.delete(w);
    }
    throw failure ?? outcome;
  }

  return {
    name: 'job-info',
    disconnect: (sender) => {
      for (const w of watches) if (w.sender === sender) stop(w);
    },
    handlers: [
      {
        topic: 'job-info.lookup',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: {
            id: { type: 'integer', minimum: 0 },
            keys: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
            flags: { type: 'integer', minimum: 0 },
          },
          required: ['id', 'keys'],
        },
        handler: async (msg, body) => {
          const id = body!.id as number;
          const flags = (body!.flags as number | undefined) ?? 0;
          if (flags & ~(LOOKUP_JSON_DECODE | LOOKUP_CURRENT)) throw new FluxError(EPROTO, `invalid lookup flags ${flags}`);
          let log = msg.rolemask & ROLE_OWNER ? undefined : await permitted(msg, id);
          const out: Record<string, unknown> = { id };
          for (const key of body!.keys as string[]) {
            const text = key === EVENTLOG && log !== undefined ? log : await value(id, key);
            const apply = Object.hasOwn(UPDATABLE, key) ? UPDATABLE[key]! : undefined;
            if (apply === undefined || !(flags & (LOOKUP_JSON_DECODE | LOOKUP_CURRENT))) {
              out[key] = text;
              continue;
            }
            let v = jsonOf(key, text);
            if (flags & LOOKUP_CURRENT) v = apply(v, parseEventlog((log ??= await value(id, EVENTLOG))));
            out[key] = flags & LOOKUP_JSON_DECODE ? v : JSON.stringify(v);
          }
          host.respond(msg, out);
        },
      },
      {
        topic: 'job-info.eventlog-watch',
        allow: ROLE_USER,
        schema: {
          type: 'object',
          properties: { id: { type: 'integer', minimum: 0 }, path: { type: 'string', minLength: 1 }, flags: { type: 'integer', minimum: 0 } },
          required: ['id', 'path', 'flags'],
        },
        handler: (msg, body) => watch(msg, body!.id as number, body!.path as string, body!.flags as number),
      },
      {
        topic: 'job-info.eventlog-watch-cancel',
        allow: ROLE_USER,
        schema: { type: 'object', properties: { matchtag: { type: 'integer', minimum: 0 } }, required: ['matchtag'] },
        handler: (msg, body) => {
          const sender = senderOf(msg);
          for (const w of watches) if (w.sender === sender && w.msg.aux2 === body!.matchtag) stop(w);
        },
      },
    ],
  };
}
