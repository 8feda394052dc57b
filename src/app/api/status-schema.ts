/**
 * `tandem status --json` / GET /api/status as a zod schema: the HA core's view
 * (core/ha/status.ts NodeStatus), the replication details (app/sync/service.ts) and the firmware
 * (app/firmware/identity.ts BootView). The OpenAPI document is generated from it, and the API
 * tests validate real replies of real nodes against that document, so it cannot drift from what
 * the daemon sends unnoticed.
 */
import { z } from 'zod';
import { SYNC_STATES } from '../../core/sync/state.js';
import { REJECT_REASONS } from '../../core/wire/codec.js';

const firmwareIdentity = z.object({
  version: z.string(), type: z.enum(['lts', 'feature', 'factory']), haMin: z.number().int(), haMax: z.number().int(),
});
const role = z.enum(['primary', 'secondary', 'standalone']);

export const StatusSchema = z.object({
  cluster: z.object({
    name: z.string(),
    status: z.enum(['Standalone', 'HA', 'Half', 'Broken', 'Degraded', 'SplitBrain']),
    uuid: z.string().nullable(),
    redundant_heartbeat: z.enum(['ok', 'degraded']).nullable(),
    timing: z.string(),
  }),
  this_node: z.object({
    name: z.string(), role, reason: z.string(), role_since_ms: z.number(), serving: z.boolean(), term: z.number().int(),
    starting: z.boolean(), leaving: z.enum(['reboot', 'shutdown', 'stop']).nullable(), firmware: firmwareIdentity.nullable(),
  }),
  other_node: z.object({
    name: z.string(), role: role.nullable(), reachable: z.boolean(), last_heard_ms_ago: z.number().nullable(), firmware: firmwareIdentity.nullable(),
  }).nullable(),
  heartbeat_paths: z.array(z.object({ path: z.string(), ha_link: z.boolean(), up: z.boolean(), accepted: z.number().int(), rejected: z.number().int() })),
  next_hops: z.array(z.object({
    interface: z.string(),
    this_node: z.object({
      address: z.string(), reachable: z.boolean().nullable(), score: z.number(), total: z.number(),
      targets: z.array(z.object({ address: z.string(), weight: z.number(), state: z.enum(['unknown', 'up', 'down']) })),
    }),
    other_node: z.object({ address: z.string().nullable(), reachable: z.boolean().nullable(), score: z.number().nullable(), total: z.number().nullable() }),
  })),
  sync: z.object({
    state: z.enum(SYNC_STATES), generation: z.string(), peer_generation: z.string().nullable(),
    session: z.enum(['closed', 'connecting', 'resync', 'live']),
    direction: z.enum(['receiving', 'sending']).nullable(),
    progress: z.object({ bytes_left: z.number(), files_left: z.number(), bytes_total: z.number(), files_total: z.number() }).nullable(),
    outdated: z.boolean(), inconsistent: z.boolean(), refusing: z.string().nullable(),
    lag_ms: z.number().nullable().describe('While this primary replicates live: how long the oldest change not yet confirmed on the replica has waited, ms'),
    roots: z.record(z.string(), z.string()),
    counters: z.object({
      files_sent: z.number(), bytes_sent: z.number(), files_received: z.number(), bytes_received: z.number(),
      refused_on_arrival: z.number(), refused_by_replica: z.number(), handshakes_rejected: z.record(z.string(), z.number()),
    }),
  }),
  takeover_veto: z.string().nullable(),
  flap_limiter: z.object({ switches_in_window: z.number().int(), held_until_ms: z.number().nullable() }),
  heartbeats: z.object({ accepted: z.number(), rejected: z.record(z.enum(REJECT_REASONS as unknown as [string, ...string[]]), z.number()) }),
  firmware: z.object({
    slot: z.number().int(), version: z.string(), type: z.enum(['lts', 'feature', 'factory']),
    trial: z.object({ slot: z.number().int(), attempts: z.number().int(), since: z.string() }).nullable(),
    last_fallback: z.object({ at: z.string(), slot: z.number().int(), message: z.string() }).nullable(),
    activation_handled: z.string().nullable(),
    activation_outcome: z.object({ state: z.enum(['committed', 'failed']), reason: z.string().nullable() }).nullable(),
  }),
});
