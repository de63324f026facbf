// The KVS client: what libkvs offers in C (flux_kvs_lookup, flux_kvs_txn_*, flux_kvs_commit, flux_kvs_getroot,
// namespaces…) in two layers. The wire layer speaks flux-core's JSON (member order, 64-bit integers, the exact
// bytes flux-kvs sends) and is what `flux kvs` uses; `Kvs` on top of it is the idiomatic one for programs:
// plain JSON values, promises, async iterators and AbortSignal.
import { FluxError, EINVAL, ENOENT, EPROTO } from '../core/errors.js';
import { type Message, stringPayload } from '../core/wire/message.js';
import { type JObject, type JValue, dumpJson, isObject, parseJson } from '../core/kvs/format-json.js';
import { isTreeObj, typeOf, valData } from '../core/kvs/format.js';
import type { Flux } from './handle.js';
import { iterate } from './iterate.js';

// lookup flags (flux-core's FLUX_KVS_*)
export const READDIR = 1;
export const READLINK = 2;
export const WATCH = 4;
export const WAITCREATE = 8;
export const TREEOBJ = 16;
export const WATCH_FULL = 64;
export const WATCH_UNIQ = 128;
export const WATCH_APPEND = 256;
export const STREAM = 512;
/** what kvs-watch serves rather than kvs */
const WATCHER = WATCH | WAITCREATE | STREAM;
// commit flags, and the op flag that appends
export const NO_MERGE = 1;
export const SYNC = 4;
export const APPEND = 32;

// ---- the wire layer ------------------------------------------------------------------------------------------

/** a JSON payload in flux-core's member order and number formats, NUL-terminated */
const body = (v: JValue) => stringPayload(dumpJson(v));

/** a response's payload as flux-core's JSON (EPROTO when it is not an object) */
export function responseObject(m: Message): JObject {
  const p = m.payload;
  if (!p || p.length === 0 || p[p.length - 1] !== 0) throw new FluxError(EPROTO);
  let v: JValue;
  try {
    v = parseJson(p.subarray(0, p.length - 1));
  } catch (err) {
    if (err instanceof FluxError) throw new FluxError(EPROTO);
    throw err;
  }
  if (!isObject(v)) throw new FluxError(EPROTO);
  return v;
}

/** the `val` tree object of a lookup response (EPROTO when missing or malformed) */
function treeobjOf(m: Message): JObject {
  const val = responseObject(m).get('val');
  if (val === undefined || !isTreeObj(val)) throw new FluxError(EPROTO);
  return val;
}

export function intField(o: JObject, name: string): bigint {
  const v = o.get(name);
  if (typeof v !== 'bigint') throw new FluxError(EPROTO);
  return v;
}

export function stringField(o: JObject, name: string): string {
  const v = o.get(name);
  if (typeof v !== 'string') throw new FluxError(EPROTO);
  return v;
}

/** a lookup in a namespace, or (at) under a snapshot's root directory, given as tree object text */
export type Where = { ns: string } | { at: string };

export interface CallOpts {
  signal?: AbortSignal;
}

/**
 * The request a lookup sends; EINVAL for an empty key or flags that make no sense together. `from`: a watch
 * that replays the key's changes since that version before going on live.
 */
export function lookupRequest(where: Where, flags: number, key: string, from?: number): { topic: string; payload: Buffer } {
  if (key.length === 0) throw new FluxError(EINVAL);
  if ('at' in where) {
    // a snapshot never changes: there is nothing to wait for or watch
    if (flags & WATCHER) throw new FluxError(EINVAL);
    return { topic: 'kvs.lookup', payload: body({ key, flags, rootdir: parseJson(where.at) }) };
  }
  if ((flags & WATCH) && (flags & STREAM)) throw new FluxError(EINVAL);
  return {
    topic: flags & WATCHER ? 'kvs-watch.lookup' : 'kvs.lookup',
    payload: body(from === undefined ? { key, namespace: where.ns, flags } : { key, namespace: where.ns, flags, from_version: from }),
  };
}

