/**
 * The seed's upgrade checklist, item by item, from facts the shell gathers: a configuration
 * backup, no issues on the System Monitor, HA not degraded, core files exported (an upgrade
 * removes them), a snapshot of the virtual machine. What can be checked is checked; what
 * cannot (a VM snapshot is taken outside the node) must be acknowledged by the operator.
 */

export const CHECKLIST_ITEMS = ['config-export', 'system-monitor', 'ha-not-degraded', 'core-files', 'vm-snapshot'] as const;
export type ChecklistItemId = (typeof CHECKLIST_ITEMS)[number];

export type ChecklistState =
  /** Checked: fine. */
  | 'ok'
  /** Checked: not fine (the message says what to do). */
  | 'attention'
  /** Cannot be checked here: the operator confirms it with --ack. */
  | 'unverified'
  | 'acknowledged'
  /** Does not apply to this node. */
  | 'n/a';

export interface ChecklistItem {
  readonly id: ChecklistItemId;
  readonly title: string;
  readonly state: ChecklistState;
  readonly message: string;
}

export interface ChecklistFacts {
  /** Wall-clock ms. */
  readonly now: number;
  /** When the configuration was last exported, or null if never (as far as this node knows). */
  readonly lastExportAt: number | null;
  /** What the System Monitor would list as issues now. */
  readonly monitorIssues: readonly string[];
  /** Cluster status (HA, Degraded, …) and the redundant heartbeat state. */
  readonly cluster: string;
  readonly redundantHeartbeat: 'ok' | 'degraded' | null;
  /** Core files waiting in the core directory, or null when no core directory is configured. */
  readonly coreFiles: number | null;
  /** The virtualization the node runs under (`kvm`, `docker`…), or null on bare metal. */
  readonly virtualization: string | null;
}

/** An export older than this does not count as a recent configuration backup. */
export const EXPORT_MAX_AGE_MS = 7 * 24 * 3600_000;

export function evaluateChecklist(f: ChecklistFacts, acks: readonly string[]): ChecklistItem[] {
  const acked = (id: ChecklistItemId): boolean => acks.includes(id) || acks.includes('all');
  const item = (id: ChecklistItemId, title: string, state: ChecklistState, message: string): ChecklistItem =>
    ({ id, title, message, state: state !== 'ok' && state !== 'n/a' && acked(id) ? 'acknowledged' : state });
  const days = (ms: number): string => `${(ms / 86_400_000).toFixed(1)} days`;
  return [
    f.lastExportAt === null
      ? item('config-export', 'configuration backup', 'unverified', 'no configuration export is recorded on this node: export it (tandem config export) or acknowledge a backup made elsewhere')
      : f.now - f.lastExportAt <= EXPORT_MAX_AGE_MS
        ? item('config-export', 'configuration backup', 'ok', `exported ${days(f.now - f.lastExportAt)} ago`)
        : item('config-export', 'configuration backup', 'attention', `the last export is ${days(f.now - f.lastExportAt)} old: export the configuration again`),
    f.monitorIssues.length === 0
      ? item('system-monitor', 'no issues on the System Monitor', 'ok', 'no issues')
      : item('system-monitor', 'no issues on the System Monitor', 'attention', f.monitorIssues.join('; ')),
    f.cluster === 'Standalone'
      ? item('ha-not-degraded', 'HA not degraded', 'n/a', 'a standalone node')
      : f.cluster === 'HA' && f.redundantHeartbeat !== 'degraded'
        ? item('ha-not-degraded', 'HA not degraded', 'ok', `cluster HA${f.redundantHeartbeat === null ? '' : ', redundant heartbeat ok'}`)
        : item('ha-not-degraded', 'HA not degraded', 'attention', `cluster ${f.cluster}${f.redundantHeartbeat === 'degraded' ? ', redundant heartbeat degraded' : ''}`),
    f.coreFiles === null
      ? item('core-files', 'core files exported', 'unverified', 'no core directory is configured: acknowledge that no core file needs saving (an upgrade removes them)')
      : f.coreFiles === 0
        ? item('core-files', 'core files exported', 'ok', 'no core files')
        : item('core-files', 'core files exported', 'attention', `${f.coreFiles} core file(s) would be removed by the upgrade: export them (tandem core get) or delete them`),
    f.virtualization === null
      ? item('vm-snapshot', 'virtual machine snapshot', 'n/a', 'not a virtual machine')
      : item('vm-snapshot', 'virtual machine snapshot', 'unverified', `this node runs virtualized (${f.virtualization}): take a snapshot of it, then acknowledge`),
  ];
}

/** Items that hold an upgrade up: checked and not fine, or not confirmed. */
export function pending(items: readonly ChecklistItem[]): ChecklistItem[] {
  return items.filter((i) => i.state === 'attention' || i.state === 'unverified');
}

/** One line of the upgrade checklist, as the CLI, the log and the console show it. */
export function checklistLine(i: ChecklistItem): string {
  const mark = { ok: 'OK', attention: 'ATTENTION', unverified: `NOT CONFIRMED (--ack ${i.id})`, acknowledged: 'confirmed', 'n/a': 'n/a' }[i.state];
  return `${i.title}: ${mark} — ${i.message}`;
}
