import type { SyncFacts } from '../sync/engine.js';
import { compareGenerations } from '../sync/generations.js';
import type { SyncState } from '../sync/state.js';
import type { Millis } from '../time.js';
import type { RejectReason } from '../wire/codec.js';
import { vetoOf } from './node.js';
import type { FirmwareIdentity, Role } from './report.js';
import type { LeaveKind, NodeState } from './types.js';

/** What the sync engine takes from the HA core, after every HA step. */
export function syncFactsOf(s: NodeState): SyncFacts {
  const report = s.peerAlive ? s.peer?.report : undefined;
  return {
    role: s.role,
    peerAlive: s.peerAlive,
    peerRole: report?.role ?? null,
    diverged: report !== undefined && compareGenerations(s.persisted.generations, report.generations) === 'diverged',
  };
}

/** Cluster status as the appliance shows it (SPEC §1). */
export type ClusterStatus = 'Standalone' | 'HA' | 'Half' | 'Broken' | 'Degraded' | 'SplitBrain';

export function clusterStatus(s: NodeState): ClusterStatus {
  const peer = s.peerAlive ? s.peer?.report : undefined;
  if (s.persisted.mode !== 'ha') return peer?.mode === 'ha' ? 'Half' : 'Standalone';
  if (peer === undefined) return 'Degraded';
  if (peer.mode !== 'ha') return 'Half';
  if (peer.uuid !== null && s.persisted.uuid !== null && peer.uuid !== s.persisted.uuid) return 'Broken';
  if (compareGenerations(s.persisted.generations, peer.generations) === 'diverged') return 'SplitBrain';
  return 'HA';
}

/** The node's status as `tandem status --json` and the API show it. */
export interface NodeStatus {
  readonly cluster: {
    readonly name: string;
    readonly status: ClusterStatus;
    readonly uuid: string | null;
    /** Only when redundant heartbeat interfaces are configured. */
    readonly redundant_heartbeat: 'ok' | 'degraded' | null;
    readonly timing: string;
  };
  readonly this_node: {
    readonly name: string;
    readonly role: Role;
    readonly reason: string;
    readonly role_since_ms: number;
    readonly serving: boolean;
    readonly term: number;
    readonly starting: boolean;
    readonly leaving: LeaveKind | null;
    readonly firmware: FirmwareIdentity | null;
  };
  readonly other_node: {
    readonly name: string;
    readonly role: Role | null;
    readonly reachable: boolean;
    readonly last_heard_ms_ago: number | null;
    /** As the peer last said (kept while it is unreachable). */
    readonly firmware: FirmwareIdentity | null;
  } | null;
  readonly heartbeat_paths: readonly { readonly path: string; readonly ha_link: boolean; readonly up: boolean; readonly accepted: number; readonly rejected: number }[];
  readonly next_hops: readonly {
    readonly interface: string;
    readonly this_node: { readonly address: string; readonly reachable: boolean | null; readonly score: number; readonly total: number;
      readonly targets: readonly { readonly address: string; readonly weight: number; readonly state: 'unknown' | 'up' | 'down' }[] };
    readonly other_node: { readonly address: string | null; readonly reachable: boolean | null; readonly score: number | null; readonly total: number | null };
  }[];
  readonly sync: { readonly state: SyncState; readonly generation: string; readonly peer_generation: string | null };
  /** Why a takeover this node should make (or allow) is not happening, or why it could not be promoted. */
  readonly takeover_veto: string | null;
  readonly flap_limiter: { readonly switches_in_window: number; readonly held_until_ms: number | null };
  readonly heartbeats: { readonly accepted: number; readonly rejected: Readonly<Record<RejectReason, number>> };
}

export function describeNode(s: NodeState, now: Millis): NodeStatus {
  const peerSpec = s.config.peer;
  const report = s.peer?.report;
  const fresh = s.peerAlive ? report : undefined;
  const paths = s.config.heartbeatPaths;
  const interfaces = [...new Set(s.monitor.targets.map((t) => t.target.interface))];
  return {
    cluster: {
      name: s.config.cluster,
      status: clusterStatus(s),
      uuid: s.persisted.uuid,
      redundant_heartbeat: paths.length > 1 ? (paths.every((p) => s.pathUp[p] === true) ? 'ok' : 'degraded') : null,
      timing: s.config.timing.name,
    },
    this_node: {
      name: s.config.self.name,
      role: s.role,
      reason: s.reason,
      role_since_ms: now - s.roleSince,
      serving: s.serving,
      term: s.role === 'primary' ? s.primaryTerm : s.persisted.term,
      starting: s.startingUntil !== null,
      leaving: s.leaving?.kind ?? null,
      firmware: s.firmware,
    },
    other_node: peerSpec === null ? null : {
      name: peerSpec.name,
      role: fresh?.role ?? null,
      reachable: s.peerAlive,
      last_heard_ms_ago: s.peer === null ? null : now - s.peer.at,
      firmware: report?.firmware ?? null,
    },
    heartbeat_paths: paths.map((p, i) => ({ path: p, ha_link: i === 0, up: s.pathUp[p] === true, accepted: s.counters.paths[p]?.accepted ?? 0, rejected: s.counters.paths[p]?.rejected ?? 0 })),
    next_hops: interfaces.map((name) => {
      const targets = s.monitor.targets.filter((t) => t.target.interface === name);
      const score = targets.reduce((a, t) => a + (t.judged === 'up' ? t.target.weight : 0), 0);
      const total = targets.reduce((a, t) => a + t.target.weight, 0);
      const known = targets.every((t) => t.judged !== 'unknown');
      const theirs = fresh?.nextHops.find((r) => r.interface === name);
      const theirAddress = peerSpec?.nextHops.find((t) => t.interface === name)?.address ?? null;
      return {
        interface: name,
        this_node: {
          address: targets[0]?.target.address ?? '',
          reachable: known ? score > 0 : null,
          score, total,
          targets: targets.map((t) => ({ address: t.target.address, weight: t.target.weight, state: t.judged })),
        },
        other_node: {
          address: theirAddress,
          reachable: theirs?.ready === true ? theirs.score > 0 : null,
          score: theirs?.score ?? null,
          total: theirs?.total ?? null,
        },
      };
    }),
    sync: { state: s.sync, generation: s.persisted.generations.current, peer_generation: report?.generations.current ?? null },
    takeover_veto: s.persisted.mode !== 'ha' ? null : (s.blocked ?? (s.role === 'primary' ? null : vetoOf(s))),
    flap_limiter: { switches_in_window: s.flap.switches.filter((t) => now - t < s.config.timing.flapWindowMs).length, held_until_ms: s.flap.heldUntil },
    heartbeats: { accepted: s.counters.accepted, rejected: s.counters.rejected },
  };
}
