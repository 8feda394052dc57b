/**
 * The `tandem firmware keygen | build | verify` contract, end to end through the real CLI
 * (node dist/cli/tandem.js): files, exit codes, and the one-line reason of a refusal. Bundles
 * are built from the small fixture tree with --from, so each run takes a fraction of a second.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '../../core/firmware/types.js';
import { tempDirs } from '../../adapters/firmware/fixtures.test-support.js';
import { FIXTURE_COMPAT, FIXTURE_PAYLOAD, writeFixtureTree } from './fixture-tree.test-support.js';

const CLI = fileURLToPath(new URL('../../cli/tandem.js', import.meta.url));
const freshDir = tempDirs('tandem-fw-cli-');

interface Run { status: number | null; stdout: string; stderr: string }
const tandem = (args: readonly string[], cwd?: string): Run => {
  const r = spawnSync(process.execPath, [CLI, 'firmware', ...args], { encoding: 'utf8', cwd, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const ok = (r: Run): Run => { assert.equal(r.status, 0, r.stderr); return r; };

/** A key pair, a fixture tree, and the arguments that build a bundle of it. */
function setup(): { dir: string; tree: string; key: string; pub: string; id: string } {
  const dir = freshDir();
  const tree = join(dir, 'tree');
  writeFixtureTree(tree);
  const out = ok(tandem(['keygen', '--out', join(dir, 'keys')])).stdout;
  const id = /key id ([0-9a-f]{16})$/m.exec(out)?.[1] ?? assert.fail(out);
  return { dir, tree, key: join(dir, 'keys/signing.key'), pub: join(dir, 'keys/signing.pub'), id };
}

