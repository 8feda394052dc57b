/**
 * Every operation a node serves, in one table: the control socket and the HTTPS API mount it as
 * it is (operation.ts). The paths of `status` and `action` are the control protocol the launcher
 * of any firmware version reads: they never change.
 */
import { z } from 'zod';
import { ControlAction } from '../../adapters/control/protocol.js';
import { AckQuery, ActivateReply, Checklist, FirmwareList, Notes, SlotParam, TestReport, UpgradeFlags, UpgradeState, UploadResult, Versions } from '../firmware/schemas.js';
import type { NodeApp } from '../node-app.js';
import { StatusSchema } from './status-schema.js';
import { ConfigChange, ConfigChangeReply, ConfigView } from '../config-edit.js';
import { MAX_PASSWORD, ROLES, USER_NAME } from './users.js';
import { ActionReply, operation, operationTable, refuse } from './operation.js';
import { BACKUP_OPERATIONS } from './ops-backup.js';
import type { AnyOperation } from './server.js';
import { MONITOR_OPERATIONS } from './ops-monitor.js';
import { SUPPORT_OPERATIONS } from './ops-support.js';

const UserParam = z.object({ name: z.string().regex(USER_NAME) }).strict();

/** Users live in the replicated configuration root: a secondary's changes would be undone by the next resync. */
function usersOnPrimary(app: NodeApp): void {
  if (app.status()?.this_node.role === 'secondary') refuse(409, 'this node is the secondary: manage users on the primary (they are replicated to this node)');
}


