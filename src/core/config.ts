import type { TimingProfile } from './timing.js';

/**
 * The core's view of the cluster configuration: already validated and resolved by the config
 * loader (src/config), identical in meaning on both nodes.
 */
export interface NextHopTarget {
  /** Interface name, the same on both nodes (e.g. `ext0`). */
  readonly interface: string;
  /** IPv4 address pinged from this node on that interface. */
  readonly address: string;
  /** Weight in the reachability sum; 1 unless several targets share an interface. */
  readonly weight: number;
}

export interface NodeSpec {
  readonly name: string;
  /** This node's address on the HA link: the lower one wins elections. */
  readonly haAddress: string;
  readonly nextHops: readonly NextHopTarget[];
}

export interface CoreConfig {
  readonly cluster: string;
  readonly self: NodeSpec;
  /** Null when the configuration names only this node (a standalone appliance). */
  readonly peer: NodeSpec | null;
  /** Heartbeat paths, by interface name: the HA link first, then the redundant ones. */
  readonly heartbeatPaths: readonly string[];
  readonly timing: TimingProfile;
}

/** Numeric value of a dotted IPv4 address, for ordering (the election tie-break). */
export function ipv4Value(address: string): number {
  return address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}
