/**
 * Replication sessions under faults, for real (files in temporary directories, the channel on
 * 127.0.0.1): files that change while they are sent, transfers the replica refuses (a receiver
 * that tampers with the bytes), sessions cut in the middle of a resync, and barriers whose
 * session ends under them. Protocol errors from a raw peer are in sessions-protocol.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { IncomingFile, Receiver } from '../../adapters/files/index.js';
import {
  assertSameTree, dataSide, delay, incomingOf, isPlanned, MiB, partsUnder, put, sha, startSessions, tempDirs, visibleNames,
} from './sessions.test-support.js';

const dirs = tempDirs('tandem-sessions-faults-');
const TIMEOUT = { timeout: 60_000 };

describe('a file that changes while it is sent', () => {
  it('a log appended in a loop: every copy the replica shows is a prefix of the source, then equal', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'grow.log', randomBytes(2 * MiB));
    put(src, 'quiet.txt', 'quiet\n');
    const flags = { writing: true, watching: true };
    let appended = 0;
    const writer = (async () => {
      const fh = await open(join(src, 'grow.log'), 'a');
      try {
        for (let i = 0; flags.writing; i++) {
          const record = Buffer.from(`record ${i} ${'r'.repeat((i * 7919) % 4000)}\n`);
          await fh.write(record);
          appended += record.length;
          if (i % 8 === 0) await delay(1);
        }
      } finally {
        await fh.close();
      }
    })();
    const observed = { reads: 0, nonEmpty: 0 };
    const problems: string[] = [];
    // A reader on the replica: whatever it sees is a complete prefix of the source's log, and
    // nothing but the replicated files is ever visible (no temporary file, no torn copy).
    const watcher = (async () => {
      while (flags.watching) {
        const names = visibleNames(rep).filter((n) => n !== 'grow.log' && n !== 'quiet.txt');
        if (names.length > 0) problems.push(`unexpected visible entries: ${names.join(', ')}`);
        if (existsSync(join(rep, 'grow.log'))) {
          const copy = await readFile(join(rep, 'grow.log')).catch(() => null);
          if (copy !== null) {
            const original = await readFile(join(src, 'grow.log'));
            observed.reads++;
            if (copy.length > 0) observed.nonEmpty++;
            if (copy.length > original.length || !original.subarray(0, copy.length).equals(copy)) {
              problems.push(`a copy of ${copy.length} bytes that is not a prefix of the source (${original.length} bytes)`);
            }
          }
        }
        await delay(3);
      }
    })();
    const s = await startSessions(await dataSide(src), await dataSide(rep));
    try {
      await s.caughtUp();
      await delay(600); // live: the log keeps growing, the replica follows
      flags.writing = false;
      await writer;
      await s.source.barrier();
      flags.watching = false;
      await watcher;
      assert.deepEqual(problems, []);
      assert.ok(observed.nonEmpty > 0, 'the watcher saw copies of the log');
      assert.ok(appended > 0);
      assertSameTree(src, rep);
      assert.deepEqual(partsUnder(rep).filter((p) => !p.startsWith('.tandem-sync/')), []);
      assert.deepEqual(incomingOf(rep), []);
      assert.equal(s.replica.stats.refused, 0);
    } finally {
      flags.writing = false;
      flags.watching = false;
      await writer;
      await watcher;
      await s.close();
    }
  });

  it('a file rewritten in place in a loop: the replica only ever shows complete versions', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    const SIZE = 512 * 1024;
    const version = (k: number): Buffer => {
      const b = Buffer.alloc(SIZE, k & 0xff);
      b.write(`version ${String(k).padStart(8, '0')}\n`, 0, 'latin1');
      return b;
    };
    const isVersion = (b: Buffer): boolean => {
      const m = /^version (\d{8})\n/.exec(b.subarray(0, 20).toString('latin1'));
      return m !== null && version(Number(m[1])).equals(b);
    };
    put(src, 'db.bin', version(0));
    const flags = { writing: true, watching: true };
    let last = 0;
    let writer: Promise<void> = Promise.resolve();
    const s = await startSessions(await dataSide(src), await dataSide(rep));
    const problems: string[] = [];
    const watcher = (async () => {
      while (flags.watching) {
        const copy = await readFile(join(rep, 'db.bin')).catch(() => null);
        if (copy !== null && !isVersion(copy)) problems.push(`a torn copy (${copy.length} bytes, starts ${JSON.stringify(copy.subarray(0, 17).toString('latin1'))})`);
        await delay(2);
      }
    })();
    try {
      await s.caughtUp();
      writer = (async () => {
        const fh = await open(join(src, 'db.bin'), 'r+');
        try {
          for (let k = 1; flags.writing; k++) {
            await fh.write(version(k), 0, SIZE, 0);
            last = k;
            await delay(2 + (k % 4));
          }
        } finally {
          await fh.close();
        }
      })();
      // Barriers while it is being rewritten: each resolves only once the replica holds the
      // version written before it was asked, or a later one (a pass that read a changing file
      // sends no barrier frame: it tries again).
      const started = performance.now();
      let barriers = 0;
      while (performance.now() - started < 800) {
        const before = last;
        // A file rewritten faster than it can be read whole is never sent: should this machine
        // be that slow, the writer pauses (the barrier's promise holds all the same).
        const starving = setTimeout(() => { flags.writing = false; }, 5000);
        await s.source.barrier();
        clearTimeout(starving);
        barriers++;
        const copy = readFileSync(join(rep, 'db.bin'));
        assert.ok(isVersion(copy));
        const held = Number(copy.subarray(8, 16).toString('latin1'));
        assert.ok(held >= before, `barrier ${barriers}: the replica holds version ${held}, written before the barrier was ${before}`);
        await delay(20);
      }
      flags.writing = false;
      await writer;
      await s.source.barrier();
      flags.watching = false;
      await watcher;
      assert.deepEqual(problems, []);
      assert.ok(last > 10, 'the writer wrote many versions');
      assert.ok(barriers > 0);
      assert.ok(isVersion(readFileSync(join(rep, 'db.bin'))));
      assertSameTree(src, rep);
      assert.deepEqual(incomingOf(rep), []);
    } finally {
      flags.writing = false;
      flags.watching = false;
      await writer;
      await watcher;
      await s.close();
    }
  });
});


describe('the replica refuses a transfer: the source sends it again', () => {
  /**
   * The replica's receiver, tampering with the first chunk of the transfers of `victim` whose
   * ordinal (1, 2…) is in `which`: the replica must refuse them and the source send the file
   * again. Records what of the victim was visible at the moment of each refusal.
   */
  function tampering(rx: Receiver, victim: string, which: readonly number[]): { receiver: Receiver; refusals: { visible: string | null }[] } {
    const refusals: { visible: string | null }[] = [];
    let ordinal = 0;
    const receiver: Receiver = {
      root: rx.root,
      remove: (p, o) => rx.remove(p, o),
      place: (i) => rx.place(i),
      recover: (o) => rx.recover(o),
      partials: () => rx.partials(),
      dropPartials: () => rx.dropPartials(),
      async begin(item) {
        const f = await rx.begin(item);
        if (item.path !== victim || !which.includes(++ordinal)) return f;
        let first = true;
        const wrapped: IncomingFile = {
          item: f.item, tempPath: f.tempPath,
          get received() { return f.received; },
          write(chunk) {
            if (!first) return f.write(chunk);
            first = false;
            const bad = Buffer.from(chunk);
            bad[0] = (bad[0] ?? 0) ^ 0xff;
            return f.write(bad);
          },
          async commit() {
            try {
              return await f.commit();
            } catch (err) {
              const dest = join(rx.root, item.path);
              refusals.push({ visible: existsSync(dest) ? sha(readFileSync(dest)) : null });
              throw err;
            }
          },
          abort: () => f.abort(),
          suspend: () => f.suspend(),
        };
        return wrapped;
      },
    };
    return { receiver, refusals };
  }

  it('during the resync: committed ok:false reaches the source, it sends the file again, the trees converge', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'a-victim.bin', randomBytes(100_000));
    put(src, 'b-after.bin', randomBytes(3 * MiB));
    put(src, 'c-after.txt', 'after\n');
    const repSide = await dataSide(rep);
    const t = tampering(repSide.receivers.get('data')!, 'a-victim.bin', [1]);
    const s = await startSessions(await dataSide(src), repSide, { receivers: new Map([['data', t.receiver]]) });
    try {
      await s.caughtUp();
      await s.source.barrier();
      assertSameTree(src, rep);
      assert.deepEqual(t.refusals, [{ visible: null }], 'refused once, and nothing was visible then');
      assert.equal(s.replica.stats.refused, 1);
      assert.equal(s.source.stats.refusedByReplica, 1);
      assert.ok(s.sourceLog.some((l) => l.level === 'warn' && /refused data\/a-victim\.bin/.test(l.message)), 'the source logs the refusal');
    } finally {
      await s.close();
    }
  });

  it('live: a barrier does not resolve on a refused file; it resolves once the file is stored', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'victim.txt', 'version 1\n');
    const repSide = await dataSide(rep);
    // Version 1: refused in the resync and once more live, then stored; version 2: refused once.
    const t = tampering(repSide.receivers.get('data')!, 'victim.txt', [1, 2, 4]);
    const s = await startSessions(await dataSide(src), repSide, { receivers: new Map([['data', t.receiver]]) });
    try {
      await s.caughtUp();
      await s.source.barrier();
      assertSameTree(src, rep, 'the resync copy, after two refusals');
      put(src, 'next.tmp', 'version 2, which the replica refuses once more\n');
      renameSync(join(src, 'next.tmp'), join(src, 'victim.txt')); // the source never shows a half-written version
      await s.source.barrier();
      // At the moment the barrier resolves the file written before it is there.
      assert.equal(readFileSync(join(rep, 'victim.txt'), 'utf8'), 'version 2, which the replica refuses once more\n');
      assertSameTree(src, rep);
      assert.equal(t.refusals.length, 3);
      assert.deepEqual(t.refusals.slice(0, 2), [{ visible: null }, { visible: null }], 'during the resync nothing was visible');
      assert.deepEqual(t.refusals[2], { visible: sha('version 1\n') }, 'live, the old version stayed in place');
      assert.equal(s.source.stats.refusedByReplica, 3);
    } finally {
      await s.close();
    }
  });
});

