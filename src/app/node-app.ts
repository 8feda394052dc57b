/**
 * The application layer of a running node: every operator operation, once. The daemon
 * (node-daemon.ts) builds it from its services; the operations table (api/operations.ts) maps
 * the control socket's and the HTTPS API's routes onto it, so the CLI, the API and the web
 * console all reach the same code.
 */
import type { ActionReply, ControlAction } from '../adapters/control/protocol.js';
import type { NodeStatus } from '../core/ha/status.js';
import type { AuditLog } from './api/audit.js';
import type { ConfigChange, ConfigChangeReply, ConfigView } from './config-edit.js';
import type { UserStore } from './api/users.js';
import type { ClusterUpgrade } from './firmware/cluster-upgrade.js';
import type { BootView } from './firmware/identity.js';
import type { FirmwareService } from './firmware/service.js';
import type { AlertService } from './monitor/alerts.js';
import type { MonitorView } from './monitor/monitor.js';
import type { ReplicationStatus } from './sync/service.js';
import type { ConfigBackupService } from './backup/service.js';
import type { LicenseService } from './license/service.js';
import type { SupportService } from './support/service.js';

/** `tandem status --json`: the HA core's view with the replication details. */
export type StatusView = Omit<NodeStatus, 'sync'> & { readonly sync: NodeStatus['sync'] & ReplicationStatus; readonly firmware: BootView };

export interface NodeApp {
  /** Null while the daemon starts or stops. */
  status(): StatusView | null;
  /** The HA actions (takeover, reboot, cluster actions, reload, barrier). */
  act(action: ControlAction): Promise<ActionReply>;
  /**
   * Takeover for the Other node: the other node runs its own `takeover` (over the HA link), so
   * the vetoes and `force` are exactly those of `tandem takeover` there — its sync veto, and this
   * node, the primary, hands over only if the peer may take over or forces it.
   */
  takeoverOther(force: boolean): Promise<ActionReply>;
  /** Slots, upload, notes, Test, After reboot, delete, Version details. */
  readonly firmware: FirmwareService;
  /** The one-action rolling upgrade of both nodes, and the configuration freeze it sets. */
  readonly upgrade: ClusterUpgrade;
  /** The settings the High Availability page edits (next hops, heartbeat paths, resync rate), applied live. */
  readonly settings: {
    view(): ConfigView;
    change(change: ConfigChange): Promise<ConfigChangeReply>;
  };
  /** An operation on the other node, over the HA link (the Other node views); null without a peer. */
  readonly peer: ((method: 'GET', path: string) => Promise<unknown>) | null;
  /** Who may sign in (replicated with the configuration), and the API tokens. */
  readonly users: UserStore;
  readonly audit: AuditLog;
  /** Alerts: the recent list, the webhooks' delivery, a test alert. */
  readonly alerts: AlertService;
  /** The System monitor; null while the daemon starts or stops. */
  monitor(): MonitorView | null;
  /** Prometheus text exposition of the node's metrics. */
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  /** Configuration export / import (with its snapshot and confirmation). */
  readonly backup: ConfigBackupService;
  /** The license: install, show, warnings (licenseWarnings), the firmware Test's check. */
  readonly license: LicenseService;
  /** Core files and the support bundle. */
  readonly support: SupportService;
}
