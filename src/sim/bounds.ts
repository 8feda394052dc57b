import type { Millis } from '../core/time.js';
import type { TimingProfile } from '../core/timing.js';

/**
 * The latency bounds each profile guarantees, derived from its constants (not measured): the
 * simulation tests assert them, the benchmark reports how far below them real runs stay.
 */

/** Next hop lost on the primary → the secondary serves. */
export function nextHopTakeoverBound(t: TimingProfile): Millis {
  // The first probe after the loss is sent within one interval; the `probeFall`-th miss is known
  // one timeout after it was sent; the rule then holds for nextHopHoldMs; the handover is one
  // heartbeat crossing. Ticks quantize each step.
  return t.probeFall * t.probeIntervalMs + t.probeTimeoutMs + t.nextHopHoldMs + 3 * t.tickMs + 5;
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
