import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hmacSha256 } from '../../adapters/crypto/hmac.js';
import type { RejectReason } from './codec.js';
import { MAX_DATAGRAM_BYTES, REJECT_REASONS, encodeHeartbeat } from './codec.js';
import { sampleHeartbeat } from './fixtures.test-support.js';
import type { HeartbeatOverrides } from './fixtures.test-support.js';
import type { ReceiveContext } from './receive.js';
import { receiveHeartbeat } from './receive.js';
import type { ReplayGuard } from './replay.js';
import { EMPTY_REPLAY_GUARD } from './replay.js';

const mac = hmacSha256(new TextEncoder().encode('the shared secret of cluster lab'));
const otherMac = hmacSha256(new TextEncoder().encode('the shared secret of cluster prod'));
const T = sampleHeartbeat().sentAt;

// We are "alpha"; the peer "beta" sends to us (the fixture's default addressing) on eth1.
const ctx: ReceiveContext = { mac, cluster: 'lab', self: 'alpha', peer: 'beta', path: 'eth1', wall: T, windowMs: 30_000 };

const datagram = (overrides: HeartbeatOverrides = {}): Uint8Array => encodeHeartbeat(sampleHeartbeat(overrides), mac);

/** The guard after accepting the fixture's first heartbeat (boot 0123456789abcdef, seq 1 on eth1). */
const seen: ReplayGuard = Object.freeze({
  currentBoot: sampleHeartbeat().bootId,
  retiredBoots: Object.freeze(['00000000deadbeef']),
  lastSeq: Object.freeze({ eth1: 1 }),
  bootStartedAt: sampleHeartbeat().sentAt,
});

function reason(bytes: Uint8Array, guard: ReplayGuard = seen, context: ReceiveContext = ctx): RejectReason | 'accepted' {
  const result = receiveHeartbeat(guard, bytes, context);
  return result.ok ? 'accepted' : result.reason;
}

/** What a receiver does with a datagram: keep the returned guard only when it is accepted. */
function deliver(guard: ReplayGuard, bytes: Uint8Array, context: ReceiveContext = ctx): { guard: ReplayGuard; reason: RejectReason | 'accepted' } {
  const result = receiveHeartbeat(guard, bytes, context);
  return result.ok ? { guard: result.guard, reason: 'accepted' } : { guard, reason: result.reason };
}

describe('receiveHeartbeat', () => {
  it('accepts a fresh heartbeat and returns the advanced guard', () => {
    const hb = sampleHeartbeat({ seq: 2 });
    assert.deepEqual(receiveHeartbeat(seen, encodeHeartbeat(hb, mac), ctx), {
      ok: true,
      heartbeat: hb,
      guard: { ...seen, lastSeq: { eth1: 2 } },
    });
  });

  // One row per reject reason; each datagram is otherwise acceptable.
  const rows: readonly { reason: RejectReason; bytes: Uint8Array }[] = [
    { reason: 'malformed', bytes: datagram({ seq: 2 }).subarray(0, 60) },
    { reason: 'unsupported-version', bytes: datagram({ seq: 2 }).fill(2, 4, 5) },
    { reason: 'unauthenticated', bytes: encodeHeartbeat(sampleHeartbeat({ seq: 2 }), otherMac) },
    { reason: 'foreign-cluster', bytes: datagram({ seq: 2, cluster: 'prod' }) },
    { reason: 'not-for-us', bytes: datagram({ seq: 2, to: 'gamma' }) },
    { reason: 'wrong-path', bytes: datagram({ seq: 2, path: 'eth2' }) },
    { reason: 'replayed', bytes: datagram({ seq: 1 }) },
    { reason: 'stale', bytes: datagram({ seq: 2, sentAt: T - 30_001 }) },
  ];

  it('has a row for every reject reason', () => {
    assert.deepEqual(rows.map((r) => r.reason).sort(), [...REJECT_REASONS].sort());
  });

  for (const row of rows) {
    it(`rejects with exactly ${row.reason}, leaving the guard as it was`, () => {
      const before = structuredClone(seen);
      assert.deepEqual(receiveHeartbeat(seen, row.bytes, ctx), { ok: false, reason: row.reason });
      assert.deepEqual(seen, before);
    });
  }

  it('checks authenticity first, then addressing, then freshness', () => {
    const forgedForeignStale = encodeHeartbeat(sampleHeartbeat({ cluster: 'prod', sentAt: 0 }), otherMac);
    assert.equal(reason(forgedForeignStale), 'unauthenticated');
    assert.equal(reason(datagram({ cluster: 'prod', sentAt: 0 })), 'foreign-cluster');
    assert.equal(reason(datagram({ path: 'eth2', seq: 1 })), 'wrong-path');
    assert.equal(reason(datagram({ seq: 1, sentAt: 0 })), 'stale');
  });

  it('does not let a rejected heartbeat of a new boot retire the current boot', () => {
    // A misaddressed or stale copy counted as a "new boot" would lock the real peer out.
    const newBoot = 'ffffffffffffffff';
    let guard = seen;
    guard = deliver(guard, datagram({ bootId: newBoot, path: 'eth2' })).guard;
    guard = deliver(guard, datagram({ bootId: newBoot, sentAt: 0 })).guard;
    assert.equal(guard, seen);
    assert.equal(deliver(guard, datagram({ seq: 2 })).reason, 'accepted');
  });

  it('accepts each datagram of a sender at most once, however often it is delivered (property)', () => {
    const sends = fc.array(fc.constantFrom('eth1', 'eth2'), { minLength: 1, maxLength: 30 });
    const scenario = sends.chain((paths) => {
      const sent = paths.map((path, i) => ({ path, bytes: datagram({ path, seq: i + 1 }) }));
      // Deliver each datagram zero to three times, in any order.
      return fc.tuple(fc.constant(sent), fc.array(fc.nat(sent.length - 1), { maxLength: 3 * sent.length }));
    });
    fc.assert(fc.property(scenario, ([sent, order]) => {
      let guard = EMPTY_REPLAY_GUARD;
      const acceptedCount = new Map<number, number>();
      for (const index of order) {
        const { path, bytes } = sent[index]!;
        const delivered = deliver(guard, bytes, { ...ctx, path });
        guard = delivered.guard;
        if (delivered.reason === 'accepted') acceptedCount.set(index, (acceptedCount.get(index) ?? 0) + 1);
      }
      assert.ok([...acceptedCount.values()].every((n) => n === 1));
    }));
  });

  it('accepts every datagram delivered in order once (property)', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom('eth1', 'eth2'), { minLength: 1, maxLength: 30 }), (paths) => {
      let guard = EMPTY_REPLAY_GUARD;
      paths.forEach((path, i) => {
        const delivered = deliver(guard, datagram({ path, seq: i + 1 }), { ...ctx, path });
        assert.equal(delivered.reason, 'accepted');
        guard = delivered.guard;
      });
    }));
  });

  it('never accepts, and never throws on, arbitrary bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: MAX_DATAGRAM_BYTES + 100 }), (bytes) => {
      assert.equal(receiveHeartbeat(seen, bytes, ctx).ok, false);
    }));
  });
});
