import type { CoreConfig } from '../config.js';
import type { MonitorState } from '../nexthop/monitor.js';
import type { ClockMap } from '../nexthop/rule.js';
import type { Generations, SyncState } from '../sync/state.js';
import type { Instant, Millis } from '../time.js';
import type { RejectReason } from '../wire/codec.js';
import type { ReplayGuard } from '../wire/replay.js';
import type { FlapState } from './flap.js';
import type { FirmwareIdentity, HaMode, PeerReport, PeerRequest, Role, YieldCause } from './report.js';

/** What a node keeps in its state directory across restarts. */
export interface Persisted {
  /** Null on a node that has never run: it pairs up on its own when its config names both nodes. */
  readonly mode: HaMode | null;
  readonly uuid: string | null;
  /** Highest role term known; a promotion takes max(known, peer's) + 1. */
  readonly term: number;
  readonly generations: Generations;
  /** Makes generation ids unique per node: `<node>:<term>.<counter>`. */
  readonly generationCounter: number;
}

/** What the shell hands the core at start: persisted state and the randomness the core may not make. */
export interface StartFacts {
  readonly at: Instant;
  /** Random per process start (16 hex characters). */
  readonly bootId: string;
  /** A fresh random UUID, used only if this node creates the cluster UUID. */
  readonly freshUuid: string;
  readonly persisted: Persisted | null;
  readonly sync: SyncState;
  /** The firmware this process runs (told to the peer); null when the shell does not say. */
  readonly firmware?: FirmwareIdentity | null;
}

export type OperatorAction =
  /** Manual takeover on this node; `force` skips the sync veto (recorded: data may be lost). */
  | { readonly type: 'takeover'; readonly force: boolean }
  | { readonly type: 'reboot' | 'shutdown'; readonly target: 'this' | 'other' }
  /** The daemon is asked to stop (SIGTERM): a primary hands over first, then the process exits. */
  | { readonly type: 'stop' }
  /** Restart both nodes, secondary first, with one planned handover and no unplanned takeover. */
  | { readonly type: 'reboot-cluster' }
  /** A standalone node becomes the first node of a cluster; `config` now names the peer. */
  | { readonly type: 'convert-to-cluster'; readonly config: CoreConfig }
  /** A node in `Half` adopts the cluster's UUID and becomes its secondary. */
  | { readonly type: 'join-ha' }
  /** Split-brain recovery: keep `keep`'s data, set the other node's diverged data aside, resync. */
  | { readonly type: 'resolve-split-brain'; readonly keep: 'this' | 'other' }
  | { readonly type: 'clear-flap-hold' };

/** Why a node leaves: the machine reboots or powers off, or only the daemon stops. */
export type LeaveKind = 'reboot' | 'shutdown' | 'stop';

export type Input =
  | { readonly kind: 'tick'; readonly at: Instant }
  | { readonly kind: 'datagram'; readonly at: Instant; readonly path: string; readonly bytes: Uint8Array }
  | { readonly kind: 'probe-reply'; readonly at: Instant; readonly interface: string; readonly address: string; readonly seq: number }
  /**
   * The sync engine's state; `adopt` when this copy now equals the primary's data of those
   * generations (a resync just completed): the node carries them from now on.
   */
  | {
    readonly kind: 'sync'; readonly at: Instant; readonly state: SyncState;
    /**
     * The state should the peer be declared dead (default: `state`). The sync engine hears of a
     * dead peer only after the HA step that declared it: this lets that step decide right.
     */
    readonly ifPeerLost?: SyncState;
    readonly adopt?: Generations | null;
  }
  /**
   * The service wrote data that cannot be replicated now: no live replication session to the
   * secondary, or one that has not heard from it lately. A primary starts a new data generation
   * at the first such write (DRBD's rule), so that the peer, had it taken over meanwhile, sees
   * both nodes wrote apart. The shell steps this before any heartbeat or tick that is pending at
   * the same moment: a heartbeat decision taken first could let the write go out under the old
   * generation (or demote this node before the write is counted).
   */
  | { readonly kind: 'unreplicated-write'; readonly at: Instant }
  /** A changed configuration applied live (next hops, timing): no reboot needed. */
  | { readonly kind: 'config'; readonly at: Instant; readonly config: CoreConfig }
  | { readonly kind: 'operator'; readonly at: Instant; readonly action: OperatorAction };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Events worth an alert (webhook, system monitor); each is also logged. */
export type AlertEvent =
  | 'role-change' | 'peer-lost' | 'peer-found' | 'takeover-vetoed' | 'veto-cleared' | 'forced-takeover'
  | 'split-brain' | 'split-brain-resolved' | 'flap-hold' | 'cluster-broken' | 'handover-failed'
  | 'reboot-cluster-aborted' | 'heartbeat-path-down' | 'heartbeat-path-up';

