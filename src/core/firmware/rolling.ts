/**
 * The one-action HA cluster upgrade (`tandem cluster upgrade SLOT`), as a pure planner: given the
 * plan and the facts gathered now, the next step (balena-supervisor's shape: facts in, steps out,
 * one executor per step kind in app/firmware/cluster-upgrade.ts).
 *
 * The order is FortiGate's, made safe by the trial boot: the secondary first (activated, rebooted,
 * on trial); only once it is back on the new firmware, committed, in the cluster and `UpToDate`,
 * one planned handover to it and then this node's own reboot into the new firmware. Any failure
 * before the handover stops with the serving node untouched: a secondary that falls back, or
 * never comes back, leaves the primary serving on the old firmware. Mixed versions run side by
 * side meanwhile (Test checked that their HA protocol ranges overlap).
 *
 * The plan survives this node's own reboot (it is persisted): the daemon that starts after it —
 * the new firmware, or the old one after a fallback — finishes it.
 */

export type RollPhase =
  /** The checks passed; nothing was changed yet except the configuration freeze. */
  | 'start'
  /** The secondary was told to boot the new firmware and reboot. */
  | 'secondary'
  /** This node handed over and is rebooting into the new firmware. */
  | 'self'
  | 'done'
  | 'failed';

export interface RollPlan {
  readonly version: 1;
  readonly id: string;
  /** The firmware everything moves to. */
  readonly target: { readonly version: string; readonly bundle: string };
  /** Each node's slot holding the target, and the activation that selected it (null until then). */
  readonly self: { readonly node: string; readonly slot: number; readonly activation: string | null };
  readonly peer: { readonly node: string; readonly slot: number; readonly activation: string | null };
  readonly phase: RollPhase;
  /** Wall-clock ms: when the plan started, and when the current phase did. */
  readonly started: number;
  readonly since: number;
  readonly result: string | null;
}

/** What the executor found out, this round. */
export interface RollFacts {
  readonly now: number;
  readonly self: {
    readonly role: string;
    readonly version: string;
    readonly onTrial: boolean;
    /** Why this node's launcher fell back from the plan's activation, or null. */
    readonly fellBack: string | null;
  };
  /** Null when the other node cannot be reached (heartbeats, or the peer call failed). */
  readonly peer: {
    readonly version: string;
    readonly onTrial: boolean;
    /** Its launcher acted on the plan's activation (the reboot into the target happened). */
    readonly trialStarted: boolean;
    /** Why its launcher fell back from the plan's activation, or null. */
    readonly fellBack: string | null;
    /** In the cluster with this node, data UpToDate. */
    readonly inSync: boolean;
  } | null;
}

export type RollStep =
  | { readonly kind: 'upgrade-peer' }
  | { readonly kind: 'upgrade-self' }
  | { readonly kind: 'finish'; readonly ok: boolean; readonly message: string }
  | { readonly kind: 'wait'; readonly message: string };

export interface RollLimits {
  /** How long the secondary gets to come back committed on the new firmware (its trial time plus a margin). */
  readonly peerMs: number;
  /** How long this node's own trial may take. */
  readonly selfMs: number;
}

export function nextRollStep(plan: RollPlan, f: RollFacts, limits: RollLimits): RollStep {
  const t = plan.target.version;
  switch (plan.phase) {
    case 'start':
      return { kind: 'upgrade-peer' };
    case 'secondary': {
      const p = f.peer;
      if (p?.fellBack !== null && p?.fellBack !== undefined) {
        return { kind: 'finish', ok: false, message: `${plan.peer.node} did not keep Tandem ${t}: ${p.fellBack}; it runs Tandem ${p.version} again and ${plan.self.node} keeps serving on its firmware, untouched` };
      }
      if (p !== null && p.trialStarted && p.version === t && !p.onTrial && p.inSync) return { kind: 'upgrade-self' };
      if (f.now - plan.since > limits.peerMs) {
        return { kind: 'finish', ok: false, message: `${plan.peer.node} did not come back healthy on Tandem ${t} within ${Math.round(limits.peerMs / 1000)} s; ${plan.self.node} keeps serving on its firmware, untouched` };
      }
      if (p === null) return { kind: 'wait', message: `waiting for ${plan.peer.node} to come back` };
      if (!p.trialStarted) return { kind: 'wait', message: `waiting for ${plan.peer.node} to reboot into Tandem ${t}` };
      if (p.onTrial) return { kind: 'wait', message: `${plan.peer.node} runs Tandem ${p.version} on trial: waiting until it is healthy and committed` };
      return { kind: 'wait', message: `${plan.peer.node} runs Tandem ${p.version}: waiting until it is UpToDate` };
    }
    case 'self': {
      if (f.self.fellBack !== null) {
        return { kind: 'finish', ok: false, message: `${plan.self.node} did not keep Tandem ${t}: ${f.self.fellBack}; it is back on Tandem ${f.self.version}, ${plan.peer.node} serves on Tandem ${t} (mixed versions: test and activate again, or downgrade ${plan.peer.node})` };
      }
      if (f.self.version === t && !f.self.onTrial) return { kind: 'finish', ok: true, message: `both nodes run Tandem ${t}` };
      if (f.now - plan.since > limits.selfMs) {
        return { kind: 'finish', ok: false, message: `${plan.self.node} did not become healthy on Tandem ${t} within ${Math.round(limits.selfMs / 1000)} s` };
      }
      return { kind: 'wait', message: f.self.version === t ? `${plan.self.node} runs Tandem ${t} on trial: waiting until it is healthy and committed` : `${plan.self.node} is rebooting into Tandem ${t}` };
    }
    case 'done':
    case 'failed':
      return { kind: 'finish', ok: plan.phase === 'done', message: plan.result ?? '' };
  }
}
