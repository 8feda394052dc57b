import type { Generations, SyncState } from '../sync/state.js';

/** The role a node holds (SPEC §1). */
export type Role = 'primary' | 'secondary' | 'standalone';

/** Whether a node's persisted state says it is part of a cluster. */
export type HaMode = 'standalone' | 'ha';

/**
 * Operator requests one node asks the other to carry out, carried in heartbeats until acked:
 * `takeover` (hand the service over to me), `reboot`/`shutdown` (of the receiver),
 * `reboot-cluster` (the primary orchestrates it), `discard-data` (split-brain recovery: the
 * receiver keeps its diverged data aside and resynchronizes from the sender).
 */
export const PEER_REQUEST_KINDS = ['takeover', 'reboot', 'shutdown', 'reboot-cluster', 'discard-data'] as const;
export type PeerRequestKind = (typeof PEER_REQUEST_KINDS)[number];

export interface PeerRequest {
  /** Increasing per sender boot; the receiver acks by echoing it. */
  readonly id: number;
  readonly kind: PeerRequestKind;
  /** Carried for `takeover`: skip the sync veto (operator force, recorded). */
  readonly force: boolean;
}

export const YIELD_CAUSES = ['next-hop', 'operator', 'leaving'] as const;
export type YieldCause = (typeof YIELD_CAUSES)[number];

/** What a node reports of one interface's next hops: the weighted sum of reachable targets. */
export interface InterfaceReach {
  readonly interface: string;
  /** Sum of the weights of targets currently judged reachable. */
  readonly score: number;
  /** Sum of the weights of all configured targets on this interface. */
  readonly total: number;
  /** False until every target on the interface has a judged state (enough probes done). */
  readonly ready: boolean;
  /*
   * Evidence, HA protocol 2 (absent, read as null, from a protocol-1 peer). Times are the
   * sender's monotonic clock, mapped by the receiver through the heartbeat clock exchange.
   */
  /** A target here is suspect (being burst-probed) or down: the receiver bursts its own targets here too. */
  readonly suspect?: boolean | null;
  /** Every target judged up here answered a probe sent at or after this; null when none is up. */
  readonly answeredAt?: number | null;
  /** The latest time a loss began among the targets judged down here; null when none is down. */
  readonly lostSince?: number | null;
}

/** Which firmware a node runs, told to the peer (Version details, the HA protocol check of Test). */
export interface FirmwareIdentity {
  readonly version: string;
  readonly type: 'lts' | 'feature' | 'factory';
  /** The HA protocol versions it speaks (core/compat.ts HA_PROTOCOL). */
  readonly haMin: number;
  readonly haMax: number;
}

/**
 * The state one node tells the other in every heartbeat: everything the peer needs to decide.
 * It is the authenticated body of the heartbeat wire format (src/core/wire/codec.ts).
 */
export interface PeerReport {
  readonly mode: HaMode;
  /** Cluster UUID; null until the node has created or adopted one. */
  readonly uuid: string | null;
  readonly role: Role;
  /** Highest role term this node knows; each promotion takes max(known) + 1. */
  readonly term: number;
  /** True while the node is in its start-up hold (not yet elected). */
  readonly starting: boolean;
  readonly sync: SyncState;
  readonly generations: Generations;
  /** True when this node could be promoted automatically right now (no veto). */
  readonly canTakeOver: boolean;
  readonly nextHops: readonly InterfaceReach[];
  /** Set by a primary that is handing the service over to its peer: promote now. */
  readonly yieldingTo: string | null;
  /** Why the primary is yielding; a `next-hop` handover counts for both nodes' flap limiters. */
  readonly yieldCause: YieldCause | null;
  /** An operator request this node asks its peer to carry out. */
  readonly request: PeerRequest | null;
  /** The id of the last peer request this node accepted. */
  readonly ack: number | null;
  /** True when the node is about to stop (reboot/shutdown): the peer may take over at once. */
  readonly leaving: boolean;
  /** The firmware the node runs; null when unknown (absent on the wire is read as null). */
  readonly firmware: FirmwareIdentity | null;
}

/** A heartbeat as it travels: addressing and anti-replay fields, then the report. */
export interface Heartbeat {
  /** Cluster name: a packet of another cluster is rejected. */
  readonly cluster: string;
  readonly from: string;
  readonly to: string;
  /**
   * The heartbeat path (interface name, the same on both nodes) the sender sent this copy on.
   * Authenticated, so that a copy captured on one path cannot be replayed to fake another path.
   */
  readonly path: string;
  /** Random per process start (16 hex characters), chosen by the shell. */
  readonly bootId: string;
  /** Strictly increasing per bootId across all paths (each copy has its own), from 1. */
  readonly seq: number;
  /** Sender's wall clock at sending, milliseconds since the epoch. */
  readonly sentAt: number;
  /**
   * HA protocol 2, the clock exchange (absent, read as null, from a protocol-1 peer): the
   * sender's monotonic clock at sending (ms, rounded down), and the `clock` of the last heartbeat
   * it received from us with how long it held it before this send. The receiver gets a round
   * trip from them, hence the offset of the sender's clock with an error of half that trip.
   */
  readonly clock?: number | null;
  readonly echo?: { readonly clock: number; readonly heldMs: number } | null;
  readonly report: PeerReport;
}
