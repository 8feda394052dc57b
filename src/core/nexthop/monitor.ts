import type { NextHopTarget } from '../config.js';
import type { InterfaceReach } from '../ha/report.js';
import type { Millis } from '../time.js';
import type { TimingProfile } from '../timing.js';

/**
 * Next-hop monitor of one node: schedules ICMP echoes to every target, matches replies, and
 * judges each target with a k-of-n filter (down after `probeFall` misses in the last
 * `probeWindow` probes, up again after `probeRise` replies in a row). Pure: probes leave as
 * data, replies and time come in.
 *
 * Suspicion bursts: a probe unanswered for `suspectAfterMs` (or the peer saying it suspects the
 * same interface) makes the target suspect, and it is then probed on every tick, at most
 * `burstProbes` times, within a node-wide `burstCapPerSec`. The outage run (`probeFall` misses
 * in a row) is thus made of burst probes and is known within a few hundred ms, while random loss
 * almost never makes such a run: no hold is needed to filter it.
 *
 * Evidence: each target keeps the send time of its last answered probe and, when judged down,
 * the send time of the miss that brought it down (its loss is dated by it). The primary compares
 * its loss with the peer's answers (src/core/nexthop/rule.ts, evidenceHolds).
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
  /** Burst probes left to send (0: no burst). */
  readonly burstLeft: number;
  /** Send time of the last probe that was answered, or null. */
  readonly answeredAt: Millis | null;
  /**
   * While judged down: when the loss is dated — the send time of the miss that completed the
   * run (see record()). Null otherwise.
   */
  readonly lostSince: Millis | null;
}

