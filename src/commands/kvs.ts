// `flux kvs`: the key-value store from the command line, sending what flux-core 0.88's flux-kvs sends (the
// same requests, payload members in the same order) and printing what it prints, errors included:
// `flux-kvs: <what>: <strerror>`, exit 1.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Flux, withHandle } from '../api/handle.js';
import { FluxError, strerror, EINVAL, ENOENT, EISDIR, EPROTO, ETIMEDOUT } from '../core/errors.js';
import { parseFSD } from '../core/time/fsd.js';
import { parseTimeArg } from '../core/time/arg.js';
import { type JObject, type JValue, byteCompare, cString, dumpJson, isObject, parseJson } from '../core/kvs/format-json.js';
import {
  NAMESPACE_HEADER, columns, dirEntries, isDirType, isTreeObj, kvLine, linkText, namespaceRow, symlinkOf, typeOf,
  valData, windowWidth,
} from '../core/kvs/format.js';
import { EventlogFormatter, colorFor, decodeEventlog, encodeEntry } from '../core/kvs/format-eventlog.js';
import { defineSubcommands, program, parse } from './common.js';
import {
  type KeyVersion, type Op, type Where, APPEND, NO_MERGE, READDIR, READLINK, STREAM, SYNC, TREEOBJ, WAITCREATE, WATCH, WATCH_APPEND,
  WATCH_FULL, WATCH_UNIQ, cancelWatch as cancel, commit, dirrefText, getroot, intField, keyHistory, lookup,
  lookupRequest, lookupStream, namespaceCreate, namespaceList, namespaceRemove, rootAtTime as timeRoot, stringField,
  valTreeobj, versionAtSeq as seqVersion, versionRoot as rootOfVersion, waitVersion,
} from '../api/kvs.js';
import { getAttr } from '../api/attrs.js';

/** errors.ts has no ENOTEMPTY: unlink reports it the way flux-core's strerror does */
const DIRECTORY_NOT_EMPTY = 'Directory not empty';

/** The command ends here: `text` goes to stderr and the exit code is 1 (flux-core's log_*_exit). */
class Exit extends Error {
  constructor(readonly text: string) {
    super(text);
  }
}

const fail = (msg: string): never => {
  throw new Exit(`flux-kvs: ${msg}\n`);
};

/** log_err_exit(what): a Flux error ends the command as `what: strerror(errno)`; anything else is a bug */
function die(what: string, err: unknown): never {
  if (err instanceof FluxError) fail(`${what}: ${strerror(err.errno)}`);
  throw err;
}

const usage = (cmd: Command): never => {
  throw new Exit(cmd.helpInformation());
};

/** stdout, gathered and written once per turn of the event loop: a listing of many keys is a few writes, not one a line */
let pending: (string | Buffer)[] = [];
let pendingBytes = 0;
const OUT_CHUNK = 1 << 20;

function flushOut(): void {
  if (pending.length === 0) return;
  const chunk = pending.every((c) => typeof c === 'string')
    ? Buffer.from(pending.join(''))
    : Buffer.concat(pending.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
  pending = [];
  pendingBytes = 0;
  process.stdout.write(chunk);
}

function out(s: string | Buffer): void {
  if (pending.length === 0) setImmediate(flushOut);
  pending.push(s);
  // a string's length is not its size in bytes, but near enough to bound what is held
  pendingBytes += s.length;
  if (pendingBytes >= OUT_CHUNK) flushOut();
}

/**
 * `each(item, fn(item))` for every item, in order, with up to `window` of the fn calls under way at once: the
 * round trips of a walk over many keys overlap instead of adding up. fn may answer at once (nothing to wait for).
 */
async function inOrder<T, R>(
  items: T[], fn: (item: T) => R | Promise<R>, each: (item: T, r: R) => void | Promise<void>, window = 128,
): Promise<void> {
  const started: (R | Promise<R> | undefined)[] = new Array(items.length);
  const start = (i: number) => {
    if (i >= items.length) return;
    const r = fn(items[i]!);
    // an error is taken where its item is reached: until then it must not count as unhandled
    if (r instanceof Promise) r.catch(() => undefined);
    started[i] = r;
  };
  for (let i = 0; i < Math.min(window, items.length); i++) start(i);
  for (let i = 0; i < items.length; i++) {
    const p = started[i]!;
    started[i] = undefined;
    const r = p instanceof Promise ? await p : p;
    start(i + window);
    const done = each(items[i]!, r);
    if (done instanceof Promise) await done;
  }
}

const defaultNamespace = () => process.env.FLUX_KVS_NAMESPACE ?? 'primary';

/** C's `int`: what jansson's "i" unpacks a JSON integer into */
const cInt = (v: bigint) => Number(BigInt.asIntN(32, v));

/** an op of the transaction a command builds; the same checks libkvs makes before sending */
function op(key: string, flags: number, dirent: JValue): Op {
  if (key.length === 0) throw new FluxError(EINVAL);
  return { key, flags, dirent };
}

const val = valTreeobj;

interface RootOpts {
  treeobjRoot?: boolean;
  blobref?: boolean;
  sequence?: boolean;
}


/** commit, then print the new root as -O (dirref tree object), -b (blobref) or -s (sequence) ask */
async function commitAndReport(h: Flux, ns: string, flags: number, ops: Op[], o: RootOpts): Promise<void> {
  const what = o.treeobjRoot ? 'flux_kvs_commit_get_treeobj'
    : o.blobref ? 'flux_kvs_commit_get_rootref'
      : o.sequence ? 'flux_kvs_commit_get_sequence' : 'flux_kvs_commit';
  try {
    const r = await commit(h, ns, flags, ops);
    if (!o.treeobjRoot && !o.blobref && !o.sequence) return;
    if (o.treeobjRoot) out(`${dirrefText(stringField(r, 'rootref'))}\n`);
    else if (o.blobref) out(`${stringField(r, 'rootref')}\n`);
    else out(`${cInt(intField(r, 'rootseq'))}\n`);
  } catch (err) {
    die(what, err);
  }
}

function readStdin(): Buffer {
  return readFileSync(0);
}

function intOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\s*[+-]?\d+$/.test(v)) fail(`Option '${name}' requires an integer argument`);
  return Number(v);
}

// ---- history: past versions (rootseq numbers) of a namespace, from rank 0's indexes ---------------------------

interface AtOpts {
  namespace?: string;
  at?: string;
  atVersion?: string;
  atSeq?: string;
  atTime?: string;
}

function parseVersion(text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) fail(`invalid version '${text}': expected a root sequence number`);
  return Number(text);
}

