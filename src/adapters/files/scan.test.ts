/**
 * Scanning real trees in temporary directories: what is listed and refused, the hash cache
 * (what is re-hashed and what is not), constant memory on a big file, prefix hashes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EMPTY_SHA256, manifestEntries, SyncPathError } from '../../core/sync/manifest.js';
import { HashCache } from './hash-cache.js';
import { hashCachePath, prefixSha256, scanFile, scanFileWithPrefix, scanTree } from './scan.js';
import { put, sha, tempRoots } from './fixtures.test-support.js';

const freshRoot = tempRoots('tandem-scan-');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('scanTree', () => {
  it('lists regular files with size and sha256, skips the work directory, refuses what is not a file', async () => {
    const root = freshRoot();
    const outside = freshRoot();
    put(outside, 'secret', 'not ours');
    put(root, 'a.txt', 'alpha');
    put(root, 'd/e/f.bin', new Uint8Array([0, 1, 2]));
    put(root, 'empty', '');
    put(root, 'sub/.tandem-sync/kept', 'only the top-level work dir is skipped');
    put(root, '.tandem-sync/incoming/x.part', 'in flight');
    mkdirSync(join(root, 'empty-dir'));
    symlinkSync(join(outside, 'secret'), join(root, 'link-to-file'));
    symlinkSync(outside, join(root, 'd', 'link-to-dir'));
    writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x62, 0x61, 0x64, 0xff])]), 'a name that is not UTF-8');
    const fifo = spawnSync('mkfifo', [join(root, 'pipe')]).status === 0;

    const { manifest, refused, unstable, stats } = await scanTree(root);
    assert.deepEqual(manifestEntries(manifest).map((e) => [e.path, e.size, e.sha256]), [
      ['a.txt', 5, sha('alpha')],
      ['d/e/f.bin', 3, sha(new Uint8Array([0, 1, 2]))],
      ['empty', 0, sha('')],
      ['sub/.tandem-sync/kept', 38, sha('only the top-level work dir is skipped')],
    ]);
    assert.equal(manifest.get('a.txt')?.mtimeMs, statSync(join(root, 'a.txt')).mtimeMs);
    assert.deepEqual(refused, [
      { path: 'bad\ufffd', kind: 'name-not-utf8' },
      { path: 'd/link-to-dir', kind: 'symlink' },
      { path: 'link-to-file', kind: 'symlink' },
      ...(fifo ? [{ path: 'pipe', kind: 'fifo' as const }] : []),
    ]);
    assert.deepEqual(unstable, []);
    assert.deepEqual(stats, { files: 4, bytes: 46, hashedFiles: 4, hashedBytes: 46, cacheHits: 0, hardLinks: 0 });
  });

  it('refuses a root that is not a directory', async () => {
    const root = freshRoot();
    put(root, 'f', 'x');
    await assert.rejects(scanTree(join(root, 'f')), /not a directory/);
    await assert.rejects(scanTree(join(root, 'missing')), /ENOENT/);
  });
});

describe('the hash cache', () => {
  it('re-hashes only files whose size, mtime, ctime or inode changed, and detects changed content', async () => {
    const root = freshRoot();
    put(root, 'same', 'unchanged content');
    put(root, 'touched', 'touched but unchanged');
    put(root, 'rewritten', 'version 1');
    const wholeSecond = Math.floor(Date.now() / 1000) - 10; // exactly representable, to put back later
    utimesSync(join(root, 'rewritten'), wholeSecond, wholeSecond);
    put(root, 'grown', 'short');
    put(root, 'renamed', 'moves to another name');
    put(root, 'replaced', 'same bytes, new inode');
    put(root, 'gone', 'deleted later');
    const cacheFile = hashCachePath(root);
    const first = await scanTree(root, { hashCache: await HashCache.open(cacheFile, { racyWindowMs: 0 }) });
    assert.equal(first.stats.hashedFiles, 7);

    // A second scan, with the cache reloaded from its file: nothing is read again.
    const cache = await HashCache.open(cacheFile, { racyWindowMs: 0 });
    assert.equal(cache.size, 7);
    const second = await scanTree(root, { hashCache: cache });
    assert.deepEqual({ hashed: second.stats.hashedFiles, hits: second.stats.cacheHits }, { hashed: 0, hits: 7 });
    assert.deepEqual(second.manifest, first.manifest);

    // Touched (mtime only), rewritten with the same size and its old mtime put back (only ctime
    // tells), grown, renamed, replaced by a new inode, deleted.
    const earlier = new Date(Date.now() - 60_000);
    utimesSync(join(root, 'touched'), earlier, earlier);
    writeFileSync(join(root, 'rewritten'), 'version 2');
    utimesSync(join(root, 'rewritten'), wholeSecond, wholeSecond);
    assert.equal(statSync(join(root, 'rewritten')).mtimeMs, wholeSecond * 1000);
    writeFileSync(join(root, 'grown'), 'short and longer');
    renameSync(join(root, 'renamed'), join(root, 'renamed-now'));
    writeFileSync(join(root, 'replaced.tmp'), 'same bytes, new inode');
    renameSync(join(root, 'replaced.tmp'), join(root, 'replaced'));
    rmSync(join(root, 'gone'));
    await sleep(20); // the changes are older than the (zero) racy window

    const third = await scanTree(root, { hashCache: cache });
    const m = third.manifest;
    assert.equal(m.get('rewritten')?.sha256, sha('version 2'), 'a same-size rewrite with its mtime put back is detected');
    assert.equal(m.get('grown')?.sha256, sha('short and longer'));
    assert.equal(m.get('touched')?.sha256, sha('touched but unchanged'));
    assert.equal(m.get('renamed-now')?.sha256, sha('moves to another name'));
    assert.equal(m.has('gone'), false);
    // Only the untouched file is a hit. Renamed: same inode, but Linux filesystems set its
    // ctime on rename, so it is hashed again (the key has no path: a rename alone would not).
    assert.deepEqual({ hashed: third.stats.hashedFiles, hits: third.stats.cacheHits }, { hashed: 5, hits: 1 });
    assert.equal(cache.size, 6, 'entries of changed and deleted files are dropped');
  });

  it('a cache hit is trusted: the cache, not the file, answers', async () => {
    const root = freshRoot();
    put(root, 'f', 'real content');
    const cache = await HashCache.open(hashCachePath(root), { racyWindowMs: 0 });
    await sleep(5);
    await scanTree(root, { hashCache: cache });
    const doc = JSON.parse(readFileSync(hashCachePath(root), 'utf8')) as { entries: Record<string, string> };
    const key = Object.keys(doc.entries)[0]!;
    writeFileSync(hashCachePath(root), JSON.stringify({ version: 1, entries: { [key]: 'f'.repeat(64) } }));
    const { manifest } = await scanTree(root, { hashCache: await HashCache.open(hashCachePath(root), { racyWindowMs: 0 }) });
    assert.equal(manifest.get('f')?.sha256, 'f'.repeat(64));
  });

  it('does not cache a file changed within the racy window; caches it once it is older', async () => {
    const root = freshRoot();
    put(root, 'fresh', 'just written');
    const cache = await HashCache.open(hashCachePath(root), { racyWindowMs: 300 });
    assert.equal((await scanTree(root, { hashCache: cache })).stats.hashedFiles, 1);
    assert.equal(cache.size, 0);
    assert.equal((await scanTree(root, { hashCache: cache })).stats.hashedFiles, 1, 'still too fresh: hashed again');
    await sleep(350);
    assert.equal((await scanTree(root, { hashCache: cache })).stats.hashedFiles, 1);
    assert.equal(cache.size, 1);
    assert.equal((await scanTree(root, { hashCache: cache })).stats.cacheHits, 1);
  });

  it('an unreadable or foreign cache file is an empty cache', async () => {
    const root = freshRoot();
    put(root, '.tandem-sync/hash-cache.json', '{ torn');
    assert.equal((await HashCache.open(hashCachePath(root))).size, 0);
    put(root, '.tandem-sync/hash-cache.json', JSON.stringify({ version: 9, entries: { k: 'a'.repeat(64) } }));
    assert.equal((await HashCache.open(hashCachePath(root))).size, 0);
  });
});

describe('hashing in constant memory', () => {
  it('hashes a 64 MiB (sparse) file with a small, bounded RSS growth', async () => {
    const root = freshRoot();
    const size = 64 * 1024 * 1024;
    writeFileSync(join(root, 'warmup'), 'x');
    await scanTree(root); // warm the code paths
    writeFileSync(join(root, 'big'), '');
    truncateSync(join(root, 'big'), size);
    const expected = createHash('sha256');
    const zeros = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 64; i++) expected.update(zeros);
    const expectedHex = expected.digest('hex');

    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
    const { manifest } = await scanTree(root);
    const prefix = await prefixSha256(root, 'big', size);
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(manifest.get('big')?.sha256, expectedHex);
    assert.equal(prefix, expectedHex);
    const growthMiB = (peak - before) / 1024 / 1024;
    assert.ok(growthMiB < 16, `RSS grew by ${growthMiB.toFixed(1)} MiB hashing a 64 MiB file`);
  });
});

describe('prefixSha256 and scanFile', () => {
  it('hashes a prefix; undefined when the file is missing or shorter', async () => {
    const root = freshRoot();
    put(root, 'log', 'line1\nline2\n');
    assert.equal(await prefixSha256(root, 'log', 6), sha('line1\n'));
    assert.equal(await prefixSha256(root, 'log', 0), sha(''));
    assert.equal(await prefixSha256(root, 'log', 12), sha('line1\nline2\n'));
    assert.equal(await prefixSha256(root, 'log', 13), undefined);
    assert.equal(await prefixSha256(root, 'missing', 1), undefined);
    await assert.rejects(prefixSha256(root, '../log', 1), SyncPathError);
  });

  it('scanFile describes one file, refuses a symlink, says undefined for a missing one', async () => {
    const root = freshRoot();
    put(root, 'd/f', 'one file');
    symlinkSync(join(root, 'd', 'f'), join(root, 'link'));
    assert.deepEqual(await scanFile(root, 'd/f'), { path: 'd/f', size: 8, mtimeMs: statSync(join(root, 'd/f')).mtimeMs, sha256: sha('one file') });
    assert.equal(await scanFile(root, 'd/missing'), undefined);
    assert.equal(await scanFile(root, 'nodir/f'), undefined);
    await assert.rejects(scanFile(root, 'link'), /not a regular file \(symlink\)/);
    await assert.rejects(scanFile(root, 'd/f/x'), /not a directory/);
  });
});

describe('scanFileWithPrefix', () => {
  it('gives the entry and the prefix hash of a grown file from one read; no prefix when shorter; nothing when missing', async () => {
    const root = freshRoot();
    put(root, 'log', 'line1\nline2\nline3\n');
    const r = await scanFileWithPrefix(root, 'log', 6);
    assert.deepEqual(r?.entry, await scanFile(root, 'log'));
    assert.equal(r?.prefixSha256, sha('line1\n'));
    assert.equal((await scanFileWithPrefix(root, 'log', 1000))?.prefixSha256, undefined);
    assert.equal((await scanFileWithPrefix(root, 'log', 1000))?.entry.sha256, sha('line1\nline2\nline3\n'));
    assert.equal(await scanFileWithPrefix(root, 'missing', 3), undefined);
  });

  it('refuses what is not a regular file', async () => {
    const root = freshRoot();
    const outside = freshRoot();
    put(outside, 'secret', 'not ours');
    symlinkSync(join(outside, 'secret'), join(root, 'link'));
    mkdirSync(join(root, 'dir'));
    await assert.rejects(scanFileWithPrefix(root, 'link', 1));
    await assert.rejects(scanFileWithPrefix(root, 'dir', 1));
  });
});

describe('scanTree with attributes', () => {
  it('lists directories and symlinks (read, never followed) with modes and owners; counts hard links', async () => {
    const root = freshRoot();
    const outside = freshRoot();
    put(outside, 'secret', 'not ours');
    put(root, 'd/file', 'abc');
    chmodSync(join(root, 'd/file'), 0o751);
    mkdirSync(join(root, 'empty'), { mode: 0o700 });
    symlinkSync(join(outside, 'secret'), join(root, 'out-link'));
    symlinkSync('d/file', join(root, 'in-link'));
    linkSync(join(root, 'd/file'), join(root, 'hard'));
    const { manifest, refused, stats } = await scanTree(root, { attrs: { owners: true } });
    assert.deepEqual(refused, []);
    assert.equal(stats.hardLinks, 1, 'the second name of d/file');
    const file = manifest.get('d/file');
    assert.equal(file?.mode, 0o751);
    assert.equal(manifest.get('d/file')?.uid, statSync(join(root, 'd/file')).uid);
    assert.equal(manifest.get('hard')?.sha256, sha('abc'), 'a hard link is a file of its own');
    assert.deepEqual({ ...manifest.get('empty'), mtimeMs: 0 }, {
      path: 'empty', kind: 'dir', size: 0, sha256: EMPTY_SHA256, mtimeMs: 0, mode: 0o700,
      uid: statSync(join(root, 'empty')).uid, gid: statSync(join(root, 'empty')).gid,
    });
    assert.equal(manifest.get('d')?.kind, 'dir');
    const link = manifest.get('out-link');
    assert.equal(link?.kind, 'symlink');
    assert.equal(manifest.get('out-link')?.target, join(outside, 'secret'), 'the target as stored, not resolved');
    assert.equal(manifest.get('out-link')?.sha256, sha(join(outside, 'secret')));
    assert.equal(manifest.get('out-link')?.size, Buffer.byteLength(join(outside, 'secret')));
    assert.equal((await scanFile(root, 'in-link', { attrs: { owners: false } }))?.target, 'd/file');
    assert.equal((await scanFile(root, 'in-link', { attrs: { owners: false } }))?.uid, undefined, 'no owners when not asked');
    // Without attributes, as before: symlinks refused, directories not listed.
    const plain = await scanTree(root);
    assert.deepEqual([...plain.manifest.keys()].sort(), ['d/file', 'hard']);
    assert.deepEqual(plain.refused.map((r) => r.kind), ['symlink', 'symlink']);
  });
});
