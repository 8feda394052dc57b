/** A vendor key of the test's own, licenses signed with it, and a node configuration trusting it. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZipFile } from 'yazl';
import { signLicense } from '../../adapters/license/format.js';
import type { LicenseFields } from '../../core/license.js';

export interface Vendor { readonly key: KeyObject; readonly pubPem: string }

export function makeVendor(): Vendor {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { key: privateKey, pubPem: String(publicKey.export({ type: 'spki', format: 'pem' })) };
}

export const FIELDS: LicenseFields = {
  customer: 'Example Corp', serial: 'SN-0001', limit_type: 'hosts', limit: 50,
  valid_from: '2026-01-01', valid_to: '2027-12-31', lts_releases: ['1.2'],
};

export const licenseOf = (v: Vendor, fields: Partial<LicenseFields> = {}): Buffer => signLicense({ ...FIELDS, ...fields }, v.key);

export async function zipOf(entries: readonly { name: string; data: Buffer }[]): Promise<Buffer> {
  const zip = new ZipFile();
  for (const e of entries) zip.addBuffer(e.data, e.name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A one-node configuration in `dir` (relative paths), trusting `vendorPems` as license vendors. */
export function writeNodeConfig(dir: string, opts: { vendorPems?: readonly string[]; extra?: string; listen?: string } = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cluster.key'), Buffer.alloc(32, 7), { mode: 0o600 });
  const vendorFile = join(dir, 'vendor.pub');
  if (opts.vendorPems !== undefined && opts.vendorPems.length > 0) writeFileSync(vendorFile, opts.vendorPems.join(''));
  const file = join(dir, 'tandem.yaml');
  writeFileSync(file, `cluster:
  name: lab
  key_file: cluster.key
  ha_link: ha0
api:
  listen: ${opts.listen ?? 'off'}
${opts.vendorPems !== undefined && opts.vendorPems.length > 0 ? 'license:\n  vendor_keys: [vendor.pub]\n' : ''}${opts.extra ?? ''}nodes:
  a:
    state_dir: state
    interfaces:
      ha0: { address: 203.0.113.1/30 }
`, { mode: 0o600 });
  return file;
}
