// Blobrefs (RFC 10): "<hash>-<lowercase hex digest>", the name of a blob in the content store. On the wire the
// content service carries the binary digest instead; this module converts between the two. Pure.
import { createRequire } from 'node:module';
import type * as Crypto from 'node:crypto';
import { FluxError, EINVAL } from '../errors.js';

// loaded on the first hash: a command that only names blobs (flux kvs put) need not pay for node:crypto at start
let oneShotHash: typeof Crypto.hash | undefined;

export type HashName = 'sha1' | 'sha256';

export const DEFAULT_HASH: HashName = 'sha256';

export const DIGEST_SIZE: Record<HashName, number> = { sha1: 20, sha256: 32 };

/** flux-core's bound on a blobref string, its NUL included */
export const BLOBREF_MAX_STRING_SIZE = 72;

const HEX = /^[0-9a-f]+$/;

export function isHashName(name: string): name is HashName {
  return name === 'sha1' || name === 'sha256';
}

export function checkHashName(name: string): HashName {
  if (!isHashName(name)) throw new FluxError(EINVAL, `unsupported content.hash "${name}" (sha1 or sha256)`);
  return name;
}

/** The binary digest of the blob's raw bytes. */
export function hashBlob(hash: HashName, blob: Buffer): Buffer {
  // the one-shot form: a Hash object per blob costs a third more when hashing many small journal entries
  oneShotHash ??= (createRequire(import.meta.url)('node:crypto') as typeof Crypto).hash;
  return oneShotHash(hash, blob, 'buffer') as unknown as Buffer;
}

/** true when `digest` is a digest of `hash` by its size alone (what content.load checks before looking it up) */
export function isDigest(hash: HashName, digest: Buffer): boolean {
  return digest.length === DIGEST_SIZE[hash];
}

/** Format a binary digest as a blobref (EINVAL when its size is not that of `hash`). */
export function blobref(hash: HashName, digest: Buffer): string {
  if (!isDigest(hash, digest)) {
    throw new FluxError(EINVAL, `a ${hash} digest is ${DIGEST_SIZE[hash]} bytes, not ${digest.length}`);
  }
  return `${hash}-${digest.toString('hex')}`;
}

export function blobrefOf(hash: HashName, blob: Buffer): string {
  return blobref(hash, hashBlob(hash, blob));
}

/** Split a blobref of any supported hash into its hash name and binary digest (EINVAL for anything else). */
export function parseBlobref(ref: string): { hash: HashName; digest: Buffer } {
  const dash = ref.indexOf('-');
  const name = dash > 0 ? ref.substring(0, dash) : '';
  const hex = ref.substring(dash + 1);
  if (!isHashName(name) || hex.length !== DIGEST_SIZE[name] * 2 || !HEX.test(hex)) {
    throw new FluxError(EINVAL, `invalid blobref "${ref}"`);
  }
  return { hash: name, digest: Buffer.from(hex, 'hex') };
}

/** The binary digest a blobref names (EINVAL for anything that is not a blobref of `hash`). */
export function digestOf(hash: HashName, ref: string): Buffer {
  const parsed = parseBlobref(ref);
  if (parsed.hash !== hash) throw new FluxError(EINVAL, `blobref "${ref}" is not a ${hash} blobref (content.hash=${hash})`);
  return parsed.digest;
}