/** flux_kvs_lookup: the tree object at `key` */
export async function lookup(h: Flux, where: Where, flags: number, key: string, opts: CallOpts = {}): Promise<JObject> {
  const { topic, payload } = lookupRequest(where, flags, key);
  return treeobjOf(await h.rpc(topic, payload, opts));
}

/**
 * A watching or streaming lookup: `each` gets every value and the request's matchtag (which cancelWatch needs);
 * resolves at the ENODATA that ends the stream, rejects with any other error or with what `each` throws.
 */
export function lookupStream(
  h: Flux, ns: string, flags: number, key: string, each: (t: JObject, tag: number) => void, from?: number,
  opts: CallOpts & { sent?: (matchtag: number) => void } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const { topic, payload } = lookupRequest({ ns }, flags, key, from);
    h.stream(topic, payload, opts, (m) => {
      try {
        each(treeobjOf(m), m.aux2);
        return true;
      } catch (err) {
        reject(err);
        return false;
      }
    }).then(resolve, reject);
  });
}

/** ends a watch: kvs-watch answers the watch itself with ENODATA */
export const cancelWatch = (h: Flux, tag: number): void => h.send('kvs-watch.cancel', body({ matchtag: tag }));

/** one operation of a transaction: `dirent` is the tree object to put at `key`, null to unlink it */
export interface Op {
  key: string;
  flags: number;
  dirent: JValue;
}

/** flux_kvs_commit: the ops applied at once; the response holds the new rootref and rootseq */
export async function commit(h: Flux, ns: string, flags: number, ops: Op[], opts: CallOpts = {}): Promise<JObject> {
  const m = await h.rpc('kvs.commit', body({ namespace: ns, flags, ops: ops.map((o) => ({ key: o.key, flags: o.flags, dirent: o.dirent })) }), opts);
  return responseObject(m);
}

/** flux_kvs_getroot: rootref, rootseq, owner and flags of a namespace (kvs.getroot without flags, as flux kvs version asks) */
export async function getroot(h: Flux, ns: string, opts: CallOpts & { flags?: number } = {}): Promise<JObject> {
  const req: JValue = opts.flags === undefined ? { namespace: ns } : { namespace: ns, flags: opts.flags };
  return responseObject(await h.rpc('kvs.getroot', body(req), opts));
}

/** flux_kvs_wait_version: resolves once the namespace is at `version` or later */
export async function waitVersion(h: Flux, ns: string, version: number, opts: CallOpts = {}): Promise<void> {
  await h.rpc('kvs.wait-version', body({ rootseq: version, namespace: ns }), opts);
}

/** the rootref of a past version of the namespace (ENOENT for a version never reached or compacted away) */
export async function versionRoot(h: Flux, ns: string, version: number, opts: CallOpts = {}): Promise<string> {
  return (await h.call('kvs.version-root', { namespace: ns, rootseq: version }, opts)).rootref as string;
}

/** the rootref of the namespace as it was at `time` (seconds since the epoch) */
export async function rootAtTime(h: Flux, ns: string, time: number, opts: CallOpts = {}): Promise<string> {
  return (await h.call('kvs-history.at-time', { namespace: ns, time }, opts)).rootref as string;
}

/** the version the namespace was at after journal entry `seq` */
export async function versionAtSeq(h: Flux, ns: string, seq: number, opts: CallOpts = {}): Promise<number> {
  return Number((await h.call('kvs-history.at-seq', { namespace: ns, seq }, opts)).rootseq);
}

/** a version of a key in its history: its value's tree object, unless it was deleted or compacted away */
export interface KeyVersion {
  rootseq: number;
  rootref: string;
  time: number;
  val?: unknown;
  errno?: number;
  compacted?: boolean;
}

/** the versions at which `key` changed, oldest first (at most `limit`, the newest ones) */
export async function keyHistory(h: Flux, ns: string, key: string, opts: CallOpts & { limit?: number } = {}): Promise<KeyVersion[]> {
  const r = await h.call('kvs-history.key', { namespace: ns, key, ...(opts.limit !== undefined ? { limit: opts.limit } : {}), values: true }, opts);
  return r.versions as KeyVersion[];
}