/** seconds since the epoch, from epoch seconds or an ISO-8601 date and time */
function parseTime(text: string): number {
  return parseTimeArg(text) ?? fail(`invalid time '${text}': expected ISO-8601 or seconds since the epoch`);
}

/**
 * Journal times are whole milliseconds divided by 1000, so rounding makes the ISO text parse back to the very
 * time recorded: --at-time with a time history printed finds that version, not the one before it.
 */
const isoTime = (seconds: number) => new Date(Math.round(seconds * 1000)).toISOString();

/** a Flux error as `what: message`, the service's own message when it sent one */
function failWith(what: string, err: unknown): never {
  if (err instanceof FluxError) fail(`${what}: ${err.message}`);
  throw err;
}

const COMPACTED = /has been compacted/;

async function versionRoot(h: Flux, ns: string, version: number): Promise<string> {
  try {
    return await rootOfVersion(h, ns, version);
  } catch (err) {
    // a compacted version is named by the service's own message
    if (err instanceof FluxError && err.errno === ENOENT) {
      fail(COMPACTED.test(err.message) ? err.message : `version ${version} of namespace ${ns} is not in the KVS history`);
    }
    return failWith(`version ${version}`, err);
  }
}

async function rootAtTime(h: Flux, ns: string, text: string): Promise<string> {
  try {
    return await timeRoot(h, ns, parseTime(text));
  } catch (err) {
    return failWith(`--at-time ${text}`, err);
  }
}

/** the version the namespace was at after journal entry `seq` */
async function versionAtSeq(h: Flux, ns: string, text: string): Promise<number> {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) fail(`invalid seq '${text}': expected a journal entry number`);
  try {
    return await seqVersion(h, ns, Number(text));
  } catch (err) {
    return failWith(`--at-seq ${text}`, err);
  }
}

/**
 * where a lookup happens: the namespace now, or a past root: -a names it, --at-version by the namespace's own
 * version, --at-seq by a position in the journal (the root after that entry), --at-time by a time
 */
async function whereOf(h: Flux, o: AtOpts): Promise<Where> {
  const ns = o.namespace ?? defaultNamespace();
  if ([o.at, o.atVersion, o.atSeq, o.atTime].filter((v) => v !== undefined).length > 1) {
    fail('specify at most one of --at, --at-version, --at-seq and --at-time');
  }
  if (o.at !== undefined) return { at: o.at };
  if (o.atVersion !== undefined) return { at: dirrefText(await versionRoot(h, ns, parseVersion(o.atVersion))) };
  if (o.atSeq !== undefined) return { at: dirrefText(await versionRoot(h, ns, await versionAtSeq(h, ns, o.atSeq))) };
  if (o.atTime !== undefined) return { at: dirrefText(await rootAtTime(h, ns, o.atTime)) };
  return { ns };
}

/** a value as get prints it (text up to a NUL), a link as `-> target`; undefined when the key is absent */
async function shownValue(h: Flux, where: Where, key: string, t?: JObject): Promise<string | undefined> {
  try {
    const obj = t ?? (await lookup(h, where, TREEOBJ, key));
    if (typeOf(obj) === 'symlink') return `-> ${linkText(symlinkOf(obj))}`;
    if (isDirType(obj)) return '(directory)';
    return cString(valData(typeOf(obj) === 'val' ? obj : await lookup(h, where, 0, key))).toString('utf8');
  } catch (err) {
    if (err instanceof FluxError && err.errno === ENOENT) return undefined;
    return die(key, err);
  }
}

interface HistoryOpts {
  namespace?: string;
  json?: boolean;
  limit?: string;
}

async function cmdHistory(key: string, o: HistoryOpts): Promise<number> {
  const limit = intOption(o.limit, 'limit');
  if (limit !== undefined && limit < 1) fail('history: --limit must be at least 1');
  const ns = o.namespace ?? defaultNamespace();
  return withHandle(async (h) => {
    let versions: KeyVersion[];
    try {
      versions = await keyHistory(h, ns, key, { limit });
    } catch (err) {
      return failWith(`history ${key}`, err);
    }
    // a key that never had a value is missing, as get says, not an empty history
    if (versions.length === 0) fail(`${key}: ${strerror(ENOENT)}`);
    /** the value shown for a version: most are in the answer already; a valref's blobs are looked up */
    const shown = async (v: KeyVersion): Promise<string | undefined> => {
      if (v.compacted === true || v.errno === ENOENT) return undefined;
      if (v.errno !== undefined) return die(key, new FluxError(v.errno));
      const t = v.val === undefined ? undefined : parseJson(JSON.stringify(v.val));
      if (t !== undefined && !isTreeObj(t)) return die(key, new FluxError(EPROTO));
      return shownValue(h, { at: dirrefText(v.rootref) }, key, t);
    };
    await inOrder(versions, shown, (v, value) => {
      const time = isoTime(v.time);
      // older than the journal's start: listed, marked, and not read
      if (v.compacted === true) {
        out(o.json ? `${JSON.stringify({ rootseq: v.rootseq, time, value: null, compacted: true })}\n` : `${v.rootseq}  ${time}  (compacted)\n`);
        return;
      }
      if (o.json) out(`${JSON.stringify({ rootseq: v.rootseq, time, value: value ?? null })}\n`);
      else out(`${v.rootseq}  ${time}  ${value ?? '(deleted)'}\n`);
    });
    return 0;
  });
}

