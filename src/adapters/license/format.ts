/**
 * The license file: one small JSON document
 *
 *   {"format":"tandem-license v1","license":"<the fields, as JSON text>","key":"<key id>","sig":"<base64>"}
 *
 * where `sig` is an Ed25519 signature by a vendor key over "tandem-license v1\n" ‖ the UTF-8
 * bytes of `license` exactly (signed bytes, never re-serialized: nothing is canonicalized). The
 * domain prefix keeps a license signature from ever passing as a firmware manifest signature made
 * with the same key, and the other way round. A vendor delivers it as it is (`*.lic`) or inside a
 * `.zip` holding exactly one such file, read strictly (no path outside the archive, bounded sizes).
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import yauzl from 'yauzl';
import { z } from 'zod';
import { fieldProblems, LIMIT_TYPES, type LicenseFields } from '../../core/license.js';
import { keyIdOf, type TrustedKey } from '../firmware/keys.js';

export const LICENSE_FORMAT = 'tandem-license v1';
const DOMAIN = Buffer.from(`${LICENSE_FORMAT}\n`, 'utf8');
/** Largest license file (or zip carrying one) accepted: a license is well under 2 KiB. */
export const MAX_LICENSE_BYTES = 64 * 1024;

/** A refused license: the message says why; nothing was kept. */
export class LicenseRefused extends Error {
  override readonly name = 'LicenseRefused';
}

const envelope = z.strictObject({
  format: z.literal(LICENSE_FORMAT, { error: `format must be "${LICENSE_FORMAT}"` }),
  license: z.string().min(2).max(16 * 1024),
  key: z.string().regex(/^[0-9a-f]{16}$/, { error: 'key must be a key id (16 lower-case hex digits)' }),
  sig: z.string().regex(/^[A-Za-z0-9+/]{85}[AQgw]==$/, { error: 'sig must be 64 bytes in base64' }),
});

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date (YYYY-MM-DD)' });
export const LicenseFieldsSchema = z.strictObject({
  customer: z.string().min(1).max(200),
  serial: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be 1–64 characters A-Z a-z 0-9 . _ -' }),
  limit_type: z.enum(LIMIT_TYPES, { error: `must be ${LIMIT_TYPES.join(' or ')}` }),
  limit: z.number().int().min(1).max(1_000_000_000),
  valid_from: day,
  valid_to: day,
  lts_releases: z.array(z.string().max(16)).max(100).default([]),
});

export interface VerifiedLicense {
  readonly fields: LicenseFields;
  readonly keyId: string;
  /** The license file's bytes as verified (what is kept and replicated). */
  readonly document: Buffer;
}

/** The license document of `fields` signed with `key` (the vendor's tool: `tandem license sign`). */
export function signLicense(fields: LicenseFields, key: KeyObject): Buffer {
  const text = JSON.stringify(fields);
  const sig = sign(null, Buffer.concat([DOMAIN, Buffer.from(text, 'utf8')]), key).toString('base64');
  return Buffer.from(`${JSON.stringify({ format: LICENSE_FORMAT, license: text, key: keyIdOf(key), sig }, null, 1)}\n`, 'utf8');
}

