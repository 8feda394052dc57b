/**
 * The replies the console reads, typed from the daemon's own zod schemas (type-only imports:
 * nothing of the daemon is bundled), so the console cannot drift from what the API sends.
 */
import type { z } from 'zod';
import type { StatusSchema } from '../../src/app/api/status-schema.js';
import type { Checklist, FirmwareList, Notes, TestReport, UpgradeState, UploadResult, Versions, ActivateReply, SlotRow, Check } from '../../src/app/firmware/schemas.js';
import type { ControlAction } from '../../src/adapters/control/protocol.js';
import type { LicenseView } from '../../src/app/license/service.js';
import type { ExportReply, ImportReply, StageReply } from '../../src/app/backup/service.js';
import type { CoreList } from '../../src/app/api/ops-support.js';
import type { AlertList, MonitorSchema } from '../../src/app/monitor/monitor.js';

export type Status = z.infer<typeof StatusSchema>;
export type FirmwareListT = z.infer<typeof FirmwareList>;
export type SlotRowT = z.infer<typeof SlotRow>;
export type CheckT = z.infer<typeof Check>;
export type TestReportT = z.infer<typeof TestReport>;
export type NotesT = z.infer<typeof Notes>;
export type VersionsT = z.infer<typeof Versions>;
export type UpgradeStateT = z.infer<typeof UpgradeState>;
export type UploadResultT = z.infer<typeof UploadResult>;
export type ActivateReplyT = z.infer<typeof ActivateReply>;
export type ChecklistT = z.output<typeof Checklist>;
export type Action = z.input<typeof ControlAction>;
export type LicenseViewT = z.infer<typeof LicenseView>;
export type ExportReplyT = z.infer<typeof ExportReply>;
export type ImportReplyT = z.infer<typeof ImportReply>;
export type StageReplyT = z.infer<typeof StageReply>;
export type CoreListT = z.infer<typeof CoreList>;
export type AlertListT = z.infer<typeof AlertList>;
export type MonitorT = z.infer<typeof MonitorSchema>;

/** GET /api/settings (src/app/config-edit.ts ConfigView). */
export interface SettingsView {
  node: string;
  other_node: string | null;
  interfaces: {
    interface: string;
    ha_link: boolean;
    this_node: { address: string; next_hops: string[] };
    other_node: { address: string; next_hops: string[] } | null;
  }[];
  heartbeat: string[];
  resync_rate_mbit: number;
}

/** PUT /api/settings (ConfigChange). */
export interface SettingsChange {
  next_hops?: { interface: string; this_node: string[]; other_node?: string[] }[];
  heartbeat?: string[];
  resync_rate_mbit?: number;
  dry_run?: boolean;
}

/** Its reply (ConfigChangeReply): the loader's refusals by field, as it words them. */
export interface SettingsReply {
  ok: boolean;
  errors: { field: string; reason: string }[];
  messages: string[];
}

export interface ActionReply { ok: boolean; messages: string[] }

export interface Session { user: string; role: 'admin' | 'viewer' | 'root'; csrf: string }

export interface LogLine { time: string; level: string; event: string; msg: string }
