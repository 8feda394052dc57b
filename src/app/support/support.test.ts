/**
 * Core files and the support bundle, on real files: a core dumped for real by a process killed
 * with SIGSEGV (its program read from the ELF core), names that try to escape the directory, and
 * a bundle made from a node whose configuration, users, tokens, log and alerts hold known
 * secrets — none of which may be anywhere in the bundle's bytes (after gunzip).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { fileLog } from '../../adapters/log/file-log.js';
import { loadConfig } from '../../config/load.js';
import { AuditLog } from '../api/audit.js';
import { OpError } from '../api/operation.js';
import { UserStore } from '../api/users.js';
import { CoreFiles, programOfName } from './cores.js';
import { SupportService } from './service.js';

const base = mkdtempSync(join(tmpdir(), 'tandem-support-'));
after(() => { rmSync(base, { recursive: true, force: true }); });

async function text(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The member names of an (uncompressed) ustar archive. */
function members(tar: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at + 512 <= tar.length;) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const field = (o: number, n: number): string => h.subarray(o, o + n).toString('utf8').replace(/\0.*$/s, '');
    const name = field(0, 100);
    const prefix = field(345, 155);
    const size = Number.parseInt(field(124, 12).trim(), 8);
    out.push(prefix === '' ? name : `${prefix}/${name}`);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

