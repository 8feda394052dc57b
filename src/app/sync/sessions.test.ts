/**
 * Replication sessions for real: a SourceSession and a ReplicaSession over the authenticated
 * channel on 127.0.0.1, on real files in temporary directories. The initial resync (removals,
 * file/directory swaps, appends, files already there), then live replication and the barrier.
 * Faults (files changing while sent, refusals, cuts, protocol errors) are in
 * sessions-faults.test.ts, the rate limit in sessions-rate.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  assertSameTree, dataSide, delay, incomingOf, MiB, openSide, partsUnder, put, startSessions, tempDirs, type SessionOptions, type Sessions,
} from './sessions.test-support.js';

const dirs = tempDirs('tandem-sessions-');
const TIMEOUT = { timeout: 60_000 };

describe('the initial resync', () => {
  it('makes the replica byte-identical: removals, file/directory swaps, appends, identical files left alone', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    const big = randomBytes(5 * MiB);
    const log = Buffer.from(Array.from({ length: 2500 }, (_, i) => `line ${String(i).padStart(5, '0')} ${'x'.repeat(30)}\n`).join(''));
    const prefix = 40_000;
    put(src, 'a/b/c/deep.txt', 'deep down\n');
    put(src, 'a/b/other.txt', 'other\n');
    put(src, 'empty1', '');
    put(src, 'dir/empty2', '');
    put(src, 'big.bin', big);
    put(src, 'log.txt', log);
    put(src, 'same/one.txt', 'identical\n');
    put(src, 'same.bin', randomBytes(300_000));
    put(src, 'x', 'a file where the replica has a directory\n');
    put(src, 'y/z/file', 'a directory where the replica has a file\n');

    put(rep, 'log.txt', log.subarray(0, prefix));
    put(rep, 'same/one.txt', 'identical\n');
    put(rep, 'same.bin', readFileSync(join(src, 'same.bin')));
    put(rep, 'x/inner/f1', 'in the way 1\n');
    put(rep, 'x/f2', 'in the way 2\n');
    put(rep, 'y', 'a file in the way\n');
    put(rep, 'stale.txt', 'stale\n');
    put(rep, 'old/dir/stale2', 'stale too\n');
    const sameIno = statSync(join(rep, 'same.bin')).ino;

    const sent = ['a/b/c/deep.txt', 'a/b/other.txt', 'big.bin', 'dir/empty2', 'empty1', 'x', 'y/z/file'];
    const expectedBytes = sent.reduce((n, p) => n + statSync(join(src, p)).size, 0) + (log.length - prefix);
    const expectedRemoved = ['old/dir/stale2', 'stale.txt', 'x/f2', 'x/inner/f1', 'y'];
    const expectedFiles = sent.length + 1 + expectedRemoved.length;

    const s = await startSessions(await dataSide(src), await dataSide(rep));
    try {
      const caught = await s.caughtUp();
      assert.deepEqual(caught.generations, { current: 'g-test', history: [] });
      assertSameTree(src, rep);
      assert.deepEqual(incomingOf(rep), []);

      const planned = s.events.of('planned');
      assert.deepEqual(planned, [{ kind: 'planned', bytes: expectedBytes, files: expectedFiles }]);
      const progress = s.events.of('progress');
      assert.deepEqual(progress.at(-1), { kind: 'progress', bytesDone: expectedBytes, filesDone: expectedFiles },
        'the progress ends exactly at the plan');
      for (let i = 1; i < progress.length; i++) {
        assert.ok(progress[i]!.bytesDone >= progress[i - 1]!.bytesDone && progress[i]!.filesDone >= progress[i - 1]!.filesDone, 'progress only grows');
      }
      const kinds = s.events.all.map((e) => e.kind);
      assert.equal(kinds.indexOf('planned'), 0);
      assert.ok(kinds.indexOf('caught-up') > kinds.lastIndexOf('progress'), 'caught-up comes after the last progress');

      assert.deepEqual(s.source.stats.resync, { bytes: expectedBytes, files: expectedFiles, bytesDone: expectedBytes, filesDone: expectedFiles });
      assert.equal(s.source.stats.filesSent, sent.length + 1);
      assert.equal(s.source.stats.bytesSent, expectedBytes, 'log.txt went as its tail only');
      assert.equal(s.source.stats.removed, expectedRemoved.length);
      assert.equal(s.replica.stats.filesReceived, sent.length + 1);
      assert.equal(s.replica.stats.bytesReceived, expectedBytes);
      assert.equal(s.replica.stats.removed, expectedRemoved.length);
      assert.equal(s.replica.stats.refused, 0);

      const changed = s.events.of('changed').map((e) => e.path).sort();
      assert.deepEqual(changed, [...sent, 'log.txt', ...expectedRemoved].sort());
      assert.equal(statSync(join(rep, 'same.bin')).ino, sameIno, 'an identical file is not replaced');
      assert.equal(existsSync(join(rep, 'old')), false, 'directories emptied by removals are pruned');
      assert.equal(s.source.phase, 'live');
    } finally {
      await s.close();
    }
  });

  it('an empty source empties the replica; two empty roots plan nothing', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(rep, 'k/l/m', 'gone soon');
    const s = await startSessions(await dataSide(src), await dataSide(rep));
    try {
      await s.caughtUp();
      assert.deepEqual(s.events.of('planned'), [{ kind: 'planned', bytes: 0, files: 1 }]);
      assertSameTree(src, rep);
    } finally {
      await s.close();
    }
    const again = await startSessions(await dataSide(src), await dataSide(rep));
    try {
      await again.caughtUp();
      assert.deepEqual(again.events.of('planned'), [{ kind: 'planned', bytes: 0, files: 0 }]);
      assert.deepEqual(again.events.of('progress'), []);
    } finally {
      await again.close();
    }
  });

  it('replicates several roots, each into its own directory', TIMEOUT, async () => {
    const srcA = dirs.fresh('srcA');
    const srcB = dirs.fresh('srcB');
    const repA = dirs.fresh('repA');
    const repB = dirs.fresh('repB');
    put(srcA, 'cluster.yaml', 'a: 1\n');
    put(srcB, 'bundle/fw.bin', randomBytes(70_000));
    put(repB, 'cluster.yaml', 'not in this root\n');
    const s = await startSessions(
      await openSide(new Map([['config', srcA], ['firmware', srcB]])),
      await openSide(new Map([['config', repA], ['firmware', repB]])),
    );
    try {
      await s.caughtUp();
      assertSameTree(srcA, repA);
      assertSameTree(srcB, repB);
      put(srcB, 'bundle/fw2.bin', 'second');
      put(srcA, 'cluster.yaml', 'a: 2\n');
      await s.source.barrier();
      assertSameTree(srcA, repA);
      assertSameTree(srcB, repB);
    } finally {
      await s.close();
    }
  });
});

describe('live replication after caught-up', () => {
  async function live(options: SessionOptions = {}): Promise<{ src: string; rep: string; s: Sessions }> {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'a.txt', 'version 1\n');
    put(src, 'log', Buffer.alloc(MiB, 'l'));
    put(src, 'gone.txt', 'to be removed\n');
    put(src, 'dirA/one', 'one\n');
    put(src, 'dirA/sub/two', 'two\n');
    put(src, 'tree/p/q/r', 'r\n');
    put(src, 'tree/p/s', 's\n');
    put(src, 'tree/t', 't\n');
    const s = await startSessions(await dataSide(src), await dataSide(rep), options);
    try {
      await s.caughtUp();
      assertSameTree(src, rep);
    } catch (err) {
      await s.close();
      throw err;
    }
    return { src, rep, s };
  }

  it('create, overwrite, append (the tail only), remove, mkdir -p, rename and remove directories', TIMEOUT, async () => {
    const { src, rep, s } = await live();
    try {
      put(src, 'new.txt', 'created\n');
      await s.source.barrier();
      assertSameTree(src, rep, 'after a create');

      put(src, 'a.txt', 'version 2, longer than the first\n');
      await s.source.barrier();
      assertSameTree(src, rep, 'after an overwrite');
      put(src, 'a.txt', 'v3\n');
      await s.source.barrier();
      assertSameTree(src, rep, 'after an overwrite with a shorter content');

      const before = s.source.stats.bytesSent;
      const tail = Buffer.alloc(1000, 't');
      appendFileSync(join(src, 'log'), tail);
      await s.source.barrier();
      assertSameTree(src, rep, 'after an append');
      assert.equal(s.source.stats.bytesSent - before, tail.length, 'only the tail of the 1 MiB log is sent');

      unlinkSync(join(src, 'gone.txt'));
      await s.source.barrier();
      assertSameTree(src, rep, 'after a removal');

      put(src, 'deep/er/and/deeper/f1', 'f1');
      put(src, 'deep/er/and/deeper/f2', 'f2');
      put(src, 'deep/er/g', 'g');
      await s.source.barrier();
      assertSameTree(src, rep, 'after mkdir -p and files');

      renameSync(join(src, 'dirA'), join(src, 'dirB'));
      await s.source.barrier();
      assertSameTree(src, rep, 'after renaming a directory');
      assert.equal(existsSync(join(rep, 'dirA')), false);

      rmSync(join(src, 'tree'), { recursive: true });
      await s.source.barrier();
      assertSameTree(src, rep, 'after removing a directory tree');
      assert.equal(existsSync(join(rep, 'tree')), false);

      put(src, 'f', 'a file');
      await s.source.barrier();
      unlinkSync(join(src, 'f'));
      put(src, 'f/now/a/dir', 'file → directory');
      await s.source.barrier();
      assertSameTree(src, rep, 'after a file became a directory');
      rmSync(join(src, 'f'), { recursive: true });
      put(src, 'f', 'directory → file');
      await s.source.barrier();
      assertSameTree(src, rep, 'after a directory became a file');

      assert.equal(s.replica.stats.refused, 0);
      assert.deepEqual(partsUnder(rep), []);
    } finally {
      await s.close();
    }
  });

  /** Waits, with no barrier, until the replica's copy of `rel` holds `content`. */
  async function arrives(s: Sessions, rep: string, rel: string, content: string): Promise<void> {
    const holds = (): boolean => {
      try {
        return readFileSync(join(rep, rel), 'utf8') === content;
      } catch {
        return false; // not there yet, or still a directory
      }
    };
    if (!holds()) await s.events.wait((e) => e.kind === 'changed' && e.path === rel && holds(), s.replica.done);
  }

  // The periodic pass is an hour away in these: only the watcher can bring the changes over.
  const watchedOnly = { rescanMs: 3_600_000 };

  it('changes arrive by themselves (watched), without a barrier', TIMEOUT, async () => {
    const { src, rep, s } = await live(watchedOnly);
    try {
      put(src, 'by-itself.txt', 'no barrier asked\n');
      await arrives(s, rep, 'by-itself.txt', 'no barrier asked\n');
      appendFileSync(join(src, 'by-itself.txt'), 'a line more\n');
      await arrives(s, rep, 'by-itself.txt', 'no barrier asked\na line more\n');
      put(src, 'new/dir/deep.txt', 'in a new directory\n');
      await arrives(s, rep, 'new/dir/deep.txt', 'in a new directory\n');
      put(src, 'new/dir/deep.txt', 'changed in the new directory\n');
      await arrives(s, rep, 'new/dir/deep.txt', 'changed in the new directory\n');
      renameSync(join(src, 'dirA'), join(src, 'dirC'));
      put(src, 'dirC/sub/two', 'changed after the rename\n');
      await arrives(s, rep, 'dirC/sub/two', 'changed after the rename\n');
      assert.equal(existsSync(join(rep, 'dirA')), false);
      // A file becomes a directory, and back: the replica's copy in the way is removed first.
      unlinkSync(join(src, 'a.txt'));
      put(src, 'a.txt/now/a/dir', 'file → directory\n');
      await arrives(s, rep, 'a.txt/now/a/dir', 'file → directory\n');
      rmSync(join(src, 'a.txt'), { recursive: true });
      put(src, 'a.txt', 'directory → file\n');
      await arrives(s, rep, 'a.txt', 'directory → file\n');
      rmSync(join(src, 'tree'), { recursive: true });
      put(src, 'tree', 'a whole tree → a file\n');
      await arrives(s, rep, 'tree', 'a whole tree → a file\n');
      await s.source.barrier();
      assertSameTree(src, rep);
      assert.equal(s.source.stats.refusedByReplica, 0, 'nothing was sent before the way was clear');
    } finally {
      await s.close();
    }
  });

  it('the replication lag: each live change is confirmed by the replica without a barrier, and nothing waits afterwards', TIMEOUT, async () => {
    const lags: number[] = [];
    const { src, rep, s } = await live({ ...watchedOnly, confirmed: (ms) => { lags.push(ms); } });
    try {
      assert.equal(s.source.lagMs(), 0, 'nothing waits after the resync');
      for (let i = 0; i < 5; i++) {
        const before = lags.length;
        put(src, `lag/${String(i)}.txt`, `change ${String(i)}\n`);
        await arrives(s, rep, `lag/${String(i)}.txt`, `change ${String(i)}\n`);
        const until = performance.now() + 10_000;
        while (lags.length === before && performance.now() < until) await delay(5);
        assert.ok(lags.length > before, `change ${String(i)} was confirmed`);
      }
      for (const ms of lags) assert.ok(ms >= 0 && ms < 10_000, `lag ${String(ms)} ms`);
      assert.equal(s.source.lagMs(), 0, 'every change confirmed: no lag left');
      // A periodic-pass-like report that sends nothing confirms nothing (no sample, no lag).
      const count = lags.length;
      appendFileSync(join(src, 'lag/0.txt'), '');
      await delay(100);
      assert.equal(lags.length, count);
      assert.equal(s.source.lagMs(), 0);
    } finally {
      await s.close();
    }
  });

  it('a file saved atomically (temporary file, rename) again and again: every save arrives by itself', TIMEOUT, async () => {
    const { src, rep, s } = await live(watchedOnly);
    try {
      for (let i = 1; i <= 5; i++) {
        const text = `cluster: {}\nsave: ${i}\n`;
        put(src, 'cluster.yaml.tmp', text);
        renameSync(join(src, 'cluster.yaml.tmp'), join(src, 'cluster.yaml'));
        await arrives(s, rep, 'cluster.yaml', text);
      }
      appendFileSync(join(src, 'cluster.yaml'), '# appended in place after the saves\n');
      await arrives(s, rep, 'cluster.yaml', 'cluster: {}\nsave: 5\n# appended in place after the saves\n');
      await s.source.barrier();
      assertSameTree(src, rep);
    } finally {
      await s.close();
    }
  });

  it('a barrier resolves only once every file written before it is on the replica', TIMEOUT, async () => {
    const { src, rep, s } = await live();
    try {
      for (let round = 0; round < 5; round++) {
        const n = 20 + round * 10;
        const contents = Array.from({ length: n }, (_, i) => `round ${round} file ${i} ${'z'.repeat(i * 97)}\n`);
        contents.forEach((c, i) => { put(src, `batch${round}/f${i}.txt`, c); });
        await s.source.barrier();
        // No sleep: the moment the barrier resolves, every file is there, whole.
        const missing = contents.filter((c, i) => !existsSync(join(rep, `batch${round}/f${i}.txt`))
          || readFileSync(join(rep, `batch${round}/f${i}.txt`), 'utf8') !== c);
        assert.equal(missing.length, 0, `round ${round}: ${missing.length} of ${n} files missing after the barrier`);
      }
      assertSameTree(src, rep);
      // Concurrent barriers all resolve, each after its own writes.
      put(src, 'c1', '1');
      const b1 = s.source.barrier();
      put(src, 'c2', '2');
      const b2 = s.source.barrier();
      await b1;
      assert.equal(readFileSync(join(rep, 'c1'), 'utf8'), '1');
      await b2;
      assert.equal(readFileSync(join(rep, 'c2'), 'utf8'), '2');
      await Promise.all([s.source.barrier(), s.source.barrier(), s.source.barrier()]);
    } finally {
      await s.close();
    }
  });
});
