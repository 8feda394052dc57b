/**
 * Attributes over real sessions (the `attrs` feature): modes, owners, mtimes, symlinks (the link
 * itself, wherever it points — never followed, never written through), empty directories and
 * their removal, hard links (replicated as separate files, counted), and a source without the
 * feature (an older peer) still replicating plain files.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, linkSync, mkdirSync, readFileSync, rmdirSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertSameAttrTree, attrTreeOf, dataSide, put, startSessions, tempDirs, treeOf } from './sessions.test-support.js';

const dirs = tempDirs('tandem-attrs-');
const TIMEOUT = { timeout: 60_000 };
const isRoot = process.getuid?.() === 0;

/** A source tree with every kind of attribute. */
function richTree(src: string, outside: string): void {
  put(src, 'bin/run.sh', '#!/bin/sh\necho run\n');
  chmodSync(join(src, 'bin/run.sh'), 0o755);
  put(src, 'etc/secret.conf', 'key = 1\n');
  chmodSync(join(src, 'etc/secret.conf'), 0o640);
  put(src, 'owned.txt', 'owned by 1234\n');
  if (isRoot) chownSync(join(src, 'owned.txt'), 1234, 1234);
  utimesSync(join(src, 'owned.txt'), new Date('2020-01-02T03:04:05.678Z'), new Date('2020-01-02T03:04:05.678Z'));
  symlinkSync('etc/secret.conf', join(src, 'in-root-link'));
  symlinkSync('/etc/passwd', join(src, 'passwd-link'));
  symlinkSync(join(outside, 'target.txt'), join(src, 'victim'));
  symlinkSync('does/not/exist', join(src, 'dangling'));
  mkdirSync(join(src, 'empty/nested'), { recursive: true });
  chmodSync(join(src, 'empty'), 0o750);
  put(src, 'hard/a', 'linked content\n');
  linkSync(join(src, 'hard/a'), join(src, 'hard/b'));
}

describe('attributes (feature attrs)', () => {
  it('replicates modes, owners, mtimes, symlinks and empty directories; never writes through a link', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    const outside = dirs.fresh('outside');
    writeFileSync(join(outside, 'target.txt'), 'outside the root: never touched\n');
    richTree(src, outside);
    // On the replica, links in the way: a file must replace `run.sh`'s name, not write through it.
    mkdirSync(join(rep, 'bin'));
    symlinkSync(join(outside, 'target.txt'), join(rep, 'bin/run.sh'));
    put(rep, 'victim', 'a file where the source has a link\n');
    mkdirSync(join(rep, 'stale-empty'));
    const passwd = readFileSync('/etc/passwd');

    const s = await startSessions(await dataSide(src), await dataSide(rep), { features: ['attrs'] });
    try {
      await s.caughtUp();
      assertSameAttrTree(src, rep);
      assert.equal(readFileSync(join(outside, 'target.txt'), 'utf8'), 'outside the root: never touched\n');
      assert.deepEqual(readFileSync('/etc/passwd'), passwd);
      assert.equal(attrTreeOf(rep).get('passwd-link')?.endsWith('-> /etc/passwd'), true, 'a link outside the root stays a link');
      if (isRoot) assert.equal(statSync(join(rep, 'owned.txt')).uid, 1234);
      // Hard links: two separate files on the replica, counted and said on the source.
      assert.notEqual(statSync(join(rep, 'hard/a')).ino, statSync(join(rep, 'hard/b')).ino);
      assert.equal(s.source.stats.hardLinks, 1);
      assert.ok(s.sourceLog.some((l) => l.level === 'warn' && /1 hard link/.test(l.message)));

      // Live: a mode change, a new link, a removed link, a new empty directory, a removed one.
      chmodSync(join(src, 'etc/secret.conf'), 0o600);
      symlinkSync('bin/run.sh', join(src, 'new-link'));
      unlinkSync(join(src, 'dangling'));
      mkdirSync(join(src, 'new-empty'));
      rmdirSync(join(src, 'empty/nested'));
      unlinkSync(join(src, 'hard/b'));
      await s.source.barrier();
      assertSameAttrTree(src, rep, 'live changes replicated');
      assert.equal(readFileSync(join(outside, 'target.txt'), 'utf8'), 'outside the root: never touched\n');

      // Emptying a directory keeps it (it is an entry of its own); removing it removes it.
      unlinkSync(join(src, 'hard/a'));
      await s.source.barrier();
      assertSameAttrTree(src, rep, 'an emptied directory stays');
      rmdirSync(join(src, 'hard'));
      await s.source.barrier();
      assertSameAttrTree(src, rep, 'a removed directory goes');
    } finally {
      await s.close();
    }
  });

  it('an attribute change alone sends no content: only an entry frame', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'big.bin', Buffer.alloc(4 * 1024 * 1024, 1));
    const s = await startSessions(await dataSide(src), await dataSide(rep), { features: ['attrs'] });
    try {
      await s.caughtUp();
      const before = s.source.stats.bytesSent;
      chmodSync(join(src, 'big.bin'), 0o604);
      utimesSync(join(src, 'big.bin'), 1_600_000_000, 1_600_000_000);
      await s.source.barrier();
      assertSameAttrTree(src, rep);
      assert.equal(s.source.stats.bytesSent, before, 'no byte of content went again');
    } finally {
      await s.close();
    }
  });

  it('without the feature (a peer from before it): plain files only, symlinks left out', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    const outside = dirs.fresh('outside');
    writeFileSync(join(outside, 'target.txt'), 'outside\n');
    richTree(src, outside);
    const s = await startSessions(await dataSide(src), await dataSide(rep), { features: [] });
    try {
      await s.caughtUp();
      const files = [...treeOf(src)].filter(([, v]) => v !== 'dir' && v !== 'special').map(([p]) => p);
      const got = [...treeOf(rep)].filter(([, v]) => v !== 'dir').map(([p]) => p);
      assert.deepEqual(got, files);
      assert.equal(statSync(join(rep, 'bin/run.sh')).mode & 0o777, 0o600, 'modes are not replicated without the feature');
    } finally {
      await s.close();
    }
  });
});
