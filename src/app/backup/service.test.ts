/**
 * Configuration export / import on real files: round trips plain, encrypted and OpenPGP into a
 * fresh node give the same configuration, users and license (the secrets only when encrypted);
 * every refusal changes nothing; an import that is not confirmed (one that moves the management
 * address) is rolled back by itself, and one that cannot be applied at once.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import * as openpgp from 'openpgp';
import { pack, unpack } from '../../adapters/backup/archive.js';
import { loadConfig } from '../../config/load.js';
import { OpError } from '../api/operation.js';
import { licenseOf, makeVendor, writeNodeConfig } from '../license/license.test-support.js';
import { ConfigBackupService, ImportRequest } from './service.js';

const root = mkdtempSync(join(tmpdir(), 'tandem-backup-'));
after(() => { rmSync(root, { recursive: true, force: true }); });
const vendor = makeVendor();
let n = 0;

interface Node { svc: ConfigBackupService; dir: string; file: string; applied: number; applyOk: boolean }

function node(opts: { version?: string; extra?: string; listen?: string } = {}): Node {
  const dir = join(root, String(n += 1));
  const file = writeNodeConfig(dir, { vendorPems: [vendor.pubPem], extra: opts.extra, listen: opts.listen });
  const state = { applied: 0, applyOk: true };
  const self: Node = { dir, file, svc: undefined as unknown as ConfigBackupService, get applied() { return state.applied; }, set applied(v) { state.applied = v; }, get applyOk() { return state.applyOk; }, set applyOk(v) { state.applyOk = v; } };
  const config = () => { const l = loadConfig(file); assert.ok(l.ok); return l.config; };
  self.svc = new ConfigBackupService({
    nodeName: 'a', stateDir: join(dir, 'state'), configFile: file, config, hostname: 'host1',
    configRoot: join(dir, 'state', 'store', 'config'), licenseRoot: join(dir, 'state', 'store', 'license'),
    firmwareVersion: opts.version ?? '1.2.0', role: () => 'primary', frozen: () => null,
    apply: () => { state.applied += 1; return Promise.resolve({ ok: state.applyOk && loadConfig(file).ok, messages: ['applied'] }); },
    log: () => undefined,
  });
  return self;
}

/** Node A: a configuration with a webhook secret, users and a license. */
function source(version = '1.2.0'): Node {
  const a = node({ version, extra: 'alerts:\n  webhooks: [{ url: "https://192.0.2.5/hook", secret_file: hook.secret }]\n' });
  writeFileSync(join(a.dir, 'hook.secret'), 'webhook-secret-123', { mode: 0o600 });
  writeFileSync(join(a.dir, 'cluster.key'), Buffer.alloc(32, 9), { mode: 0o600 });
  const users = join(a.dir, 'state', 'store', 'config');
  writeBytes(join(users, 'users.json'), JSON.stringify({ version: 1, users: { alice: { role: 'admin', hash: 'scrypt$x', created: '2026-01-01T00:00:00Z' } }, tokens: {} }));
  writeBytes(join(a.dir, 'state', 'store', 'license', 'license.lic'), licenseOf(vendor).toString('utf8'));
  return a;
}
function writeBytes(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text, { mode: 0o600 });
}

async function importInto(b: Node, file: Buffer, extra: Partial<ImportRequest> = {}): Promise<Awaited<ReturnType<ConfigBackupService['import']>>> {
  const staged = await b.svc.stage(Readable.from([file]));
  return b.svc.import(ImportRequest.parse({ file: staged.file, ...extra }));
}
const refused = async (p: Promise<unknown>, re: RegExp): Promise<void> => {
  await assert.rejects(p, (e: unknown) => { if (!(e instanceof OpError)) throw e; assert.match(e.messages.join(' '), re); return true; });
};
const same = (a: Node, b: Node, rel: string): void => { assert.deepEqual(readFileSync(join(b.dir, rel)), readFileSync(join(a.dir, rel)), rel); };
const PASSWORD = `${'pässwörd-'.repeat(16)}x`.slice(0, 150);

