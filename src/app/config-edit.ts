/**
 * The settings the web console's "Basic Settings > High Availability" page edits — next hops per
 * interface for this node and the other node, the redundant heartbeat interfaces, the resync rate
 * limit — as edits of the YAML document (comments kept), checked by the configuration loader
 * itself (its messages, field and reason, shown inline), then written atomically and applied
 * live: the appliance needs "Reboot Cluster" for next-hop changes, Tandem does not. The other
 * node gets the file through data sync like every configuration change.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { writeTextAtomic } from '../adapters/state/store.js';
import { parseConfig } from '../config/parse.js';
import { peerName } from '../config/core.js';
import type { TandemConfig } from '../config/types.js';

export const ConfigView = z.object({
  node: z.string(),
  other_node: z.string().nullable(),
  interfaces: z.array(z.object({
    interface: z.string(),
    ha_link: z.boolean(),
    this_node: z.object({ address: z.string(), next_hops: z.array(z.string()) }),
    other_node: z.object({ address: z.string(), next_hops: z.array(z.string()) }).nullable(),
  })),
  heartbeat: z.array(z.string()),
  resync_rate_mbit: z.number(),
});
export type ConfigView = z.infer<typeof ConfigView>;

export const ConfigChange = z.object({
  /** Per interface: the next-hop addresses monitored from this node and from the other node ([] = none). */
  next_hops: z.array(z.object({
    interface: z.string().min(1).max(15),
    this_node: z.array(z.string().max(64)).max(8),
    other_node: z.array(z.string().max(64)).max(8).optional(),
  })).max(32).optional(),
  heartbeat: z.array(z.string().min(1).max(15)).max(8).optional(),
  /**
   * This node's address on an interface (ADDRESS/PREFIX; the console menu's "HA address"). The
   * heartbeat sockets and the replication channel bind at start: it takes effect at the restart.
   */
  addresses: z.array(z.object({ interface: z.string().min(1).max(15), address: z.string().min(1).max(64) }).strict()).max(8).optional(),
  resync_rate_mbit: z.number().min(0).optional(),
  /** Check only: the loader's verdict, nothing written. */
  dry_run: z.boolean().default(false),
}).strict();
export type ConfigChange = z.infer<typeof ConfigChange>;

export const ConfigChangeReply = z.object({
  ok: z.boolean(),
  /** The loader's refusals, by field (`nodes.b.interfaces.ext0.next_hop`), as it words them. */
  errors: z.array(z.object({ field: z.string(), reason: z.string() })),
  messages: z.array(z.string()),
});
export type ConfigChangeReply = z.infer<typeof ConfigChangeReply>;

export function viewOf(config: TandemConfig, node: string): ConfigView {
  const self = config.nodes[node];
  const other = peerName(config, node);
  const peer = other === null ? undefined : config.nodes[other];
  const names = Object.keys(self?.interfaces ?? {});
  return {
    node, other_node: other,
    interfaces: names.map((name) => {
      const mine = self?.interfaces[name];
      const theirs = peer?.interfaces[name];
      return {
        interface: name, ha_link: name === config.cluster.haLink,
        this_node: { address: `${mine?.address ?? ''}/${String(mine?.prefix ?? '')}`, next_hops: (mine?.nextHops ?? []).map((h) => h.address) },
        other_node: theirs === undefined ? null : { address: `${theirs.address}/${String(theirs.prefix)}`, next_hops: theirs.nextHops.map((h) => h.address) },
      };
    }),
    heartbeat: [...config.cluster.heartbeat],
    resync_rate_mbit: Math.round((config.sync.resyncRateBytesPerSec * 8) / 1_000_000 * 1000) / 1000,
  };
}

/**
 * The configuration text with the change made, and the loader's verdict on it. Next hops keep
 * their weights when the address stays; a new address gets weight 1.
 */
export function applyChange(text: string, file: string, node: string, change: ConfigChange): { text: string; errors: { field: string; reason: string }[] } {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { text, errors: [{ field: '', reason: doc.errors[0]?.message ?? 'not YAML' }] };
  const loaded = parseConfig(text, file);
  const other = loaded.ok ? peerName(loaded.config, node) : null;
  for (const row of change.next_hops ?? []) {
    const set = (who: string, addresses: readonly string[]): void => {
      const path = ['nodes', who, 'interfaces', row.interface, 'next_hop'];
      if (addresses.length === 0) { doc.deleteIn(path); return; }
      const before = loaded.ok ? loaded.config.nodes[who]?.interfaces[row.interface]?.nextHops ?? [] : [];
      const weights = new Map(before.map((h) => [h.address, h.weight]));
      const value = addresses.length === 1 && (weights.get(addresses[0] ?? '') ?? 1) === 1
        ? addresses[0]
        : addresses.map((a) => ({ address: a, ...((weights.get(a) ?? 1) === 1 ? {} : { weight: weights.get(a) }) }));
      doc.setIn(path, doc.createNode(value));
    };
    set(node, row.this_node);
    if (row.other_node !== undefined && other !== null) set(other, row.other_node);
  }
  const unknown: { field: string; reason: string }[] = [];
  for (const a of change.addresses ?? []) {
    const path = ['nodes', node, 'interfaces', a.interface];
    // Setting the address of an interface the node does not have would add one.
    if (!doc.hasIn(path)) unknown.push({ field: path.join('.'), reason: `node ${node} has no interface ${a.interface}` });
    else doc.setIn([...path, 'address'], a.address);
  }
  if (unknown.length > 0) return { text, errors: unknown };
  if (change.heartbeat !== undefined) doc.setIn(['cluster', 'heartbeat'], doc.createNode(change.heartbeat));
  if (change.resync_rate_mbit !== undefined) doc.setIn(['sync', 'resync_rate_mbit'], change.resync_rate_mbit);
  const out = doc.toString();
  const checked = parseConfig(out, file);
  return { text: out, errors: checked.ok ? [] : checked.errors.map((e) => ({ field: e.field, reason: e.reason })) };
}

/** Writes the changed configuration (same mode), when it loads; the caller applies it live. */
export function writeChange(file: string, node: string, change: ConfigChange): ConfigChangeReply & { readonly changed: boolean } {
  const text = readFileSync(file, 'utf8');
  const r = applyChange(text, file, node, change);
  if (r.errors.length > 0) return { ok: false, errors: r.errors, messages: ['the configuration was not changed'], changed: false };
  if (change.dry_run) return { ok: true, errors: [], messages: ['valid (not applied: dry run)'], changed: false };
  if (r.text === text) return { ok: true, errors: [], messages: ['nothing to change'], changed: false };
  writeTextAtomic(file, r.text, statSync(file).mode & 0o7777);
  return { ok: true, errors: [], messages: ['configuration saved'], changed: true };
}
