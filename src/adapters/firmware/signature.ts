/**
 * The manifest's signature (`manifest.sig`): a small JSON document
 *
 *   {"alg":"ed25519","key":"<key id>","sig":"<base64 of the 64-byte signature>"}
 *
 * over the domain-separated bytes "tandem-firmware-manifest v1\n" ‖ manifest.json's bytes. The
 * prefix makes a manifest signature useless as any other signature made with the same key (a
 * license, a future format), and the other way round. The signature covers the manifest's exact
 * bytes, checked before they are parsed: nothing an attacker wrote is interpreted. The manifest
 * names every payload file's size and sha256, so this one signature covers the whole bundle.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { keyIdOf, type TrustedKey } from './keys.js';
import { BundleRefused } from './refusal.js';

export const SIGNATURE_DOMAIN = 'tandem-firmware-manifest v1\n';
/** Largest manifest.sig: the document is about 130 bytes. */
export const MAX_SIGNATURE_BYTES = 1024;

const signatureDoc = z.strictObject({
  alg: z.literal('ed25519', { error: 'alg must be "ed25519"' }),
  key: z.string().regex(/^[0-9a-f]{16}$/, { error: 'key must be a key id (16 lower-case hex digits)' }),
  // 64 bytes in canonical base64: 86 characters and "==" (a lenient decoder would accept others).
  sig: z.string().regex(/^[A-Za-z0-9+/]{85}[AQgw]==$/, { error: 'sig must be 64 bytes in base64' }),
});

const domain = Buffer.from(SIGNATURE_DOMAIN, 'utf8');
const signedBytes = (manifest: Uint8Array): Buffer => Buffer.concat([domain, manifest]);

/** manifest.sig's bytes for `manifest` signed with `key` (an Ed25519 private key). */
export function signManifest(manifest: Uint8Array, key: KeyObject): Uint8Array {
  const doc = { alg: 'ed25519', key: keyIdOf(key), sig: sign(null, signedBytes(manifest), key).toString('base64') };
  return Buffer.from(`${JSON.stringify(doc)}\n`, 'utf8');
}

/**
 * Checks manifest.sig over the manifest's bytes and returns the trusted key that made it.
 * Throws BundleRefused: 'bad-signature' (malformed, or it does not verify), 'unknown-key'.
 */
export function verifyManifest(manifest: Uint8Array, sig: Uint8Array, trustedKeys: readonly TrustedKey[]): TrustedKey {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(sig));
  } catch {
    throw new BundleRefused('bad-signature', 'manifest.sig: not a signature document (not UTF-8 JSON)');
  }
  const doc = signatureDoc.safeParse(value);
  if (!doc.success) {
    const issue = doc.error.issues[0];
    throw new BundleRefused('bad-signature', `manifest.sig: not a signature document (${issue?.code === 'unrecognized_keys' || issue?.path.length === 0 ? 'expected {"alg","key","sig"}' : (issue?.message ?? 'invalid')})`);
  }
  const { key: id, sig: b64 } = doc.data;
  const trusted = trustedKeys.find((k) => k.id === id);
  if (trusted === undefined) {
    const known = trustedKeys.map((k) => `${k.id} (${k.source})`).join(', ');
    throw new BundleRefused('unknown-key', `manifest.sig: signed with key ${id}, which is not trusted (trusted: ${known})`);
  }
  if (!verify(null, signedBytes(manifest), trusted.key, Buffer.from(b64, 'base64'))) {
    throw new BundleRefused('bad-signature', `manifest.sig: the signature by key ${id} (${trusted.source}) does not verify: the manifest or its signature was altered`);
  }
  return trusted;
}
