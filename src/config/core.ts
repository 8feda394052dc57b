/** The loaded configuration seen from one node: the core's `CoreConfig`. */
import { join } from 'node:path';
import type { CoreConfig, NextHopTarget, NodeSpec } from '../core/config.js';
import { TIMING_PROFILES } from '../core/timing.js';
import type { ConfigError, NodeConfig, TandemConfig } from './types.js';

/** The node names of the file, in its order. */
export function nodeNames(config: TandemConfig): string[] {
  return Object.keys(config.nodes);
}

/** The other node's name, or null when the configuration names only `self`. */
export function peerName(config: TandemConfig, self: string): string | null {
  return nodeNames(config).find((n) => n !== self) ?? null;
}

/** The core's configuration for node `name`, or the error to show when the file does not name it. */
export function resolveNode(
  config: TandemConfig,
  name: string,
): { readonly ok: true; readonly core: CoreConfig } | { readonly ok: false; readonly error: ConfigError } {
  if (!Object.hasOwn(config.nodes, name)) {
    return {
      ok: false,
      error: { file: config.file, field: 'nodes', reason: `node ${name} is not in the configuration; known: ${nodeNames(config).join(', ')}` },
    };
  }
  return { ok: true, core: toCoreConfig(config, name) };
}

/**
 * Maps the configuration to the core's view from node `name`. Throws when the file does not
 * name that node: call `resolveNode` for a name that comes from the operator.
 */
export function toCoreConfig(config: TandemConfig, name: string): CoreConfig {
  const self = Object.hasOwn(config.nodes, name) ? config.nodes[name] : undefined;
  if (self === undefined) throw new Error(`toCoreConfig: node ${name} is not in ${config.file}`);
  const peer = peerName(config, name);
  const peerNode = peer === null ? undefined : config.nodes[peer];
  return {
    cluster: config.cluster.name,
    self: nodeSpec(config, self),
    peer: peerNode === undefined ? null : nodeSpec(config, peerNode),
    heartbeatPaths: [config.cluster.haLink, ...config.cluster.heartbeat],
    timing: TIMING_PROFILES[config.cluster.timing],
  };
}

function nodeSpec(config: TandemConfig, node: NodeConfig): NodeSpec {
  const ha = node.interfaces[config.cluster.haLink];
  // Validation guarantees the HA link on every node.
  if (ha === undefined) throw new Error(`node ${node.name} has no ${config.cluster.haLink} interface`);
  const nextHops: NextHopTarget[] = Object.entries(node.interfaces).flatMap(([iface, spec]) =>
    spec.nextHops.map((hop) => ({ interface: iface, address: hop.address, weight: hop.weight })));
  return { name: node.name, haAddress: ha.address, nextHops };
}

/** Where a node's core files are collected: `support.core_dir`, or `<state_dir>/cores`. */
export function coreDirOf(config: TandemConfig, node: string): string {
  if (config.support.coreDir !== null) return config.support.coreDir;
  const n = config.nodes[node];
  if (n === undefined) throw new Error(`node ${node} is not in the configuration`);
  return join(n.stateDir, 'cores');
}
