/**
 * Firmware builds: which files of a tree a bundle carries (the fixture tree, and this very
 * checkout), what stops a build, and a built bundle's manifest taken from the tree itself.
 */
import assert from 'node:assert/strict';
import { createReadStream, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { put, tempDirs, testKey } from '../../adapters/firmware/fixtures.test-support.js';
import { readBundle } from '../../adapters/firmware/reader.js';
import { buildFirmware, loadCompat } from './build.js';
import { FIXTURE_COMPAT, FIXTURE_PAYLOAD, writeFixtureTree } from './fixture-tree.test-support.js';
import { NATIVE_ADDON, selectPayload } from './payload.js';

const freshDir = tempDirs('tandem-fw-build-');
const fixtureTree = (): string => { const dir = freshDir(); writeFixtureTree(dir); return dir; };
const CHECKOUT = fileURLToPath(new URL('../../..', import.meta.url));

describe('the files a bundle carries', () => {
  it('are the runtime files of the tree and its production dependency closure, sorted, with their modes', async () => {
    const selection = await selectPayload(fixtureTree());
    assert.deepEqual(selection.files, FIXTURE_PAYLOAD);
    assert.deepEqual(selection.notes, ['package.json: optional dependency opt-missing is not installed: left out']);
  });

  it('leave out a symlink inside a carried directory, with a note', async () => {
    const tree = fixtureTree();
    symlinkSync('/etc/passwd', join(tree, 'dist/cli/passwd.js'));
    const selection = await selectPayload(tree);
    assert.deepEqual(selection.files, FIXTURE_PAYLOAD);
    assert.ok(selection.notes.includes('skipped dist/cli/passwd.js: a symlink (a bundle carries regular files only)'), selection.notes.join('\n'));
  });

  const broken: readonly { name: string; breakIt: (tree: string) => void; message: RegExp }[] = [
    { name: 'a missing dependency', breakIt: (t) => { rmSync(join(t, 'node_modules/dep-b'), { recursive: true }); }, message: /^node_modules\/@scope\/dep-s depends on dep-b, which is not installed in .*\/node_modules \(run npm ci --omit=dev\)$/ },
    {
      name: 'a dependency that is a symlink',
      breakIt: (t) => { rmSync(join(t, 'node_modules/dep-peer'), { recursive: true }); symlinkSync(join(t, 'node_modules/unused'), join(t, 'node_modules/dep-peer')); },
      message: /^node_modules\/dep-peer is a symlink \(npm link, a workspace\?\): a firmware carries real files/,
    },
    { name: 'no native addon', breakIt: (t) => { rmSync(join(t, NATIVE_ADDON)); }, message: /tandem_icmp\.node is missing: not a built Tandem tree/ },
    { name: 'no compat module', breakIt: (t) => { rmSync(join(t, 'dist/core/compat.js')); }, message: /dist\/core\/compat\.js is missing: not a built Tandem tree/ },
    { name: 'a dependency name that escapes', breakIt: (t) => { put(t, 'node_modules/dep-b/package.json', JSON.stringify({ dependencies: { '../../etc': '1' } })); }, message: /^node_modules\/dep-b: "\.\.\/\.\.\/etc" is not a package name$/ },
  ];
  for (const b of broken) {
    it(`are refused with ${b.name}`, async () => {
      const tree = fixtureTree();
      b.breakIt(tree);
      await assert.rejects(selectPayload(tree), { message: b.message });
    });
  }

  it('of this checkout: the compiled code without tests, the addon, and only the production dependencies', async () => {
    const { files } = await selectPayload(CHECKOUT);
    const paths = files.map((f) => f.path);
    for (const p of ['package.json', 'bin/tandem.js', 'dist/cli/tandem.js', 'dist/core/compat.js', NATIVE_ADDON, 'node_modules/zod/package.json', 'node_modules/commander/package.json', 'node_modules/yaml/package.json']) {
      assert.ok(paths.includes(p), p);
    }
    assert.deepEqual(paths.filter((p) => (p.startsWith('dist/') && /\.test(-support)?\.js/.test(p)) || p.startsWith('src/') || p.startsWith('node_modules/typescript/') || p.startsWith('node_modules/.bin/')), []);
    assert.deepEqual(paths, [...paths].sort());
  });
});

describe('a firmware build', () => {
  it('signs a bundle whose manifest describes the packaged tree (its own compat module) and the runtime', async () => {
    const tree = fixtureTree();
    const key = testKey();
    const out = join(freshDir(), 'tandem-2.0.0.tfw');
    const now = new Date('2026-04-02T03:04:05.678Z');
    const releases = [{ version: '1.0.0', type: 'lts' as const, published: '2025-01-01' }];
    const { bundle, notes } = await buildFirmware({ tree, signingKey: key.privateKey, version: '2.0.0', type: 'feature', published: '2026-04-01', notes: 'New.\n', minFrom: '1.0.0', releases, out, now });
    assert.equal(notes.length, 1);
    const read = await readBundle(createReadStream(out), { trustedKeys: [key.trusted] });
    assert.deepEqual(read.manifest, bundle.manifest);
    const { payload, ...rest } = read.manifest;
    assert.deepEqual(rest, {
      format: 1, product: 'tandem', version: '2.0.0', type: 'feature', published: '2026-04-01', notes: 'New.\n', min_from: '1.0.0',
      ...FIXTURE_COMPAT, releases, runtime: { node_abi: process.versions.modules, platform: process.platform, arch: process.arch },
      built_at: '2026-04-02T03:04:05.678Z',
    });
    assert.deepEqual(payload.files.map((f) => ({ path: f.path, mode: f.mode })), FIXTURE_PAYLOAD);
  });

  it("reads this checkout's compatibility constants from its compiled compat module", async () => {
    const compat = await loadCompat(CHECKOUT);
    const own = await import('../../core/compat.js');
    assert.deepEqual(compat, { config_schema: { version: own.CONFIG_SCHEMA, migrations: own.CONFIG_MIGRATIONS }, ha_protocol: own.HA_PROTOCOL });
  });

  it('refuses a tree whose compat module lacks a constant, and what a node would refuse', async () => {
    const tree = fixtureTree();
    put(tree, 'dist/core/compat.js', 'export const CONFIG_SCHEMA = 1; export const CONFIG_MIGRATIONS = [];');
    await assert.rejects(loadCompat(tree), /compat\.js does not export HA_PROTOCOL \(\{ min, max \}\)$/);
    const other = fixtureTree();
    put(other, 'dist/core/compat.js', 'export const CONFIG_SCHEMA = 2; export const CONFIG_MIGRATIONS = []; export const HA_PROTOCOL = { min: 2, max: 1 };');
    const request = { tree: other, signingKey: testKey().privateKey, version: '1.0.0', type: 'lts' as const, published: '2026-01-01', notes: '', minFrom: null, releases: [], out: join(freshDir(), 'x.tfw') };
    await assert.rejects(buildFirmware(request), { message: 'a node would refuse this bundle (manifest-invalid): manifest.json: ha_protocol: min 2 is above max 1' });
  });
});