export const OPERATIONS: readonly AnyOperation<NodeApp>[] = operationTable<NodeApp>(
  operation<NodeApp>({
    id: 'status', method: 'GET', path: '/status', access: 'read',
    summary: 'Cluster, node, next-hop and sync status of this node',
    reply: StatusSchema,
    run: (app) => app.status() ?? refuse(503, 'the node is starting or stopping'),
  }),
  operation({
    id: 'action', method: 'POST', path: '/action', access: 'change',
    summary: 'An HA action: takeover, reboot, shutdown, cluster reboot/convert/join/resolve-split-brain/clear-flap-hold, reload, barrier',
    body: ControlAction,
    reply: ActionReply,
    run: (app: NodeApp, { body }) => app.act(body),
  }),
  operation({
    id: 'firmwareList', method: 'GET', path: '/firmware', access: 'read',
    summary: 'The firmware slots: version, type, published, current, after reboot, state',
    reply: FirmwareList,
    run: (app: NodeApp) => app.firmware.list(),
  }),
  operation({
    id: 'firmwareUpload', method: 'POST', path: '/firmware', access: 'change', upload: true, progress: true,
    summary: 'Upload a signed firmware bundle into a free slot (verified while it streams)',
    reply: UploadResult,
    run: (app: NodeApp, { upload, progress, size }) => app.firmware.upload(upload ?? refuse(400, 'no bundle in the request'), size, progress),
  }),
  operation({
    id: 'firmwareChecklist', method: 'GET', path: '/firmware/checklist', access: 'read',
    summary: 'The upgrade checklist: configuration backup, System Monitor, HA, core files, VM snapshot',
    query: AckQuery, reply: Checklist,
    run: (app: NodeApp, { query }) => ({ items: app.firmware.checklist(query.ack) }),
  }),
  operation({
    id: 'firmwareNotes', method: 'GET', path: '/firmware/:slot/notes', access: 'read',
    summary: "A slot's upgrade notes",
    params: SlotParam, reply: Notes,
    run: (app: NodeApp, { params }) => app.firmware.notes(params.slot),
  }),
  operation({
    id: 'firmwareTest', method: 'POST', path: '/firmware/:slot/test', access: 'read',
    summary: 'Test a slot: every upgrade check, each on its own line; changes nothing',
    params: SlotParam, body: UpgradeFlags, reply: TestReport,
    run: (app: NodeApp, { params, body }) => app.firmware.test(params.slot, body),
  }),
  operation({
    id: 'firmwareActivate', method: 'POST', path: '/firmware/:slot/activate', access: 'change',
    summary: 'After reboot: boot this slot on trial at the next start (its Test must pass)',
    params: SlotParam, body: UpgradeFlags, reply: ActivateReply,
    run: (app: NodeApp, { params, body }) => app.firmware.activate(params.slot, body),
  }),
  operation({
    id: 'firmwareActivatePrevious', method: 'POST', path: '/firmware/previous/activate', access: 'change',
    summary: 'After reboot: the previous firmware (the one this node ran before the current one) boots on trial at the next start; its Test must pass',
    body: UpgradeFlags, reply: ActivateReply,
    run: (app: NodeApp, { body }) => app.firmware.activatePrevious(body),
  }),
  operation({
    id: 'firmwareDelete', method: 'DELETE', path: '/firmware/:slot', access: 'change',
    summary: 'Delete a slot (never the current, the after-reboot or the committed one)',
    params: SlotParam, reply: ActionReply,
    run: (app: NodeApp, { params }) => app.firmware.remove(params.slot),
  }),
  operation({
    id: 'clusterUpgrade', method: 'POST', path: '/cluster/upgrade', access: 'change', progress: true,
    summary: 'Upgrade both nodes to a slot: the secondary first, one planned handover, then this node (run on the primary)',
    body: UpgradeFlags.extend({ slot: z.number().int().min(1).max(99), ack: z.array(z.string().max(32)).max(10).default([]) }).strict(),
    reply: z.object({ ok: z.boolean(), message: z.string() }),
    run: (app: NodeApp, { body, progress }) => app.upgrade.start(body.slot, { override: body.override, reinstall: body.reinstall }, body.ack, progress),
  }),
  operation({
    id: 'clusterUpgradeState', method: 'GET', path: '/cluster/upgrade', access: 'read',
    summary: 'The cluster upgrade: its plan and its progress lines from line `from` on',
    query: z.object({ from: z.coerce.number().int().min(0).default(0) }),
    reply: UpgradeState,
    run: (app: NodeApp, { query }) => app.upgrade.state(query.from),
  }),
  operation({
    id: 'clusterUpgradeAbort', method: 'POST', path: '/cluster/upgrade/abort', access: 'change',
    summary: 'End a running cluster upgrade: both nodes keep the firmware they run, configuration changes allowed again',
    reply: ActionReply,
    run: (app: NodeApp) => app.upgrade.abort(),
  }),
  operation({
    id: 'clusterFreeze', method: 'POST', path: '/cluster/freeze', access: 'change', internal: true,
    summary: 'Freeze configuration changes on this node (set by the other node while it upgrades the cluster)',
    body: z.object({ id: z.string().min(1).max(64), by: z.string().min(1).max(64) }).strict(),
    reply: ActionReply,
    run: (app: NodeApp, { body }) => { app.upgrade.freeze(body.id, body.by); return { ok: true, messages: [`configuration changes frozen by ${body.by}`] }; },
  }),
  operation({
    id: 'clusterUnfreeze', method: 'POST', path: '/cluster/unfreeze', access: 'change', internal: true,
    summary: 'Lift a configuration freeze the other node set',
    body: z.object({ id: z.string().min(1).max(64) }).strict(),
    reply: ActionReply,
    run: (app: NodeApp, { body }) => { app.upgrade.unfreeze(body.id); return { ok: true, messages: ['configuration changes allowed'] }; },
  }),
  operation({
    id: 'settings', method: 'GET', path: '/settings', access: 'read',
    summary: 'The High Availability settings: next hops per interface of this node and the other node, redundant heartbeat interfaces, resync rate limit',
    reply: ConfigView,
    run: (app: NodeApp) => app.settings.view(),
  }),
  operation({
    id: 'settingsChange', method: 'PUT', path: '/settings', access: 'change',
    summary: 'Change next hops, heartbeat interfaces or the resync rate limit: checked by the configuration loader, applied live (no Reboot Cluster needed); dry_run checks only',
    body: ConfigChange, reply: ConfigChangeReply,
    run: (app: NodeApp, { body }) => app.settings.change(body),
  }),
  operation({
    id: 'peerStatus', method: 'GET', path: '/peer/status', access: 'read',
    summary: "The other node's status, asked over the HA link",
    reply: StatusSchema,
    run: (app: NodeApp) => (app.peer ?? refuse(404, 'no other node is configured'))('GET', '/status'),
  }),
  operation({
    id: 'peerTakeover', method: 'POST', path: '/peer/takeover', access: 'change',
    summary: 'Takeover for the Other node: the other node takes over (this node hands the service over to it), with the vetoes of its own takeover; force skips its sync veto (data not yet on it are lost)',
    body: z.object({ force: z.boolean().default(false) }).strict(),
    reply: ActionReply,
    run: (app: NodeApp, { body }) => app.takeoverOther(body.force),
  }),
  operation({
    id: 'peerFirmwareList', method: 'GET', path: '/peer/firmware', access: 'read',
    summary: "The other node's firmware slots, asked over the HA link",
    reply: FirmwareList,
    run: (app: NodeApp) => (app.peer ?? refuse(404, 'no other node is configured'))('GET', '/firmware'),
  }),
  operation({
    id: 'userList', method: 'GET', path: '/users', access: 'read',
    summary: 'The users who may sign in, their roles and how many API tokens each has',
    reply: z.object({ users: z.array(z.object({ name: z.string(), role: z.enum(ROLES), created: z.string(), tokens: z.number().int() })) }),
    run: (app: NodeApp) => ({ users: app.users.list() }),
  }),
  operation({
    id: 'userAdd', method: 'POST', path: '/users', access: 'change',
    summary: 'Add a user (admin: may change everything; viewer: may read everything)',
    body: z.object({ name: z.string().min(1).max(32), role: z.enum(ROLES), password: z.string().max(MAX_PASSWORD) }).strict(),
    reply: ActionReply,
    run: async (app: NodeApp, { body }) => {
      usersOnPrimary(app);
      const u = await app.users.add(body.name, body.role, body.password);
      return { ok: true, messages: [`user ${u.name} added (${u.role})`] };
    },
  }),
  operation({
    id: 'userPassword', method: 'PUT', path: '/users/:name/password', access: 'change',
    summary: "Set a user's password",
    params: UserParam, body: z.object({ password: z.string().max(MAX_PASSWORD) }).strict(), reply: ActionReply,
    run: async (app: NodeApp, { params, body }) => {
      usersOnPrimary(app);
      await app.users.setPassword(params.name, body.password);
      return { ok: true, messages: [`password of ${params.name} changed`] };
    },
  }),
  operation({
    id: 'userDelete', method: 'DELETE', path: '/users/:name', access: 'change',
    summary: 'Delete a user and their API tokens',
    params: UserParam, reply: ActionReply,
    run: (app: NodeApp, { params }) => {
      usersOnPrimary(app);
      app.users.remove(params.name);
      return { ok: true, messages: [`user ${params.name} deleted`] };
    },
  }),
  operation({
    id: 'tokenCreate', method: 'POST', path: '/users/:name/tokens', access: 'change',
    summary: 'A new API token for a user (shown once; scripts send it as Authorization: Bearer)',
    params: UserParam, body: z.object({ label: z.string().max(64).default('') }).strict(),
    reply: z.object({ token: z.string(), id: z.string(), user: z.string(), label: z.string(), created: z.string() }),
    run: (app: NodeApp, { params, body }) => {
      usersOnPrimary(app);
      const t = app.users.createToken(params.name, body.label);
      return { token: t.token, ...t.view };
    },
  }),
  operation({
    id: 'tokenList', method: 'GET', path: '/tokens', access: 'read',
    summary: 'The API tokens (never their secrets)',
    reply: z.object({ tokens: z.array(z.object({ id: z.string(), user: z.string(), label: z.string(), created: z.string() })) }),
    run: (app: NodeApp) => ({ tokens: app.users.tokens() }),
  }),
  operation({
    id: 'tokenRevoke', method: 'DELETE', path: '/tokens/:id', access: 'change',
    summary: 'Revoke an API token',
    params: z.object({ id: z.string().regex(/^[0-9a-f]{12}$/) }).strict(), reply: ActionReply,
    run: (app: NodeApp, { params }) => {
      usersOnPrimary(app);
      app.users.revokeToken(params.id);
      return { ok: true, messages: [`token ${params.id} revoked`] };
    },
  }),
  operation({
    id: 'auditLog', method: 'GET', path: '/audit', access: 'read',
    summary: 'The audit log: every change, who made it and from where',
    query: z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(100) }),
    reply: z.object({ entries: z.array(z.object({ time: z.string(), user: z.string(), role: z.string(), from: z.string(), op: z.string(), ok: z.boolean(), detail: z.string() })) }),
    run: (app: NodeApp, { query }) => ({ entries: app.audit.recent(query.limit) }),
  }),
  operation({
    id: 'version', method: 'GET', path: '/version', access: 'read',
    summary: 'Version details: per node version, release type, support end, supported or not and why, tainted or not',
    reply: Versions,
    run: (app: NodeApp) => app.firmware.versions(),
  }),
  ...MONITOR_OPERATIONS,
  ...BACKUP_OPERATIONS,
  ...SUPPORT_OPERATIONS,
);