describe('a session cut in the middle of a big resync', () => {
  for (const side of ['source', 'replica'] as const) {
    it(`closed by the ${side}: no partial file is visible; the next session resumes and skips what is complete`, TIMEOUT, async () => {
      const src = dirs.fresh('src');
      const rep = dirs.fresh('rep');
      const small = ['a1.txt', 'a2.txt', 'a3/x.txt'];
      const later = ['z1.txt', 'z2/y.txt'];
      for (const p of [...small, ...later]) put(src, p, `${p} ${'c'.repeat(5000)}\n`);
      put(src, 'big.bin', randomBytes(20 * MiB));
      put(rep, 'stale', 'removed by the first session\n');
      const srcSide = await dataSide(src);
      const repSide = await dataSide(rep);
      const smallBytes = small.reduce((n, p) => n + readFileSync(join(src, p)).length, 0);

      const first = await startSessions(srcSide, repSide, { rateBytesPerSec: 8 * MiB });
      const reasons = { source: '', replica: '' };
      try {
        const plan = await first.events.wait(isPlanned, first.replica.done);
        assert.equal(plan.files, small.length + later.length + 2);
        await first.events.wait((e) => e.kind === 'progress' && e.bytesDone > smallBytes + 3 * MiB, first.replica.done);
        assert.ok(incomingOf(rep).some((n) => n.endsWith('.part')), 'big.bin is in flight');
        if (side === 'source') first.source.close('cut by the test');
        else first.replica.close('cut by the test');
        reasons.source = await first.source.done;
        reasons.replica = await first.replica.done;
      } finally {
        await first.close();
      }
      assert.match(side === 'source' ? reasons.source : reasons.replica, /cut by the test/);
      assert.match(side === 'source' ? reasons.replica : reasons.source, /cut by the test/, 'the peer learns why');
      assert.equal(first.events.of('caught-up').length, 0);
      assert.equal(existsSync(join(rep, 'big.bin')), false, 'no partial big.bin');
      assert.deepEqual(incomingOf(rep), [], 'the cut transfer was dropped');
      for (const p of small) assert.equal(readFileSync(join(rep, p), 'utf8'), readFileSync(join(src, p), 'utf8'), `${p} is complete`);
      for (const p of later) assert.equal(existsSync(join(rep, p)), false);
      assert.equal(existsSync(join(rep, 'stale')), false);

      const second = await startSessions(srcSide, repSide);
      try {
        await second.caughtUp();
        const plan = second.events.of('planned')[0];
        assert.deepEqual(plan, { kind: 'planned', files: 1 + later.length, bytes: 20 * MiB + later.reduce((n, p) => n + readFileSync(join(src, p)).length, 0) },
          'the second plan holds only big.bin and the files after it');
        assertSameTree(src, rep);
        assert.equal(second.source.stats.filesSent, 1 + later.length);
      } finally {
        await second.close();
      }
    });
  }
});


