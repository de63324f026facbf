// Blobrefs (RFC 10): "<hash>-<lowercase hex digest>", the name of a blob in the content store.
import { createHash } from 'node:crypto';
import { FluxError, EINVAL } from './errors.js';

export type HashName = 'sha1' | 'sha256';

export const DIGEST_SIZE: Record<HashName, number> = { sha1: 20, sha256: 32 };

export function checkHashName(name: string): HashName {
  if (name !== 'sha1' && name !== 'sha256') throw new FluxError(EINVAL, `unsupported content.hash "${name}" (sha1 or sha256)`);
  return name;
}

export function hashBlob(hash: HashName, blob: Buffer): Buffer {
  return createHash(hash).update(blob).digest();
}

export function blobref(hash: HashName, digest: Buffer): string {
  return `${hash}-${digest.toString('hex')}`;
}

export function blobrefOf(hash: HashName, blob: Buffer): string {
  return blobref(hash, hashBlob(hash, blob));
}

/** The binary digest a blobref names (EINVAL for anything that is not a blobref of `hash`). */
export function digestOf(hash: HashName, ref: string): Buffer {
  const dash = ref.indexOf('-');
  const hex = ref.substring(dash + 1);
  if (ref.substring(0, dash) !== hash || hex.length !== DIGEST_SIZE[hash] * 2 || !/^[0-9a-f]+$/.test(hex)) {
    throw new FluxError(EINVAL, `invalid blobref "${ref}" for content.hash=${hash}`);
  }
  return Buffer.from(hex, 'hex');
}
