/**
 * preserveDiverged on real trees: the diverged root moves aside whole (every byte, compared by
 * manifest), an empty root with the same mode takes its place, names never collide.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { manifestEntries } from '../../core/sync/manifest.js';
import { divergedStamp, preserveDiverged } from './diverged.js';
import { scanTree } from './scan.js';

const base = mkdtempSync(join(tmpdir(), 'tandem-diverged-'));
after(() => { rmSync(base, { recursive: true, force: true }); });
const put = (root: string, rel: string, data: string | Uint8Array): void => {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), data);
};
const AT = new Date(Date.UTC(2025, 2, 4, 5, 6, 7));

describe('preserveDiverged', () => {
  it('moves the whole root aside, keeping every byte, and recreates it empty with its mode', async () => {
    const root = join(base, 'data');
    mkdirSync(root);
    chmodSync(root, 0o750);
    put(root, 'audit/2025-03-04.log', 'written while apart\n'.repeat(1000));
    put(root, 'firmware/bundle.bin', Buffer.alloc(2 * 1024 * 1024, 3));
    writeFileSync(join(root, 'sparse'), '');
    truncateSync(join(root, 'sparse'), 16 * 1024 * 1024);
    put(root, '.tandem-sync/hash-cache.json', '{}');
    symlinkSync('audit', join(root, 'link'));
    const before = await scanTree(root);

    const aside = await preserveDiverged(root, 'beta', AT);
    assert.equal(aside, join(base, 'data.diverged-beta-20250304T050607'));
    const moved = await scanTree(aside);
    assert.deepEqual(manifestEntries(moved.manifest), manifestEntries(before.manifest), 'same paths, sizes, hashes, mtimes');
    assert.deepEqual(moved.refused, before.refused, 'the symlink moved too');
    assert.equal(readlinkSync(join(aside, 'link')), 'audit');
    assert.ok(existsSync(join(aside, '.tandem-sync/hash-cache.json')), 'the work directory moves along');
    assert.deepEqual(readdirSync(root), []);
    assert.equal(statSync(root).mode & 0o777, 0o750);
    assert.equal(statSync(aside).mode & 0o777, 0o750);
  });

  it('never reuses a name: a second preservation in the same second gets a suffix', async () => {
    const root = join(base, 'config');
    mkdirSync(root);
    put(root, 'cluster.yaml', 'first');
    const first = await preserveDiverged(root, 'alpha', AT);
    put(root, 'cluster.yaml', 'second');
    const second = await preserveDiverged(root, 'alpha', AT);
    const third = await preserveDiverged(root, 'alpha', AT);
    assert.deepEqual([first, second, third].map((p) => basename(p!)), [
      'config.diverged-alpha-20250304T050607', 'config.diverged-alpha-20250304T050607-2', 'config.diverged-alpha-20250304T050607-3',
    ]);
    assert.deepEqual(readdirSync(first!), ['cluster.yaml']);
    assert.deepEqual(readdirSync(second!), ['cluster.yaml']);
    assert.deepEqual(readdirSync(third!), []);
  });

  it('resolves a symlinked root: the real directory moves, the link then points at the new empty one', async () => {
    const real = join(base, 'real-license');
    mkdirSync(real);
    put(real, 'license.key', 'key');
    const link = join(base, 'license');
    symlinkSync(real, link);
    const aside = await preserveDiverged(link, 'b', AT);
    assert.equal(aside, join(base, 'real-license.diverged-b-20250304T050607'));
    assert.deepEqual(readdirSync(aside), ['license.key']);
    assert.equal(readlinkSync(link), real);
    assert.deepEqual(readdirSync(link), []);
  });

  it('a missing root: nothing to preserve (null), an empty root is created', async () => {
    const root = join(base, 'never-existed');
    assert.equal(await preserveDiverged(root, 'x', AT), null);
    assert.deepEqual(readdirSync(root), []);
  });

  it('refuses bad labels and roots that are not directories', async () => {
    const root = join(base, 'labels');
    mkdirSync(root);
    for (const label of ['', '../up', 'a/b', '-lead', 'x'.repeat(65)]) {
      await assert.rejects(preserveDiverged(root, label, AT), /invalid label/, label);
    }
    put(base, 'a-file', 'x');
    await assert.rejects(preserveDiverged(join(base, 'a-file'), 'x', AT), /not a directory/);
  });

  it('stamps in UTC, YYYYMMDDTHHMMSS', () => {
    assert.equal(divergedStamp(new Date(Date.UTC(2024, 11, 31, 23, 59, 58, 999))), '20241231T235958');
  });
});
