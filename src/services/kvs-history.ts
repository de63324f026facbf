// KVS history queries over the indexes the kvs module keeps in rank 0's journal database (kvs_version: one row
// per root a namespace had; kvs_key: one row per key a batch changed). Rank 0 answers; a broker below checks
// the caller may use the namespace, then asks rank 0, since only rank 0 holds the indexes.
import { NAMESPACE_DENIED } from '../core/access/roles.js';
import type Database from 'better-sqlite3';
import { FluxError, EINVAL, ENOENT, ENOSYS, EPERM } from '../core/errors.js';
import { compactedError } from '../core/journal/store.js';
import { type Message, ROLE_OWNER, ROLE_USER, USERID_UNKNOWN, payloadJson } from '../core/wire/message.js';
import { dirref, keyPath } from '../core/kvs/treeobj.js';
import { LOOKUP_TREEOBJ } from '../core/kvs/tree.js';
import { type KvsState, KVS, PRIMARY, namespaceRoot } from '../projections/kvs.js';
import type { JournalService } from './journal.js';
import { newestUpTo } from './kvs/history-index.js';
import type { ModuleDef, ModuleHost } from './module.js';

export interface KvsHistoryOptions {
  journal: JournalService;
  /** rank 0: the journal's database, where the kvs module writes its history indexes */
  database?: Database.Database;
}

export interface VersionRow {
  rootseq: number;
  time: number;
  rootref: string;
  /** only a directory above the key was written in this version (it may have replaced the key, or not) */
  above?: true;
  /** the version is older than the journal's start: its tree is gone */
  compacted?: boolean;
}

const NAMESPACE = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\s/]+$' };
const AT_TIME_SCHEMA = {
  type: 'object',
  properties: { namespace: NAMESPACE, time: { type: 'number', minimum: 0 } },
  required: ['namespace', 'time'],
};
const AT_SEQ_SCHEMA = {
  type: 'object',
  properties: { namespace: NAMESPACE, seq: { type: 'integer', minimum: 0 } },
  required: ['namespace', 'seq'],
};
const KEY_SCHEMA = {
  type: 'object',
  properties: {
    namespace: NAMESPACE, key: { type: 'string', minLength: 1 }, limit: { type: 'integer', minimum: 1 },
    // only the versions after this one (a watch replaying from a version)
    after: { type: 'integer', minimum: 0 },
    // with each version, the key's tree object in it (or the errno of its lookup): one request for the lot
    values: { type: 'boolean' },
  },
  required: ['namespace', 'key'],
};

/** the smallest string above every key under `dir.` ('/' follows '.'), so the children are one index range */
const childRange = (dir: string): [string, string] => (dir === '.' ? ['', '\uffff'] : [`${dir}.`, `${dir}/`]);

