/**
 * Configuration export files (docs/configuration-backup.md). The content is one JSON document
 * (the archive), gzip-compressed; it is then kept as it is (plain), sealed with a password
 * (encrypted) or encrypted to an OpenPGP public key (gpg):
 *
 * - plain: the gzip stream itself.
 * - encrypted: "TNDMCFG1" ‖ u32 big-endian header length ‖ header JSON ‖ AES-256-GCM ciphertext ‖
 *   16-byte tag. The header names the product, the schema and firmware version, the cipher and
 *   the KDF (scrypt) with its parameters, salt and IV; magic, length and header are the GCM
 *   additional data, so a changed byte anywhere fails authentication.
 * - gpg: an OpenPGP message (binary) whose literal data is the gzip stream.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as openpgp from 'openpgp';
import { scryptKey } from '../crypto/password.js';
import { z } from 'zod';

export const MAGIC = Buffer.from('TNDMCFG1', 'ascii');
export const PRODUCT = 'tandem';
export const MAX_EXPORT_PASSWORD = 150;
export const MIN_EXPORT_PASSWORD = 8;
/** scrypt cost: N = 2^16, r = 8 (64 MiB), p = 1 — about 0.6 s on the reference machine (docs/benchmarks.md). */
export const KDF = { name: 'scrypt', N: 65_536, r: 8, p: 1 } as const;
/** Largest costs an import accepts from a header (a crafted header must not exhaust the node). */
const KDF_LIMITS = { N: 1 << 20, r: 32, p: 16, mem: 1024 * 1024 * 1024 };
/** Largest archive once decompressed. */
export const MAX_ARCHIVE_BYTES = 256 * 1024 * 1024;

export class ArchiveRefused extends Error {
  override readonly name = 'ArchiveRefused';
}

/** One file of the archive: what it is (`role`), the configuration field naming its path, its bytes. */
export const ArchiveFile = z.strictObject({
  role: z.string().min(1).max(64),
  /** `cluster.key_file`, `alerts.webhooks[0].secret_file`…, or '' for files at fixed places (users, license). */
  field: z.string().max(200),
  secret: z.boolean(),
  mode: z.number().int().min(0).max(0o7777),
  base64: z.string(),
});
export type ArchiveFile = z.infer<typeof ArchiveFile>;

export const Archive = z.strictObject({
  product: z.literal(PRODUCT),
  format: z.literal(1),
  schema: z.number().int().min(1),
  firmware: z.string().min(1).max(64),
  exported_at: z.string(),
  node: z.string(),
  hostname: z.string(),
  secrets: z.boolean(),
  config: z.string(),
  files: z.array(ArchiveFile).max(10_000),
});
export type Archive = z.infer<typeof Archive>;

const Header = z.strictObject({
  product: z.literal(PRODUCT),
  kind: z.literal('config-export'),
  schema: z.number().int(),
  firmware: z.string(),
  exported_at: z.string(),
  cipher: z.literal('aes-256-gcm'),
  kdf: z.strictObject({ name: z.literal('scrypt'), N: z.number().int(), r: z.number().int(), p: z.number().int(), salt: z.string() }),
  iv: z.string(),
});
export type Header = z.infer<typeof Header>;

export type Sealing = 'plain' | 'encrypted' | 'gpg';

export function sealingOf(file: Buffer): Sealing | null {
  if (file.length >= 2 && file[0] === 0x1f && file[1] === 0x8b) return 'plain';
  if (file.length >= MAGIC.length && file.subarray(0, MAGIC.length).equals(MAGIC)) return 'encrypted';
  if (file.length > 0 && ((file[0] ?? 0) & 0x80) !== 0) return 'gpg';
  if (file.subarray(0, 30).toString('latin1').startsWith('-----BEGIN PGP MESSAGE')) return 'gpg';
  return null;
}

export function checkPassword(password: string): void {
  let n = 0;
  for (const _c of password) n += 1;
  if (n < MIN_EXPORT_PASSWORD || n > MAX_EXPORT_PASSWORD) throw new ArchiveRefused(`password: ${String(MIN_EXPORT_PASSWORD)} to ${String(MAX_EXPORT_PASSWORD)} characters, not ${String(n)}`);
}

const deriveKey = (password: string, salt: Buffer, k: { N: number; r: number; p: number }): Promise<Buffer> => scryptKey(password, salt, k, KDF_LIMITS.mem);

export const pack = (a: Archive): Buffer => gzipSync(Buffer.from(JSON.stringify(a), 'utf8'));

export function unpack(gz: Buffer): Archive {
  let text: string;
  try {
    text = gunzipSync(gz, { maxOutputLength: MAX_ARCHIVE_BYTES }).toString('utf8');
  } catch (err) {
    throw new ArchiveRefused(`not a configuration export (the gzip stream is damaged: ${(err as Error).message})`);
  }
  let value: unknown;
  try { value = JSON.parse(text); } catch { throw new ArchiveRefused('not a configuration export (its content is not JSON)'); }
  const r = Archive.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ArchiveRefused(`not a Tandem configuration export: ${i === undefined ? 'invalid' : `${i.path.join('.') || 'document'}: ${i.message}`}`);
  }
  return r.data;
}