/** flux_kvs_namespace_create: at rank 0, as flux-core's libkvs sends it */
export async function namespaceCreate(h: Flux, ns: string, rootref: string, owner: number, opts: CallOpts = {}): Promise<void> {
  await h.rpc('kvs.namespace-create', body({ namespace: ns, rootref, owner, flags: 0 }), { ...opts, nodeid: 0 });
}

export async function namespaceRemove(h: Flux, ns: string, opts: CallOpts = {}): Promise<void> {
  await h.rpc('kvs.namespace-remove', body({ namespace: ns }), { ...opts, nodeid: 0 });
}

/** the `namespaces` member of kvs.namespace-list's answer, as it came */
export async function namespaceList(h: Flux, opts: CallOpts = {}): Promise<JValue> {
  return responseObject(await h.rpc('kvs.namespace-list', undefined, opts)).get('namespaces') ?? null;
}

// ---- tree objects (RFC 11) ------------------------------------------------------------------------------------

/** a `val` of raw bytes, or of text as its UTF-8 bytes */
export const valTreeobj = (data: Buffer | string): JValue => ({ ver: 1, type: 'val', data: base64(data) });

// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/;
/** past this, btoa is no faster (and many times slower on a string made by concatenation: 10 MiB 90 ms against 4) */
const BTOA_MAX = 4096;

/**
 * Short ASCII text is its own UTF-8, which btoa encodes without the Buffer that Buffer.from would make: half
 * of what a `flux kvs put` of 10,000 keys spent building its ops (measured)
 */
function base64(data: Buffer | string): string {
  if (typeof data !== 'string') return data.toString('base64');
  return data.length <= BTOA_MAX && ASCII.test(data) ? btoa(data) : Buffer.from(data).toString('base64');
}
export const dirTreeobj = (): JValue => ({ ver: 1, type: 'dir', data: {} });
export const symlinkTreeobj = (target: string, ns?: string): JValue =>
  ({ ver: 1, type: 'symlink', data: ns === undefined ? { target } : { namespace: ns, target } });
/** a snapshot's root directory as tree object text, for `at` */
export const dirrefText = (ref: string): string => dumpJson({ data: [ref], type: 'dirref', ver: 1 });

// ---- the idiomatic client ----------------------------------------------------------------------------------

/** where a read happens: now (default), a past version, a past time, or under a tree object */
export interface LookupOptions extends CallOpts {
  namespace?: string;
  /** the namespace's version (its rootseq) */
  atVersion?: number;
  /** seconds since the epoch, or a Date */
  atTime?: number | Date;
  /** a dirref or dir tree object (as text or object), e.g. what `getroot()` gives */
  at?: string | object;
}

export interface CommitOptions extends CallOpts {
  namespace?: string;
  /** commit flags: NO_MERGE, SYNC */
  flags?: number;
}

export interface CommitResult {
  /** the blobref of the namespace's new root directory */
  rootref: string;
  /** the namespace's version after this commit */
  rootseq: number;
}

export interface WatchOptions extends CallOpts {
  namespace?: string;
  /** replay the key's changes from this version on before going live */
  fromVersion?: number;
  /** wait for a key that does not exist yet rather than failing with ENOENT */
  waitCreate?: boolean;
  /** report only changes of the value, not every commit that touched the key */
  uniq?: boolean;
}

export interface KvsChange {
  /** the key's value, decoded as JSON; raw bytes when the value is not JSON */
  value: unknown;
}

/** A KVS value is bytes; a program's values are JSON, stored NUL-terminated as flux kvs put stores text. */
function encodeValue(v: unknown): Buffer | string {
  if (Buffer.isBuffer(v)) return v;
  const text = JSON.stringify(v);
  if (text === undefined) throw new FluxError(EINVAL, 'a KVS value must be JSON or a Buffer');
  return `${text}\0`;
}

function decodeValue(data: Buffer): unknown {
  const text = (data.length > 0 && data[data.length - 1] === 0 ? data.subarray(0, -1) : data).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return data;
  }
}

/** The changes to apply at once: flux_kvs_txn_t. Every method returns the transaction, to chain. */
export class Txn {
  readonly ops: Op[] = [];

  private add(key: string, flags: number, dirent: JValue): this {
    if (key.length === 0) throw new FluxError(EINVAL, 'empty key');
    this.ops.push({ key, flags, dirent });
    return this;
  }