async function cmdDiff(args: string[], o: { namespace?: string }): Promise<number> {
  if (args.length < 2 || args.length > 3) fail('diff: specify two versions and an optional key prefix');
  const [v1, v2] = [parseVersion(args[0]!), parseVersion(args[1]!)];
  const prefix = (args[2] ?? '.').split('.').filter((c) => c.length > 0).join('.') || '.';
  const ns = o.namespace ?? defaultNamespace();
  return withHandle(async (h) => {
    const before: Where = { at: dirrefText(await versionRoot(h, ns, v1)) };
    const after: Where = { at: dirrefText(await versionRoot(h, ns, v2)) };
    const lines: [string, string][] = [];
    const entryAt = async (w: Where, key: string): Promise<JObject | undefined> => {
      try {
        return await lookup(h, w, TREEOBJ, key);
      } catch (err) {
        if (err instanceof FluxError && err.errno === ENOENT) return undefined;
        return die(key, err);
      }
    };
    const readdir = async (w: Where, key: string): Promise<Map<string, JObject>> => {
      try {
        return new Map(dirEntries(expectDir(await lookup(h, w, READDIR, key), key)));
      } catch (err) {
        return die(key, err);
      }
    };
    const leaves = async (w: Where, key: string, t: JObject, into: Map<string, string>): Promise<void> => {
      if (!isDirType(t)) {
        into.set(key, (await shownValue(h, w, key, t))!);
        return;
      }
      for (const [name, e] of await readdir(w, key)) await leaves(w, keyAt(key, name), e, into);
    };
    const compare = async (key: string, a: JObject | undefined, b: JObject | undefined): Promise<void> => {
      // an unchanged dirref is an unchanged subtree: the walk only descends where the versions differ
      if (a && b && dumpJson(a, { sort: true }) === dumpJson(b, { sort: true })) return;
      if (a && b && isDirType(a) && isDirType(b)) {
        const da = await readdir(before, key);
        const db = await readdir(after, key);
        for (const name of new Set([...da.keys(), ...db.keys()])) await compare(keyAt(key, name), da.get(name), db.get(name));
        return;
      }
      const old = new Map<string, string>();
      const now = new Map<string, string>();
      if (a) await leaves(before, key, a, old);
      if (b) await leaves(after, key, b, now);
      for (const [k, v] of old) {
        const n = now.get(k);
        if (n === undefined) lines.push([k, `- ${k} = ${v}`]);
        else if (n !== v) lines.push([k, `~ ${k}: ${v} -> ${n}`]);
      }
      for (const [k, v] of now) if (!old.has(k)) lines.push([k, `+ ${k} = ${v}`]);
    };
    await compare(prefix, await entryAt(before, prefix), await entryAt(after, prefix));
    lines.sort((x, y) => byteCompare(x[0], y[0]));
    for (const [, line] of lines) out(`${line}\n`);
    return 0;
  });
}

/** The -w COLS / terminal / $COLUMNS width dir and ls fit their output to. */
const outputWidth = (opt: number | undefined) =>
  windowWidth(opt, process.stdout.isTTY ? process.stdout.columns : undefined, process.env.COLUMNS);

// ---- get, put -----------------------------------------------------------------------------------------

interface GetOpts extends AtOpts {
  raw?: boolean;
  treeobj?: boolean;
  label?: boolean;
  waitcreate?: boolean;
  watch?: boolean;
  uniq?: boolean;
  append?: boolean;
  full?: boolean;
  count?: string;
  stream?: boolean;
  fromVersion?: string;
}

function printValue(o: GetOpts, key: string, t: JObject): void {
  const label = o.label ? `${key}=` : '';
  if (o.treeobj) {
    out(`${label}${dumpJson(t, { sort: true })}\n`);
    return;
  }
  let data: Buffer;
  try {
    data = valData(t);
  } catch (err) {
    die(key, err);
  }
  if (o.raw) {
    // flux-core writes the raw bytes straight to fd 1 while "key=" still sits in stdio's buffer, which is
    // flushed after them: the label follows the value
    out(data);
    if (label) out(label);
    return;
  }
  if (label) out(label);
  if (data.length > 0) out(Buffer.concat([cString(data), Buffer.from('\n')]));
}

async function cmdGet(keys: string[], o: GetOpts): Promise<number> {
  let flags = 0;
  if (o.treeobj) flags |= TREEOBJ;
  if (o.watch) {
    flags |= WATCH;
    if (o.full) flags |= WATCH_FULL;
    if (o.uniq) flags |= WATCH_UNIQ;
    if (o.append) flags |= WATCH_APPEND;
  }
  if (o.waitcreate) flags |= WAITCREATE;
  if (o.stream) flags |= STREAM;
  const maxcount = intOption(o.count, 'count') ?? 0;
  const ns = o.namespace ?? defaultNamespace();
  let from: number | undefined;
  if (o.fromVersion !== undefined) {
    if (!o.watch) fail('--from-version requires --watch');
    if (o.at !== undefined || o.atVersion !== undefined || o.atSeq !== undefined || o.atTime !== undefined) {
      fail('--from-version excludes --at, --at-version, --at-seq and --at-time');
    }
    from = parseVersion(o.fromVersion);
  }
  return withHandle(async (h) => {
    // a version never recorded is told apart from a missing key
    if (from !== undefined) await versionRoot(h, ns, from);
    const where = await whereOf(h, o);
    if (!(flags & (WATCH | STREAM)) || 'at' in where) {
      // one at a time, so that values come out in the order of the keys
      for (const key of keys) {
        let t: JObject;
        try {
          t = await lookup(h, where, flags, key);
        } catch (err) {
          die(key, err);
        }
        printValue(o, key, t);
      }
      return 0;
    }
    // every watch starts at once; like flux-core's, the count is shared by all of them
    let count = 0;
    await Promise.all(keys.map((key) => lookupStream(h, ns, flags, key, (t, tag) => {
      // answers already on their way when the count is reached (a replay sends many at once) are not shown
      if (maxcount > 0 && count >= maxcount) return;
      printValue(o, key, t);
      if (maxcount > 0 && ++count === maxcount) cancel(h, tag);
    }, from).catch((err: unknown) => die(key, err))));
    return 0;
  });
}

interface PutOpts extends RootOpts {
  namespace?: string;
  raw?: boolean;
  treeobj?: boolean;
  merge?: boolean;
  append?: boolean;
  sync?: boolean;
}

async function cmdPut(pairs: string[], o: PutOpts): Promise<number> {
  const flags = (o.merge === false ? NO_MERGE : 0) | (o.sync ? SYNC : 0);
  return withHandle(async (h) => {
    const ops: Op[] = [];
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq < 0) fail('put: you must specify a value as key=value');
      if (eq === 0) fail(`put: ${pair}: the key is empty: specify it as key=value`);
      const key = pair.substring(0, eq);
      const value = pair.substring(eq + 1);
      const stdin = value === '-' && (o.raw || o.treeobj);
      try {
        if (o.treeobj) {
          let dirent: JValue;
          try {
            dirent = parseJson(cString(stdin ? readStdin() : Buffer.from(value)));
          } catch (err) {
            if (err instanceof FluxError) throw new FluxError(EPROTO);
            throw err;
          }
          if (!isTreeObj(dirent)) throw new FluxError(EPROTO);
          ops.push(op(key, 0, dirent));
        } else {
          ops.push(op(key, o.append ? APPEND : 0, val(stdin ? readStdin() : value)));
        }
      } catch (err) {
        die(key, err);
      }
    }
    await commitAndReport(h, o.namespace ?? defaultNamespace(), flags, ops, o);
    return 0;
  });
}

// ---- dir, ls ------------------------------------------------------------------------------------------

interface DirOpts extends AtOpts {
  recursive?: boolean;
  directory?: boolean;
  width?: string;
}

const keyAt = (dirKey: string, name: string) => (dirKey === '.' ? name : `${dirKey}.${name}`);

function expectDir(t: JObject, key: string): JObject {
  if (typeOf(t) !== 'dir') die(key, new FluxError(EINVAL));
  return t;
}

