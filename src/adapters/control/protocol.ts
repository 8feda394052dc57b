/**
 * The local control protocol between the CLI and its node's daemon: HTTP over a unix socket in
 * the node's state directory (mode 0600: root only). GET /status, POST /action.
 */
import { z } from 'zod';

export const ControlAction = z.discriminatedUnion('type', [
  z.object({ type: z.literal('takeover'), force: z.boolean().default(false) }).strict(),
  z.object({ type: z.enum(['reboot', 'shutdown']), target: z.enum(['this', 'other']) }).strict(),
  z.object({ type: z.literal('reboot-cluster') }).strict(),
  z.object({ type: z.literal('convert-to-cluster') }).strict(),
  z.object({ type: z.literal('join-ha') }).strict(),
  z.object({ type: z.literal('resolve-split-brain'), keep: z.enum(['this', 'other']) }).strict(),
  z.object({ type: z.literal('clear-flap-hold') }).strict(),
  /** Re-read the configuration file and apply it live. */
  z.object({ type: z.literal('reload') }).strict(),
  /** Return once everything written before is stored on the secondary (or fail after `timeout_ms`). */
  z.object({ type: z.literal('barrier'), timeout_ms: z.number().int().min(1).max(3_600_000).default(30_000) }).strict(),
]);
export type ControlAction = z.infer<typeof ControlAction>;

export const CONTROL_SOCKET = 'control.sock';

export interface ActionReply {
  readonly ok: boolean;
  /** What the node said about it (log lines of this action), for the operator. */
  readonly messages: readonly string[];
}
