/**
 * The full-resync rate limit in a real session (real files, real channel), on virtual time: the
 * limiter's clock advances only by the waits it asks for, so what it scheduled is exact whatever
 * the machine's speed — never a wall-clock timing. Live replication after caught-up is not limited.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_SYNC_BURST_BYTES } from '../../core/sync/ratelimit.js';
import { assertSameTree, dataSide, MiB, put, sha, startSessions, tempDirs } from './sessions.test-support.js';

const dirs = tempDirs('tandem-sessions-rate-');

describe('the resync rate limit', () => {
  it('a 6 MiB resync at 2 MiB/s is scheduled over (bytes − burst) / rate; live replication is not gated', { timeout: 60_000 }, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'six.bin', randomBytes(6 * MiB - 3000));
    put(src, 'small/a', 'a'.repeat(1000));
    put(src, 'small/b', 'b'.repeat(2000));
    const rate = 2 * MiB;
    const srcSide = await dataSide(src);
    const repSide = await dataSide(rep);
    let virtualMs = 0;
    let waits = 0;
    const clock = { now: () => virtualMs, sleep: (ms: number) => { virtualMs += ms; waits++; return Promise.resolve(); } };
    const s = await startSessions(srcSide, repSide, { rateBytesPerSec: rate, clock });
    try {
      await s.caughtUp();
      const planned = s.events.of('planned')[0];
      assert.equal(planned?.bytes, 6 * MiB);
      // The bucket starts full (one burst at once), then lets `rate` bytes a second through; each
      // wait is rounded up to a whole millisecond.
      const floorMs = ((6 * MiB - DEFAULT_SYNC_BURST_BYTES) / rate) * 1000;
      assert.ok(virtualMs >= floorMs, `the resync was scheduled over ${String(virtualMs)} ms, less than the ${floorMs.toFixed(0)} ms the limit allows`);
      assert.ok(virtualMs <= floorMs + waits, `the resync waited ${String(virtualMs)} ms, more than the limit needs`);
      assertSameTree(src, rep);

      // Live: a 4 MiB file written after caught-up arrives, and a barrier resolves after it.
      const live = randomBytes(4 * MiB);
      const waitsBefore = waits;
      put(src, 'live.bin', live);
      await s.source.barrier();
      assert.equal(sha(readFileSync(join(rep, 'live.bin'))), sha(live));
      assert.equal(waits, waitsBefore, 'live replication never waited for the limiter');
      assertSameTree(src, rep);
    } finally {
      await s.close();
    }
  });
});