async function cmdDir(args: string[], o: DirOpts): Promise<number> {
  const maxcol = outputWidth(intOption(o.width, 'width'));
  if (args.length > 1) fail('dir: specify zero or one directory');
  const top = args[0] ?? '.';
  return withHandle(async (h) => {
    const where = await whereOf(h, o);
    const get = async (flags: number, key: string): Promise<JObject> => {
      try {
        return await lookup(h, where, flags, key);
      } catch (err) {
        return die(key, err);
      }
    };
    /**
     * What a directory entry shows: a val's bytes are in the entry itself, a symlink is the entry; a valref is
     * looked up, and so is a directory to descend into
     */
    const resolve = (dirKey: string, [name, entry]: [string, JObject]): JObject | Promise<JObject> => {
      const type = typeOf(entry);
      if (type === 'val' || type === 'symlink' || (type === 'dir' && o.recursive)) return entry;
      if (isDirType(entry)) return o.recursive ? get(READDIR, keyAt(dirKey, name)) : entry;
      return o.directory ? entry : get(0, keyAt(dirKey, name));
    };
    const dump = (dirKey: string, dir: JObject): Promise<void> => inOrder(dirEntries(dir), (e) => resolve(dirKey, e), ([name, entry], t) => {
      const key = keyAt(dirKey, name);
      if (typeOf(entry) === 'symlink') {
        out(`${key} -> ${linkText(symlinkOf(t))}\n`);
      } else if (isDirType(entry)) {
        if (!o.recursive) {
          out(`${key}.\n`);
          return undefined;
        }
        const sub = expectDir(t, key);
        if ((sub.get('data') as JObject).size === 0) out(`${key}.\n`);
        else return dump(key, sub);
      } else if (o.directory) {
        out(`${key}\n`);
      } else {
        let data: Buffer;
        try {
          data = valData(t);
        } catch (err) {
          die(key, err);
        }
        out(kvLine(key, data, maxcol));
      }
      return undefined;
    });
    await dump(top, expectDir(await get(READDIR, top), top));
    return 0;
  });
}

interface LsOpts extends AtOpts {
  recursive?: boolean;
  directory?: boolean;
  width?: string;
  '1'?: boolean;
  classify?: boolean;
}

async function cmdLs(args: string[], o: LsOpts): Promise<number> {
  let width = outputWidth(intOption(o.width, 'width'));
  if (o['1']) width = 1;
  return withHandle(async (h) => {
    const where = await whereOf(h, o);
    const dirs: string[] = [];
    const singles: string[] = [];
    let rc = 0;
    /** file the key under what ls lists (its contents, or its name); false when it cannot be listed */
    const categorize = async (key: string): Promise<boolean> => {
      let nkey = key;
      let requireDir = false;
      // "a." means "a, which must be a directory"
      while (nkey.length > 1 && nkey.endsWith('.')) {
        nkey = nkey.slice(0, -1);
        requireDir = true;
      }
      if (nkey.length === 0) die('flux_kvs_lookup', new FluxError(EINVAL));
      let t: JObject;
      try {
        t = await lookup(h, where, TREEOBJ, nkey);
      } catch (err) {
        if (!(err instanceof FluxError)) throw err;
        process.stderr.write(`${nkey}: ${strerror(err.errno)}\n`);
        return false;
      }
      const type = typeOf(t);
      if (isDirType(t)) {
        if (o.directory) singles.push(o.classify ? `${nkey}.` : nkey);
        else dirs.push(nkey);
      } else if (requireDir) {
        process.stderr.write(`${nkey}: Not a directory\n`);
        return false;
      } else if (type === 'symlink' && (o.classify || o.directory)) {
        singles.push(o.classify ? `${nkey}@` : nkey);
      } else if (type === 'symlink') {
        // a link to a directory lists the directory; a link to a value or to nothing, its name
        try {
          valData(await lookup(h, where, 0, nkey));
          singles.push(nkey);
        } catch (err) {
          if (!(err instanceof FluxError)) throw err;
          if (err.errno === ENOENT) singles.push(nkey);
          else if (err.errno === EISDIR) dirs.push(nkey);
          else die(nkey, err);
        }
      } else {
        singles.push(nkey);
      }
      singles.sort(byteCompare);
      dirs.sort(byteCompare);
      return true;
    };
    const list = async (key: string, label: boolean, vspace: boolean): Promise<void> => {
      let dir: JObject;
      try {
        dir = expectDir(await lookup(h, where, READDIR, key), key);
      } catch (err) {
        die(key, err);
      }
      if (label) out(`${vspace ? '\n' : ''}${key}:\n`);
      const entries = dirEntries(dir);
      const suffix = (t: JObject) => (!o.classify ? '' : isDirType(t) ? '.' : typeOf(t) === 'symlink' ? '@' : '');
      const widest = entries.reduce((m, [name]) => Math.max(m, Buffer.byteLength(name)), 0);
      out(columns(entries.map(([name, t]) => name + suffix(t)), width, widest));
      if (!o.recursive) return;
      for (const [name, t] of entries) if (isDirType(t)) await list(keyAt(key, name), label, true);
    };
    for (const key of args.length > 0 ? args : ['.']) if (!(await categorize(key))) rc = 1;
    let label = false;
    let vspace = false;
    if (singles.length > 0) {
      out(columns(singles, width));
      label = vspace = true;
    }
    if (o.recursive || dirs.length > 1) label = true;
    for (const key of dirs) {
      await list(key, label, vspace);
      vspace = true;
    }
    return rc;
  });
}

// ---- unlink, link, readlink, mkdir, copy, move ----------------------------------------------------------

interface UnlinkOpts extends RootOpts {
  namespace?: string;
  recursive?: boolean;
  force?: boolean;
}

async function cmdUnlink(keys: string[], o: UnlinkOpts): Promise<number> {
  const ns = o.namespace ?? defaultNamespace();
  return withHandle(async (h) => {
    const ops: Op[] = [];
    for (const key of keys) {
      const what = `cannot unlink '${key}'`;
      const notEmpty = () => fail(`${what}: ${DIRECTORY_NOT_EMPTY}`);
      let t: JObject;
      try {
        t = await lookup(h, { ns }, TREEOBJ, key);
      } catch (err) {
        if (o.force && err instanceof FluxError && err.errno === ENOENT) continue;
        die(what, err);
      }
      if (!o.recursive && typeOf(t) === 'dir' && (t.get('data') as JObject).size > 0) notEmpty();
      if (!o.recursive && typeOf(t) === 'dirref') {
        let dir: JObject;
        try {
          dir = await lookup(h, { ns }, READDIR, key);
          if (typeOf(dir) !== 'dir') throw new FluxError(EINVAL);
        } catch (err) {
          die(what, err);
        }
        if ((dir.get('data') as JObject).size > 0) notEmpty();
      }
      ops.push(op(key, 0, null));
    }
    await commitAndReport(h, ns, 0, ops, o);
    return 0;
  });
}

