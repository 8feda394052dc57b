import type { NextHopTarget } from '../config.js';
import type { InterfaceReach } from '../ha/report.js';
import type { Millis } from '../time.js';
import type { TimingProfile } from '../timing.js';

/**
 * Next-hop monitor of one node: schedules ICMP echoes to every target, matches replies, and
 * judges each target with a k-of-n filter (down after `probeFall` misses in the last
 * `probeWindow` probes, up again after `probeRise` replies in a row). Pure: probes leave as
 * data, replies and time come in.
 */
export type Judgement = 'unknown' | 'up' | 'down';

export interface TargetState {
  readonly target: NextHopTarget;
  /** Outcomes of the last `probeWindow` probes, oldest first (true = answered in time). */
  readonly outcomes: readonly boolean[];
  /** Consecutive answered probes, for the rise threshold. */
  readonly streak: number;
  readonly judged: Judgement;
  readonly inFlight: readonly { readonly seq: number; readonly sentAt: Millis }[];
  readonly nextProbeAt: Millis;
}

export interface MonitorState {
  readonly targets: readonly TargetState[];
  /** ICMP sequence numbers are 16-bit; shared by all targets so a reply matches one probe. */
  readonly nextSeq: number;
}

export interface Probe {
  readonly interface: string;
  readonly address: string;
  readonly seq: number;
}

export interface JudgementChange {
  readonly target: NextHopTarget;
  readonly from: Judgement;
  readonly to: Judgement;
}

export function initMonitor(targets: readonly NextHopTarget[], now: Millis): MonitorState {
  return { targets: targets.map((target) => freshTarget(target, now)), nextSeq: 1 };
}

/**
 * Applies a new target list live (next-hop changes need no reboot): targets that stay keep
 * their history, new ones start unknown (so the interface is not ready and the rule waits).
 */
export function reconfigureMonitor(state: MonitorState, targets: readonly NextHopTarget[], now: Millis): MonitorState {
  return {
    ...state,
    targets: targets.map((target) => {
      const kept = state.targets.find((t) => sameTarget(t.target, target));
      return kept ? { ...kept, target } : freshTarget(target, now);
    }),
  };
}

/** Advances time: expires unanswered probes as misses and sends the probes that are due. */
export function tickMonitor(
  state: MonitorState,
  now: Millis,
  timing: TimingProfile,
): { state: MonitorState; probes: Probe[]; changes: JudgementChange[] } {
  const probes: Probe[] = [];
  const changes: JudgementChange[] = [];
  let nextSeq = state.nextSeq;
  const targets = state.targets.map((t) => {
    let next = t;
    const expired = next.inFlight.filter((p) => now - p.sentAt >= timing.probeTimeoutMs);
    if (expired.length > 0) {
      next = { ...next, inFlight: next.inFlight.filter((p) => now - p.sentAt < timing.probeTimeoutMs) };
      for (let i = 0; i < expired.length; i++) next = record(next, false, timing, changes);
    }
    if (now >= next.nextProbeAt) {
      const seq = nextSeq;
      nextSeq = nextSeq >= 0xffff ? 1 : nextSeq + 1;
      probes.push({ interface: next.target.interface, address: next.target.address, seq });
      // Keep the cadence, but never try to catch up on probes missed while we were not ticking.
      const due = next.nextProbeAt + timing.probeIntervalMs;
      next = {
        ...next,
        inFlight: [...next.inFlight, { seq, sentAt: now }],
        nextProbeAt: due > now ? due : now + timing.probeIntervalMs,
      };
    }
    return next;
  });
  return { state: { targets, nextSeq }, probes, changes };
}

/**
 * An echo reply arrived; one that matches no probe in flight (late, duplicate, forged) is ignored.
 * Probes of the same target sent before the answered one count as misses (see below).
 */
export function replyMonitor(
  state: MonitorState,
  reply: Probe,
  timing: TimingProfile,
): { state: MonitorState; changes: JudgementChange[]; matched: boolean } {
  const changes: JudgementChange[] = [];
  const index = state.targets.findIndex((t) => t.target.interface === reply.interface &&
    t.target.address === reply.address && t.inFlight.some((p) => p.seq === reply.seq));
  const t = state.targets[index];
  if (t === undefined) return { state, changes, matched: false };
  // Fix: the outcomes must stay in the order the probes were sent. A probe that was lost used to
  // be recorded only at its timeout, i.e. after the replies to up to two later probes, so it
  // broke their rise streak (a lost probe followed by `probeRise` replies did not bring the
  // target up) and shifted the k-of-n window. An echo from a next hop on the local segment
  // comes back in order: a reply to a later probe means the earlier ones in flight were lost.
  const at = t.inFlight.findIndex((p) => p.seq === reply.seq);
  let answered: TargetState = { ...t, inFlight: t.inFlight.slice(at + 1) };
  for (let i = 0; i < at; i++) answered = record(answered, false, timing, changes);
  answered = record(answered, true, timing, changes);
  return { state: { ...state, targets: state.targets.map((x, i) => (i === index ? answered : x)) }, changes, matched: true };
}

/** Forgets probes in flight without judging them: after a freeze they say nothing about the path. */
export function forgetInFlight(state: MonitorState, now: Millis, timing: TimingProfile): MonitorState {
  return {
    ...state,
    targets: state.targets.map((t) => ({ ...t, inFlight: [], nextProbeAt: Math.min(t.nextProbeAt, now + timing.probeIntervalMs) })),
  };
}

/** The per-interface reachability this node reports and compares. */
export function monitorView(state: MonitorState): InterfaceReach[] {
  const byInterface = new Map<string, { score: number; total: number; ready: boolean }>();
  for (const t of state.targets) {
    const entry = byInterface.get(t.target.interface) ?? { score: 0, total: 0, ready: true };
    entry.total += t.target.weight;
    if (t.judged === 'up') entry.score += t.target.weight;
    if (t.judged === 'unknown') entry.ready = false;
    byInterface.set(t.target.interface, entry);
  }
  return [...byInterface.entries()].map(([name, e]) => ({ interface: name, ...e }));
}

function freshTarget(target: NextHopTarget, now: Millis): TargetState {
  return { target, outcomes: [], streak: 0, judged: 'unknown', inFlight: [], nextProbeAt: now };
}

function sameTarget(a: NextHopTarget, b: NextHopTarget): boolean {
  return a.interface === b.interface && a.address === b.address;
}

function record(t: TargetState, answered: boolean, timing: TimingProfile, changes: JudgementChange[]): TargetState {
  const outcomes = [...t.outcomes, answered].slice(-timing.probeWindow);
  const streak = answered ? t.streak + 1 : 0;
  const misses = outcomes.filter((o) => !o).length;
  let judged = t.judged;
  if (judged !== 'down' && misses >= timing.probeFall) judged = 'down';
  else if (judged !== 'up' && streak >= timing.probeRise) judged = 'up';
  if (judged !== t.judged) changes.push({ target: t.target, from: t.judged, to: judged });
  return { ...t, outcomes, streak, judged };
}
