// ed25519 signatures over journal checkpoints. The instance keeps its key in the statedir; a checkpoint carries
// the public key and signature, so a copied statedir can be verified without the broker. The curve is
// node:crypto's (OpenSSL): a JS implementation loaded at rank 0's first checkpoint cost ~8 MiB of resident
// memory (measured), for signatures that are the same bytes (ed25519 signing is deterministic).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { type KeyObject, createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { FluxError, EINVAL } from '../errors.js';

/** the DER a 32-byte ed25519 seed (PKCS #8) or public key (SPKI) takes to be a KeyObject (RFC 8410) */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Signer {
  publicKey: string;
  sign(message: string): Promise<string>;
}

/**
 * Make sure the instance has a signing key at `path` (a hex ed25519 secret seed, mode 0600). Synchronous: a
 * broker creates it at start, while there is surely room to write it.
 */
export function ensureKeyFile(path: string): void {
  if (existsSync(path)) return;
  writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
}

/** The key in `path`, created if missing. */
export async function loadOrCreateSigner(path: string): Promise<Signer> {
  ensureKeyFile(path);
  const hex = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new FluxError(EINVAL, `${path}: not a journal signing key`);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, Buffer.from(hex, 'hex')]), format: 'der', type: 'pkcs8' });
  const publicKey = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url').toString('hex');
  return {
    publicKey,
    sign: async (message) => sign(null, Buffer.from(message, 'utf8'), key).toString('hex'),
  };
}

export async function verifySignature(message: string, signatureHex: string, publicKeyHex: string): Promise<boolean> {
  if (!/^[0-9a-f]{128}$/.test(signatureHex) || !/^[0-9a-f]{64}$/.test(publicKeyHex)) return false;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  } catch {
    // 32 bytes that are no point on the curve: no signature can be good
    return false;
  }
  return verify(null, Buffer.from(message, 'utf8'), key, Buffer.from(signatureHex, 'hex'));
}
