/**
 * The manifest's checks, one row per rule (code and message), the version and date predicates,
 * unsafe paths, and the signature over the manifest's bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { manifestFor, testKey } from './fixtures.test-support.js';
import { checkManifest, encodeManifest, isCalendarDate, isSemver, MAX_MANIFEST_BYTES, parseManifest, pathProblem } from './manifest.js';
import { BundleRefused, type RefusalCode } from './refusal.js';
import { signManifest, verifyManifest } from './signature.js';

const files = [{ path: 'package.json', data: '{}' }, { path: 'dist/a.js', data: 'a', mode: 0o755 }];
const good = manifestFor(files);
const refusedWith = (code: RefusalCode, message: string) => (err: unknown): boolean => {
  assert.ok(err instanceof BundleRefused, String(err));
  assert.equal(err.code, code);
  assert.equal(err.message, message);
  return true;
};
type Json = Record<string, unknown>;
const payloadWith = (patch: (f: Json[]) => Json[]): Json => {
  const fs = patch(good.payload.files.map((f) => ({ ...f })));
  return { files: fs, bytes: fs.reduce((a, f) => a + (typeof f.size === 'number' ? f.size : 0), 0) };
};
const migration = (from: number, steps: unknown[] = []): Json => ({ from, to: from + 1, description: `schema ${from} → ${from + 1}`, steps });

describe('the manifest', () => {
  it('accepts a valid manifest as it is, and reads back what it encodes', () => {
    assert.deepEqual(checkManifest(good), good);
    assert.deepEqual(parseManifest(encodeManifest(good)), good);
    const full = manifestFor(files, {
      min_from: '1.0.0-rc.1', type: 'feature',
      config_schema: { version: 3, migrations: [migration(1, [{ op: 'rename', from: 'nodes.*.a', to: 'nodes.*.b' }]), migration(2, [{ op: 'set-default', path: 'x.y', value: { z: [1] } }, { op: 'remove', path: 'old' }])] },
      ha_protocol: { min: 1, max: 2 }, releases: [{ version: '1.0.0', type: 'lts', published: '2025-01-31' }],
    });
    assert.deepEqual(checkManifest(full), full);
  });

  const invalid: readonly { name: string; patch: Json; code?: RefusalCode; message: string }[] = [
    { name: 'an unknown key', patch: { signed_by: 'me' }, message: 'manifest.json: (the manifest): unknown key "signed_by" (format 1 has no such field)' },
    { name: 'another format', patch: { format: 2 }, message: 'manifest.json: format: must be 1 (this firmware reads format 1 only), not number 2' },
    { name: 'another product', patch: { product: 'other' }, message: 'manifest.json: product: must be "tandem", not string "other"' },
    { name: 'a missing field', patch: { notes: undefined }, message: 'manifest.json: notes: missing' },
    { name: 'a version that is not semver', patch: { version: '1.2' }, message: 'manifest.json: version: must be a semantic version MAJOR.MINOR.PATCH[-PRERELEASE], not string "1.2"' },
    { name: 'build metadata in the version', patch: { version: '1.2.3+b5' }, message: 'manifest.json: version: must be a semantic version MAJOR.MINOR.PATCH[-PRERELEASE], not string "1.2.3+b5"' },
    { name: 'an unknown type', patch: { type: 'beta' }, message: 'manifest.json: type: must be "lts" or "feature", not string "beta"' },
    { name: 'a date that does not exist', patch: { published: '2026-02-30' }, message: 'manifest.json: published: must be a calendar date YYYY-MM-DD, not string "2026-02-30"' },
    { name: 'a bad min_from', patch: { min_from: 'any' }, message: 'manifest.json: min_from: must be a semantic version MAJOR.MINOR.PATCH[-PRERELEASE], not string "any"' },
    { name: 'schema 0', patch: { config_schema: { version: 0, migrations: [] } }, message: 'manifest.json: config_schema.version: must be at least 1, not number 0' },
    { name: 'a fractional schema', patch: { config_schema: { version: 1.5, migrations: [] } }, message: 'manifest.json: config_schema.version: must be an integer, not number 1.5' },
    { name: 'a migration skipping a schema', patch: { config_schema: { version: 3, migrations: [{ ...migration(1), to: 3 }] } }, message: 'manifest.json: config_schema.migrations[0]: a migration goes from one schema to the next (to = from + 1)' },
    { name: 'a gap between migrations', patch: { config_schema: { version: 4, migrations: [migration(1), migration(3)] } }, message: 'manifest.json: config_schema.migrations[1]: starts from schema 3, the one before ends at 2' },
    { name: 'migrations ending below the schema', patch: { config_schema: { version: 3, migrations: [migration(1)] } }, message: 'manifest.json: config_schema.migrations: end at schema 2, not at config_schema.version 3' },
    { name: 'an unknown migration op', patch: { config_schema: { version: 2, migrations: [migration(1, [{ op: 'move', path: 'a' }])] } }, message: 'manifest.json: config_schema.migrations[0].steps[0].op: op must be "rename", "remove" or "set-default"' },
    { name: 'a rename losing a wildcard', patch: { config_schema: { version: 2, migrations: [migration(1, [{ op: 'rename', from: 'a.*.b', to: 'a.b' }])] } }, message: 'manifest.json: config_schema.migrations[0].steps[0]: from and to must have the same number of * segments' },
    { name: 'ha_protocol min above max', patch: { ha_protocol: { min: 3, max: 2 } }, message: 'manifest.json: ha_protocol: min 3 is above max 2' },
    { name: 'a bad release', patch: { releases: [{ version: '2.0.0', type: 'lts', published: '2026-13-01' }] }, message: 'manifest.json: releases[0].published: must be a calendar date YYYY-MM-DD, not string "2026-13-01"' },
    { name: 'a bad built_at', patch: { built_at: '2026-03-01 12:00' }, message: 'manifest.json: built_at: must be an ISO 8601 UTC time (2026-01-31T12:00:00.000Z), not string "2026-03-01 12:00"' },
    { name: 'a bad node ABI', patch: { runtime: { node_abi: 'v20', platform: 'linux', arch: 'x64' } }, message: 'manifest.json: runtime.node_abi: must be a Node.js ABI number (process.versions.modules)' },
    { name: 'upper-case hex', patch: { payload: payloadWith((f) => { f[1]!.sha256 = String(f[1]!.sha256).toUpperCase(); return f; }) }, message: 'manifest.json: payload.files[1].sha256: must be 64 lower-case hex digits' },
    { name: 'mode 0o600', patch: { payload: payloadWith((f) => { f[0]!.mode = 0o600; return f; }) }, message: 'manifest.json: payload.files[0].mode: must be 0o644 (420) or 0o755 (493), not number 384' },
    { name: 'a negative size', patch: { payload: payloadWith((f) => { f[0]!.size = -1; return f; }) }, message: 'manifest.json: payload.files[0].size: must be at least 0, not number -1' },
    { name: 'a size beyond ustar', patch: { payload: payloadWith((f) => { f[0]!.size = 2 ** 33; return f; }) }, message: 'manifest.json: payload.files[0].size: must be at most 8589934591, not number 8589934592' },
    { name: 'payload.bytes not the sum', patch: { payload: { ...good.payload, bytes: 4 } }, message: 'manifest.json: payload.bytes: 4, but the files\' sizes add up to 3' },
    { name: 'a path that escapes', patch: { payload: payloadWith((f) => { f[1]!.path = '../x'; return f; }) }, code: 'path-escape', message: 'manifest.json: payload.files[1].path "../x": a \'..\' segment escapes the tree' },
    { name: 'an absolute path', patch: { payload: payloadWith((f) => { f[1]!.path = '/etc/x'; return f; }) }, code: 'path-escape', message: 'manifest.json: payload.files[1].path "/etc/x": absolute path' },
    { name: 'a path too long for ustar', patch: { payload: payloadWith((f) => { f[1]!.path = 'x'.repeat(101); return f; }) }, message: `manifest.json: payload.files[1].path "${'x'.repeat(101)}": too long for a ustar member name (payload/… must fit prefix 155 + name 100 bytes)` },
    { name: 'a path listed twice', patch: { payload: payloadWith((f) => [...f, { ...f[0] }]) }, code: 'duplicate', message: 'manifest.json: payload.files[2].path "package.json": listed twice' },
    { name: 'a file listed before a directory of its name', patch: { payload: payloadWith((f) => [...f, { ...f[0], path: 'package.json/x' }]) }, code: 'duplicate', message: 'manifest.json: payload.files[2].path "package.json/x": "package.json" is listed as a file' },
    { name: 'a directory listed before a file of its name', patch: { payload: payloadWith((f) => [{ ...f[0], path: 'dist' }, ...f]) }, code: 'duplicate', message: 'manifest.json: payload.files[2].path "dist/a.js": "dist" is listed as a file' },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name}${c.code === undefined || c.code === 'manifest-invalid' ? '' : ` (${c.code})`}`, () => {
      assert.throws(() => checkManifest({ ...good, ...c.patch }), refusedWith(c.code ?? 'manifest-invalid', c.message));
    });
  }

  it('counts the other problems it does not name', () => {
    assert.throws(() => checkManifest({ ...good, version: 'x', type: 'y' }), /version: .* \(and 1 more problem\)$/);
  });

  it('refuses bytes that are not UTF-8 JSON, and a manifest above 1 MiB', () => {
    assert.throws(() => parseManifest(Uint8Array.from([0x7b, 0xff, 0x7d])), refusedWith('manifest-invalid', 'manifest.json: not UTF-8'));
    assert.throws(() => parseManifest(Buffer.from('\ufeff{}')), /^BundleRefused: manifest\.json: not JSON \(/, 'a byte-order mark is not JSON');
    assert.throws(() => parseManifest(Buffer.from('{"format": 1,')), /^BundleRefused: manifest\.json: not JSON \(/);
    assert.throws(() => parseManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1)), refusedWith('manifest-too-large', `manifest.json: ${MAX_MANIFEST_BYTES + 1} bytes; a manifest is at most ${MAX_MANIFEST_BYTES}`));
  });

  const versions: readonly [string, boolean][] = [
    ['0.0.0', true], ['1.2.3', true], ['10.20.30', true], ['1.0.0-rc.1', true], ['1.0.0-alpha-1.0.x', true], ['1.0.0-0a', true],
    ['1.2', false], ['01.2.3', false], ['1.2.3-', false], ['1.2.3-01', false], ['1.2.3+build', false], ['v1.2.3', false],
    [' 1.2.3', false], ['1.2.3-rc..1', false], ['99999999999999999.0.0', false], [`1.0.0-${'a'.repeat(60)}`, false],
  ];
  it('knows semantic versions (no build metadata, no leading zeros, numbers that stay exact)', () => {
    assert.deepEqual(versions.map(([v]) => [v, isSemver(v)]), versions);
  });

  const dates: readonly [string, boolean][] = [
    ['2026-02-28', true], ['2028-02-29', true], ['2026-12-31', true],
    ['2026-02-29', false], ['2026-02-30', false], ['2026-13-01', false], ['2026-00-10', false], ['2026-1-01', false], ['20260101', false], ['2026-01-01T00:00Z', false],
  ];
  it('knows calendar dates', () => {
    assert.deepEqual(dates.map(([d]) => [d, isCalendarDate(d)]), dates);
  });

  const paths: readonly [string, string | null][] = [
    ['a', null], ['dist/app/x.js', null], ['node_modules/@scope/p/index.js', null], ['..a/b..', null],
    ['', 'empty path'], ['/etc/x', 'absolute path'], ['../x', "a '..' segment escapes the tree"], ['a/../../x', "a '..' segment escapes the tree"],
    ['a/./b', "a '.' segment"], ['a//b', 'an empty segment (// or a trailing /)'], ['a/', 'an empty segment (// or a trailing /)'],
    ['a\\..\\b', 'contains a backslash'], ['a\0b', 'contains a NUL byte'], ['a\nb', 'contains a control character (U+000A)'],
  ];
  it('knows safe relative paths', () => {
    assert.deepEqual(paths.map(([p]) => [p, pathProblem(p)]), paths);
  });
});

describe('the manifest signature', () => {
  const key = testKey('vendor.pub');
  const bytes = encodeManifest(good);
  const sig = signManifest(bytes, key.privateKey);

  it('is {"alg","key","sig"} over the domain-separated manifest bytes, and verifies with the trusted key', () => {
    const doc = JSON.parse(Buffer.from(sig).toString()) as Record<string, string>;
    assert.deepEqual(Object.keys(doc), ['alg', 'key', 'sig']);
    assert.equal(doc.alg, 'ed25519');
    assert.equal(doc.key, key.trusted.id);
    assert.equal(verifyManifest(bytes, sig, [testKey().trusted, key.trusted]), key.trusted);
  });

  it('does not verify a signature made over the manifest bytes without the domain prefix', async () => {
    const { sign } = await import('node:crypto');
    const bare = Buffer.from(JSON.stringify({ alg: 'ed25519', key: key.trusted.id, sig: sign(null, bytes, key.privateKey).toString('base64') }));
    assert.throws(() => verifyManifest(bytes, bare, [key.trusted]), { code: 'bad-signature' });
  });

  it('refuses a changed manifest byte, a malformed document, and a key it does not trust', () => {
    const changed = Buffer.from(bytes);
    changed[10] = (changed[10] ?? 0) ^ 1;
    assert.throws(() => verifyManifest(changed, sig, [key.trusted]), refusedWith('bad-signature',
      `manifest.sig: the signature by key ${key.trusted.id} (vendor.pub) does not verify: the manifest or its signature was altered`));
    const doc = JSON.parse(Buffer.from(sig).toString()) as Record<string, string>;
    const malformed: readonly [unknown, string][] = [
      [{ ...doc, alg: 'rsa' }, 'alg must be "ed25519"'],
      [{ ...doc, sig: doc.sig!.slice(4) }, 'sig must be 64 bytes in base64'],
      [{ ...doc, key: 'ABC' }, 'key must be a key id (16 lower-case hex digits)'],
      [{ ...doc, extra: 1 }, 'expected {"alg","key","sig"}'],
      [[doc], 'expected {"alg","key","sig"}'],
    ];
    for (const [value, reason] of malformed) {
      assert.throws(() => verifyManifest(bytes, Buffer.from(JSON.stringify(value)), [key.trusted]), refusedWith('bad-signature', `manifest.sig: not a signature document (${reason})`));
    }
    assert.throws(() => verifyManifest(bytes, Buffer.from('{'), [key.trusted]), refusedWith('bad-signature', 'manifest.sig: not a signature document (not UTF-8 JSON)'));
    const other = testKey('/etc/tandem/other.pub');
    assert.throws(() => verifyManifest(bytes, sig, [other.trusted]), refusedWith('unknown-key',
      `manifest.sig: signed with key ${key.trusted.id}, which is not trusted (trusted: ${other.trusted.id} (/etc/tandem/other.pub))`));
  });
});
