/**
 * Firmware signing keys: Ed25519, the private key as PEM PKCS#8, the public key as PEM SPKI —
 * exactly what `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` read and write, so
 * a vendor can make and keep its keys with the tools it already trusts.
 *
 * Why Ed25519: no parameters to choose or get wrong (no RSA padding, no ECDSA nonce), 64-byte
 * signatures, and a verification in ~0.13 ms. A bundle is signed once per build and verified on
 * every node, so verification cost is what matters.
 *
 * Key id: the first 16 hex digits of sha256 over the raw 32-byte public key. manifest.sig names
 * the key it was made with, so a node trusting several keys (a rotation: old and new both
 * trusted for a while) knows which one to check, and an operator can compare the id printed by
 * `tandem firmware keygen` with the one `verify` reports. It only selects a key: the signature
 * check is what decides.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const SIGNING_KEY_FILE = 'signing.key';
export const PUBLIC_KEY_FILE = 'signing.pub';

/** A public key a node accepts bundles from; `source` says where it came from, for messages. */
export interface TrustedKey {
  readonly id: string;
  readonly key: KeyObject;
  readonly source: string;
}

/** A key that cannot be generated, read or used; the message says which file and why. */
export class KeyError extends Error {
  override readonly name = 'KeyError';
}

/** Raw public key bytes of an Ed25519 key (private or public). */
function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const { x } = pub.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new KeyError('not an Ed25519 key');
  return Buffer.from(x, 'base64url');
}

/** The key id (module comment) of an Ed25519 key; of its public half for a private key. */
export function keyIdOf(key: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(key)).digest('hex').slice(0, 16);
}

/**
 * Writes a new key pair into `dir` (created 0700 if missing): `signing.key` (mode 0600) and
 * `signing.pub`. Never overwrites: if either file exists nothing is written — a key that signed
 * released firmware must not be lost to a mistyped command.
 */
export function writeKeyPair(dir: string): { keyFile: string; pubFile: string; id: string } {
  const keyFile = join(dir, SIGNING_KEY_FILE);
  const pubFile = join(dir, PUBLIC_KEY_FILE);
  for (const file of [keyFile, pubFile]) {
    if (exists(file)) throw new KeyError(`${file} already exists: keygen never overwrites a key (move it away first)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' });
  writeNew(keyFile, String(keyPem), 0o600);
  try {
    writeNew(pubFile, String(pubPem), 0o644);
  } catch (err) {
    unlinkSync(keyFile);
    throw err;
  }
  fsyncPath(dir);
  return { keyFile, pubFile, id: keyIdOf(publicKey) };
}

/**
 * Reads a private signing key. Refused: a file group or others may read or write (a signing key
 * readable by others is a leaked key), an encrypted key, anything but an Ed25519 PKCS#8 PEM.
 */
export function loadSigningKey(file: string): { key: KeyObject; id: string } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new KeyError(`cannot read signing key ${file}: ${ioReason(err)}`);
  }
  let text: string;
  try {
    // fstat on the open descriptor: the file checked is the file read.
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeyError(`signing key ${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      throw new KeyError(`signing key ${file} is accessible by group or others (mode ${mode}); run chmod 600 ${file}`);
    }
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new KeyError(`signing key ${file} is encrypted; tandem needs an unencrypted PKCS#8 key (keep the file 0600 on a trusted machine)`);
  }
  if (!text.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new KeyError(`signing key ${file} is not a PEM PKCS#8 private key (-----BEGIN PRIVATE KEY-----)`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    throw new KeyError(`signing key ${file} cannot be read: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(`signing key ${file} is an ${key.asymmetricKeyType ?? 'unknown'} key; firmware is signed with Ed25519 (tandem firmware keygen)`);
  }
  return { key, id: keyIdOf(key) };
}

/** Parses a PEM SPKI Ed25519 public key; `source` names it in messages and in the TrustedKey. */
export function parsePublicKey(pem: string, source: string): TrustedKey {
  if (pem.includes('PRIVATE KEY-----')) {
    throw new KeyError(`${source} holds a private key: trust the public key (signing.pub); the private key never leaves the signing machine`);
  }
  if (pem.split('-----BEGIN PUBLIC KEY-----').length !== 2) {
    throw new KeyError(`${source} is not one PEM public key (-----BEGIN PUBLIC KEY-----)`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new KeyError(`${source} cannot be read as a public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(`${source} is an ${key.asymmetricKeyType ?? 'unknown'} key; firmware is signed with Ed25519`);
  }
  return { id: keyIdOf(key), key, source };
}

/**
 * A trusted key given as inline PEM text (anything containing -----BEGIN: RFC 7468 allows
 * explanatory text before the boundary, such as a comment naming the key) or as the path of a
 * PEM file: the configuration may hold either. No file path contains that boundary.
 */
export function loadPublicKey(spec: string): TrustedKey {
  if (spec.includes('-----BEGIN')) return parsePublicKey(spec, 'inline PEM key');
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch (err) {
    throw new KeyError(`cannot read public key ${spec}: ${ioReason(err)}`);
  }
  return parsePublicKey(text, spec);
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Creates `file` exclusively with `mode` (never through an existing file or symlink), durably. */
function writeNew(file: string, text: string, mode: number): void {
  const fd = openSync(file, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncPath(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

function ioReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'it is a directory';
    case undefined:
    default: return (err as Error).message;
  }
}