export function kvsHistoryModule(host: ModuleHost, opts: KvsHistoryOptions): ModuleDef {
  const { journal, database: db } = opts;
  if (host.rank === 0 && !db) throw new FluxError(ENOSYS, 'kvs-history on rank 0 needs the journal database');
  const instanceOwner = Number(host.attrs.get('security.owner') ?? USERID_UNKNOWN);

  /** the same rule as kvs: the instance owner reads every namespace, anyone else only the ones they own */
  function checkAccess(msg: Message, ns: string): void {
    if (msg.rolemask & ROLE_OWNER) return;
    const owner = ns === PRIMARY ? instanceOwner : namespaceRoot(journal.state<KvsState>(KVS), ns)?.owner;
    if (owner === undefined || owner !== msg.userid) throw new FluxError(EPERM, NAMESPACE_DENIED);
  }

  let atTime: ((ns: string, time: number) => { rootseq: number; rootref: string } | undefined) | undefined;
  let atSeq: ((ns: string, seq: number) => number | undefined) | undefined;
  let floorOf: (ns: string) => number = () => 0;
  let keyVersions: ((ns: string, key: string, limit: number | undefined, after: number) => VersionRow[]) | undefined;

  if (db) {
    const lastUpTo = newestUpTo(db);
    atSeq = (ns, seq) => lastUpTo(ns, 'seq', seq);
    // each is a walk of the (namespace, key, rootseq) primary key: the cost is the number of rows for that key;
    // the keys of the newest versions may still be in kvs_key_recent (src/services/kvs/history-index.ts), which a
    // store written before it came lacks, and which a read-only one cannot be given
    const recent = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kvs_key_recent'").get() !== undefined;
    const keys = recent ? '(SELECT namespace, key, rootseq FROM kvs_key UNION ALL SELECT namespace, key, rootseq FROM kvs_key_recent)' : 'kvs_key';
    const exact = db.prepare(`SELECT rootseq FROM ${keys} WHERE namespace = ? AND key = ? AND rootseq > ? ORDER BY rootseq DESC LIMIT ?`);
    const under = db.prepare(`SELECT rootseq FROM ${keys} WHERE namespace = ? AND key >= ? AND key < ? AND rootseq > ?`);
    const version = db.prepare('SELECT rootseq, time, rootref, seq FROM kvs_version WHERE namespace = ? AND rootseq = ?');
    // written by the kvs module when the journal is compacted (it may not have made the table yet)
    db.exec('CREATE TABLE IF NOT EXISTS kvs_floor(namespace TEXT PRIMARY KEY, rootseq INTEGER NOT NULL)');
    const floor = db.prepare('SELECT rootseq FROM kvs_floor WHERE namespace = ?').pluck();
    floorOf = (ns) => Number(floor.get(ns) ?? 0);
    atTime = (ns, time) => {
      let rootseq = lastUpTo(ns, 'time', time);
      if (rootseq === undefined) return undefined;
      let v = version.get(ns, rootseq) as VersionRow & { seq: number };
      const head = journal.head().seq;
      // versions past the journal's head (an instance serving a past state) are left out
      if (v.seq > head) {
        rootseq = lastUpTo(ns, 'seq', head);
        if (rootseq === undefined) return undefined;
        v = version.get(ns, rootseq) as VersionRow & { seq: number };
      }
      return { rootseq: v.rootseq, rootref: v.rootref };
    };
    keyVersions = (ns, key, limit, after) => {
      const path = keyPath(key);
      /** each version, and whether only a directory above the key was written in it */
      const seqs = new Map<number, boolean>();
      // a write to the key or to a directory above it replaces the key; one below it changes it
      for (let i = 1; i <= path.length; i++) {
        for (const r of exact.all(ns, path.slice(0, i).join('.'), after, journal.readOnly ? -1 : limit ?? -1) as { rootseq: number }[]) {
          seqs.set(r.rootseq, i < path.length && seqs.get(r.rootseq) !== false);
        }
      }
      const [lo, hi] = childRange(path.length === 0 ? '.' : path.join('.'));
      for (const r of under.all(ns, lo, hi, after) as { rootseq: number }[]) seqs.set(r.rootseq, false);
      const ordered = [...seqs.keys()].sort((a, b) => a - b);
      const head = journal.head().seq;
      const oldest = floorOf(ns);
      const out: VersionRow[] = [];
      // newest first, until the limit: versions past the journal's head (a past state served) are left out
      for (let i = ordered.length - 1; i >= 0 && (limit === undefined || out.length < limit); i--) {
        const seq = ordered[i]!;
        const v = version.get(ns, seq) as (VersionRow & { seq: number }) | undefined;
        if (v === undefined) throw new FluxError(ENOENT, `version ${seq} of ${ns} is in the key index but not the version index`);
        if (v.seq > head) continue;
        out.push(seq < oldest ? { ...v, compacted: true } : seqs.get(seq) ? { ...v, above: true } : v);
      }
      return out.reverse();
    };
  }

  /** a broker below rank 0 hands the request to rank 0, which holds the indexes */
  async function forward(msg: Message, topic: string, body: Record<string, unknown>): Promise<boolean> {
    if (host.rank === 0) return false;
    const resp = await host.rpc(topic, body, { nodeid: 0 });
    host.respond(msg, payloadJson(resp));
    return true;
  }

  return {
    name: 'kvs-history',
    handlers: [
      {
        topic: 'kvs-history.at-time',
        allow: ROLE_USER,
        schema: AT_TIME_SCHEMA,
        handler: async (msg, body) => {
          const ns = body!.namespace as string;
          checkAccess(msg, ns);
          if (await forward(msg, 'kvs-history.at-time', body!)) return;
          const time = body!.time as number;
          const v = atTime!(ns, time);
          if (v !== undefined && v.rootseq < floorOf(ns)) throw compactedError(v.rootseq);
          // primary is at version 0, its empty directory, from the start until its first recorded version
          if (v === undefined && ns === PRIMARY && floorOf(ns) > 0) throw compactedError(0);
          if (v === undefined) {
            throw new FluxError(ENOENT, `namespace ${ns} has no recorded version at or before ${new Date(time * 1000).toISOString()}`);
          }
          host.respond(msg, { rootseq: v.rootseq, rootref: v.rootref });
        },
      },
      {
        // the version a namespace was at after a journal entry: the KVS root `flux kvs get --at-seq` reads
        topic: 'kvs-history.at-seq',
        allow: ROLE_USER,
        schema: AT_SEQ_SCHEMA,
        handler: async (msg, body) => {
          const ns = body!.namespace as string;
          checkAccess(msg, ns);
          if (await forward(msg, 'kvs-history.at-seq', body!)) return;
          const seq = body!.seq as number;
          const head = journal.head().seq;
          if (seq > head) throw new FluxError(EINVAL, `the journal ends at ${head}`);
          const rootseq = atSeq!(ns, seq);
          // primary is at version 0, its empty directory, until its first recorded version
          if (rootseq === undefined && ns !== PRIMARY) throw new FluxError(ENOENT, `namespace ${ns} did not exist after entry ${seq}`);
          host.respond(msg, { rootseq: rootseq ?? 0 });
        },
      },
      {
        topic: 'kvs-history.key',
        allow: ROLE_USER,
        schema: KEY_SCHEMA,
        handler: async (msg, body) => {
          const ns = body!.namespace as string;
          checkAccess(msg, ns);
          if (await forward(msg, 'kvs-history.key', body!)) return;
          const key = body!.key as string;
          const versions = keyVersions!(ns, key, body!.limit as number | undefined, (body!.after as number | undefined) ?? -1);
          // a compacted version is listed, marked, without its root (its tree is gone)
          const rows: Record<string, unknown>[] = versions.map((v) => (v.compacted
            ? { rootseq: v.rootseq, time: v.time, compacted: true }
            : { rootseq: v.rootseq, time: v.time, rootref: v.rootref, ...(v.above ? { above: true } : {}) }));
          if (body!.values === true) {
            // the lookups are made here, on rank 0, beside the store: not one round trip each from the client
            await Promise.all(rows.map(async (row, i) => {
              if (row.compacted === true) return;
              const r = payloadJson(await host.rpc('kvs.lookup-plus', { key, flags: LOOKUP_TREEOBJ, rootdir: dirref(versions[i]!.rootref) }));
              if (r.errno !== undefined) row.errno = r.errno;
              else row.val = r.val;
            }));
          }
          host.respond(msg, { versions: rows });
        },
      },
    ],
  };
}