interface LinkOpts extends RootOpts {
  namespace?: string;
  targetNamespace?: string;
}

async function cmdLink(cmd: Command, args: string[], o: LinkOpts): Promise<number> {
  if (args.length === 0) usage(cmd);
  if (args.length !== 2) fail('link: specify target and link_name');
  const [target, linkname] = args as [string, string];
  const data: JValue = o.targetNamespace !== undefined ? { namespace: o.targetNamespace, target } : { target };
  return withHandle(async (h) => {
    let ops: Op[];
    try {
      ops = [op(linkname, 0, { ver: 1, type: 'symlink', data })];
    } catch (err) {
      die(linkname, err);
    }
    await commitAndReport(h, o.namespace ?? defaultNamespace(), 0, ops, o);
    return 0;
  });
}

interface ReadlinkOpts extends AtOpts {
  namespaceOnly?: boolean;
  keyOnly?: boolean;
}

async function cmdReadlink(keys: string[], o: ReadlinkOpts): Promise<number> {
  return withHandle(async (h) => {
    const where = await whereOf(h, o);
    for (const key of keys) {
      let t: JObject;
      try {
        t = await lookup(h, where, READLINK, key);
        if (typeOf(t) !== 'symlink') throw new FluxError(EINVAL);
      } catch (err) {
        die(key, err);
      }
      const link = symlinkOf(t);
      if (o.namespaceOnly && link.ns !== undefined) out(`${link.ns}\n`);
      else if (o.keyOnly) out(`${link.target}\n`);
      else out(`${linkText(link)}\n`);
    }
    return 0;
  });
}

async function cmdMkdir(keys: string[], o: RootOpts & { namespace?: string }): Promise<number> {
  return withHandle(async (h) => {
    const ops: Op[] = [];
    for (const key of keys) {
      try {
        ops.push(op(key, 0, { ver: 1, type: 'dir', data: {} }));
      } catch (err) {
        die(key, err);
      }
    }
    await commitAndReport(h, o.namespace ?? defaultNamespace(), 0, ops, o);
    return 0;
  });
}

interface CopyOpts {
  srcNamespace?: string;
  dstNamespace?: string;
}

/** copy = lookup the tree object + put it under the new key; move also unlinks the old key, in its own commit */
async function cmdCopy(args: string[], o: CopyOpts, move: boolean): Promise<number> {
  const name = move ? 'move' : 'copy';
  if (args.length !== 2) fail(`${name}: specify srckey dstkey`);
  const [src, dst] = args as [string, string];
  const srcns = o.srcNamespace ?? defaultNamespace();
  const dstns = o.dstNamespace ?? defaultNamespace();
  return withHandle(async (h) => {
    try {
      const t = await lookup(h, { ns: srcns }, TREEOBJ, src);
      // libkvs hands the tree object over as its sorted encoding, so that is the order the put carries
      await commit(h, dstns, 0, [op(dst, 0, parseJson(dumpJson(t, { sort: true })))]);
      if (move) await commit(h, srcns, 0, [op(src, 0, null)]);
    } catch (err) {
      die(`flux_kvs_${name}`, err);
    }
    return 0;
  });
}

// ---- version, wait, getroot, sync ----------------------------------------------------------------------

async function cmdVersion(o: { namespace?: string }): Promise<number> {
  return withHandle(async (h) => {
    let seq: bigint;
    try {
      seq = intField(await getroot(h, o.namespace ?? defaultNamespace()), 'rootseq');
    } catch (err) {
      die('flux_kvs_get_version', err);
    }
    out(`${cInt(seq)}\n`);
    return 0;
  });
}

async function cmdWait(cmd: Command, args: string[], o: { namespace?: string }): Promise<number> {
  if (args.length === 0) usage(cmd);
  if (args.length !== 1) fail('wait: specify a version');
  // strtoul(): whatever leading digits there are
  const m = /^\s*\+?(\d+)/.exec(args[0]!);
  const version = m ? cInt(BigInt(m[1]!)) : 0;
  return withHandle(async (h) => {
    try {
      await waitVersion(h, o.namespace ?? defaultNamespace(), version);
    } catch (err) {
      die('flux_kvs_wait_version', err);
    }
    return 0;
  });
}

interface GetrootOpts {
  namespace?: string;
  sequence?: boolean;
  owner?: boolean;
  blobref?: boolean;
}

async function cmdGetroot(o: GetrootOpts): Promise<number> {
  const what = o.owner ? 'flux_kvs_getroot_get_owner'
    : o.sequence ? 'flux_kvs_getroot_get_sequence'
      : o.blobref ? 'flux_kvs_getroot_get_blobref' : 'flux_kvs_getroot_get_treeobj';
  return withHandle(async (h) => {
    try {
      const r = await getroot(h, o.namespace ?? defaultNamespace(), { flags: 0 });
      if (o.owner) out(`${BigInt.asUintN(32, intField(r, 'owner'))}\n`);
      else if (o.sequence) out(`${cInt(intField(r, 'rootseq'))}\n`);
      else if (o.blobref) out(`${stringField(r, 'rootref')}\n`);
      else out(`${dirrefText(stringField(r, 'rootref'))}\n`);
    } catch (err) {
      die(what, err);
    }
    return 0;
  });
}

/** a commit with nothing in it but SYNC: the service flushes the content store and checkpoints the root */
async function cmdSync(o: { namespace?: string }): Promise<number> {
  return withHandle(async (h) => {
    try {
      await commit(h, o.namespace ?? defaultNamespace(), SYNC, []);
    } catch (err) {
      die('flux_kvs_commit', err);
    }
    return 0;
  });
}

// ---- namespace ----------------------------------------------------------------------------------------

/** the empty directory every namespace starts from unless given a root: flux-core stores it at startup */
const EMPTY_DIR = Buffer.from(dumpJson({ data: {}, type: 'dir', ver: 1 }));

