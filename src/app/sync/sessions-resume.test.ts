/**
 * Resume inside a file (feature resume), over real sessions on real sockets: a large file cut at
 * ~60 % by either side continues, in the next session, from what the replica kept; the bytes on
 * the wire are the rest only, and the file is checked whole at the end. A kept partial of a
 * version the source no longer has is not continued and is dropped once caught up.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { SyncFeature } from './protocol.js';
import { assertSameTree, dataSide, incomingOf, isPlanned, MiB, put, sha, startSessions, tempDirs } from './sessions.test-support.js';

const dirs = tempDirs('tandem-resume-');
const TIMEOUT = { timeout: 120_000 };
const FEATURES: readonly SyncFeature[] = ['attrs', 'resume'];
const SIZE = 48 * MiB;

/** Runs a first session until `cutAt` bytes of the resync arrived, then closes `side`. */
async function cutSession(src: string, rep: string, side: 'source' | 'replica', cutAt: number): Promise<void> {
  const s = await startSessions(await dataSide(src), await dataSide(rep), { features: FEATURES, rateBytesPerSec: 24 * MiB });
  try {
    await s.events.wait((e) => e.kind === 'progress' && e.bytesDone >= cutAt, s.replica.done);
    if (side === 'source') s.source.close('cut by the test');
    else s.replica.close('cut by the test');
    await Promise.all([s.source.done, s.replica.done]);
  } finally {
    await s.close();
  }
}

describe('resume inside a file', () => {
  for (const side of ['source', 'replica'] as const) {
    it(`cut by the ${side} at ~60 %: the next session sends only the rest, checked whole`, TIMEOUT, async () => {
      const src = dirs.fresh('src');
      const rep = dirs.fresh('rep');
      const big = randomBytes(SIZE);
      put(src, 'big.bin', big);
      await cutSession(src, rep, side, 0.6 * SIZE);
      assert.ok(incomingOf(rep).some((n) => n.endsWith('.part')), 'the cut transfer is kept aside');

      const s = await startSessions(await dataSide(src), await dataSide(rep), { features: FEATURES });
      try {
        const plan = await s.events.wait(isPlanned, s.replica.done);
        await s.caughtUp();
        assertSameTree(src, rep);
        assert.equal(sha(readFileSync(join(rep, 'big.bin'))), sha(big));
        const onWire = s.pair.server.stats.bytesOut;
        assert.ok(plan.bytes <= 0.45 * SIZE && plan.bytes > 0, `planned ${String(plan.bytes)} of ${String(SIZE)} bytes`);
        assert.equal(s.source.stats.bytesSent, plan.bytes);
        assert.ok(onWire < plan.bytes + 256 * 1024, `on the wire ${String(onWire)} bytes for a rest of ${String(plan.bytes)}`);
        assert.ok(s.sourceLog.some((l) => /resuming data\/big\.bin at \d+ of \d+ bytes/.test(l.message)));
        assert.deepEqual(incomingOf(rep), [], 'nothing left aside');
      } finally {
        await s.close();
      }
    });
  }

  it('a partial of a version the source no longer has is sent whole, and the partial dropped', TIMEOUT, async () => {
    const src = dirs.fresh('src');
    const rep = dirs.fresh('rep');
    put(src, 'big.bin', randomBytes(16 * MiB));
    await cutSession(src, rep, 'source', 0.5 * 16 * MiB);
    assert.ok(incomingOf(rep).some((n) => n.endsWith('.part')));
    const changed = randomBytes(16 * MiB);
    writeFileSync(join(src, 'big.bin'), changed);
    const s = await startSessions(await dataSide(src), await dataSide(rep), { features: FEATURES });
    try {
      const plan = await s.events.wait(isPlanned, s.replica.done);
      await s.caughtUp();
      assert.equal(plan.bytes, changed.length, 'whole');
      assert.equal(sha(readFileSync(join(rep, 'big.bin'))), sha(changed));
      assert.deepEqual(incomingOf(rep), [], 'the stale partial was dropped');
    } finally {
      await s.close();
    }
  });
});