export async function seal(gz: Buffer, password: string, meta: Pick<Header, 'schema' | 'firmware' | 'exported_at'>): Promise<Buffer> {
  checkPassword(password);
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const header: Header = {
    product: PRODUCT, kind: 'config-export', ...meta, cipher: 'aes-256-gcm',
    kdf: { name: 'scrypt', N: KDF.N, r: KDF.r, p: KDF.p, salt: salt.toString('base64') }, iv: iv.toString('base64'),
  };
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(h.length);
  const aad = Buffer.concat([MAGIC, len, h]);
  const cipher = createCipheriv('aes-256-gcm', await deriveKey(password, salt, KDF), iv);
  cipher.setAAD(aad);
  return Buffer.concat([aad, cipher.update(gz), cipher.final(), cipher.getAuthTag()]);
}

/** The header of an encrypted export (readable without the password; authenticated only by `open`). */
export function headerOf(file: Buffer): { header: Header; aad: Buffer } {
  if (file.length < MAGIC.length + 4 + 16) throw new ArchiveRefused('the encrypted export is truncated');
  const n = file.readUInt32BE(MAGIC.length);
  if (n > 16 * 1024 || MAGIC.length + 4 + n + 16 > file.length) throw new ArchiveRefused('the encrypted export is damaged (its header length is wrong)');
  const aad = file.subarray(0, MAGIC.length + 4 + n);
  let value: unknown;
  try { value = JSON.parse(aad.subarray(MAGIC.length + 4).toString('utf8')); } catch { throw new ArchiveRefused('the encrypted export is damaged (its header is not JSON)'); }
  const r = Header.safeParse(value);
  if (!r.success) throw new ArchiveRefused(`the encrypted export's header is not one this firmware reads: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? ''}`);
  return { header: r.data, aad };
}

export async function open(file: Buffer, password: string): Promise<Buffer> {
  const { header, aad } = headerOf(file);
  const k = header.kdf;
  if (k.N > KDF_LIMITS.N || k.r > KDF_LIMITS.r || k.p > KDF_LIMITS.p || 128 * k.N * k.r * k.p > KDF_LIMITS.mem || k.N < 2 || (k.N & (k.N - 1)) !== 0) {
    throw new ArchiveRefused(`the export's KDF parameters (scrypt N=${String(k.N)} r=${String(k.r)} p=${String(k.p)}) are outside what this node accepts`);
  }
  const iv = Buffer.from(header.iv, 'base64');
  const salt = Buffer.from(k.salt, 'base64');
  const body = file.subarray(aad.length, file.length - 16);
  const tag = file.subarray(file.length - 16);
  try {
    const d = createDecipheriv('aes-256-gcm', await deriveKey(password, salt, k), iv);
    d.setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(body), d.final()]);
  } catch {
    throw new ArchiveRefused('wrong password, or the file was altered (authentication failed): nothing was changed');
  }
}

/** Encrypts to an OpenPGP public key; a key that cannot encrypt (signing only) is refused. */
export async function sealGpg(gz: Buffer, armoredPublicKey: string): Promise<Buffer> {
  let key: openpgp.Key;
  try {
    key = await openpgp.readKey({ armoredKey: armoredPublicKey });
  } catch (err) {
    throw new ArchiveRefused(`not an OpenPGP public key: ${(err as Error).message}`);
  }
  if (key.isPrivate()) throw new ArchiveRefused('that is a private OpenPGP key: give the public key (gpg --export --armor)');
  try {
    await key.getEncryptionKey();
  } catch {
    throw new ArchiveRefused(`OpenPGP key ${key.getKeyID().toHex()} cannot encrypt (a signing-only key): give a key with an encryption subkey`);
  }
  const message = await openpgp.createMessage({ binary: gz });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-class-instance-assignment -- openpgp's overloaded types
  const out = await openpgp.encrypt({ message, encryptionKeys: key, format: 'binary' });
  return Buffer.from(out);
}

export async function openGpg(file: Buffer, armoredPrivateKey: string, passphrase: string | undefined): Promise<Buffer> {
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armoredPrivateKey });
    if (!key.isDecrypted()) {
      if (passphrase === undefined) throw new ArchiveRefused('the OpenPGP private key is protected: give its passphrase');
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    }
  } catch (err) {
    if (err instanceof ArchiveRefused) throw err;
    throw new ArchiveRefused(`the OpenPGP private key cannot be used: ${(err as Error).message}`);
  }
  try {
    const message = file.subarray(0, 30).toString('latin1').startsWith('-----BEGIN')
      ? await openpgp.readMessage({ armoredMessage: file.toString('utf8') })
      : await openpgp.readMessage({ binaryMessage: file });
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- openpgp's overloaded types
    const { data } = await openpgp.decrypt({ message, decryptionKeys: key, format: 'binary' });
    return Buffer.from(data);
  } catch (err) {
    throw new ArchiveRefused(`the OpenPGP message cannot be decrypted (another key, or the file was altered): ${(err as Error).message}`);
  }
}