async function cmdNamespaceCreate(names: string[], o: { owner?: string; rootref?: string }): Promise<number> {
  // the owner travels as a C int: the default FLUX_USERID_UNKNOWN is -1
  let owner = -1;
  if (o.owner !== undefined) {
    if (!/^\s*[+-]?\d+$/.test(o.owner)) fail('--owner requires an unsigned integer argument');
    owner = cInt(BigInt(o.owner.trim()));
  }
  return withHandle(async (h) => {
    let hash: string | undefined;
    for (const name of names) {
      let rootref = o.rootref;
      if (rootref === undefined) {
        try {
          hash ??= await getAttr(h, 'content.hash');
          // node:crypto is loaded only here: every other subcommand starts without it
          const { blobrefOf, checkHashName } = await import('../core/content/blobref.js');
          rootref = blobrefOf(checkHashName(hash), EMPTY_DIR);
        } catch (err) {
          die(name, err);
        }
      }
      try {
        await namespaceCreate(h, name, rootref!, owner);
      } catch (err) {
        if (!(err instanceof FluxError)) throw err;
        fail(`${name}: ${err.message}`);
      }
    }
    return 0;
  });
}

async function cmdNamespaceRemove(names: string[]): Promise<number> {
  return withHandle(async (h) => {
    for (const name of names) {
      try {
        await namespaceRemove(h, name);
      } catch (err) {
        die(name, err);
      }
    }
    return 0;
  });
}

async function cmdNamespaceList(): Promise<number> {
  return withHandle(async (h) => {
    let list: JValue;
    try {
      list = await namespaceList(h);
    } catch (err) {
      die('flux_rpc_get_unpack', err);
    }
    if (!Array.isArray(list)) fail('namespaces object is not an array');
    out(NAMESPACE_HEADER);
    for (const entry of list as JValue[]) {
      try {
        if (!isObject(entry)) throw new FluxError(EPROTO);
        out(namespaceRow(stringField(entry, 'namespace'), cInt(intField(entry, 'owner')), cInt(intField(entry, 'flags'))));
      } catch (err) {
        die('json_unpack', err);
      }
    }
    return 0;
  });
}

// ---- eventlog ----------------------------------------------------------------------------------------

interface FormatOpts {
  unformatted?: boolean;
  human?: boolean;
  color?: string;
}

function formatter(o: FormatOpts): EventlogFormatter {
  const when = o.color ?? 'auto';
  if (o.unformatted && (o.human || when === 'always')) {
    throw new Exit('flux-kvs: Do not specify --unformatted with --human or --color=always\n'
      + 'flux-kvs: failed to create eventlog formatter\n');
  }
  let color: boolean;
  try {
    color = colorFor(when, process.stdout.isTTY === true);
  } catch (err) {
    if (!(err instanceof FluxError)) throw err;
    throw new Exit(`flux-kvs: ${err.message}: ${strerror(err.errno)}\nflux-kvs: failed to create eventlog formatter\n`);
  }
  return new EventlogFormatter({ unformatted: o.unformatted, human: o.human, color });
}

function eventsOf(t: JObject): ReturnType<typeof decodeEventlog> {
  let value: Buffer;
  try {
    value = valData(t);
  } catch (err) {
    die('flux_kvs_lookup_get', err);
  }
  try {
    return decodeEventlog(value);
  } catch (err) {
    return die('eventlog_decode', err);
  }
}

interface EventlogGetOpts extends FormatOpts {
  namespace?: string;
  waitcreate?: boolean;
  watch?: boolean;
  count?: string;
  stream?: boolean;
}

async function cmdEventlogGet(key: string, o: EventlogGetOpts): Promise<number> {
  let flags = 0;
  if (o.watch) flags |= WATCH | WATCH_APPEND;
  if (o.waitcreate) flags |= WAITCREATE;
  if (o.stream) flags |= STREAM;
  const maxcount = intOption(o.count, 'count') ?? 0;
  const fmt = formatter(o);
  const ns = o.namespace ?? defaultNamespace();
  return withHandle(async (h) => {
    try {
      lookupRequest({ ns }, flags, key);
    } catch (err) {
      die('flux_kvs_lookup', err);
    }
    let count = 0;
    const print = (t: JObject, tag: number) => {
      let limit = false;
      for (const e of eventsOf(t)) {
        if (maxcount === 0 || count < maxcount) out(fmt.format(e));
        if (maxcount > 0 && ++count === maxcount) limit = true;
      }
      if (limit && flags & (WATCH | STREAM)) cancel(h, tag);
    };
    if (flags & (WATCH | STREAM)) {
      await lookupStream(h, ns, flags, key, print).catch((err: unknown) => die('flux_kvs_lookup_get', err));
    } else {
      let t: JObject;
      try {
        t = await lookup(h, { ns }, flags, key);
      } catch (err) {
        die('flux_kvs_lookup_get', err);
      }
      print(t, 0);
    }
    return 0;
  });
}

/** Wait in silence for up to `seconds` (Infinity: forever) between the stream's responses. */
function idleTimeout(seconds: number): { arm(): void; expired: Promise<never>; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let expire!: (err: Error) => void;
  const expired = new Promise<never>((_, reject) => {
    expire = reject;
  });
  const arm = () => {
    if (!Number.isFinite(seconds)) return;
    clearTimeout(timer);
    timer = setTimeout(() => expire(new FluxError(ETIMEDOUT)), seconds * 1000);
  };
  return { arm, expired, stop: () => clearTimeout(timer) };
}

interface WaitEventOpts extends FormatOpts {
  namespace?: string;
  waitcreate?: boolean;
  timeout?: string;
  quiet?: boolean;
  verbose?: boolean;
}

async function cmdEventlogWaitEvent(key: string, event: string, o: WaitEventOpts): Promise<number> {
  const ns = o.namespace ?? defaultNamespace();
  const fmt = formatter(o);
  let seconds = Infinity;
  if (o.timeout !== undefined) {
    try {
      seconds = parseFSD(o.timeout);
    } catch (err) {
      if (!(err instanceof FluxError)) throw err;
      fail(`${err.message} for option --timeout`);
    }
  }
  const flags = WATCH | WATCH_APPEND | (o.waitcreate ? WAITCREATE : 0);
  return withHandle(async (h) => {
    try {
      lookupRequest({ ns }, flags, key);
    } catch (err) {
      die('flux_kvs_lookup', err);
    }
    let got = false;
    const timer = idleTimeout(seconds);
    timer.arm();
    const watching = lookupStream(h, ns, flags, key, (t, tag) => {
      timer.arm();
      for (const e of eventsOf(t)) {
        if (e.name === event) {
          if (!o.quiet) out(fmt.format(e));
          got = true;
          break;
        }
        if (o.verbose && !got) out(fmt.format(e));
      }
      if (got) cancel(h, tag);
    });
    try {
      await Promise.race([watching, timer.expired]);
    } catch (err) {
      if (!(err instanceof FluxError)) throw err;
      if (err.errno === ENOENT) fail(`eventlog path ${key} not found`);
      if (err.errno === ETIMEDOUT) fail(`wait-event timeout on event '${event}'`);
      die('flux_kvs_lookup_get', err);
    } finally {
      timer.stop();
    }
    if (!got) fail(`event '${event}' never received`);
    return 0;
  });
}

