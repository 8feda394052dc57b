/**
 * What the System Monitor lists as issues (the seed's upgrade checklist: "no issues are displayed
 * on the System Monitor"): everything in the node's status an operator must look at before an
 * upgrade or a maintenance.
 */
import type { StatusView } from '../node-app.js';

export function issuesOf(s: StatusView): string[] {
  const issues: string[] = [];
  const c = s.cluster.status;
  if (c !== 'HA' && c !== 'Standalone') issues.push(`cluster ${c}`);
  if (s.cluster.redundant_heartbeat === 'degraded') issues.push('redundant heartbeat degraded');
  if (s.other_node !== null && !s.other_node.reachable) issues.push(`the other node (${s.other_node.name}) is not reachable`);
  if (s.sync.state !== 'UpToDate') issues.push(`data ${s.sync.state}`);
  if (s.sync.refusing !== null) issues.push(`this node receives no data: ${s.sync.refusing}`);
  if (s.takeover_veto !== null) issues.push(`takeover veto: ${s.takeover_veto}`);
  if (s.flap_limiter.held_until_ms !== null) issues.push('next-hop switching held by the flap limiter');
  for (const hop of s.next_hops) {
    if (hop.this_node.reachable === false) issues.push(`next hop ${hop.this_node.address} on ${hop.interface} unreachable from this node`);
  }
  if (s.firmware.trial !== null) issues.push(`firmware slot ${String(s.firmware.trial.slot)} is on trial`);
  return issues;
}