export type Effect =
  | { readonly kind: 'send'; readonly path: string; readonly bytes: Uint8Array }
  | { readonly kind: 'probe'; readonly interface: string; readonly address: string; readonly seq: number }
  /** Add the VIPs, send gratuitous ARP, run on_primary (or, standalone, start serving). */
  | { readonly kind: 'acquire-service' }
  /** Run on_secondary, remove the VIPs. */
  | { readonly kind: 'release-service' }
  /** Re-send gratuitous ARP for the VIPs we own (after a partition heals). */
  | { readonly kind: 'announce' }
  | { readonly kind: 'persist'; readonly persisted: Persisted }
  | { readonly kind: 'log'; readonly level: LogLevel; readonly event: string; readonly message: string }
  | { readonly kind: 'alert'; readonly event: AlertEvent; readonly level: LogLevel; readonly message: string }
  | { readonly kind: 'reboot-node' | 'shutdown-node' | 'stop-process' }
  /** Split-brain recovery on the discarded node: move its diverged data aside (never delete), resync. */
  | { readonly kind: 'preserve-diverged-data'; readonly generation: string }
  /** A node that joined or was discarded needs a full resynchronization from its peer. */
  | { readonly kind: 'full-resync' };

export interface PeerContact {
  readonly report: PeerReport;
  /** When the last authentic report arrived (monotonic). */
  readonly at: Millis;
  readonly bootId: string;
  /** Sequence number of the heartbeat that carried it: only a newer one replaces it. */
  readonly seq: number;
}

export interface NodeState {
  readonly config: CoreConfig;
  readonly firmware: FirmwareIdentity | null;
  readonly bootId: string;
  readonly freshUuid: string;
  readonly persisted: Persisted;
  readonly role: Role;
  /** Why this node holds its role, in words for the log and the status. */
  readonly reason: string;
  readonly roleSince: Millis;
  /** Whether the service (VIPs, hooks) is held by this node right now. */
  readonly serving: boolean;
  /** Term of the current primary tenure; meaningful while primary. */
  readonly primaryTerm: number;
  /** End of the start-up hold; null once elected. */
  readonly startingUntil: Millis | null;
  readonly sync: SyncState;
  /** What `sync` becomes if the peer is declared dead (see the `sync` input). */
  readonly syncIfPeerLost: SyncState;
  /** Last authentic heartbeat per path (monotonic), null if never. */
  readonly lastHeard: Readonly<Record<string, Millis | null>>;
  readonly peer: PeerContact | null;
  /** Liveness as last judged, to act on edges (peer lost / found) exactly once. */
  readonly peerAlive: boolean;
  readonly pathUp: Readonly<Record<string, boolean>>;
  readonly replay: ReplayGuard;
  readonly seq: number;
  readonly nextHeartbeatAt: Millis;
  readonly monitor: MonitorState;
  /** Since when the comparative rule has held (peer reaches more), null if it does not (hold rule only). */
  readonly ruleSince: Millis | null;
  /** The clock exchange (HA protocol 2): the peer's last `clock` and when it arrived here… */
  readonly peerClock: { readonly clock: number; readonly receivedAt: Millis } | null;
  /** …the `clock` values of our last heartbeats (an echo must name one of them)… */
  readonly sentClocks: readonly number[];
  /** …and how the peer's monotonic clock maps onto ours, from the last round trip. Null until known. */
  readonly clockMap: ClockMap | null;
  /** Interfaces the peer last said it suspects: a new one starts a burst here too. */
  readonly peerSuspect: readonly string[];
  readonly flap: FlapState;
  readonly yielding: { readonly to: string; readonly cause: YieldCause; readonly since: Millis } | null;
  readonly outgoing: PeerRequest | null;
  readonly nextRequestId: number;
  /** The last peer request accepted, per peer boot (ids restart when the peer restarts). */
  readonly acked: { readonly bootId: string; readonly id: number } | null;
  /** Operator forced a takeover: promote on handover even though vetoed. */
  readonly forcing: boolean;
  readonly leaving: { readonly kind: LeaveKind; readonly since: Millis; readonly done: boolean } | null;
  readonly rebootCluster: { readonly since: Millis; readonly peerBootId: string | null } | null;
  /** After a detected freeze, liveness is not judged until this time. */
  readonly graceUntil: Millis | null;
  /**
   * The current generation when this node started it apart from its peer (promoted or primary
   * with the peer lost, or at an unreplicated write) and has not seen the peer carry it since:
   * further unreplicated writes belong to it. Null when the peer may hold the current generation,
   * so the next unreplicated write starts a new one. Not persisted: after a restart one
   * generation too many may be started, never one too few.
   */
  readonly unsharedGeneration: string | null;
  readonly lastTickAt: Millis;
  /** A takeover that is demanded but vetoed or limited, with why; logged once per change. */
  readonly blocked: string | null;
  readonly counters: {
    readonly accepted: number;
    readonly rejected: Readonly<Record<RejectReason, number>>;
    /** Per heartbeat path: accepted and dropped datagrams (a path that only drops shows a fault there). */
    readonly paths: Readonly<Record<string, { readonly accepted: number; readonly rejected: number }>>;
  };
}

export interface StepResult {
  readonly state: NodeState;
  readonly effects: readonly Effect[];
}
