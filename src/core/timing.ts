import type { Millis } from './time.js';

/**
 * Every timing constant of the HA core. Two profiles: `default` (LAN appliances, tolerant of a
 * busy host) and `fast` (sub-second failover on a quiet, dedicated link). The targets they are
 * sized for are in ANCHORS.md; the measured figures are in docs/benchmarks.md.
 */
export interface TimingProfile {
  readonly name: TimingProfileName;
  /** How often the shell feeds a `tick`; the granularity of every decision below. */
  readonly tickMs: Millis;
  /** Heartbeat period on every path. */
  readonly heartbeatIntervalMs: Millis;
  /** A path is down when nothing authentic arrived on it for this long; the peer is lost when every path is down. */
  readonly peerDeadAfterMs: Millis;
  /** At start, no primary role before the peer was heard or this long has passed. */
  readonly startupHoldMs: Millis;
  /** ICMP echo period per monitored target. */
  readonly probeIntervalMs: Millis;
  /** An echo not answered within this is a miss. */
  readonly probeTimeoutMs: Millis;
  /** The k-of-n filter: a target is judged down when `probeFall` of the last `probeWindow` probes missed… */
  readonly probeWindow: number;
  readonly probeFall: number;
  /** …and up again after `probeRise` consecutive replies. */
  readonly probeRise: number;
  /** A probe unanswered this long makes its target suspect: it is then probed on every tick (a burst). */
  readonly suspectAfterMs: Millis;
  /** A burst sends at most this many probes to its target (the per-target budget). */
  readonly burstProbes: number;
  /** Burst probes of the whole node per second, at most (the cap of a burst storm), on top of the regular ones. */
  readonly burstCapPerSec: number;
  /**
   * Evidence rule (peers speaking HA protocol 2): the peer's answered probe must have been sent
   * at least this long (plus the clock mapping's error bound) after the primary's loss began.
   */
  readonly evidenceMarginMs: Millis;
  /**
   * Hold rule (only with a peer on HA protocol 1, which sends no evidence): the comparative rule
   * must hold continuously this long before a forced takeover.
   */
  readonly nextHopHoldMs: Millis;
  /** A peer's next-hop report older than this is stale: the rule is not evaluated (stale ≠ "0 reachable"). */
  readonly peerViewMaxAgeMs: Millis;
  /** After an automatic next-hop switch, no other next-hop switch for this long. */
  readonly minDwellMs: Millis;
  /** At most `flapMaxSwitches` next-hop switches within `flapWindowMs`; then switching is held… */
  readonly flapWindowMs: Millis;
  readonly flapMaxSwitches: number;
  /** …for this long (or until the operator clears it), with an alarm. */
  readonly flapHoldMs: Millis;
  /** A primary that yielded takes the role back if its peer has not promoted within this. */
  readonly handoverTimeoutMs: Millis;
  /** A gap between two ticks longer than this means this process was frozen (SIGSTOP, VM pause). */
  readonly freezeGapMs: Millis;
  /** After a freeze, liveness is not judged for this long, so queued heartbeats are read first. */
  readonly freezeGraceMs: Millis;
  /** Heartbeats whose sender clock differs from ours by more than this are rejected (anti-replay). */
  readonly replayWindowMs: Millis;
  /** Reboot Cluster waits this long for the rebooted secondary before giving up (primary untouched). */
  readonly rebootClusterTimeoutMs: Millis;
}

export const TIMING_PROFILE_NAMES = ['default', 'fast'] as const;
export type TimingProfileName = (typeof TIMING_PROFILE_NAMES)[number];

