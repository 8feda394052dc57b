/** How the CLI prints a node's status: the same lines for `tandem status`, `tandem monitor` and the console menu. */
import type { ReplicationStatus } from '../app/sync/service.js';
import type { NodeStatus } from '../core/ha/status.js';

type SyncStatus = NodeStatus['sync'] & Partial<ReplicationStatus>;

export function formatSync(s: SyncStatus): string {
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const parts: string[] = [s.state];
  if (s.progress !== undefined && s.progress !== null) parts.push(`${mib(s.progress.bytes_left)} and ${String(s.progress.files_left)} files left of ${mib(s.progress.bytes_total)} / ${String(s.progress.files_total)} files`);
  if (s.session !== undefined) parts.push(`session ${s.session}${s.direction === undefined || s.direction === null ? '' : ` (${s.direction})`}`);
  parts.push(`generation ${s.generation}`);
  const line = parts.join(', ');
  return s.refusing !== undefined && s.refusing !== null ? `${line}\n            RECEIVING NOTHING: ${s.refusing}` : line;
}

export function formatStatus(s: NodeStatus): string {
  const yes = (b: boolean | null) => (b === null ? 'unknown' : b ? 'reachable' : 'UNREACHABLE');
  const lines = [
    `Cluster ${s.cluster.name}: ${s.cluster.status}${s.cluster.redundant_heartbeat === null ? '' : `, redundant heartbeat ${s.cluster.redundant_heartbeat}`} (timing ${s.cluster.timing})`,
    `This node   ${s.this_node.name}: ${s.this_node.role}${s.this_node.serving ? ' (serving)' : ''} — ${s.this_node.reason}`,
    s.other_node === null ? 'Other node  none configured'
      : `Other node  ${s.other_node.name}: ${s.other_node.role ?? 'unknown'}, ${s.other_node.reachable ? 'reachable' : 'NOT REACHABLE'}`,
    `Heartbeat   ${s.heartbeat_paths.map((p) => `${p.path}${p.ha_link ? ' (HA link)' : ''} ${p.up ? 'up' : 'DOWN'}`).join(', ')}`,
    'Next hops:',
    ...s.next_hops.map((n) => `  ${n.interface.padEnd(8)} this node ${n.this_node.address} ${yes(n.this_node.reachable)}; other node ${n.other_node.address ?? '-'} ${yes(n.other_node.reachable)}`),
    `Sync        ${formatSync(s.sync)}`,
  ];
  if (s.takeover_veto !== null) lines.push(`Takeover veto: ${s.takeover_veto}`);
  return lines.join('\n');
}
