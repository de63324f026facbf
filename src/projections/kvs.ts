// The KVS namespaces as the journal records them: namespace -> {rootseq, rootref, owner, flags}. Rank 0's KVS
// master makes one entry per change; every broker applies them here, so every broker serves lookups from the
// same roots, in the same order, and any past state is a replay away.
//
// The primary namespace exists from the start, at the empty directory and owned by the instance owner, without
// an entry (so an instance that never uses the KVS journals nothing): it is missing from the state until its
// first setroot, and whoever reads the state supplies it until then (the root depends on content.hash).
//
// Journal entries (flags ENTRY_KVS, and PRIVATE as flux-core publishes these events):
//   kvs.namespace-<ns>-created  {namespace, rootseq, rootref, owner, flags}
//   kvs.namespace-<ns>-setroot  {namespace, rootseq, rootref, names, keys, ops, owner}
//                               one per applied batch of commits; ops are the ops as applied
//   kvs.namespace-<ns>-removed  {namespace}
import type { Entry } from '../core/journal/entry.js';
import { FluxError, EPROTO } from '../core/errors.js';
import type { Projection } from './projection.js';

export const KVS = 'kvs';
export const PRIMARY = 'primary';
export const TOPIC_PREFIX = 'kvs.namespace-';
/**
 * The entry flag the KVS master sets on its entries, beside ENTRY_RAW. A published event becomes an entry too,
 * under whatever topic its publisher chose, but event.publish lets no flag through except PRIVATE: an event
 * named like a KVS entry must not move a namespace's root.
 */
export const ENTRY_KVS = 0x20000;

/** an entry the KVS master made (an event published under one of its topics is not one) */
export function isKvsEntry(entry: Entry): boolean {
  return (entry.flags & ENTRY_KVS) !== 0 && entry.topic.startsWith(TOPIC_PREFIX);
}

export type NamespaceEvent = 'created' | 'setroot' | 'removed';

export function namespaceTopic(namespace: string, what: NamespaceEvent): string {
  return `${TOPIC_PREFIX}${namespace}-${what}`;
}

export interface NamespaceRoot {
  rootseq: number;
  rootref: string;
  owner: number;
  flags: number;
}

/**
 * Namespaces spread over SHARDS objects, each updated by copying: a job's guest namespace per job makes the map
 * wide, and a commit must not copy all of it. Names are own properties only (a namespace may be called
 * "__proto__"), so the state is never updated through immer, whose drafts would treat that name specially.
 */
export interface KvsState {
  shards: Record<string, Record<string, NamespaceRoot>>;
}

const SHARDS = 64;

/** FNV-1a: a fixed, cheap spread of names over the shards (it must never change: snapshots depend on it) */
function shardOf(namespace: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < namespace.length; i++) {
    h ^= namespace.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return String((h >>> 0) % SHARDS);
}

export function namespaceRoot(state: KvsState, namespace: string): NamespaceRoot | undefined {
  const shard = state.shards[shardOf(namespace)];
  return shard !== undefined && Object.hasOwn(shard, namespace) ? shard[namespace] : undefined;
}

/** every namespace, primary first and then by name */
export function namespaceList(state: KvsState): Array<NamespaceRoot & { namespace: string }> {
  const out: Array<NamespaceRoot & { namespace: string }> = [];
  for (const shard of Object.values(state.shards)) {
    for (const [namespace, r] of Object.entries(shard)) out.push({ namespace, ...r });
  }
  const rank = (n: string) => (n === PRIMARY ? 0 : 1);
  return out.sort((a, b) => rank(a.namespace) - rank(b.namespace) || (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
}

function withRoot(state: KvsState, namespace: string, r: NamespaceRoot): KvsState {
  const k = shardOf(namespace);
  return { shards: { ...state.shards, [k]: { ...state.shards[k], [namespace]: r } } };
}

function withoutRoot(state: KvsState, namespace: string): KvsState {
  const k = shardOf(namespace);
  const shard = { ...state.shards[k] };
  delete shard[namespace];
  return { shards: { ...state.shards, [k]: shard } };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isRef = (v: unknown): v is string => typeof v === 'string' && /^(sha1|sha256)-[0-9a-f]+$/.test(v);

export function applyEntry(state: KvsState, entry: Entry): KvsState {
  if (!isKvsEntry(entry)) return state;
  // entries come from the KVS master, which checks what it writes; a malformed one (an older or foreign
  // writer) changes nothing, the same way on every broker, rather than stopping the journal
  const p = entry.payload as Record<string, unknown> | null;
  if (typeof p !== 'object' || p === null || typeof p.namespace !== 'string') return state;
  const ns = p.namespace;
  switch (entry.topic) {
    case namespaceTopic(ns, 'setroot'): {
      const cur = namespaceRoot(state, ns);
      if (!isCount(p.rootseq) || !isRef(p.rootref)) return state;
      if (cur !== undefined) return withRoot(state, ns, { ...cur, rootseq: p.rootseq, rootref: p.rootref });
      // primary is there from the start without an entry of its own: its first new root brings it into the state
      if (ns === PRIMARY && isCount(p.owner)) return withRoot(state, ns, { rootseq: p.rootseq, rootref: p.rootref, owner: p.owner, flags: 0 });
      return state;
    }
    case namespaceTopic(ns, 'created'): {
      const flags = p.flags ?? 0;
      if (!isCount(p.rootseq) || !isRef(p.rootref) || !isCount(p.owner) || !isCount(flags)) return state;
      return withRoot(state, ns, { rootseq: p.rootseq, rootref: p.rootref, owner: p.owner, flags });
    }
    case namespaceTopic(ns, 'removed'):
      return namespaceRoot(state, ns) === undefined ? state : withoutRoot(state, ns);
    default:
      return state;
  }
}

export function initialState(): KvsState {
  return { shards: {} };
}

function loadState(saved: unknown): KvsState {
  const bad = (): never => {
    throw new FluxError(EPROTO, 'kvs snapshot is malformed');
  };
  const s = saved as KvsState | null;
  if (typeof s !== 'object' || s === null || typeof s.shards !== 'object' || s.shards === null) bad();
  for (const [k, shard] of Object.entries(s!.shards)) {
    if (typeof shard !== 'object' || shard === null) bad();
    for (const [ns, r] of Object.entries(shard)) {
      // a name kept in another shard would never be found
      if (shardOf(ns) !== k) bad();
      if (typeof r !== 'object' || r === null || !isCount(r.rootseq) || !isRef(r.rootref) || !isCount(r.owner) || !isCount(r.flags)) bad();
    }
  }
  return s!;
}

export const kvsProjection: Projection<KvsState> = {
  name: KVS,
  initial: initialState,
  apply: (state, entry) => applyEntry(state, entry),
  save: (state) => state,
  load: loadState,
};