  /** the key holds `value` (JSON, or a Buffer of raw bytes) */
  put(key: string, value: unknown): this {
    return this.add(key, 0, valTreeobj(encodeValue(value)));
  }

  /** raw bytes appended to the key's value (FLUX_KVS_APPEND): an eventlog grows this way */
  append(key: string, data: Buffer | string): this {
    return this.add(key, APPEND, valTreeobj(data));
  }

  unlink(key: string): this {
    return this.add(key, 0, null);
  }

  mkdir(key: string): this {
    return this.add(key, 0, dirTreeobj());
  }

  symlink(key: string, target: string, namespace?: string): this {
    return this.add(key, 0, symlinkTreeobj(target, namespace));
  }

  /** a tree object put as it is (flux_kvs_txn_put_treeobj) */
  putTreeobj(key: string, treeobj: object): this {
    return this.add(key, 0, JSON.parse(JSON.stringify(treeobj)) as JValue);
  }
}

/** The KVS of the instance a handle is connected to. */
export class Kvs {
  constructor(private readonly h: Flux) {}

  private ns(o: { namespace?: string }): string {
    return o.namespace ?? process.env.FLUX_KVS_NAMESPACE ?? 'primary';
  }

  /** where a lookup with these options happens */
  private async where(o: LookupOptions): Promise<Where> {
    const ns = this.ns(o);
    const given = [o.at, o.atVersion, o.atTime].filter((v) => v !== undefined).length;
    if (given > 1) throw new FluxError(EINVAL, 'give at most one of at, atVersion and atTime');
    if (o.at !== undefined) return { at: typeof o.at === 'string' ? o.at : JSON.stringify(o.at) };
    if (o.atVersion !== undefined) return { at: dirrefText(await versionRoot(this.h, ns, o.atVersion, o)) };
    if (o.atTime !== undefined) {
      const t = o.atTime instanceof Date ? o.atTime.getTime() / 1000 : o.atTime;
      return { at: dirrefText(await rootAtTime(this.h, ns, t, o)) };
    }
    return { ns };
  }

  /**
   * A value's bytes. The same request as lookup() sends, read with the runtime's own JSON: a program's values need
   * none of the exactness (64-bit integers, member order) the command's output does, and this is the hot path.
   */
  private async valueAt(key: string, opts: LookupOptions): Promise<Buffer> {
    if (key.length === 0) throw new FluxError(EINVAL);
    const plain = opts.at === undefined && opts.atVersion === undefined && opts.atTime === undefined;
    const where = plain ? { ns: this.ns(opts) } : await this.where(opts);
    const body = 'at' in where
      ? { key, flags: 0, rootdir: JSON.parse(where.at) as unknown }
      : { key, namespace: where.ns, flags: 0 };
    const val = (await this.h.call('kvs.lookup', body, opts)).val as { type?: unknown; data?: unknown } | undefined;
    if (val?.type !== 'val' || typeof val.data !== 'string') throw new FluxError(EPROTO);
    return Buffer.from(val.data, 'base64');
  }

  /** The value at `key`, decoded as JSON (raw bytes when it is not JSON). ENOENT when there is none. */
  async get(key: string, opts: LookupOptions = {}): Promise<unknown> {
    return decodeValue(await this.valueAt(key, opts));
  }

  /** The value's bytes as stored. */
  async getRaw(key: string, opts: LookupOptions = {}): Promise<Buffer> {
    return this.valueAt(key, opts);
  }

  /** The tree object at `key`, as RFC 11 writes it (a dir comes as a dirref or dir, a link as a symlink). */
  async getTreeobj(key: string, opts: LookupOptions = {}): Promise<Record<string, unknown>> {
    return JSON.parse(dumpJson(await lookup(this.h, await this.where(opts), TREEOBJ, key, opts))) as Record<string, unknown>;
  }

  /** The names in directory `key`. */
  async readdir(key: string, opts: LookupOptions = {}): Promise<string[]> {
    const t = await lookup(this.h, await this.where(opts), READDIR, key, opts);
    if (typeOf(t) !== 'dir') throw new FluxError(EPROTO);
    const data = t.get('data');
    return isObject(data) ? [...data.keys()] : [];
  }

