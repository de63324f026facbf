// ed25519 signatures over journal checkpoints (@noble/curves). The instance keeps its key in the statedir; a
// checkpoint carries the public key and signature, so a copied statedir can be verified without the broker.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { FluxError, EINVAL } from './errors.js';

type Ed25519 = (typeof import('@noble/curves/ed25519.js'))['ed25519'];
let curve: Ed25519 | undefined;

/** loaded on first use: only rank 0 signs, and only when it writes a checkpoint */
async function ed(): Promise<Ed25519> {
  curve ??= (await import('@noble/curves/ed25519.js')).ed25519;
  return curve;
}

export interface Signer {
  publicKey: string;
  sign(message: string): Promise<string>;
}

/**
 * Make sure the instance has a signing key at `path` (a hex ed25519 secret seed, mode 0600). Synchronous and
 * without the curve code: a broker creates it at start, while there is surely room to write it.
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
  const secret = Buffer.from(hex, 'hex');
  const e = await ed();
  const publicKey = Buffer.from(e.getPublicKey(secret)).toString('hex');
  return {
    publicKey,
    sign: async (message) => Buffer.from(e.sign(Buffer.from(message, 'utf8'), secret)).toString('hex'),
  };
}

export async function verifySignature(message: string, signatureHex: string, publicKeyHex: string): Promise<boolean> {
  if (!/^[0-9a-f]{128}$/.test(signatureHex) || !/^[0-9a-f]{64}$/.test(publicKeyHex)) return false;
  const e = await ed();
  return e.verify(Buffer.from(signatureHex, 'hex'), Buffer.from(message, 'utf8'), Buffer.from(publicKeyHex, 'hex'));
}
