/**
 * Node.js crypto for the heartbeat wire format: the core takes a Mac function and a boot id as
 * inputs, never node:crypto itself.
 */
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import type { Mac } from '../../core/wire/codec.js';

/**
 * HMAC-SHA256 keyed with the cluster's shared secret. The key object copies the bytes now, so a
 * caller reusing or zeroing its buffer afterwards does not change the MAC.
 */
export function hmacSha256(key: Uint8Array): Mac {
  // An empty key would make every heartbeat forgeable: a configuration error, not a choice.
  if (key.length === 0) throw new Error('hmacSha256: the key must not be empty');
  const secret = createSecretKey(key);
  return (data) => {
    const digest = createHmac('sha256', secret).update(data).digest();
    // A plain Uint8Array, not a Buffer: the core sees only standard types.
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  };
}

/** A fresh random id for this process start (16 hex characters), carried in every heartbeat. */
export function randomBootId(): string {
  return randomBytes(8).toString('hex');
}