describe('core files', () => {
  it('lists a real core dump with its program, streams it, deletes it; refuses names that escape', async () => {
    const dir = join(base, 'cores');
    mkdirSync(dir);
    // A process dumps core for real (core_pattern "core", in its working directory).
    const child = spawn('sh', ['-c', 'ulimit -c unlimited; exec sleep 30'], { cwd: dir, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGSEGV');
    await new Promise((r) => child.once('exit', r));
    const cores = new CoreFiles(() => dir);
    const dumped = readdirSync(dir).find((n) => n.startsWith('core'));
    writeFileSync(join(dir, 'core.nginx.0.3f2a.1234.1700000000000000.zst'), 'compressed');
    writeFileSync(join(dir, '.hidden'), 'x');
    writeFileSync(join(base, 'outside'), 'not a core file');
    symlinkSync(join(base, 'outside'), join(dir, 'core.link'));
    const list = cores.list();
    assert.ok(list.some((f) => f.name === 'core.nginx.0.3f2a.1234.1700000000000000.zst' && f.program === 'nginx' && f.size === 10));
    assert.ok(!list.some((f) => f.name === '.hidden' || f.name === 'core.link'), 'dot files and links are not core files');
    if (dumped !== undefined) {
      const core = list.find((f) => f.name === dumped);
      assert.equal(core?.program, 'sleep', 'the program from the ELF core note');
      const d = cores.open(dumped);
      assert.equal((await text(d.stream)).length, core.size);
    } else {
      process.stderr.write('note: no core was dumped here (core_pattern is not a file); the ELF part was not exercised\n');
    }
    for (const bad of ['../outside', '/etc/passwd', '..', '.hidden', 'a/b', '', 'core\nx']) {
      assert.throws(() => cores.open(bad), (e: unknown) => e instanceof OpError && e.status === 400, bad);
      assert.throws(() => cores.remove(bad), (e: unknown) => e instanceof OpError && e.status === 400, bad);
    }
    assert.throws(() => cores.open('core.link'), (e: unknown) => e instanceof OpError && /symbolic link/.test(e.message));
    assert.throws(() => cores.remove('core.none'), (e: unknown) => e instanceof OpError && e.status === 404);
    assert.ok(existsSync(join(base, 'outside')));
    assert.deepEqual(cores.remove('core.nginx.0.3f2a.1234.1700000000000000.zst').ok, true);
    assert.ok(!cores.list().some((f) => f.program === 'nginx'));
    assert.deepEqual(new CoreFiles(() => join(base, 'none')).list(), [], 'an absent directory holds none');
  });

  it('names its program from the usual file name forms', () => {
    assert.equal(programOfName('core.nginx.0.abc.12.34.zst'), 'nginx');
    assert.equal(programOfName('core.1234'), null);
    assert.equal(programOfName('core'), null);
    assert.equal(programOfName('core-redis-11-0-0-99'), 'redis');
    assert.equal(programOfName('postgres.core'), 'postgres');
  });
});

describe('the support bundle', () => {
  it('holds logs, status, configuration, versions and alerts, and none of the secrets planted in them', async () => {
    const dir = join(base, 'node');
    const state = join(dir, 'state');
    mkdirSync(join(state, 'store', 'config'), { recursive: true });
    const clusterKey = randomBytes(32);
    writeFileSync(join(dir, 'cluster.key'), clusterKey, { mode: 0o600 });
    const webhookSecret = `whsec-${randomBytes(12).toString('hex')}`;
    writeFileSync(join(dir, 'hook.secret'), `${webhookSecret}\n`, { mode: 0o600 });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    writeFileSync(join(dir, 'api.key'), pem, { mode: 0o600 });
    const configFile = join(dir, 'tandem.yaml');
    writeFileSync(configFile, [
      `# pasted by mistake: ${clusterKey.toString('hex')} and ${clusterKey.toString('base64')}`,
      'cluster: { name: lab, key_file: cluster.key, ha_link: ha0 }',
      'alerts:', '  webhooks:', `    - { url: "https://hooks.example/t", secret_file: hook.secret }   # ${webhookSecret}`,
      'api: { listen: "off", cert_file: api.crt, key_file: api.key }',
      'nodes:', '  a:', `    state_dir: ${state}`, '    interfaces:', '      ha0: { address: 203.0.113.1/30 }', '',
    ].join('\n'));
    const loaded = loadConfig(configFile);
    assert.ok(loaded.ok, JSON.stringify(loaded));
    const cfg = loaded.config;
    const users = new UserStore(join(state, 'store', 'config'));
    await users.add('alice', 'admin', 'correct horse battery');
    const token = users.createToken('alice', 'ci').token;
    const hash = (JSON.parse((await import('node:fs')).readFileSync(users.file, 'utf8')) as { users: { alice: { hash: string } } }).users.alice.hash;
    // tdm_<id>_<secret>: the secret is base64url, so it may hold '_' itself.
    const tokenSecret = token.split('_').slice(2).join('_');
    const tokenHash = createHash('sha256').update(tokenSecret).digest('hex');
    const log = fileLog(state);
    log(`${JSON.stringify({ level: 'info', event: 'ready', msg: 'node a running firmware 0.1.0 (a harmless line)' })}\n`);
    log(`${JSON.stringify({ level: 'warn', event: 'debug', msg: `key ${clusterKey.toString('hex')} secret ${webhookSecret} token ${token} hash ${hash} tokenhash ${tokenHash}`, pem })}\n`);
    log(`curl -H 'Authorization: Bearer ${token}' ${clusterKey.toString('base64url')} ${clusterKey.toString('latin1')}\n`);
    const audit = new AuditLog(state);
    audit.record({ caller: { user: 'root', role: 'root', from: 'control socket' }, op: 'userAdd', ok: false, detail: `refused: ${webhookSecret}` });

    const support = new SupportService({
      nodeName: 'a', stateDir: state, configFile, config: () => cfg,
      coreDir: () => join(state, 'cores'), status: () => null, firmware: null, users, audit,
      recentAlerts: () => [{ source: 'test', event: 'leak', message: `webhook secret is ${webhookSecret}`, signature: 'abcdefabcdef' }],
      licenseRoot: join(state, 'store', 'license'),
    });
    const d = await support.bundle();
    assert.match(d.name, /^tandem-support-a-\d{8}T\d{6}Z\.tar\.gz$/);
    const tar = gunzipSync(await text(d.stream));
    const names = members(tar).map((n) => n.split('/').slice(1).join('/'));
    for (const want of ['status.json', 'versions.json', 'system.json', 'config/tandem.yaml', 'config/users.json', 'alerts.json', 'audit.json', 'cores.json', 'logs/tandem.log', 'README.txt']) {
      assert.ok(names.includes(want), `${want} in ${names.join(', ')}`);
    }
    const planted: [string, Buffer | string][] = [
      ['cluster key (raw)', clusterKey], ['cluster key (hex)', clusterKey.toString('hex')], ['cluster key (base64)', clusterKey.toString('base64')],
      ['cluster key (base64url)', clusterKey.toString('base64url')], ['webhook secret', webhookSecret], ['token', token], ['token secret', tokenSecret],
      ['token hash', tokenHash], ['password hash', hash], ['private key', pem.split('\n')[1] ?? 'x'], ['private key block', 'PRIVATE KEY-----\n'],
    ];
    for (const [what, secret] of planted) assert.equal(tar.indexOf(secret), -1, `${what} is in the bundle`);
    const all = tar.toString('utf8');
    assert.match(all, /a harmless line/, 'the log is there');
    assert.match(all, /cluster: \{ name: lab/, 'the configuration is there');
    assert.match(all, /"name": "alice"/, 'the users, without their hashes');
    assert.match(all, /\[REDACTED\] webhook 0 secret/);
    assert.match(all, /Secrets removed/);
  });
});
