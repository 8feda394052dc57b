/**
 * Anti-replay for the heartbeats of one peer. The MAC proves a packet came from the peer; this
 * proves it is new. Each sender process picks a random bootId and numbers its copies from 1, one
 * counter across all paths, so every authentic packet is unique by (bootId, seq).
 *
 * Sequence numbers are tracked per path: copies of consecutive heartbeats travel different links
 * and may overtake each other, but each link keeps its own order (a captured copy cannot be moved
 * to another path: the path is authenticated and checked by checkAddressing).
 *
 * A packet of an unknown boot is accepted (after a restart the peer's counter starts again), so
 * old boots are remembered to stop their packets from being replayed as "new" ones; the wall-clock
 * window bounds how old a replayed packet can be at all.
 */
import type { Heartbeat } from '../ha/report.js';
import type { Millis } from '../time.js';

export interface ReplayGuard {
  /** The peer boot whose packets are currently accepted; null before the first packet. */
  readonly currentBoot: string | null;
  /** Earlier boots of the peer, newest first, at most MAX_RETIRED_BOOTS: never accepted again. */
  readonly retiredBoots: readonly string[];
  /** Highest accepted seq per path, for the current boot only. */
  readonly lastSeq: Readonly<Record<string, number>>;
  /**
   * Earliest sentAt seen from the current boot. A packet of an unknown boot sent before it
   * belongs to an older process: accepting it would retire the real current boot and lock the
   * peer out (e.g. right after this node restarted and forgot the peer's earlier boots).
   */
  readonly bootStartedAt: number | null;
}

/**
 * How many past boots are remembered. A boot older than that could be replayed as new, but only
 * within the window, i.e. after the peer restarted that many times within windowMs.
 */
export const MAX_RETIRED_BOOTS = 8;

export const EMPTY_REPLAY_GUARD: ReplayGuard = Object.freeze({
  currentBoot: null,
  retiredBoots: Object.freeze([]),
  lastSeq: Object.freeze({}),
  bootStartedAt: null,
});

export type ReplayResult =
  | { readonly ok: true; readonly guard: ReplayGuard }
  | { readonly ok: false; readonly reason: 'replayed' | 'stale' };

/**
 * Decides whether an authentic heartbeat is fresh. `wall` is the receiver's wall clock; the window
 * must cover the clock skew between the nodes plus the network delay. Inputs are never mutated:
 * an accepted packet yields a new guard.
 */
export function checkReplay(guard: ReplayGuard, hb: Heartbeat, wall: Millis, windowMs: Millis): ReplayResult {
  // Written as "not within" so that a NaN anywhere counts as stale rather than fresh.
  if (!(Math.abs(wall - hb.sentAt) <= windowMs)) return { ok: false, reason: 'stale' };
  if (guard.retiredBoots.includes(hb.bootId)) return { ok: false, reason: 'replayed' };

  if (hb.bootId === guard.currentBoot) {
    // hasOwn: a path named "toString" must not read Object.prototype's function as its seq.
    const last = Object.hasOwn(guard.lastSeq, hb.path) ? guard.lastSeq[hb.path] ?? 0 : 0;
    if (hb.seq <= last) return { ok: false, reason: 'replayed' };
    const bootStartedAt = Math.min(guard.bootStartedAt ?? hb.sentAt, hb.sentAt);
    return { ok: true, guard: { ...guard, bootStartedAt, lastSeq: { ...guard.lastSeq, [hb.path]: hb.seq } } };
  }
  if (guard.bootStartedAt !== null && hb.sentAt < guard.bootStartedAt) return { ok: false, reason: 'replayed' };

  // A new boot of the peer: the current one can never send again, so retire it.
  const retiredBoots = guard.currentBoot === null
    ? guard.retiredBoots
    : [guard.currentBoot, ...guard.retiredBoots].slice(0, MAX_RETIRED_BOOTS);
  return { ok: true, guard: { currentBoot: hb.bootId, retiredBoots, lastSeq: { [hb.path]: hb.seq }, bootStartedAt: hb.sentAt } };
}
