/**
 * The firmware operations' replies, as zod schemas (the OpenAPI document is generated from them;
 * the API tests validate real replies against them) and the types the service returns.
 */
import { z } from 'zod';

const firmwareType = z.enum(['lts', 'feature', 'factory']);

export const SlotRow = z.object({
  slot: z.number().int().min(0),
  state: z.enum(['empty', 'installed', 'trial', 'committed', 'failed']),
  version: z.string().nullable(),
  type: firmwareType.nullable(),
  published: z.string().nullable(),
  current: z.boolean(),
  after_reboot: z.boolean(),
  /** The firmware the node ran before the current one (activate previous); absent from older firmware. */
  previous: z.boolean().optional(),
  installed_at: z.string().nullable(),
  origin: z.enum(['factory', 'upload', 'replicated']).nullable(),
  key_id: z.string().nullable(),
  bundle_sha256: z.string().nullable(),
  /** Why its trial failed, for a failed slot. */
  failure: z.string().nullable(),
});
export type SlotRow = z.infer<typeof SlotRow>;
export type SlotState = SlotRow['state'];

export const FirmwareList = z.object({
  node: z.string(),
  slots: z.array(SlotRow),
  /** What the launcher did lately (trials, commits, fallbacks), newest last. */
  events: z.array(z.object({ at: z.string(), kind: z.string(), slot: z.number().int(), message: z.string() })),
});
export type FirmwareList = z.infer<typeof FirmwareList>;

export const Check = z.object({
  id: z.enum(['signature', 'runtime', 'policy', 'disk', 'configuration', 'tainted', 'license', 'ha-protocol']),
  status: z.enum(['pass', 'fail', 'warn', 'skip']),
  message: z.string(),
});
export type Check = z.infer<typeof Check>;

export const TestReport = z.object({
  node: z.string(),
  slot: z.number().int(),
  version: z.string(),
  /** No check failed. */
  ok: z.boolean(),
  checks: z.array(Check),
});
export type TestReport = z.infer<typeof TestReport>;

export const UploadResult = z.object({
  slot: z.number().int(),
  version: z.string(),
  type: z.string(),
  key_id: z.string(),
  bundle_sha256: z.string(),
  bytes: z.number().int(),
});
export type UploadResult = z.infer<typeof UploadResult>;

export const Notes = z.object({ slot: z.number().int(), version: z.string(), notes: z.string() });

export const ActivateReply = z.object({
  ok: z.boolean(),
  messages: z.array(z.string()),
  report: TestReport.nullable(),
  /** The id of this After-reboot choice (the launcher reports when it acted on it); null when refused. */
  activation: z.string().nullable(),
});
export type ActivateReply = z.infer<typeof ActivateReply>;

const support = z.object({ supported: z.boolean(), end: z.string().nullable(), why: z.string() });

export const NodeVersion = z.object({
  node: z.string(),
  this_node: z.boolean(),
  version: z.string().nullable(),
  type: firmwareType.nullable(),
  published: z.string().nullable(),
  slot: z.number().int().nullable(),
  support: support.nullable(),
  tainted: z.object({ tainted: z.boolean(), detail: z.string() }).nullable(),
  downgraded: z.boolean().nullable(),
  ha_protocol: z.object({ min: z.number().int(), max: z.number().int() }).nullable(),
});
export type NodeVersion = z.infer<typeof NodeVersion>;

export const Versions = z.object({ nodes: z.array(NodeVersion) });
export type Versions = z.infer<typeof Versions>;

/** Test and After reboot: what the operator allows beyond the policy. */
export const UpgradeFlags = z.object({
  /** Allow a downgrade or a Feature Release → LTS move (recorded for good: unsupported). */
  override: z.boolean().default(false),
  /** Allow installing the running version again. */
  reinstall: z.boolean().default(false),
}).strict();
export type UpgradeFlags = z.infer<typeof UpgradeFlags>;

export const UpgradeState = z.object({
  plan: z.object({
    version: z.literal(1), id: z.string(),
    target: z.object({ version: z.string(), bundle: z.string() }),
    self: z.object({ node: z.string(), slot: z.number().int(), activation: z.string().nullable() }),
    peer: z.object({ node: z.string(), slot: z.number().int(), activation: z.string().nullable() }),
    phase: z.enum(['start', 'secondary', 'self', 'done', 'failed']),
    started: z.number(), since: z.number(), result: z.string().nullable(),
  }).nullable(),
  lines: z.array(z.string()),
  next: z.number().int(),
  active: z.boolean(),
});
export type UpgradeState = z.infer<typeof UpgradeState>;

export const Checklist = z.object({
  items: z.array(z.object({
    id: z.enum(['config-export', 'system-monitor', 'ha-not-degraded', 'core-files', 'vm-snapshot']),
    title: z.string(),
    state: z.enum(['ok', 'attention', 'unverified', 'acknowledged', 'n/a']),
    message: z.string(),
  })),
});

/** `?ack=config-export,vm-snapshot` (or `all`): items confirmed by the operator. */
export const AckQuery = z.object({ ack: z.string().max(500).default('').transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== '')) });

export const SlotParam = z.object({ slot: z.coerce.number().int().min(0).max(99) }).strict();