describe('barriers when the session ends', () => {
  it('a barrier asked during a slow resync is rejected when the session closes', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'slow.bin', randomBytes(4 * MiB));
    const s = await startSessions(await dataSide(src), await dataSide(rep), { rateBytesPerSec: 1 * MiB });
    try {
      await s.events.wait(isPlanned, s.replica.done);
      const barrier = s.source.barrier();
      let settled = false;
      barrier.then(() => { settled = true; }, () => { settled = true; });
      await delay(100);
      assert.equal(settled, false, 'the barrier waits for the resync');
      s.replica.close('replica going away');
      await assert.rejects(barrier, /replication session closed: .*replica going away/);
      await assert.rejects(s.source.barrier(), /replication session closed/, 'a barrier after the end is rejected at once');
    } finally {
      await s.close();
    }
  });
});

describe('leftovers', () => {
  it('a leftover transfer of an earlier crash is not visible and is removed by recover()', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'f', 'x');
    put(rep, '.tandem-sync/incoming/0000.part', 'half of something');
    writeFileSync(join(rep, '.tandem-sync/incoming/0000.json'), JSON.stringify({ path: 'f', size: 100, sha256: sha('y') }));
    const s = await startSessions(await dataSide(src), await dataSide(rep));
    try {
      await s.caughtUp();
      assertSameTree(src, rep);
      assert.deepEqual(incomingOf(rep), []);
    } finally {
      await s.close();
    }
  });
});