async function cmdEventlogAppend(key: string, name: string, context: string[], o: { namespace?: string; timestamp?: string }): Promise<number> {
  let timestamp = 0;
  if (o.timestamp !== undefined) {
    if (!/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(o.timestamp)) {
      fail(`Option 'timestamp' requires a floating point argument`);
    }
    timestamp = Number(o.timestamp);
  }
  return withHandle(async (h) => {
    let line: string;
    try {
      line = encodeEntry(timestamp, name, context.length > 0 ? context.join(' ') : undefined);
    } catch (err) {
      die('eventlog_entry_create', err);
    }
    let ops: Op[];
    try {
      ops = [op(key, APPEND, val(Buffer.from(line)))];
    } catch (err) {
      die('flux_kvs_txn_put', err);
    }
    try {
      await commit(h, o.namespace ?? defaultNamespace(), 0, ops);
    } catch (err) {
      die('flux_kvs_commit', err);
    }
    return 0;
  });
}

// ---- the command line -----------------------------------------------------------------------------------

const NS_HELP = 'Specify KVS namespace to use.';

/**
 * -L / --color without a value mean "always", as flux-core's optional argument does; commander would take
 * the next word (the key) for the value instead.
 */
function colorDefaults(args: string[]): string[] {
  // a put of 10,000 keys would otherwise copy them all for nothing (0.3-1.3 ms in a fresh process)
  if (!args.includes('-L') && !args.includes('--color')) return args;
  const end = args.indexOf('--');
  return args.map((a, i) => ((a === '-L' || a === '--color') && (end < 0 || i < end) ? '--color=always' : a));
}

function rootOptions(cmd: Command, what: string): Command {
  return cmd
    .option('-O, --treeobj-root', `Output resulting RFC11 root containing ${what}`)
    .option('-b, --blobref', `Output blobref of root containing ${what}`)
    .option('-s, --sequence', `Output root sequence of root containing ${what}`);
}

