/**
 * The full-resync rate limit, for real: a 6 MiB resync at 2 MiB/s takes at least
 * (bytes − burst) / rate — a lower bound only (a slow machine only makes it truer; no upper bound
 * on time is ever asserted). Live replication after caught-up is not limited.
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
  it('a 6 MiB resync at 2 MiB/s takes at least (bytes − burst) / rate; live replication is not gated', { timeout: 60_000 }, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'six.bin', randomBytes(6 * MiB - 3000));
    put(src, 'small/a', 'a'.repeat(1000));
    put(src, 'small/b', 'b'.repeat(2000));
    const rate = 2 * MiB;
    const srcSide = await dataSide(src);
    const repSide = await dataSide(rep);
    const started = performance.now();
    const s = await startSessions(srcSide, repSide, { rateBytesPerSec: rate });
    try {
      await s.caughtUp();
      const elapsedMs = performance.now() - started;
      const planned = s.events.of('planned')[0];
      assert.equal(planned?.bytes, 6 * MiB);
      // The bucket starts full (one burst at once), then lets `rate` bytes a second through.
      // Timers have millisecond granularity: 2 ms of slack for the last one firing early.
      const floorMs = ((6 * MiB - DEFAULT_SYNC_BURST_BYTES) / rate) * 1000;
      assert.ok(elapsedMs >= floorMs - 2, `the resync took ${elapsedMs.toFixed(0)} ms, less than the ${floorMs.toFixed(0)} ms the limit allows`);
      assertSameTree(src, rep);

      // Live: a 4 MiB file written after caught-up arrives, and a barrier resolves after it.
      const live = randomBytes(4 * MiB);
      put(src, 'live.bin', live);
      await s.source.barrier();
      assert.equal(sha(readFileSync(join(rep, 'live.bin'))), sha(live));
      assertSameTree(src, rep);
    } finally {
      await s.close();
    }
  });
});
