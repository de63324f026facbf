// ed25519 signatures over journal checkpoints (@noble/curves). The instance keeps its key in the statedir; a
// checkpoint carries the public key and signature, so a copied statedir can be verified without the broker.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
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

/** The key in `path` (hex secret, mode 0600), created if missing. */
export async function loadOrCreateSigner(path: string): Promise<Signer> {
  const e = await ed();
  let secret: Uint8Array;
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new FluxError(EINVAL, `${path}: not a journal signing key`);
    secret = Buffer.from(hex, 'hex');
  } else {
    secret = e.utils.randomSecretKey();
    writeFileSync(path, `${Buffer.from(secret).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
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