export async function run(args: string[]): Promise<number> {
  let action: (() => Promise<number>) | undefined;
  const p = program('kvs', 'Access the Flux key-value store');
  const copyOrMove = (move: boolean) => {
    p.command(move ? 'move' : 'copy')
      .description(move ? 'Move source key to destination key' : 'Copy source key to destination key')
      .option('-S, --src-namespace <ns>', "Specify source key's namespace")
      .option('-D, --dst-namespace <ns>', "Specify destination key's namespace")
      .argument('[source-and-destination...]')
      .action((a: string[], o: CopyOpts) => {
        action = () => cmdCopy(a, o, move);
      });
  };
  defineSubcommands(args, {
    get: () => {
      p.command('get')
        .description('Get value stored under key')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('-r, --raw', 'Interpret value(s) as raw data')
        .option('-t, --treeobj', 'Show RFC 11 object')
        .option('-a, --at <treeobj>', 'Lookup relative to RFC 11 snapshot reference')
        .option('--at-version <N>', 'Lookup in the root KVS version N had')
        .option('--at-seq <SEQ>', 'Lookup in the root the KVS had after journal entry SEQ')
        .option('--at-time <T>', 'Lookup in the root the KVS had at time T (ISO-8601 or seconds since the epoch)')
        .option('-l, --label', 'Print key= before value')
        .option('-W, --waitcreate', 'Wait for creation to occur on watch')
        .option('-w, --watch', 'Monitor key writes')
        .option('-u, --uniq', 'Only monitor key writes if values have changed')
        .option('-A, --append', 'Only monitor key appends')
        .option('-f, --full', 'Monitor key changes with more complete accuracy')
        .option('-c, --count <count>', 'Display at most COUNT changes')
        .option('-S, --stream', 'Stream the value in pieces rather than all at once')
        .option('--from-version <N>', 'With --watch: replay the changes since version N, then go on watching')
        .argument('<key...>')
        .action((keys: string[], o: GetOpts) => {
          action = () => cmdGet(keys, o);
        });
    },
    put: () => {
      rootOptions(p.command('put').description('Store value under key').option('-N, --namespace <ns>', NS_HELP), 'puts')
        .option('-r, --raw', 'Store value(s) as-is without adding NULL termination')
        .option('-t, --treeobj', 'Store RFC 11 object')
        .option('-n, --no-merge', 'Set the NO_MERGE flag to ensure commit is standalone')
        .option('-A, --append', 'Append value(s) to key instead of overwriting')
        .option('-S, --sync', 'Flushes content and checkpoints after completing put')
        .argument('<key=value...>')
        .action((pairs: string[], o: PutOpts) => {
          action = () => cmdPut(pairs, o);
        });
    },
    dir: () => {
      p.command('dir')
        .description('Display all keys under directory')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('-R, --recursive', 'Recursively display keys under subdirectories')
        .option('-d, --directory', 'List directory entries and not values')
        .option('-w, --width <cols>', 'Set output width to COLS.  0 means no limit')
        .option('-a, --at <treeobj>', 'Lookup relative to RFC 11 snapshot reference')
        .option('--at-version <N>', 'Lookup in the root KVS version N had')
        .option('--at-seq <SEQ>', 'Lookup in the root the KVS had after journal entry SEQ')
        .option('--at-time <T>', 'Lookup in the root the KVS had at time T (ISO-8601 or seconds since the epoch)')
        .argument('[key...]')
        .action((keys: string[], o: DirOpts) => {
          action = () => cmdDir(keys, o);
        });
    },
    ls: () => {
      p.command('ls')
        .description('List directory')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('-R, --recursive', 'List directory recursively')
        .option('-d, --directory', 'List directory instead of contents')
        .option('-w, --width <cols>', 'Set output width to COLS.  0 means no limit')
        .option('-1, --1', 'Force one entry per line')
        .option('-F, --classify', 'Append indicator (one of .@) to entries')
        .option('--at-version <N>', 'Lookup in the root KVS version N had')
        .option('--at-seq <SEQ>', 'Lookup in the root the KVS had after journal entry SEQ')
        .option('--at-time <T>', 'Lookup in the root the KVS had at time T (ISO-8601 or seconds since the epoch)')
        .argument('[key...]')
        .action((keys: string[], o: LsOpts) => {
          action = () => cmdLs(keys, o);
        });
    },
    unlink: () => {
      rootOptions(p.command('unlink').description('Remove key').option('-N, --namespace <ns>', NS_HELP), 'unlinks')
        .option('-R, --recursive', 'Remove directory contents recursively')
        .option('-f, --force', 'ignore nonexistent files')
        .argument('<key...>')
        .action((keys: string[], o: UnlinkOpts) => {
          action = () => cmdUnlink(keys, o);
        });
    },
    link: () => {
      const link = p.command('link').description('Create a new name for target');
      rootOptions(link.option('-N, --namespace <ns>', "Specify link's namespace."), 'link')
        .option('-T, --target-namespace <ns>', "Specify target's namespace")
        .argument('[target-and-linkname...]')
        .action((a: string[], o: LinkOpts) => {
          action = () => cmdLink(link, a, o);
        });
    },
    readlink: () => {
      p.command('readlink')
        .description('Retrieve the key a link refers to')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('-a, --at <treeobj>', 'Lookup relative to RFC 11 snapshot reference')
        .option('--at-version <N>', 'Lookup in the root KVS version N had')
        .option('--at-seq <SEQ>', 'Lookup in the root the KVS had after journal entry SEQ')
        .option('--at-time <T>', 'Lookup in the root the KVS had at time T (ISO-8601 or seconds since the epoch)')
        .option('-o, --namespace-only', 'Output only namespace if link points to a namespace')
        .option('-k, --key-only', 'Output only key if link points to a namespace')
        .argument('<key...>')
        .action((keys: string[], o: ReadlinkOpts) => {
          action = () => cmdReadlink(keys, o);
        });
    },
    mkdir: () => {
      rootOptions(p.command('mkdir').description('Create a directory').option('-N, --namespace <ns>', NS_HELP), 'new directory')
        .argument('<key...>')
        .action((keys: string[], o: RootOpts & { namespace?: string }) => {
          action = () => cmdMkdir(keys, o);
        });
    },
    copy: () => copyOrMove(false),
    move: () => copyOrMove(true),
    version: () => {
      p.command('version')
        .description('Display current KVS version')
        .option('-N, --namespace <ns>', NS_HELP)
        .allowExcessArguments()
        .action((o: { namespace?: string }) => {
          action = () => cmdVersion(o);
        });
    },
    wait: () => {
      const wait = p.command('wait').description('Block until the KVS reaches version');
      wait.option('-N, --namespace <ns>', NS_HELP)
        .argument('[version...]')
        .action((a: string[], o: { namespace?: string }) => {
          action = () => cmdWait(wait, a, o);
        });
    },
    history: () => {
      p.command('history')
        .description('List every version of key: root sequence, time and value')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('--json', 'Print one JSON object per version')
        .option('--limit <N>', 'Only the last N versions')
        .argument('<key>')
        .action((key: string, o: HistoryOpts) => {
          action = () => cmdHistory(key, o);
        });
    },
    diff: () => {
      p.command('diff')
        .description('Show keys added, changed and removed between two versions')
        .option('-N, --namespace <ns>', NS_HELP)
        .argument('<versions-and-prefix...>')
        .action((a: string[], o: { namespace?: string }) => {
          action = () => cmdDiff(a, o);
        });
    },
    getroot: () => {
      p.command('getroot')
        .description('Get KVS root treeobj')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('-s, --sequence', 'Show sequence number')
        .option('-o, --owner', 'Show owner')
        .option('-b, --blobref', 'Show blobref')
        .action((o: GetrootOpts) => {
          action = () => cmdGetroot(o);
        });
    },
    sync: () => {
      p.command('sync')
        .description('Flush the content store and checkpoint the KVS root')
        .option('-N, --namespace <ns>', NS_HELP)
        .action((o: { namespace?: string }) => {
          action = () => cmdSync(o);
        });
    },
    namespace: () => {
      const ns = p.command('namespace').description('Perform KVS namespace operations');
      ns.command('create')
        .description('Create a KVS namespace')
        .option('-o, --owner <uid>', 'Specify alternate namespace owner via userid')
        .option('-r, --rootref <ref>', 'Initialize namespace with specific root reference')
        .argument('<name...>')
        .action((names: string[], o: { owner?: string; rootref?: string }) => {
          action = () => cmdNamespaceCreate(names, o);
        });
      ns.command('remove')
        .description('Remove a KVS namespace')
        .argument('<name...>')
        .action((names: string[]) => {
          action = () => cmdNamespaceRemove(names);
        });
      ns.command('list')
        .description('List namespaces on local rank')
        .action(() => {
          action = () => cmdNamespaceList();
        });
    },
    eventlog: () => {
      const eventlog = p.command('eventlog').description('Manipulate a KVS eventlog');
      eventlog.command('append')
        .description('Append to eventlog')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('-t, --timestamp <seconds>', 'Specify timestamp in seconds since epoch')
        .argument('<key>')
        .argument('<name>')
        .argument('[context...]')
        .action((key: string, name: string, context: string[], o: { namespace?: string; timestamp?: string }) => {
          action = () => cmdEventlogAppend(key, name, context, o);
        });
      eventlog.command('get')
        .description('Get eventlog')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('-W, --waitcreate', 'Wait for creation to occur on watch')
        .option('-w, --watch', 'Monitor eventlog')
        .option('-c, --count <count>', 'Display at most COUNT events')
        .option('-u, --unformatted', 'Show event in RFC 18 form')
        .option('-H, --human', 'Display human-readable output')
        .option('-L, --color <when>', "Colorize output when supported; WHEN can be 'always' (default if omitted), 'never', or 'auto' (default).")
        .option('-S, --stream', 'Stream the eventlog rather than read it at once')
        .argument('<key>')
        .action((key: string, o: EventlogGetOpts) => {
          action = () => cmdEventlogGet(key, o);
        });
      eventlog.command('wait-event')
        .description('Wait for an event')
        .option('-N, --namespace <ns>', NS_HELP)
        .option('-W, --waitcreate', 'Wait for creation to occur on eventlog')
        .option('-t, --timeout <duration>', 'timeout after DURATION')
        .option('-u, --unformatted', 'Show event in RFC 18 form')
        .option('-q, --quiet', 'Do not output matched event')
        .option('-v, --verbose', 'Output all events before matched event')
        .option('-H, --human', 'Display human-readable output')
        .option('-L, --color <when>', "Colorize output when supported; WHEN can be 'always' (default if omitted), 'never', or 'auto' (default).")
        .argument('<key>')
        .argument('<event>')
        .action((key: string, event: string, o: WaitEventOpts) => {
          action = () => cmdEventlogWaitEvent(key, event, o);
        });
    },
  });

  const code = parse(p, colorDefaults(args));
  if (code !== undefined) return code;
  try {
    return await action!();
  } catch (err) {
    if (!(err instanceof Exit)) throw err;
    flushOut();
    process.stderr.write(err.text);
    return 1;
  } finally {
    flushOut();
  }
}
