import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { EXAMPLE, variant } from './fixtures.test-support.js';
import { loadConfig, readClusterKey, resolveNode, type TandemConfig } from './load.js';

let dir = '';
before(() => { dir = mkdtempSync(join(tmpdir(), 'tandem-config-')); });
after(() => { rmSync(dir, { recursive: true, force: true }); });

function writeConfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function load(file: string): TandemConfig {
  const r = loadConfig(file);
  if (!r.ok) assert.fail(JSON.stringify(r.errors));
  return r.config;
}

/** A config in its own directory whose key file holds `key` with `mode`. */
function withKey(name: string, key: Uint8Array | string, mode: number): TandemConfig {
  const sub = join(dir, name);
  mkdirSync(sub);
  const keyFile = join(sub, 'cluster.key');
  writeFileSync(keyFile, key, { mode: 0o600 });
  chmodSync(keyFile, mode);
  return load(writeConfig(join(name, 'tandem.yaml'), EXAMPLE));
}

const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);

describe('loadConfig', () => {
  it('reads the file and resolves paths against its directory', () => {
    const file = writeConfig('rel.yaml', variant([[['cluster', 'key_file'], 'keys/cluster.key'], [['service', 'on_primary'], 'hooks/up.sh']]));
    const config = load(file);
    assert.equal(config.file, file);
    assert.equal(config.cluster.keyFile, join(dir, 'keys/cluster.key'));
    assert.equal(config.service.onPrimary, join(dir, 'hooks/up.sh'));
    assert.equal(config.service.onSecondary, join(dir, 'secondary.sh'), 'hooks need not exist at load time');
    assert.ok(resolveNode(config, 'a').ok);
  });

  it('a missing file is an error, not an exception', () => {
    const r = loadConfig(join(dir, 'absent.yaml'));
    assert.ok(!r.ok);
    assert.deepEqual(r.errors, [{ file: join(dir, 'absent.yaml'), field: '', reason: 'cannot read the configuration: no such file' }]);
  });

  it('a directory is an error, not an exception', () => {
    const r = loadConfig(dir);
    assert.ok(!r.ok);
    assert.match(r.errors[0]!.reason, /cannot read the configuration: it is a directory/);
  });

  it('names the file in every error', () => {
    const file = writeConfig('bad.yaml', variant([[['cluster', 'port'], 0], [['nodes', 'a', 'interfaces', 'ext0', 'next_hop'], 'fe80::1']]));
    const r = loadConfig(file);
    assert.ok(!r.ok);
    assert.equal(r.errors.length, 2);
    assert.ok(r.errors.every((e) => e.file === file));
  });
});

describe('docs/configuration.md', () => {
  it('shows the example the tests load', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8');
    const block = /^## Example\n\n```yaml\n([\s\S]*?)```/m.exec(doc)?.[1];
    assert.equal(block, EXAMPLE);
  });
});

describe('readClusterKey', () => {
  it('reads a key file of mode 0600 (and 0400)', () => {
    const r = readClusterKey(withKey('k600', KEY, 0o600));
    assert.ok(r.ok);
    assert.deepEqual(r.key, KEY);
    assert.ok(readClusterKey(withKey('k400', KEY, 0o400)).ok);
  });

  for (const [mode, what] of [[0o644, 'readable'], [0o640, 'readable'], [0o604, 'readable'], [0o620, 'writable'], [0o666, 'readable and writable'], [0o610, 'accessible']] as const) {
    it(`refuses mode 0${mode.toString(8)}: ${what} by group or others`, () => {
      const config = withKey(`k${mode.toString(8)}`, KEY, mode);
      const r = readClusterKey(config);
      assert.ok(!r.ok);
      assert.equal(r.error.file, config.file);
      assert.equal(r.error.field, 'cluster.key_file');
      assert.equal(r.error.reason,
        `key file ${config.cluster.keyFile} is ${what} by group or others (mode 0${mode.toString(8)}); run chmod 600 ${config.cluster.keyFile}`);
    });
  }

  it('refuses a missing key file, saying how to make one', () => {
    const file = writeConfig('nokey.yaml', variant([[['cluster', 'key_file'], 'nowhere.key']]));
    const r = readClusterKey(load(file));
    assert.ok(!r.ok);
    assert.match(r.error.reason, /key file .*nowhere\.key does not exist; create it once \(head -c 32 \/dev\/urandom/);
  });

  it('refuses a key shorter than 32 bytes', () => {
    const r = readClusterKey(withKey('short', KEY.slice(0, 16), 0o600));
    assert.ok(!r.ok);
    assert.match(r.error.reason, /holds 16 bytes; a key needs at least 32/);
  });

  it('uses the bytes of the file exactly: a random key ending in a newline byte keeps it', () => {
    // 1 random key in 128 ends in 0x0a: stripping it would refuse or change that key.
    const binary = new Uint8Array(32).fill(7);
    binary[31] = 0x0a;
    const r = readClusterKey(withKey('binary', binary, 0o600));
    assert.ok(r.ok);
    assert.deepEqual(r.key, binary);
    const edited = readClusterKey(withKey('edited', `${'x'.repeat(32)}\n`, 0o600));
    assert.ok(edited.ok);
    assert.equal(edited.key.length, 33, 'a newline added by an editor is part of the key: copy the file, do not paste it');
  });

  it('refuses a directory', () => {
    const sub = join(dir, 'keydir');
    mkdirSync(join(sub, 'cluster.key'), { recursive: true });
    chmodSync(join(sub, 'cluster.key'), 0o700);
    const r = readClusterKey(load(writeConfig(join('keydir', 'tandem.yaml'), EXAMPLE)));
    assert.ok(!r.ok);
    assert.match(r.error.reason, /is not a regular file/);
  });
});