export interface MonitorState {
  readonly targets: readonly TargetState[];
  /** ICMP sequence numbers are 16-bit; shared by all targets so a reply matches one probe. */
  readonly nextSeq: number;
  /** Burst probes sent per tick are capped: the credit left (fractional), refilled with time. */
  readonly burstCredit: number;
  readonly creditAt: Millis;
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
  return { targets: targets.map((target) => freshTarget(target, now)), nextSeq: 1, burstCredit: 0, creditAt: now };
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

/**
 * Advances time: expires unanswered probes as misses, starts a burst on a target whose probe is
 * overdue, and sends the probes that are due (regular ones at `probeIntervalMs`, burst ones on
 * every tick within the node-wide cap).
 */
export function tickMonitor(
  state: MonitorState,
  now: Millis,
  timing: TimingProfile,
): { state: MonitorState; probes: Probe[]; changes: JudgementChange[] } {
  const probes: Probe[] = [];
  const changes: JudgementChange[] = [];
  let nextSeq = state.nextSeq;
  // The cap as a credit that fills at burstCapPerSec, holding at most one second's worth: ticks
  // of any length share it fairly, and a storm can never send more than the cap.
  let credit = Math.min(timing.burstCapPerSec, state.burstCredit + ((now - state.creditAt) / 1000) * timing.burstCapPerSec);
  const send = (t: TargetState): TargetState => {
    const seq = nextSeq;
    nextSeq = nextSeq >= 0xffff ? 1 : nextSeq + 1;
    probes.push({ interface: t.target.interface, address: t.target.address, seq });
    return { ...t, inFlight: [...t.inFlight, { seq, sentAt: now }] };
  };
  const targets = state.targets.map((t) => {
    let next = t;
    const expired = next.inFlight.filter((p) => now - p.sentAt >= timing.probeTimeoutMs);
    if (expired.length > 0) {
      next = { ...next, inFlight: next.inFlight.filter((p) => now - p.sentAt < timing.probeTimeoutMs) };
      for (const p of expired) next = record(next, false, p.sentAt, timing, changes);
    }
    next = settleBurst(next, now, timing);
    if (next.burstLeft === 0 && next.judged !== 'down' && next.inFlight.some((p) => now - p.sentAt >= timing.suspectAfterMs)) {
      next = startBurst(next, timing);
    }
    if (next.burstLeft > 0) {
      if (credit >= 1) {
        credit -= 1;
        next = { ...send(next), burstLeft: next.burstLeft - 1 };
      }
    } else if (now >= next.nextProbeAt) {
      // Keep the cadence, but never try to catch up on probes missed while we were not ticking.
      const due = next.nextProbeAt + timing.probeIntervalMs;
      next = { ...send(next), nextProbeAt: due > now ? due : now + timing.probeIntervalMs };
    }
    return next;
  });
  return { state: { targets, nextSeq, burstCredit: credit, creditAt: now }, probes, changes };
}

/**
 * The peer suspects these interfaces (its heartbeat says so): burst our targets there too, so
 * that both nodes gather evidence on the same next hops at the same time.
 */
export function suspectInterfaces(state: MonitorState, interfaces: readonly string[], timing: TimingProfile): MonitorState {
  if (interfaces.length === 0) return state;
  return {
    ...state,
    targets: state.targets.map((t) =>
      interfaces.includes(t.target.interface) && t.burstLeft === 0 && t.judged !== 'down' ? startBurst(t, timing) : t),
  };
}

/**
 * The reply streak starts over with the burst, so that only replies to burst probes (not those
 * from before the suspicion) end it. The streak matters for the judgement only while the target
 * is not up, where it is short anyway.
 */
function startBurst(t: TargetState, timing: TimingProfile): TargetState {
  return { ...t, burstLeft: timing.burstProbes, streak: 0 };
}

/** A burst ends once the target answered `probeRise` times in a row or was judged down. */
function settleBurst(t: TargetState, now: Millis, timing: TimingProfile): TargetState {
  if (t.burstLeft === 0 || (t.streak < timing.probeRise && t.judged !== 'down')) return t;
  return { ...t, burstLeft: 0, nextProbeAt: Math.max(t.nextProbeAt, now + timing.probeIntervalMs) };
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
  for (const p of t.inFlight.slice(0, at)) answered = record(answered, false, p.sentAt, timing, changes);
  answered = record(answered, true, t.inFlight[at]?.sentAt ?? 0, timing, changes);
  return { state: { ...state, targets: state.targets.map((x, i) => (i === index ? answered : x)) }, changes, matched: true };
}

/** Forgets probes in flight without judging them: after a freeze they say nothing about the path. */
export function forgetInFlight(state: MonitorState, now: Millis, timing: TimingProfile): MonitorState {
  return {
    ...state,
    targets: state.targets.map((t) => ({ ...t, inFlight: [], nextProbeAt: Math.min(t.nextProbeAt, now + timing.probeIntervalMs) })),
    // A frozen node gets no burst credit for the time it did not run.
    burstCredit: 0,
    creditAt: now,
  };
}

/**
 * The per-interface reachability this node reports and compares, with its evidence: whether a
 * target there is suspect (bursting or down), the oldest last-answered send time among the
 * targets judged up (every one of them answered a probe sent at or after it), and the latest
 * loss start among the targets judged down. Times are this node's monotonic clock, rounded
 * the safe way for the wire (answers earlier, losses later).
 */
export function monitorView(state: MonitorState): InterfaceReach[] {
  interface Entry { score: number; total: number; ready: boolean; suspect: boolean; answeredAt: number | null; lostSince: number | null }
  const byInterface = new Map<string, Entry>();
  for (const t of state.targets) {
    const entry = byInterface.get(t.target.interface) ??
      { score: 0, total: 0, ready: true, suspect: false, answeredAt: null, lostSince: null };
    entry.total += t.target.weight;
    if (t.judged === 'up') {
      entry.score += t.target.weight;
      const answered = t.answeredAt === null ? null : Math.floor(t.answeredAt);
      // A target judged up without a known answer (not possible today) would make no evidence.
      entry.answeredAt = answered === null ? -Infinity : Math.min(entry.answeredAt ?? Infinity, answered);
    }
    if (t.judged === 'down' && t.lostSince !== null) entry.lostSince = Math.max(entry.lostSince ?? -Infinity, Math.ceil(t.lostSince));
    if (t.judged === 'unknown') entry.ready = false;
    if (t.burstLeft > 0 || t.judged === 'down') entry.suspect = true;
    byInterface.set(t.target.interface, entry);
  }
  return [...byInterface.entries()].map(([name, e]) => ({
    interface: name, score: e.score, total: e.total, ready: e.ready,
    suspect: e.suspect, answeredAt: e.answeredAt === -Infinity ? null : e.answeredAt, lostSince: e.lostSince,
  }));
}

function freshTarget(target: NextHopTarget, now: Millis): TargetState {
  return {
    target, outcomes: [], streak: 0, judged: 'unknown', inFlight: [], nextProbeAt: now,
    burstLeft: 0, answeredAt: null, lostSince: null,
  };
}

function sameTarget(a: NextHopTarget, b: NextHopTarget): boolean {
  return a.interface === b.interface && a.address === b.address;
}

/** One probe's outcome, in send order; `sentAt` is when that probe left. */
function record(t: TargetState, answered: boolean, sentAt: Millis, timing: TimingProfile, changes: JudgementChange[]): TargetState {
  const outcomes = [...t.outcomes, answered].slice(-timing.probeWindow);
  const streak = answered ? t.streak + 1 : 0;
  const misses = outcomes.filter((o) => !o).length;
  let judged = t.judged;
  let lostSince = t.lostSince;
  if (judged !== 'down' && misses >= timing.probeFall) {
    judged = 'down';
    // Dated by the miss that completed the run, not by its first: the first misses may be random
    // loss from before the next hop died, but random loss almost never makes the whole run, so
    // when the next hop really died at D this probe left after D. Dating the loss earlier would
    // let answers the peer got before D count as fresh (rule.ts, evidenceHolds).
    lostSince = sentAt;
  } else if (judged !== 'up' && streak >= timing.probeRise) {
    judged = 'up';
    lostSince = null;
  }
  if (judged !== t.judged) changes.push({ target: t.target, from: t.judged, to: judged });
  return { ...t, outcomes, streak, judged, lostSince, answeredAt: answered ? Math.max(t.answeredAt ?? sentAt, sentAt) : t.answeredAt };
}