describe('tandem firmware', () => {
  it('keygen writes signing.key (0600) and signing.pub, and refuses to overwrite them', () => {
    const dir = freshDir();
    const r = ok(tandem(['keygen', '--out', join(dir, 'k')]));
    assert.match(r.stdout, /^wrote .*\/k\/signing\.key \(private: keep it off the nodes\) and .*\/k\/signing\.pub \(trust it on the nodes\); key id [0-9a-f]{16}\n$/);
    assert.equal(statSync(join(dir, 'k/signing.key')).mode & 0o777, 0o600);
    assert.match(readFileSync(join(dir, 'k/signing.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    const before = readFileSync(join(dir, 'k/signing.key'), 'utf8');
    const again = tandem(['keygen', '--out', join(dir, 'k')]);
    assert.equal(again.status, 1);
    assert.equal(again.stderr, `tandem: ${join(dir, 'k/signing.key')} already exists: keygen never overwrites a key (move it away first)\n`);
    assert.equal(readFileSync(join(dir, 'k/signing.key'), 'utf8'), before);
  });

  it('build then verify: exit 0, the summary, and the manifest as JSON', () => {
    const s = setup();
    writeFileSync(join(s.dir, 'notes.txt'), 'Read me first.\n\nThen upgrade.\n');
    writeFileSync(join(s.dir, 'releases.json'), JSON.stringify([{ version: '1.0.0', type: 'lts', published: '2025-01-02' }]));
    const out = join(s.dir, 'fw.tfw');
    const built = ok(tandem(['build', '--key', s.key, '--version', '2.0.0-rc.1', '--type', 'feature', '--published', '2026-04-01', '--notes', join(s.dir, 'notes.txt'),
      '--min-from', '1.0.0', '--releases', join(s.dir, 'releases.json'), '--from', s.tree, '--out', out]));
    const [summaryLine, shaLine, ...rest] = built.stdout.split('\n');
    assert.match(summaryLine ?? '', new RegExp(`^wrote ${out}: tandem 2\\.0\\.0-rc\\.1 \\(feature\\), ${FIXTURE_PAYLOAD.length} files \\([\\d.]+ KiB\\), bundle [\\d.]+ KiB \\(${statSync(out).size} bytes\\), signed by key ${s.id}$`));
    assert.equal(shaLine, `${createHash('sha256').update(readFileSync(out)).digest('hex')}  ${out}`, 'the bundle file\'s sha256, as sha256sum prints it');
    assert.deepEqual(rest, ['']);
    assert.equal(built.stderr, 'note: package.json: optional dependency opt-missing is not installed: left out\n');

    const summary = ok(tandem(['verify', out, '--pubkey', s.pub])).stdout;
    assert.equal(summary.split('\n')[0], `tandem 2.0.0-rc.1 (Feature Release), published 2026-04-01: signature and payload verified (key ${s.id}, ${s.pub})`);
    assert.match(summary, /^ {2}installs over: {3}1\.0\.0 or later$/m);
    assert.match(summary, /^ {2}config schema: {3}3 \(2 migrations\)$/m);
    assert.match(summary, /^ {2}HA protocol: {5}1–2$/m);
    assert.match(summary, /^ {2}other releases: {2}1\.0\.0 \(lts, 2025-01-02\)$/m);
    assert.match(summary, /^ {2}notes:\n {4}Read me first\.\n\n {4}Then upgrade\.\n$/m);

    const m = JSON.parse(ok(tandem(['verify', out, '--pubkey', s.pub, '--json'])).stdout) as Manifest;
    assert.deepEqual({ version: m.version, type: m.type, published: m.published, min_from: m.min_from, notes: m.notes, config_schema: m.config_schema, ha_protocol: m.ha_protocol, releases: m.releases },
      { version: '2.0.0-rc.1', type: 'feature', published: '2026-04-01', min_from: '1.0.0', notes: 'Read me first.\n\nThen upgrade.\n', ...FIXTURE_COMPAT, releases: [{ version: '1.0.0', type: 'lts', published: '2025-01-02' }] });
    assert.deepEqual(m.payload.files.map((f) => ({ path: f.path, mode: f.mode })), FIXTURE_PAYLOAD);
  });

  it('build defaults: ./tandem-<version>.tfw, published today (UTC), no notes, installs over any version', () => {
    const s = setup();
    const before = new Date().toISOString().slice(0, 10);
    ok(tandem(['build', '--key', s.key, '--version', '1.0.0', '--type', 'lts', '--from', s.tree], s.dir));
    const after = new Date().toISOString().slice(0, 10);
    const m = JSON.parse(ok(tandem(['verify', join(s.dir, 'tandem-1.0.0.tfw'), '--pubkey', s.pub, '--json'])).stdout) as Manifest;
    assert.ok(m.published === before || m.published === after, m.published);
    assert.deepEqual({ notes: m.notes, min_from: m.min_from, releases: m.releases }, { notes: '', min_from: null, releases: [] });
  });

  it('verify refuses a tampered bundle with exit 1 and one line naming the file', () => {
    const s = setup();
    const out = join(s.dir, 'fw.tfw');
    ok(tandem(['build', '--key', s.key, '--version', '1.0.0', '--type', 'lts', '--from', s.tree, '--out', out]));
    const bytes = readFileSync(out);
    const at = bytes.indexOf(Buffer.from('payload/dist/cli/tandem.js\0'));
    assert.ok(at > 0);
    bytes[at + 512 + 3] = (bytes[at + 512 + 3] ?? 0) ^ 0x20;
    writeFileSync(out, bytes);
    const r = tandem(['verify', out, '--pubkey', s.pub]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^refused: payload\/dist\/cli\/tandem\.js: sha256 mismatch \(declared [0-9a-f]{12}…, got [0-9a-f]{12}…\)\n$/);
    const j = tandem(['verify', out, '--pubkey', s.pub, '--json']);
    assert.equal(j.status, 1);
    assert.equal((JSON.parse(j.stdout) as { refused: { code: string } }).refused.code, 'hash-mismatch');
  });

  it('verify refuses a bundle signed by a key it was not given (exit 1), and cannot run without a readable file or key (exit 2)', () => {
    const s = setup();
    const other = setup();
    const out = join(s.dir, 'fw.tfw');
    ok(tandem(['build', '--key', s.key, '--version', '1.0.0', '--type', 'lts', '--from', s.tree, '--out', out]));
    const r = tandem(['verify', out, '--pubkey', other.pub]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `refused: manifest.sig: signed with key ${s.id}, which is not trusted (trusted: ${other.id} (${other.pub}))\n`);
    assert.equal(ok(tandem(['verify', out, '--pubkey', other.pub, '--pubkey', s.pub])).stdout.split('\n')[0]?.includes(`(key ${s.id}, ${s.pub})`), true);
    const missing = tandem(['verify', join(s.dir, 'nope.tfw'), '--pubkey', s.pub]);
    assert.deepEqual([missing.status, /^tandem: cannot verify .*nope\.tfw: ENOENT/.test(missing.stderr)], [2, true]);
    const badKey = tandem(['verify', out, '--pubkey', s.key]);
    assert.deepEqual([badKey.status, badKey.stderr], [2, `tandem: ${s.key} holds a private key: trust the public key (signing.pub); the private key never leaves the signing machine\n`]);
    assert.equal(tandem(['verify', out]).status, 1, 'no --pubkey: commander refuses');
  });

  it('build refuses every bad option with a precise message and writes nothing', () => {
    const s = setup();
    writeFileSync(join(s.dir, 'bad-releases.json'), JSON.stringify([{ version: '1.0.0', type: 'lts', published: '2025-02-29' }]));
    writeFileSync(join(s.dir, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    const loose = join(s.dir, 'loose.key');
    writeFileSync(loose, readFileSync(s.key));
    chmodSync(loose, 0o644);
    const base = ['--key', s.key, '--version', '1.0.0', '--type', 'lts', '--from', s.tree, '--out', join(s.dir, 'out', 'x.tfw')];
    const bad: readonly { args: readonly string[]; stderr: string | RegExp }[] = [
      { args: ['--version', '1.2'], stderr: 'tandem: --version 1.2: not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE], e.g. 1.4.0 or 2.0.0-rc.1)\n' },
      { args: ['--type', 'beta'], stderr: 'tandem: --type beta: must be lts or feature\n' },
      { args: ['--published', '2026-02-30'], stderr: 'tandem: --published 2026-02-30: not a calendar date (YYYY-MM-DD)\n' },
      { args: ['--min-from', 'latest'], stderr: 'tandem: --min-from latest: not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE], e.g. 1.4.0 or 2.0.0-rc.1)\n' },
      { args: ['--notes', join(s.dir, 'none.txt')], stderr: /^tandem: --notes .*none\.txt: cannot read it \(ENOENT: no such file or directory/ },
      { args: ['--notes', join(s.dir, 'latin1.txt')], stderr: /^tandem: --notes .*latin1\.txt: not UTF-8 text\n$/ },
      { args: ['--releases', join(s.dir, 'bad-releases.json')], stderr: /^tandem: --releases .*bad-releases\.json: \[0\]\.published: must be a calendar date YYYY-MM-DD, not string "2025-02-29" \(a list of \{"version","type","published"\}\)\n$/ },
      { args: ['--key', loose], stderr: `tandem: signing key ${loose} is accessible by group or others (mode 0644); run chmod 600 ${loose}\n` },
      { args: ['--from', join(s.dir, 'nowhere')], stderr: /^tandem: --from .*nowhere: not a directory\n$/ },
      { args: ['--from', s.dir], stderr: /^tandem: cannot build .*x\.tfw: .*package\.json is missing: not a built Tandem tree/ },
    ];
    writeFileSync(join(s.dir, 'marker'), '');
    for (const b of bad) {
      const r = tandem(['build', ...base, ...b.args]);
      assert.equal(r.status, 1, b.args.join(' '));
      if (typeof b.stderr === 'string') assert.equal(r.stderr, b.stderr);
      else assert.match(r.stderr, b.stderr);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, 'one line');
    }
    assert.equal(existsSync(join(s.dir, 'out')), false);
    assert.deepEqual(readdirSync(s.dir).filter((f) => f.endsWith('.tfw') || f.endsWith('.part')), []);
  });
});