const DEFAULT: TimingProfile = {
  name: 'default',
  // 20 ms keeps decision quantization well under the 0.1 s scale of the targets, and costs
  // nothing measurable (one small function call per tick).
  tickMs: 20,
  // 10 heartbeats per second: a lost datagram or two never looks like a dead peer, and the
  // dead interval below is still short. Slower makes peer death detection coarser.
  heartbeatIntervalMs: 100,
  // 10 missed heartbeats. Shorter (< 0.5 s) mistakes a GC pause or a scheduling hiccup of a
  // busy host for a dead peer (split brain); longer misses the 2 s peer-death target once the
  // VIP move and the gratuitous ARP are added.
  peerDeadAfterMs: 1000,
  // Long enough for the peer's daemon to start and be heard when both nodes boot together
  // (systemd brings the network up within seconds); too short makes both nodes primary for a
  // moment at a cold start, too long delays service when one node boots alone.
  startupHoldMs: 5000,
  // 10 probes per second per target: the design point of the CPU target (256 targets).
  probeIntervalMs: 100,
  // A LAN router answers within a millisecond; 250 ms tolerates a control plane that
  // deprioritizes ICMP. Longer delays detection by the same amount.
  probeTimeoutMs: 250,
  // An outage is 16 unanswered probes in a row (fall = window), most of them sent in a burst:
  // random loss almost never makes that run (10 % loss: 1 in 10^16 per miss; 30 %: 1 in 7·10^7,
  // about 0.01 runs per target-day at this rate), so "down" needs no hold to filter it. 2 replies
  // in a row bring a target back. Fewer misses make 30 % loss look like an outage; more add one
  // tick of detection each.
  probeWindow: 16,
  probeFall: 16,
  probeRise: 2,
  // A LAN next hop answers within a millisecond: 30 ms without a reply is already unusual, and
  // waiting longer only delays the burst. Shorter would burst on ordinary scheduling jitter.
  suspectAfterMs: 30,
  // Enough for the outage run (16) with room for a few replies scattered by loss; a burst ends
  // earlier once `probeRise` replies came in a row or the target is judged down.
  burstProbes: 32,
  // 256 targets × 10/s: a storm that suspects every target at once at most doubles the regular
  // probe rate (the measured cost of both is in docs/benchmarks.md). Lower slows detection only
  // in such a storm (bursts wait their turn); higher lets a storm cost more CPU.
  burstCapPerSec: 2560,
  // One tick: covers the time between the core emitting a probe and the prober sending it, which
  // the recorded send times do not see. Larger delays takeovers for nothing; smaller could read a
  // reply the peer got just before a shared router died as fresh evidence.
  evidenceMarginMs: 20,
  // Only with a peer on HA protocol 1 (no evidence in its heartbeats). Must exceed the skew
  // between the two nodes noticing a shared router's loss (up to 2 s) plus detection jitter, or
  // "both lost it" becomes a takeover.
  nextHopHoldMs: 2200,
  // Five heartbeat periods: a report that old means heartbeats are being lost, and comparing
  // against it could act on a view the peer no longer has.
  peerViewMaxAgeMs: 500,
  // After a forced takeover the new primary keeps the role at least this long, so a router
  // that flaps cannot bounce the service faster than clients re-learn the address.
  minDwellMs: 30_000,
  // Palo Alto suspends after 3 flaps, FortiGate holds 60 min; 3 switches in 10 min then a
  // 30 min hold stops a flapping path from churning the service while staying self-healing.
  flapWindowMs: 600_000,
  flapMaxSwitches: 3,
  flapHoldMs: 1_800_000,
  // Ten heartbeat periods for the peer to answer a handover; if it does not (its veto came
  // up meanwhile), the yielding primary takes the role back instead of leaving none.
  handoverTimeoutMs: 1000,
  // Half the dead interval: a tick that late means we could not have read heartbeats in time.
  freezeGapMs: 500,
  // Three heartbeat periods: enough for queued datagrams to be read after a resume.
  freezeGraceMs: 300,
  // Nodes are expected to run NTP; 60 s tolerates a poor clock while making a captured
  // heartbeat useless a minute later (sequence numbers cover replays within the window).
  replayWindowMs: 60_000,
  // A physical appliance can take several minutes to reboot; after this the primary stays put.
  rebootClusterTimeoutMs: 900_000,
};

const FAST: TimingProfile = {
  ...DEFAULT,
  name: 'fast',
  // Finer ticks so that the 0.5 s peer-death budget is not eaten by quantization.
  tickMs: 10,
  // 40 heartbeats per second on a dedicated link: about 20 kB/s, nothing for the link.
  heartbeatIntervalMs: 25,
  // 8 missed heartbeats; needs a host that is not CPU-starved (see docs/operations.md).
  peerDeadAfterMs: 200,
  startupHoldMs: 3000,
  probeIntervalMs: 50,
  // The outage run's last miss is known only at its timeout, which is thus a whole term of the
  // detection (measured in the lab: 100 ms of the 0.49 s next-hop failover). On the quiet,
  // dedicated segment this profile is for, a router answers within a millisecond; 40 ms still
  // tolerates a busy host (replies are read before the tick that would expire them) and random
  // late replies only count as misses, which the 16-in-a-row run filters like loss.
  probeTimeoutMs: 40,
  // Same outage run as the default profile (16 in a row): at twice the probe rate, about 0.02
  // runs per target-day at 30 % loss; detection stays under 0.4 s.
  probeWindow: 16,
  probeFall: 16,
  probeRise: 2,
  // Half the default: the finer tick allows it, and each ms here is a ms of detection.
  suspectAfterMs: 15,
  // At a 10 ms tick a burst is 100 probes/s per target: the same node-wide cap.
  evidenceMarginMs: 10,
  // Hold rule with a protocol-1 peer only: tolerates losses noticed up to ~0.5 s apart.
  nextHopHoldMs: 550,
  peerViewMaxAgeMs: 150,
  handoverTimeoutMs: 300,
  freezeGapMs: 100,
  freezeGraceMs: 75,
};

export const TIMING_PROFILES: Readonly<Record<TimingProfileName, TimingProfile>> = {
  default: DEFAULT,
  fast: FAST,
};
