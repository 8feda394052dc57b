import type { Millis } from '../time.js';
import type { TimingProfile } from '../timing.js';

/**
 * Flap limiter for automatic (next-hop) switches: a minimum dwell after each switch, and at most
 * `flapMaxSwitches` within `flapWindowMs`, after which switching is held for `flapHoldMs` with an
 * alarm. Takeovers after peer death are never limited: the service must come back.
 */
export interface FlapState {
  /** Times of recent automatic switches, oldest first, within the window. */
  readonly switches: readonly Millis[];
  readonly heldUntil: Millis | null;
}

export const INITIAL_FLAP: FlapState = { switches: [], heldUntil: null };

export type FlapGate = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

export function flapGate(state: FlapState, now: Millis, timing: TimingProfile): FlapGate {
  if (state.heldUntil !== null && now < state.heldUntil) {
    return { allowed: false, reason: `flap limiter: ${timing.flapMaxSwitches} switches within ${timing.flapWindowMs / 1000} s, held` };
  }
  const last = state.switches.at(-1);
  if (last !== undefined && now - last < timing.minDwellMs) {
    return { allowed: false, reason: `flap limiter: minimum dwell of ${timing.minDwellMs / 1000} s after the last switch` };
  }
  return { allowed: true };
}

/** Records a switch; returns whether it put the limiter into its held state (raise the alarm). */
export function recordSwitch(state: FlapState, now: Millis, timing: TimingProfile): { state: FlapState; nowHeld: boolean } {
  const switches = [...state.switches.filter((t) => now - t < timing.flapWindowMs), now];
  const nowHeld = switches.length >= timing.flapMaxSwitches;
  return { state: { switches, heldUntil: nowHeld ? now + timing.flapHoldMs : state.heldUntil }, nowHeld };
}
