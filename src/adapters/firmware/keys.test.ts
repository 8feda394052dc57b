/**
 * Signing keys: generation (modes, never overwriting), loading the private key (refused when
 * others may read it), public keys from files and inline PEM, and the key id.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyError, keyIdOf, loadPublicKey, loadSigningKey, parsePublicKey, PUBLIC_KEY_FILE, SIGNING_KEY_FILE, writeKeyPair } from './keys.js';

const base = mkdtempSync(join(tmpdir(), 'tandem-keys-'));
after(() => { rmSync(base, { recursive: true, force: true }); });
let n = 0;
const freshDir = (): string => join(base, `k${String(++n)}`);

describe('firmware signing keys', () => {
  it('keygen writes an Ed25519 pair: a 0600 PKCS#8 private key and an SPKI public key that verify each other', () => {
    const dir = freshDir();
    const made = writeKeyPair(dir);
    assert.equal(made.keyFile, join(dir, SIGNING_KEY_FILE));
    assert.equal(statSync(made.keyFile).mode & 0o777, 0o600);
    assert.match(readFileSync(made.keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(readFileSync(made.pubFile, 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);
    const priv = loadSigningKey(made.keyFile);
    const pub = loadPublicKey(made.pubFile);
    assert.equal(priv.id, made.id);
    assert.equal(pub.id, made.id);
    assert.equal(pub.source, made.pubFile);
    const signature = sign(null, Buffer.from('m'), priv.key);
    assert.equal(verify(null, Buffer.from('m'), pub.key, signature), true);
  });

  it('keygen refuses to overwrite either file and then writes nothing', () => {
    for (const existing of [SIGNING_KEY_FILE, PUBLIC_KEY_FILE]) {
      const dir = freshDir();
      writeKeyPair(dir);
      rmSync(join(dir, existing === SIGNING_KEY_FILE ? PUBLIC_KEY_FILE : SIGNING_KEY_FILE));
      const before = readFileSync(join(dir, existing), 'utf8');
      assert.throws(() => writeKeyPair(dir), (err: unknown) => err instanceof KeyError
        && err.message === `${join(dir, existing)} already exists: keygen never overwrites a key (move it away first)`);
      assert.equal(readFileSync(join(dir, existing), 'utf8'), before);
      assert.throws(() => statSync(join(dir, existing === SIGNING_KEY_FILE ? PUBLIC_KEY_FILE : SIGNING_KEY_FILE)), /ENOENT/);
    }
  });

  it('the key id is the first 16 hex digits of sha256 over the raw 32-byte public key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
    const expected = createHash('sha256').update(raw).digest('hex').slice(0, 16);
    assert.equal(keyIdOf(publicKey), expected);
    assert.equal(keyIdOf(privateKey), expected, 'a private key is named by its public half');
  });

  const loose: readonly { mode: number; shown: string }[] = [
    { mode: 0o640, shown: '0640' }, { mode: 0o604, shown: '0604' }, { mode: 0o620, shown: '0620' }, { mode: 0o644, shown: '0644' },
  ];
  for (const { mode, shown } of loose) {
    it(`refuses a private key of mode ${shown}`, () => {
      const dir = freshDir();
      const { keyFile } = writeKeyPair(dir);
      chmodSync(keyFile, mode);
      assert.throws(() => loadSigningKey(keyFile), {
        name: 'KeyError',
        message: `signing key ${keyFile} is accessible by group or others (mode ${shown}); run chmod 600 ${keyFile}`,
      });
    });
  }

  it('refuses what is not an unencrypted Ed25519 PKCS#8 private key', () => {
    const dir = freshDir();
    const { pubFile } = writeKeyPair(dir);
    const file = (name: string, text: string): string => { const f = join(dir, name); writeFileSync(f, text, { mode: 0o600 }); return f; };
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const encrypted = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'p' }).toString();
    const cases: readonly { file: string; message: RegExp }[] = [
      { file: join(dir, 'absent.key'), message: /^cannot read signing key .*absent\.key: no such file$/ },
      { file: file('rsa.key', rsa), message: /is an rsa key; firmware is signed with Ed25519/ },
      { file: file('enc.key', encrypted), message: /is encrypted; tandem needs an unencrypted PKCS#8 key/ },
      { file: file('pub.key', readFileSync(pubFile, 'utf8')), message: /is not a PEM PKCS#8 private key/ },
      { file: file('junk.key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), message: /cannot be read/ },
    ];
    for (const c of cases) assert.throws(() => loadSigningKey(c.file), { name: 'KeyError', message: c.message }, c.file);
  });

  it('a trusted key comes from a PEM file or inline PEM text; a private key or another algorithm is refused', () => {
    const dir = freshDir();
    const { pubFile, keyFile, id } = writeKeyPair(dir);
    for (const text of [`\n${readFileSync(pubFile, 'utf8')}`, `vendor release key, 2026\n${readFileSync(pubFile, 'utf8')}`]) {
      const inline = loadPublicKey(text);
      assert.deepEqual({ id: inline.id, source: inline.source }, { id, source: 'inline PEM key' }, text);
    }
    assert.throws(() => loadPublicKey(keyFile), /holds a private key: trust the public key \(signing\.pub\)/);
    assert.throws(() => loadPublicKey(join(dir, 'nope.pub')), /^KeyError: cannot read public key .*nope\.pub: no such file$/);
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.throws(() => parsePublicKey(p256, 'vendor.pub'), { message: 'vendor.pub is an ec key; firmware is signed with Ed25519' });
    const two = readFileSync(pubFile, 'utf8').repeat(2);
    assert.throws(() => parsePublicKey(two, 'two.pub'), { message: 'two.pub is not one PEM public key (-----BEGIN PUBLIC KEY-----)' });
  });
});
