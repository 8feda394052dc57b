/** How the CLI prints a node's status and firmware: the same lines for `tandem status`, `tandem monitor`, `tandem firmware` and the console menu. */
import type { z } from 'zod';
import type { FirmwareList, TestReport, Versions } from '../app/firmware/schemas.js';
import type { ReplicationStatus } from '../app/sync/service.js';
import type { NodeStatus } from '../core/ha/status.js';

type SyncStatus = NodeStatus['sync'] & Partial<ReplicationStatus>;

export function formatSync(s: SyncStatus): string {
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const parts: string[] = [s.state];
  if (s.progress !== undefined && s.progress !== null) parts.push(`${mib(s.progress.bytes_left)} and ${String(s.progress.files_left)} files left of ${mib(s.progress.bytes_total)} / ${String(s.progress.files_total)} files`);
  if (s.session !== undefined) parts.push(`session ${s.session}${s.direction === undefined || s.direction === null ? '' : ` (${s.direction})`}`);
  if (s.lag_ms !== undefined && s.lag_ms !== null) parts.push(`lag ${s.lag_ms.toFixed(1)} ms`);
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

export function formatList(l: z.infer<typeof FirmwareList>): string {
  const rows = [['SLOT', 'STATE', 'VERSION', 'TYPE', 'PUBLISHED', 'CURRENT', 'AFTER REBOOT', 'PREVIOUS']];
  for (const s of l.slots) {
    rows.push([String(s.slot), s.state, s.version ?? '-', s.type ?? '-', s.published ?? '-', s.current ? 'yes' : '', s.after_reboot ? 'yes' : '', s.previous === true ? 'yes' : '']);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  const failed = l.slots.filter((s) => s.failure !== null).map((s) => `slot ${String(s.slot)} failed its trial: ${s.failure ?? ''}`);
  return [`Firmwares of node ${l.node}:`, ...lines, ...failed].join('\n');
}

export function formatTest(r: z.infer<typeof TestReport>): string {
  const lines = r.checks.map((c) => `${c.status.toUpperCase().padEnd(4)} ${c.id}: ${c.message}`);
  return [`Test of slot ${String(r.slot)} (Tandem ${r.version}) on node ${r.node}:`, ...lines, r.ok ? 'Test passed' : 'Test FAILED: correct the errors before you upgrade'].join('\n');
}

export function formatVersions(v: z.infer<typeof Versions>): string {
  return v.nodes.map((n) => {
    const head = `${n.this_node ? 'This node ' : 'Other node'} ${n.node}: `;
    if (n.version === null) return `${head}unknown (not heard since this node started)`;
    const support = n.support === null ? 'support unknown' : `${n.support.supported ? 'supported' : 'UNSUPPORTED'}: ${n.support.why}`;
    const extra = [
      n.slot === null ? null : `slot ${String(n.slot)}`,
      n.tainted === null ? null : n.tainted.tainted ? `TAINTED: ${n.tainted.detail}` : 'not tainted',
    ].filter((x) => x !== null);
    return `${head}Tandem ${n.version} (${n.type ?? '?'}${n.published === null ? '' : `, published ${n.published}`}); ${support}${extra.length > 0 ? `; ${extra.join('; ')}` : ''}`;
  }).join('\n');
}
