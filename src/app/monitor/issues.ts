/**
 * What the System Monitor lists as issues (the seed's upgrade checklist: "no issues are displayed
 * on the System Monitor"): everything an operator must look at before an upgrade or a
 * maintenance — in the node's status, on its disks, in its hooks and in its alert delivery.
 */
import type { Disk } from '../../adapters/host/host-stats.js';
import type { StatusView } from '../node-app.js';
import type { HookState } from './monitor.js';

/** A filesystem with less free than this is an issue (and the firmware Test refuses to fill one below it). */
export const MIN_FREE_SHARE = 0.1;

/**
 * A live change unconfirmed by the replica for longer than this is an issue: live replication
 * is not rate limited and takes ms (docs/benchmarks.md), so seconds mean a replica that cannot
 * keep up or a session about to drop — a takeover now would lose those changes.
 */
export const LAG_ISSUE_MS = 5000;

export interface HostFacts {
  readonly disks: readonly Disk[];
  readonly hooks: readonly HookState[];
  /** Webhooks whose oldest alert waits after failed attempts. */
  readonly alertDelivery: readonly { readonly webhook: string; readonly waiting: number; readonly lastError: string | null }[];
  /** Warnings of other services (the license's expiry …). */
  readonly warnings: readonly string[];
}

export function issuesOf(s: StatusView, host?: HostFacts): string[] {
  const issues: string[] = [];
  const c = s.cluster.status;
  if (c !== 'HA' && c !== 'Standalone') issues.push(`cluster ${c}`);
  if (s.cluster.redundant_heartbeat === 'degraded') issues.push('redundant heartbeat degraded');
  if (s.other_node !== null && !s.other_node.reachable) issues.push(`the other node (${s.other_node.name}) is not reachable`);
  if (s.sync.state !== 'UpToDate') issues.push(`data ${s.sync.state}`);
  if (s.sync.refusing !== null) issues.push(`this node receives no data: ${s.sync.refusing}`);
  if (s.sync.lag_ms !== null && s.sync.lag_ms > LAG_ISSUE_MS) issues.push(`replication lag ${(s.sync.lag_ms / 1000).toFixed(1)} s: the replica has not confirmed the oldest change`);
  if (s.takeover_veto !== null) issues.push(`takeover veto: ${s.takeover_veto}`);
  if (s.flap_limiter.held_until_ms !== null) issues.push('next-hop switching held by the flap limiter');
  for (const hop of s.next_hops) {
    if (hop.this_node.reachable === false) issues.push(`next hop ${hop.this_node.address} on ${hop.interface} unreachable from this node`);
  }
  if (s.firmware.trial !== null) issues.push(`firmware slot ${String(s.firmware.trial.slot)} is on trial`);
  if (host === undefined) return issues;
  for (const d of host.disks) {
    if (d.fs !== 'tmpfs' && d.available < MIN_FREE_SHARE * (d.used + d.available)) issues.push(`filesystem ${d.mount} is ${String(d.used_percent)} % full`);
  }
  for (const h of host.hooks) if (h.state === 'failed') issues.push(`hook ${h.hook} (${h.script}) failed: ${h.detail}`);
  for (const w of host.alertDelivery) {
    if (w.waiting > 0 && w.lastError !== null) issues.push(`alert webhook ${w.webhook}: ${String(w.waiting)} alert(s) waiting (${w.lastError})`);
  }
  issues.push(...host.warnings);
  return issues;
}
