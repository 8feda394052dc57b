/**
 * The license service on real files with a vendor key of the test's own: installed from the file
 * and from a zip, shown, warned about ahead of its end, checked by the firmware Test; every
 * refusal (bad signature, another vendor, expired, malformed zip, a zip path escaping, two
 * licenses in one zip) keeps nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../config/load.js';
import type { TandemConfig } from '../../config/types.js';
import { OpError } from '../api/operation.js';
import { FIELDS, licenseOf, makeVendor, writeNodeConfig, zipOf } from './license.test-support.js';
import { LicenseService } from './service.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-license-'));
after(() => { rmSync(root, { recursive: true, force: true }); });
const vendor = makeVendor();
const stranger = makeVendor();
const NOW = Date.parse('2026-06-01T12:00:00Z');
let n = 0;

function service(now = NOW): { svc: LicenseService; dir: string } {
  const dir = join(root, String(n += 1));
  const file = writeNodeConfig(dir, { vendorPems: [vendor.pubPem] });
  const loaded = loadConfig(file);
  assert.ok(loaded.ok);
  const config: TandemConfig = loaded.config;
  const svc = new LicenseService({ store: join(dir, 'state', 'store', 'license'), config: () => config, role: () => 'primary', log: () => undefined, now: () => now });
  return { svc, dir };
}

const refused = async (p: Promise<unknown>, re: RegExp): Promise<void> => {
  await assert.rejects(p, (e: unknown) => e instanceof OpError && re.test(e.messages.join(' ')));
};

describe('license', () => {
  it('installs a signed license, shows its fields, and the Test passes an LTS release it is issued for', async () => {
    const { svc } = service();
    const r = await svc.install(Readable.from([licenseOf(vendor)]));
    assert.equal(r.state, 'valid');
    assert.deepEqual(svc.show().license, FIELDS);
    assert.deepEqual(svc.licenseWarnings(NOW), []);
    assert.equal(svc.checkFor({ version: '1.2.3', type: 'lts' }).status, 'pass');
    assert.equal(svc.checkFor({ version: '1.3.0', type: 'lts' }).status, 'fail');
    assert.equal(svc.checkFor({ version: '1.3.0', type: 'feature' }).status, 'pass');
  });

  it('installs from a zip; warns ahead of the end and once expired', async () => {
    const { svc } = service();
    await svc.install(Readable.from([await zipOf([{ name: 'lic/license.lic', data: licenseOf(vendor, { valid_to: '2026-06-20' }) }])]));
    assert.match(svc.licenseWarnings(NOW).join(), /expires on 2026-06-20, in 19 days/);
    assert.match(svc.licenseWarnings(Date.parse('2026-07-01T00:00:00Z')).join(), /expired on 2026-06-20/);
  });

  it('without a license: no warning, an LTS release fails the Test, a Feature Release skips', () => {
    const { svc } = service();
    assert.deepEqual(svc.licenseWarnings(NOW), []);
    assert.equal(svc.checkFor({ version: '1.2.0', type: 'lts' }).status, 'fail');
    assert.equal(svc.checkFor({ version: '1.2.0', type: 'feature' }).status, 'skip');
  });

  it('refuses a bad signature, another vendor, an expired or future license, and keeps nothing', async () => {
    const { svc } = service();
    const good = licenseOf(vendor);
    const doc = JSON.parse(good.toString('utf8')) as { license: string };
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(good.toString('utf8')) as object, license: doc.license.replace('"limit":50', '"limit":5000') }));
    await refused(svc.install(Readable.from([altered])), /does not verify/);
    await refused(svc.install(Readable.from([licenseOf(stranger)])), /not a vendor key/);
    await refused(svc.install(Readable.from([licenseOf(vendor, { valid_to: '2026-05-31' })])), /expired on 2026-05-31/);
    await refused(svc.install(Readable.from([licenseOf(vendor, { valid_from: '2026-07-01' })])), /valid only from 2026-07-01/);
    await refused(svc.install(Readable.from([Buffer.from('not json')])), /not a license file/);
    assert.equal(existsSync(svc.file), false);
    assert.equal(svc.show().state, 'none');
  });

  it('refuses a malformed zip, a zip entry escaping the archive, two licenses in one zip; a kept license stays', async () => {
    const { svc } = service();
    await svc.install(Readable.from([licenseOf(vendor)]));
    const kept = readFileSync(svc.file);
    const zip = await zipOf([{ name: 'aa/license.lic', data: licenseOf(vendor, { serial: 'SN-EVIL' }) }]);
    // The same archive with the entry named ../license.lic (same length: the headers stay valid).
    const escaping = Buffer.from(zip.toString('latin1').split('aa/license.lic').join('../license.lic'.slice(0, 14)), 'latin1');
    await refused(svc.install(Readable.from([escaping])), /outside the archive|invalid relative path|malformed/);
    await refused(svc.install(Readable.from([zip.subarray(0, zip.length - 30)])), /zip/);
    await refused(svc.install(Readable.from([await zipOf([{ name: 'a.lic', data: licenseOf(vendor) }, { name: 'b.lic', data: licenseOf(vendor) }])])), /2 license files/);
    assert.deepEqual(readFileSync(svc.file), kept);
  });
});