/** Checks a license document's signature against the vendor keys, then its fields. Throws LicenseRefused. */
export function verifyLicense(doc: Buffer, vendorKeys: readonly TrustedKey[]): VerifiedLicense {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(doc));
  } catch {
    throw new LicenseRefused('not a license file (not UTF-8 JSON)');
  }
  const env = envelope.safeParse(value);
  if (!env.success) {
    const i = env.error.issues[0];
    throw new LicenseRefused(`not a license file: ${i === undefined ? 'invalid' : `${i.path.join('.') || 'document'}: ${i.code === 'unrecognized_keys' ? 'unknown key' : i.message}`}`);
  }
  const { license, key, sig } = env.data;
  if (vendorKeys.length === 0) throw new LicenseRefused('no vendor key is configured (license.vendor_keys): every license is refused');
  const vendor = vendorKeys.find((k) => k.id === key);
  if (vendor === undefined) {
    throw new LicenseRefused(`signed with key ${key}, which is not a vendor key of this configuration (license.vendor_keys: ${vendorKeys.map((k) => k.id).join(', ')})`);
  }
  if (!verify(null, Buffer.concat([DOMAIN, Buffer.from(license, 'utf8')]), vendor.key, Buffer.from(sig, 'base64'))) {
    throw new LicenseRefused(`the signature by vendor key ${key} does not verify: the license was altered`);
  }
  let fieldsRaw: unknown;
  try { fieldsRaw = JSON.parse(license); } catch { throw new LicenseRefused('the signed license text is not JSON'); }
  const f = LicenseFieldsSchema.safeParse(fieldsRaw);
  if (!f.success) {
    throw new LicenseRefused(`the license's fields: ${f.error.issues.map((i) => `${i.path.join('.') || 'fields'}: ${i.code === 'unrecognized_keys' ? `unknown key ${i.keys.join(', ')}` : i.message}`).join('; ')}`);
  }
  const problems = fieldProblems(f.data);
  if (problems.length > 0) throw new LicenseRefused(`the license's fields: ${problems.join('; ')}`);
  return { fields: f.data, keyId: key, document: doc };
}

const isZip = (b: Buffer): boolean => b.length >= 4 && b.readUInt32LE(0) === 0x04034b50;

/**
 * The license document in an upload: the file itself, or the one license file of a `.zip`
 * (directories ignored; any other entry, a second license, a path leaving the archive, an
 * encrypted or oversized entry → refused).
 */
export async function licenseDocumentOf(upload: Buffer): Promise<Buffer> {
  if (!isZip(upload)) return upload;
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(upload, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true, decodeStrings: true });
  } catch (err) {
    throw new LicenseRefused(`not a readable zip archive: ${(err as Error).message}`);
  }
  const found: Buffer[] = [];
  try {
    for (;;) {
      const entry = await nextEntry(zip).catch((err: unknown) => {
        throw new LicenseRefused(`malformed zip archive: ${(err as Error).message}`);
      });
      if (entry === null) break;
      const name = entry.fileName;
      if (name.startsWith('/') || name.split(/[\\/]/).includes('..') || /^[A-Za-z]:/.test(name)) {
        throw new LicenseRefused(`zip entry ${name} points outside the archive`);
      }
      if (name.endsWith('/')) continue;
      if (entry.isEncrypted()) throw new LicenseRefused(`zip entry ${name} is encrypted`);
      if (entry.uncompressedSize > MAX_LICENSE_BYTES) throw new LicenseRefused(`zip entry ${name} is ${String(entry.uncompressedSize)} bytes: a license is at most ${String(MAX_LICENSE_BYTES)}`);
      if (!/\.(lic|json)$/i.test(name)) throw new LicenseRefused(`zip entry ${name}: the archive must hold one license file (*.lic) and nothing else`);
      const stream = await zip.openReadStreamPromise(entry).catch((err: unknown) => {
        throw new LicenseRefused(`malformed zip archive: ${name}: ${(err as Error).message}`);
      });
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const c of stream as AsyncIterable<Buffer>) {
          size += c.length;
          if (size > MAX_LICENSE_BYTES) throw new LicenseRefused(`zip entry ${name} is larger than ${String(MAX_LICENSE_BYTES)} bytes`);
          chunks.push(c);
        }
      } catch (err) {
        if (err instanceof LicenseRefused) throw err;
        throw new LicenseRefused(`malformed zip archive: ${name}: ${(err as Error).message}`);
      }
      found.push(Buffer.concat(chunks));
    }
  } finally {
    zip.close();
  }
  if (found.length !== 1) throw new LicenseRefused(`the zip archive holds ${String(found.length)} license files: exactly one is expected`);
  return found[0] as Buffer;
}

/** The next entry of a lazily read archive, null at its end. */
function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => { zip.off('entry', onEntry); zip.off('end', onEnd); zip.off('error', onError); };
    const onEntry = (e: yauzl.Entry): void => { cleanup(); resolve(e); };
    const onEnd = (): void => { cleanup(); resolve(null); };
    const onError = (err: Error): void => { cleanup(); reject(err); };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}
