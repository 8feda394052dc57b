import type { Millis } from '../core/time.js';
import type { TimingProfile } from '../core/timing.js';

/**
 * The latency bounds each profile guarantees, derived from its constants (not measured): the
 * simulation tests assert them, the benchmark reports how far below them real runs stay.
 */

/** Next hop lost on the primary → the secondary serves (both nodes on HA protocol 2: the evidence rule). */
export function nextHopTakeoverBound(t: TimingProfile): Millis {
  // The first unanswered probe leaves within one interval of the loss; it is overdue
  // `suspectAfterMs` later and the burst starts on the next tick; the burst sends one probe a
  // tick, so the `probeFall`-th miss of the run (the regular probe and probeFall − 1 burst ones)
  // left probeFall − 2 ticks after the burst's first. The primary acts once it knows that miss
  // (one timeout after it left) and holds the peer's evidence: an answer to a probe the peer
  // sent more than the margin (plus the clock error, about a tick) after it — the peer's burst
  // on the suspicion ended long before, so its next regular probe (within one interval), then
  // its next heartbeat. Whichever comes last, one tick later; no hold; the handover is one
  // heartbeat crossing.
  const evidence = t.evidenceMarginMs + t.probeIntervalMs + t.heartbeatIntervalMs + 2 * t.tickMs;
  return t.probeIntervalMs + t.suspectAfterMs + Math.max(t.probeTimeoutMs, evidence) + t.probeFall * t.tickMs + 5;
}

/** The same with a peer on HA protocol 1 (no evidence: the hold rule), for reference. */
export function holdRuleTakeoverBound(t: TimingProfile): Millis {
  return nextHopTakeoverBound(t) + t.nextHopHoldMs + t.tickMs;
}

/** Primary dead or frozen → the secondary serves. */
export function peerDeathTakeoverBound(t: TimingProfile): Millis {
  // The last heartbeat may have left up to one interval before the death.
  return t.peerDeadAfterMs + t.heartbeatIntervalMs + 2 * t.tickMs + 5;
}

/** How long two primaries may coexist once the nodes can hear each other again. */
export function settleBound(t: TimingProfile): Millis {
  return t.freezeGraceMs + 2 * t.heartbeatIntervalMs + 3 * t.tickMs + 5;
}
