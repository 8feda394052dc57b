import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Heartbeat } from '../ha/report.js';
import type { ReplayGuard, ReplayResult } from './replay.js';
import { EMPTY_REPLAY_GUARD, MAX_RETIRED_BOOTS, checkReplay } from './replay.js';
import { sampleHeartbeat } from './fixtures.test-support.js';

const T = 1_700_000_000_000;
const WINDOW = 30_000;

function hb(bootId: string, path: string, seq: number, sentAt = T): Heartbeat {
  return sampleHeartbeat({ bootId, path, seq, sentAt });
}

function deepFreeze<V>(value: V): V {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

/** Feeds packets in order; returns the final guard and which packets were accepted. */
function feed(packets: readonly Heartbeat[], guard: ReplayGuard = EMPTY_REPLAY_GUARD): { guard: ReplayGuard; results: ReplayResult[] } {
  const results: ReplayResult[] = [];
  for (const packet of packets) {
    const result = checkReplay(guard, packet, T, WINDOW);
    results.push(result);
    if (result.ok) guard = result.guard;
  }
  return { guard, results };
}

function accepted(guard: ReplayGuard, packet: Heartbeat): ReplayGuard {
  const result = checkReplay(guard, packet, T, WINDOW);
  assert.ok(result.ok, `expected ${packet.bootId}/${packet.path}/${packet.seq} to be accepted`);
  return result.guard;
}

function reason(guard: ReplayGuard, packet: Heartbeat, wall = T): string {
  const result = checkReplay(guard, packet, wall, WINDOW);
  return result.ok ? 'accepted' : result.reason;
}

const PATHS = ['eth1', 'eth2', 'wg0'] as const;

/**
 * What one peer sends: boots one after another (at most 1 + MAX_RETIRED_BOOTS of them, all
 * remembered), each numbering its copies from 1 across all paths.
 */
const senderStream = fc
  .array(fc.record({ reboot: fc.integer({ min: 0, max: 7 }).map((n) => n === 0), path: fc.constantFrom(...PATHS) }), { minLength: 1, maxLength: 60 })
  .map((steps) => {
    let boot = 0;
    let seq = 0;
    return steps.map((step, i) => {
      if (i > 0 && step.reboot && boot < MAX_RETIRED_BOOTS) {
        boot += 1;
        seq = 0;
      }
      seq += 1;
      return hb(`boot-${boot}`, step.path, seq);
    });
  });

describe('checkReplay', () => {
  it('accepts the first heartbeat of a peer', () => {
    assert.deepEqual(checkReplay(EMPTY_REPLAY_GUARD, hb('a', 'eth1', 7), T, WINDOW), {
      ok: true,
      guard: { currentBoot: 'a', retiredBoots: [], lastSeq: { eth1: 7 }, bootStartedAt: T },
    });
  });

  it('accepts increasing seqs on a path and rejects a repeated or older one', () => {
    let guard = accepted(EMPTY_REPLAY_GUARD, hb('a', 'eth1', 1));
    guard = accepted(guard, hb('a', 'eth1', 3));
    assert.equal(reason(guard, hb('a', 'eth1', 3)), 'replayed');
    assert.equal(reason(guard, hb('a', 'eth1', 2)), 'replayed');
    assert.equal(reason(guard, hb('a', 'eth1', 4)), 'accepted');
  });

  it('tracks each path separately, so copies may overtake each other across paths', () => {
    let guard = accepted(EMPTY_REPLAY_GUARD, hb('a', 'eth1', 6));
    guard = accepted(guard, hb('a', 'eth2', 5)); // sent before seq 6 but arrived later, on another path
    assert.deepEqual(guard.lastSeq, { eth1: 6, eth2: 5 });
    assert.equal(reason(guard, hb('a', 'eth2', 5)), 'replayed');
    assert.equal(reason(guard, hb('a', 'eth1', 5)), 'replayed');
  });

  it('retires the current boot when the peer restarts, and rejects its packets from then on', () => {
    let guard = accepted(EMPTY_REPLAY_GUARD, hb('a', 'eth1', 40));
    guard = accepted(guard, hb('a', 'eth2', 41));
    guard = accepted(guard, hb('b', 'eth2', 1));
    assert.deepEqual(guard, { currentBoot: 'b', retiredBoots: ['a'], lastSeq: { eth2: 1 }, bootStartedAt: T });
    assert.equal(reason(guard, hb('a', 'eth1', 1000)), 'replayed');
    assert.equal(reason(guard, hb('b', 'eth1', 1)), 'accepted');
  });

  it('rejects an unknown boot sent before the current boot started, so it cannot lock the peer out', () => {
    // This node restarted and forgot the peer's earlier boots; the peer's current boot is 'new'.
    let guard = accepted(EMPTY_REPLAY_GUARD, hb('new', 'eth1', 5, T - 1000));
    guard = accepted(guard, hb('new', 'eth1', 6, T));
    assert.equal(reason(guard, hb('old', 'eth1', 900, T - 5000)), 'replayed');
    assert.equal(reason(guard, hb('new', 'eth1', 7, T)), 'accepted');
    assert.equal(reason(guard, hb('newer', 'eth1', 1, T)), 'accepted');
  });

  it(`remembers the last ${MAX_RETIRED_BOOTS} retired boots, newest first`, () => {
    const boots = Array.from({ length: 12 }, (_, i) => `boot-${i}`);
    const { guard } = feed(boots.map((boot) => hb(boot, 'eth1', 1)));
    assert.equal(guard.currentBoot, 'boot-11');
    assert.deepEqual(guard.retiredBoots, ['boot-10', 'boot-9', 'boot-8', 'boot-7', 'boot-6', 'boot-5', 'boot-4', 'boot-3']);
    for (const boot of guard.retiredBoots) assert.equal(reason(guard, hb(boot, 'eth1', 99)), 'replayed');
  });

  it('rejects a heartbeat sent outside the window, either way, as stale', () => {
    const guard = accepted(EMPTY_REPLAY_GUARD, hb('a', 'eth1', 1));
    assert.equal(reason(guard, hb('a', 'eth1', 2, T - WINDOW - 1)), 'stale');
    assert.equal(reason(guard, hb('a', 'eth1', 2, T + WINDOW + 1)), 'stale');
    assert.equal(reason(guard, hb('a', 'eth1', 2, T - WINDOW)), 'accepted');
    assert.equal(reason(guard, hb('a', 'eth1', 2, T + WINDOW)), 'accepted');
    assert.equal(reason(guard, hb('a', 'eth1', 2), Number.NaN), 'stale');
    // A stale packet of a new boot must not retire the current one.
    assert.equal(reason(guard, hb('b', 'eth1', 1, T - 10 * WINDOW)), 'stale');
  });

  it('never mutates its inputs', () => {
    const guard = deepFreeze(accepted(EMPTY_REPLAY_GUARD, hb('a', 'eth1', 1)));
    const snapshot = structuredClone(guard);
    for (const packet of [hb('a', 'eth1', 2), hb('a', 'eth2', 1), hb('b', 'eth1', 1), hb('a', 'eth1', 1)]) {
      checkReplay(guard, deepFreeze(packet), T, WINDOW);
    }
    assert.deepEqual(guard, snapshot);
    assert.deepEqual(EMPTY_REPLAY_GUARD, { currentBoot: null, retiredBoots: [], lastSeq: {}, bootStartedAt: null });
  });

  it('is not fooled by paths named like Object.prototype members', () => {
    for (const path of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      let guard = accepted(EMPTY_REPLAY_GUARD, hb('a', 'eth1', 1));
      guard = accepted(guard, hb('a', path, 2));
      assert.equal(guard.lastSeq[path], 2, path);
      assert.equal(reason(guard, hb('a', path, 2)), 'replayed', path);
      assert.equal(reason(guard, hb('a', path, 1)), 'replayed', path);
    }
  });

  it('rejects any re-delivery of an accepted heartbeat, whatever the delivery order (property)', () => {
    const scenario = senderStream.chain((sent) =>
      fc.tuple(fc.shuffledSubarray(sent, { minLength: sent.length, maxLength: sent.length }), fc.nat()));
    fc.assert(fc.property(scenario, ([delivered, pick]) => {
      const { guard, results } = feed(delivered);
      const acceptedPackets = delivered.filter((_, i) => results[i]!.ok);
      assert.ok(acceptedPackets.length > 0); // the first packet delivered is always accepted
      const again = acceptedPackets[pick % acceptedPackets.length]!;
      assert.equal(reason(guard, again), 'replayed');
    }));
  });

  it('accepts every heartbeat when only copies on different paths overtake each other (property)', () => {
    // One boot; the receiver sees each path's copies in order, interleaved arbitrarily.
    const scenario = senderStream.map((sent) => sent.map((p, i) => ({ ...p, bootId: 'a', seq: i + 1 })))
      .chain((sent) => fc.tuple(fc.constant(sent), fc.array(fc.nat(), { minLength: sent.length, maxLength: sent.length })));
    fc.assert(fc.property(scenario, ([sent, choices]) => {
      const queues = PATHS.map((path) => sent.filter((p) => p.path === path)).filter((q) => q.length > 0);
      const delivered = choices.map((choice) => {
        const nonEmpty = queues.filter((q) => q.length > 0);
        return nonEmpty[choice % nonEmpty.length]!.shift()!;
      });
      const { results } = feed(delivered);
      assert.ok(results.every((r) => r.ok));
    }));
  });

  it('rejects a heartbeat sent outside the window, whatever the guard (property)', () => {
    const offset = fc.integer({ min: WINDOW + 1, max: 1e9 }).chain((n) => fc.constantFrom(n, -n));
    fc.assert(fc.property(senderStream, offset, (sent, delta) => {
      const { guard } = feed(sent);
      const last = sent[sent.length - 1]!;
      for (const packet of [{ ...last, seq: last.seq + 1 }, { ...last, bootId: 'new-boot', seq: 1 }]) {
        assert.equal(reason(guard, { ...packet, sentAt: T + delta }), 'stale');
      }
    }));
  });
});
