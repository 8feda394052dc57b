/**
 * Password hashes: scrypt (memory-hard: 64 MiB and ~0.2 s per guess on this kind of machine),
 * stored as `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64url), compared in constant time.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const LOG_N = 16;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const MAXMEM = 256 * 1024 * 1024;

/** A 32-byte scrypt key of a password (NFC-normalized, so the same text typed anywhere gives the same key). */
export function scryptKey(password: string, salt: Buffer, cost: { readonly N: number; readonly r: number; readonly p: number }, maxmem = MAXMEM): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, { ...cost, maxmem }, (err, key) => {
      if (err === null) resolve(key); else reject(err);
    });
  });
}

const derive = (password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> => scryptKey(password, salt, { N: 2 ** logN, r, p });

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, LOG_N, R, P);
  return ['scrypt', String(LOG_N), String(R), String(P), salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** False for a wrong password and for a malformed stored hash alike. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, logN, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || logN === undefined || r === undefined || p === undefined || salt === undefined || hash === undefined) return false;
  const want = Buffer.from(hash, 'base64url');
  if (want.length !== KEY_BYTES) return false;
  const got = await derive(password, Buffer.from(salt, 'base64url'), Number(logN), Number(r), Number(p));
  return timingSafeEqual(got, want);
}

/** A throwaway hash to spend the same time on an unknown user name (no user enumeration by timing). */
let decoy: string | null = null;
export async function spendVerifyTime(password: string): Promise<void> {
  decoy ??= await hashPassword('decoy password');
  await verifyPassword(password, decoy);
}
