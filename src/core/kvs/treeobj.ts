// RFC 11 tree objects: the KVS's values, directories and links, {"ver":1,"type":T,"data":D}. Serialized for
// hashing as compact JSON with sorted keys, which is what the journal's canonical() writes.
import { FluxError, EINVAL, EPROTO } from '../errors.js';
import { canonical } from '../journal/entry.js';

export type TreeObj =
  | { ver: 1; type: 'val'; data: string }
  | { ver: 1; type: 'valref'; data: string[] }
  | { ver: 1; type: 'dir'; data: Record<string, TreeObj> }
  | { ver: 1; type: 'dirref'; data: string[] }
  | { ver: 1; type: 'symlink'; data: { target: string; namespace?: string } };

/**
 * A long valref as a directory keeps it inside the store (never sent to a client): `count` blobrefs held by the
 * chunk tree whose top node is `ref` (see kvs-wide.ts). A client is shown the valref it stands for.
 */
export type ValTree = { ver: 1; type: 'valtree'; data: { count: number; ref: string } };

/** what a stored directory may hold: a tree object, or a long valref in its stored form */
export type Dirent = TreeObj | ValTree;

/** a val whose base64 text is longer than this is stored as a blob and referenced (a valref) */
export const VAL_INLINE_MAX = 72;

const BLOBREF = /^(sha1|sha256)-[0-9a-f]+$/;

export function val(bytes: Buffer): TreeObj {
  return { ver: 1, type: 'val', data: bytes.toString('base64') };
}

export function dir(entries: Record<string, TreeObj> = {}): TreeObj {
  return { ver: 1, type: 'dir', data: entries };
}

export function dirref(ref: string): TreeObj {
  return { ver: 1, type: 'dirref', data: [ref] };
}

export function valref(refs: string[]): TreeObj {
  return { ver: 1, type: 'valref', data: refs };
}

export function symlink(target: string, namespace?: string): TreeObj {
  return { ver: 1, type: 'symlink', data: namespace === undefined ? { target } : { namespace, target } };
}

/**
 * canonical(t) of a well-formed tree object, written out by type: a commit encodes every directory it changes,
 * and the generic path, which sorts and recurses member by member, took most of a commit's time (measured).
 */
export function encodeTreeObj(t: Dirent): Buffer {
  return Buffer.from(treeObjText(t), 'utf8');
}

/** the canonical JSON text of a well-formed tree object (see encodeTreeObj) */
export function treeObjText(t: Dirent): string {
  switch (t.type) {
    case 'valtree':
      return `{"data":{"count":${t.data.count},"ref":${JSON.stringify(t.data.ref)}},"type":"valtree","ver":1}`;
    case 'val':
      return `{"data":${JSON.stringify(t.data)},"type":"val","ver":1}`;
    case 'valref':
    case 'dirref':
      return `{"data":${JSON.stringify(t.data)},"type":"${t.type}","ver":1}`;
    case 'symlink':
      return `{"data":${canonical(t.data)},"type":"symlink","ver":1}`;
    case 'dir': {
      // canonical()'s order: code units, whatever order the object's own keys are in
      const names = Object.keys(t.data).sort();
      let s = '{"data":{';
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!;
        s += `${i > 0 ? ',' : ''}${JSON.stringify(name)}:${treeObjText(t.data[name]!)}`;
      }
      return `${s}},"type":"dir","ver":1}`;
    }
  }
}

/** A stored tree object read back from the content store (EPROTO when the blob is not one). */
export function decodeTreeObj(blob: Buffer): TreeObj {
  let v: unknown;
  try {
    v = JSON.parse(blob.toString('utf8'));
  } catch {
    throw new FluxError(EPROTO, 'stored tree object is not valid JSON');
  }
  return checkTreeObj(v);
}

/** Check that a value is a well-formed tree object (EPROTO, or EINVAL when it is user input). */
export function checkTreeObj(v: unknown, errno = EPROTO): TreeObj {
  return checkObj(v, errno, false) as TreeObj;
}

/** Check a stored directory entry: a tree object, or (in a directory as stored) a valtree. */
export function checkDirent(v: unknown): Dirent {
  return checkObj(v, EPROTO, true);
}

export const isBlobref = (v: unknown): v is string => typeof v === 'string' && BLOBREF.test(v);

function checkObj(v: unknown, errno: number, stored: boolean): Dirent {
  const bad = (why: string): never => {
    throw new FluxError(errno, `invalid treeobj: ${why}`);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('not an object');
  const o = v as { ver?: unknown; type?: unknown; data?: unknown };
  if (o.ver !== 1) bad('ver must be 1');
  switch (o.type) {
    case 'val':
      if (typeof o.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.data)) bad('val data must be base64');
      break;
    case 'valref':
      if (!Array.isArray(o.data) || o.data.length === 0 || !o.data.every((r) => typeof r === 'string' && BLOBREF.test(r))) {
        bad('valref data must be a non-empty array of blobrefs');
      }
      break;
    case 'dirref':
      if (!Array.isArray(o.data) || o.data.length !== 1 || typeof o.data[0] !== 'string' || !BLOBREF.test(o.data[0])) {
        bad('dirref data must be one blobref');
      }
      break;
    case 'dir':
      if (typeof o.data !== 'object' || o.data === null || Array.isArray(o.data)) bad('dir data must be an object');
      for (const [name, child] of Object.entries(o.data as Record<string, unknown>)) {
        if (name.length === 0 || name.includes('.')) bad(`bad directory entry name "${name}"`);
        checkObj(child, errno, stored);
      }
      break;
    case 'symlink': {
      const d = o.data as { target?: unknown; namespace?: unknown } | null;
      if (typeof d !== 'object' || d === null || typeof d.target !== 'string') bad('symlink data needs a target');
      if (d!.namespace !== undefined && typeof d!.namespace !== 'string') bad('symlink namespace must be a string');
      break;
    }
    case 'valtree': {
      const d = o.data as { count?: unknown; ref?: unknown } | null;
      const ok = typeof d === 'object' && d !== null && Number.isSafeInteger(d.count) && (d.count as number) >= 1 && isBlobref(d.ref);
      if (!stored || !ok) {
        bad(stored ? 'valtree data needs a count and a blobref' : 'unknown type valtree');
      }
      break;
    }
    default:
      bad(`unknown type ${String(o.type)}`);
  }
  return v as Dirent;
}

/**
 * Normalize a key as flux-core does: runs of '.' collapse to one, leading and trailing '.' are dropped
 * ("." alone is the root). Returns the path components ([] for the root).
 */
export function keyPath(key: string): string[] {
  if (key.length === 0) throw new FluxError(EINVAL, 'empty key');
  const comps = key.split('.');
  // most keys have no empty component to drop: no second array for them
  return comps.includes('') ? comps.filter((c) => c.length > 0) : comps;
}

export function normalizeKey(key: string): string {
  const p = keyPath(key);
  return p.length === 0 ? '.' : p.join('.');
}
