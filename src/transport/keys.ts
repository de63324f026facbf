// CURVE keypairs (x25519, Z85 text as zeromq takes them) and the ZPL certificate files `flux keygen` writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { FluxError, EINVAL, errnoOf } from '../core/errors.js';
import { z85Decode, z85Encode } from './z85.js';

export interface Keypair {
  publicKey: string;
  secretKey: string;
}

export interface Cert {
  keypair: Keypair;
  meta: Record<string, string>;
}

// x25519 comes from node:crypto (OpenSSL): every broker makes a keypair at boot, and loading a JS curve
// implementation cost each broker process ~35 ms of CPU at start (measured), several times the key math.
// The secret is 32 random bytes (the curve clamps it where it is used), not generateKeyPairSync's: Node 20 holds a
// key's lock while it builds the JWK object, and a collection then that finalizes the generating job, which takes
// the same lock, leaves the thread waiting on itself forever (seen as brokers hung at boot; reproduced by a loop).
export function generateKeypair(): Keypair {
  const secret = randomBytes(32);
  return { publicKey: z85Encode(publicOf(secret)), secretKey: z85Encode(secret) };
}

export function publicKeyOf(secretKey: string): string {
  return z85Encode(publicOf(z85Decode(checkKey(secretKey, 'secret key'))));
}

function publicOf(secret: Buffer): Buffer {
  const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: secret.toString('base64url'), x: '' }, format: 'jwk' });
  return Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x!, 'base64url');
}

/** A key as zeromq takes it: 40 Z85 characters (32 bytes). Returns it unchanged, or throws EINVAL. */
export function checkKey(text: string, what: string): string {
  if (text.length !== 40) throw new FluxError(EINVAL, `${what} must be 40 Z85 characters`);
  z85Decode(text);
  return text;
}

// ZPL (ZeroMQ RFC 4) names; values cannot contain line breaks and have no escapes, only a choice of quote.
const ZPL_NAME = /^[A-Za-z0-9$\-_@.&+/]+$/;

function zplProperty(name: string, value: string): string {
  if (!ZPL_NAME.test(name)) throw new FluxError(EINVAL, `certificate: invalid metadata name '${name}'`);
  if (/[\r\n]/.test(value)) throw new FluxError(EINVAL, `certificate: metadata '${name}' contains a line break`);
  if (!value.includes('"')) return `    ${name} = "${value}"\n`;
  if (!value.includes("'")) return `    ${name} = '${value}'\n`;
  throw new FluxError(EINVAL, `certificate: metadata '${name}' contains both quote characters`);
}

/** Write a secret certificate; refuses to replace an existing file, whose permissions may be wider than 0600. */
export function writeCert(path: string, keypair: Keypair, meta: Record<string, string>): void {
  if (publicKeyOf(keypair.secretKey) !== keypair.publicKey) {
    throw new FluxError(EINVAL, 'certificate: public key does not belong to the secret key');
  }
  let text = '#  ZeroMQ CURVE **Secret** Certificate\n#  DO NOT DISTRIBUTE\n\nmetadata\n';
  for (const [name, value] of Object.entries(meta)) text += zplProperty(name, value);
  text += 'curve\n';
  text += zplProperty('public-key', keypair.publicKey);
  text += zplProperty('secret-key', keypair.secretKey);
  try {
    writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new FluxError(errnoOf(err), `${path}: ${(err as Error).message}`);
  }
}

/**
 * Read a secret certificate. Tolerant of what other ZPL writers produce (tabs or any indent width, unquoted
 * values, trailing comments, extra sections); strict about the keys, since a wrong key fails only at handshake.
 */
export function readCert(path: string): Cert {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FluxError(errnoOf(err), `${path}: ${(err as Error).message}`);
  }
  const sections = parseZpl(text, path);
  const meta = sections.get('metadata') ?? {};
  const curve = sections.get('curve') ?? {};
  const secretKey = curve['secret-key'];
  if (secretKey === undefined) throw new FluxError(EINVAL, `${path}: no curve secret-key`);
  const derived = publicKeyOf(secretKey);
  const publicKey = curve['public-key'] ?? derived;
  if (publicKey !== derived) throw new FluxError(EINVAL, `${path}: public-key does not match secret-key`);
  return { keypair: { publicKey, secretKey }, meta };
}

const PROPERTY = /^(\S+?)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s#]*))\s*(?:#.*)?$/;

/** Top-level sections and their direct properties; deeper nesting is skipped, as certs do not use it. */
function parseZpl(text: string, path: string): Map<string, Record<string, string>> {
  const sections = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  let nestedIndent = -1;
  let lineno = 0;
  for (const raw of text.split(/\r?\n/)) {
    lineno++;
    const body = raw.trim();
    if (body === '' || body.startsWith('#')) continue;
    const indent = raw.length - raw.trimStart().length;
    if (nestedIndent >= 0 && indent > nestedIndent) continue;
    nestedIndent = -1;
    const property = PROPERTY.exec(body);
    if (property) {
      // a property at column 0 belongs to the root, which certs do not use
      if (indent > 0 && current) current[property[1]!] = property[2] ?? property[3] ?? property[4]!;
      continue;
    }
    const name = body.replace(/\s*#.*$/, '');
    if (!ZPL_NAME.test(name)) throw new FluxError(EINVAL, `${path}:${lineno}: cannot parse '${body}'`);
    if (indent > 0) {
      nestedIndent = indent;
      continue;
    }
    current = sections.get(name) ?? {};
    sections.set(name, current);
  }
  return sections;
}