describe('configuration export / import', () => {
  it('plain: the configuration, users and license round-trip into a fresh node; no secret in the file; the checklist record written', async () => {
    const a = source();
    const r = await a.svc.export({});
    assert.equal(r.name.match(/^host1-\d{8}T\d{4}\.config$/)?.length, 1);
    assert.equal(r.secrets, false);
    assert.match(r.warnings.join(), /password hashes/);
    const file = Buffer.from(r.content_base64, 'base64');
    const archive = unpack(file);
    assert.ok(!archive.files.some((f) => f.secret));
    assert.ok(!JSON.stringify(archive).includes(Buffer.from('webhook-secret-123').toString('base64')));
    const rec = JSON.parse(readFileSync(join(a.dir, 'state', 'config-exports.json'), 'utf8')) as { last: number };
    assert.ok(Math.abs(rec.last - Date.now()) < 60_000);
    const b = node();
    const imp = await importInto(b, file);
    assert.equal(imp.applied, true);
    assert.ok(imp.diff.some((l) => l.includes('+   webhooks')), imp.diff.join('\n'));
    assert.ok(imp.diff.includes('user alice: added (admin)'));
    same(a, b, 'tandem.yaml');
    same(a, b, 'state/store/config/users.json');
    same(a, b, 'state/store/license/license.lic');
    assert.notDeepEqual(readFileSync(join(b.dir, 'cluster.key')), readFileSync(join(a.dir, 'cluster.key')), 'a plain export carries no cluster key');
    await b.svc.confirm();
  });

  it('encrypted (a 150-character password): the secrets too; a wrong password or one changed byte is refused and changes nothing', async () => {
    const a = source();
    const r = await a.svc.export({ password: PASSWORD });
    assert.match(r.name, /-encrypted\.config$/);
    const file = Buffer.from(r.content_base64, 'base64');
    const b = node();
    const before = readFileSync(b.file);
    await refused(importInto(b, file, { password: `${PASSWORD.slice(0, -1)}y` }), /wrong password, or the file was altered/);
    const tampered = Buffer.from(file);
    tampered[tampered.length - 40] = (tampered[tampered.length - 40] ?? 0) ^ 1;
    await refused(importInto(b, tampered, { password: PASSWORD }), /authentication failed/);
    const header = Buffer.from(file);
    header[20] = (header[20] ?? 0) ^ 1;
    await refused(importInto(b, header, { password: PASSWORD }), /.+/);
    await refused(importInto(b, file), /give its password/);
    assert.deepEqual(readFileSync(b.file), before);
    assert.equal(b.applied, 0);
    await importInto(b, file, { password: PASSWORD });
    for (const f of ['tandem.yaml', 'cluster.key', 'hook.secret', 'state/store/config/users.json', 'state/store/license/license.lic']) same(a, b, f);
    await b.svc.confirm();
  });

  it('OpenPGP: to a public key and back with its private key; a signing-only key is refused', async () => {
    const a = source();
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'ops', email: 'ops@example.org' }], format: 'armored' });
    const r = await a.svc.export({ gpg_public_key: publicKey });
    assert.match(r.name, /-gpg\.config$/);
    const b = node();
    await refused(importInto(b, Buffer.from(r.content_base64, 'base64')), /private key/);
    await importInto(b, Buffer.from(r.content_base64, 'base64'), { gpg_private_key: privateKey });
    for (const f of ['tandem.yaml', 'cluster.key', 'hook.secret', 'state/store/config/users.json']) same(a, b, f);
    await b.svc.confirm();
    const signOnly = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 's' }], subkeys: [], format: 'armored' });
    await refused(a.svc.export({ gpg_public_key: signOnly.publicKey }), /cannot encrypt/);
    await refused(a.svc.export({ gpg_public_key: privateKey }), /private OpenPGP key/);
  });

  it('refuses an export of a newer firmware, a newer schema, an older major release (naming both versions)', async () => {
    const b = node({ version: '2.1.0' });
    const before = readFileSync(b.file);
    const newer = unpack(Buffer.from((await source('2.2.0').svc.export({})).content_base64, 'base64'));
    await refused(importInto(b, pack(newer)), /Tandem 2\.2\.0 .*newer than this node's Tandem 2\.1\.0/);
    await refused(importInto(b, pack({ ...newer, firmware: '2.0.0', schema: 99 })), /schema 99.*newer than this node's Tandem 2\.1\.0 \(configuration schema 1\)/);
    await refused(importInto(b, pack({ ...newer, firmware: '1.9.0' })), /Tandem 1\.9\.0 .*older major release than this node's Tandem 2\.1\.0/);
    await refused(importInto(b, Buffer.from('hello')), /not a Tandem configuration export/);
    await refused(importInto(b, pack({ ...newer, firmware: '2.0.0', config: 'cluster: [' })), /refused/);
    assert.deepEqual(readFileSync(b.file), before);
    assert.equal(b.applied, 0);
  });

  it('an import that moves the management address and is not confirmed rolls back by itself', async () => {
    const a = node({ listen: '8443' });
    const text = readFileSync(a.file, 'utf8').replace('listen: 8443', 'listen: 198.51.100.77:9443');
    writeFileSync(a.file, text);
    const file = Buffer.from((await a.svc.export({})).content_base64, 'base64');
    const b = node({ listen: '8443' });
    const before = readFileSync(b.file);
    const r = await importInto(b, file, { confirm_timeout_s: 5 });
    assert.ok(r.diff.some((l) => l.includes('+   listen: 198.51.100.77:9443')), r.diff.join('\n'));
    assert.match(readFileSync(b.file, 'utf8'), /198\.51\.100\.77:9443/);
    await refused(importInto(b, file), /waits for confirmation/);
    await sleep(5600);
    assert.deepEqual(readFileSync(b.file), before, 'the previous configuration is back');
    assert.equal(b.applied, 2, 'applied, then the restored one applied');
    await refused(b.svc.confirm(), /no imported configuration waits/);
  });

  it('an import the node cannot apply is rolled back at once; an unconfirmed import left by a restart rolls back at the next start', async () => {
    const a = source();
    const file = Buffer.from((await a.svc.export({ password: PASSWORD })).content_base64, 'base64');
    const b = node();
    const before = readFileSync(b.file);
    const key = readFileSync(join(b.dir, 'cluster.key'));
    b.applyOk = false;
    await refused(importInto(b, file, { password: PASSWORD }), /could not be applied; the previous one is back/);
    assert.deepEqual(readFileSync(b.file), before);
    assert.deepEqual(readFileSync(join(b.dir, 'cluster.key')), key);
    assert.equal(existsSync(join(b.dir, 'hook.secret')), false, 'a file the import created is removed');
    b.applyOk = true;
    await importInto(b, file, { password: PASSWORD, confirm_timeout_s: 5 });
    b.svc.close();
    await sleep(5200);
    // "restart": a new service on the same files finds the pending import past its time.
    const restarted = new ConfigBackupService({ ...(b.svc as unknown as { o: ConstructorParameters<typeof ConfigBackupService>[0] }).o });
    restarted.resume();
    await restarted.confirm().catch(() => undefined);
    assert.deepEqual(readFileSync(b.file), before);
  });
});