  /** The target of the symlink at `key`. */
  async readlink(key: string, opts: LookupOptions = {}): Promise<{ target: string; namespace?: string }> {
    const t = await lookup(this.h, await this.where(opts), READLINK, key, opts);
    const data = t.get('data');
    if (typeOf(t) !== 'symlink' || !isObject(data)) throw new FluxError(EINVAL, `${key} is not a symlink`);
    const ns = data.get('namespace');
    return { target: String(data.get('target')), ...(typeof ns === 'string' ? { namespace: ns } : {}) };
  }

  /** An empty transaction to fill and commit. */
  txn(): Txn {
    return new Txn();
  }

  /** Apply a transaction at once; the new root and version of the namespace. */
  async commit(txn: Txn, opts: CommitOptions = {}): Promise<CommitResult> {
    // the ops a Txn holds are plain JSON: the runtime's own JSON carries them, as in valueAt()
    const r = await this.h.call('kvs.commit', { namespace: this.ns(opts), flags: opts.flags ?? 0, ops: txn.ops }, opts);
    if (typeof r.rootref !== 'string' || typeof r.rootseq !== 'number') throw new FluxError(EPROTO);
    return { rootref: r.rootref, rootseq: r.rootseq };
  }

  /** put one key and commit */
  put(key: string, value: unknown, opts: CommitOptions = {}): Promise<CommitResult> {
    return this.commit(new Txn().put(key, value), opts);
  }

  /** unlink one key and commit */
  unlink(key: string, opts: CommitOptions = {}): Promise<CommitResult> {
    return this.commit(new Txn().unlink(key), opts);
  }

  /** The namespace's current root: its tree object (usable as `at`), version and owner. */
  async getroot(opts: CallOpts & { namespace?: string } = {}): Promise<{ treeobj: object; rootref: string; rootseq: number; owner: number }> {
    const r = await getroot(this.h, this.ns(opts), { ...opts, flags: 0 });
    const rootref = stringField(r, 'rootref');
    return { treeobj: JSON.parse(dirrefText(rootref)) as object, rootref, rootseq: Number(intField(r, 'rootseq')), owner: Number(intField(r, 'owner')) };
  }

  /** The namespace's version. */
  async version(opts: CallOpts & { namespace?: string } = {}): Promise<number> {
    return Number(intField(await getroot(this.h, this.ns(opts), opts), 'rootseq'));
  }

  /** Resolves once the namespace has reached `version`. */
  waitVersion(version: number, opts: CallOpts & { namespace?: string } = {}): Promise<void> {
    return waitVersion(this.h, this.ns(opts), version, opts);
  }

  /**
   * The key's value now and at every change, until the loop is left, the signal aborts or the handle closes
   * (flux_kvs_lookup with FLUX_KVS_WATCH). A key that is removed ends the iteration with ENOENT.
   */
  watch(key: string, opts: WatchOptions = {}): AsyncIterableIterator<KvsChange> {
    const flags = WATCH | (opts.waitCreate ? WAITCREATE : 0) | (opts.uniq ? WATCH_UNIQ : 0);
    const ns = this.ns(opts);
    return iterate<KvsChange>(({ push, end }) => {
      let tag: number | undefined;
      const done = new AbortController();
      const signal = opts.signal ? AbortSignal.any([opts.signal, done.signal]) : done.signal;
      lookupStream(this.h, ns, flags, key, (t) => {
        push({ value: decodeValue(valData(t)) });
      }, opts.fromVersion, { signal, sent: (matchtag) => (tag = matchtag) }).then(() => end(), end);
      return () => {
        if (tag !== undefined && !this.h.isClosed) cancelWatch(this.h, tag);
        done.abort();
      };
    }, { signal: opts.signal, closed: () => this.h.isClosed });
  }

  /** Whether `key` exists now. */
  async exists(key: string, opts: LookupOptions = {}): Promise<boolean> {
    try {
      await lookup(this.h, await this.where(opts), TREEOBJ, key, opts);
      return true;
    } catch (err) {
      if (err instanceof FluxError && err.errno === ENOENT) return false;
      throw err;
    }
  }
}
