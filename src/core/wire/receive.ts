/**
 * The receive pipeline for one heartbeat datagram: authenticate and parse, check the addressing,
 * then check freshness. The order matters: nothing of an unauthenticated packet is trusted, and
 * only a packet that passed every other check may advance the replay guard.
 */
import type { Heartbeat } from '../ha/report.js';
import type { Millis } from '../time.js';
import type { Mac, RejectReason } from './codec.js';
import { checkAddressing, decodeHeartbeat } from './codec.js';
import type { ReplayGuard } from './replay.js';
import { checkReplay } from './replay.js';

export interface ReceiveContext {
  readonly mac: Mac;
  /** This cluster's name. */
  readonly cluster: string;
  /** This node's name. */
  readonly self: string;
  /** The peer's name. */
  readonly peer: string;
  /** The heartbeat path (interface name) the datagram arrived on. */
  readonly path: string;
  /** The receiver's wall clock. */
  readonly wall: Millis;
  /** Accepted |wall − sentAt|: clock skew between the nodes plus network delay. */
  readonly windowMs: Millis;
}

export type ReceiveResult =
  | { readonly ok: true; readonly heartbeat: Heartbeat; readonly guard: ReplayGuard }
  | { readonly ok: false; readonly reason: RejectReason };

/** A rejected datagram returns no guard: the caller keeps the one it had. */
export function receiveHeartbeat(guard: ReplayGuard, bytes: Uint8Array, ctx: ReceiveContext): ReceiveResult {
  const decoded = decodeHeartbeat(bytes, ctx.mac);
  if (!decoded.ok) return decoded;
  const heartbeat = decoded.heartbeat;
  const misaddressed = checkAddressing(heartbeat, ctx);
  if (misaddressed !== null) return { ok: false, reason: misaddressed };
  const fresh = checkReplay(guard, heartbeat, ctx.wall, ctx.windowMs);
  if (!fresh.ok) return fresh;
  return { ok: true, heartbeat, guard: fresh.guard };
}
