/**
 * Time in the core is a number of milliseconds passed in with every input, never read from a
 * clock. `now` is monotonic (timers, liveness, holds); `wall` is the wall clock, used only where
 * two nodes must agree on time (the heartbeat replay window).
 */
export type Millis = number;

export interface Instant {
  /** Monotonic milliseconds (e.g. performance.now() based); never jumps back. */
  readonly now: Millis;
  /** Wall-clock milliseconds since the Unix epoch; may jump when NTP corrects it. */
  readonly wall: Millis;
}
