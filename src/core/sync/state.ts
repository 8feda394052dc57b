/**
 * Data synchronization state of one node, as SPEC §3 names it. The HA core only reads it (the
 * veto); the sync engine that produces it lives in src/core/sync as well.
 */
export const SYNC_STATES = ['UpToDate', 'Syncing', 'Outdated', 'Diverged'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

/**
 * A data generation, as DRBD keeps them: every time a primary starts writing without its peer
 * receiving the writes, it starts a new generation. Comparing two nodes' generations on reconnect
 * tells who is behind, and whether both wrote while apart (split brain).
 */
export interface Generations {
  /** The generation this node's data belongs to. */
  readonly current: string;
  /** Earlier generations of this node's data, newest first, bounded in length. */
  readonly history: readonly string[];
}
