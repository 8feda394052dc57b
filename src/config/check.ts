/**
 * The checks that relate values to each other (names, addresses, subnets, interfaces defined on
 * every node, next hops comparable between the nodes). They read the raw document defensively,
 * so they run even when the schema refused something elsewhere: an operator sees every error at
 * once. A value of the wrong type is the schema's to report and is skipped here.
 */
import { dirname, relative, resolve, sep } from 'node:path';
import {
  formatIpv4, inSubnet, ipv4Number, networkOrBroadcastReason, parseBareIpv4, parseCidr, sameSubnet, subnetText, type Cidr,
} from './ipv4.js';
import { fieldPath } from './schema.js';
import type { ConfigError } from './types.js';

export const NODE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

type Path = readonly (string | number)[];

interface DraftHop {
  readonly path: Path;
  /** Null when the address is invalid (already reported). */
  readonly value: number | null;
  /** Null when the weight is invalid (already reported by the schema). */
  readonly weight: number | null;
}

interface DraftInterface {
  readonly name: string;
  readonly path: Path;
  /** Null when missing or invalid. */
  readonly net: Cidr | null;
  /** Null when the interface has no next_hop; empty when it has one of the wrong shape. */
  readonly hops: readonly DraftHop[] | null;
}

interface DraftNode {
  readonly name: string;
  readonly path: Path;
  readonly interfaces: ReadonlyMap<string, DraftInterface>;
}

interface DraftVip {
  readonly path: Path;
  readonly index: number;
  readonly interface: string | null;
  readonly net: Cidr | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function entries(v: unknown): [string, unknown][] {
  return isRecord(v) ? Object.entries(v) : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

class Checker {
  readonly errors: ConfigError[] = [];
  constructor(private readonly file: string) {}

  add(path: Path, reason: string): void {
    this.errors.push({ file: this.file, field: fieldPath(path), reason });
  }
}

/**
 * `api.listen`: "off", "PORT", "ADDRESS" or "ADDRESS:PORT", IPv4, port 1–65535. Any IPv4 address
 * a socket can bind is fine here — loopback (an API for local tools only) and 0.0.0.0 included.
 */
function checkApiListen(c: Checker, listen: unknown): void {
  if (typeof listen !== 'string' || listen === 'off') return;
  const m = /^(?:(.+):)?(\d+)$/.exec(listen);
  const host = m === null ? listen : m[1];
  const port = m === null ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) c.add(['api', 'listen'], `port ${String(port)} is not from 1 to 65535`);
  if (host !== undefined && ipv4Number(host.trim()) === null) c.add(['api', 'listen'], `${host} is not an IPv4 address: write ADDRESS:PORT, PORT, or off`);
}

/**
 * `support.core_dir`: `tandem core delete` removes files there, so it must be a directory of its
 * own — not a node's state directory, data directory, nor any directory holding one of them,
 * nor inside the replicated store (core files are not replicated).
 */
function checkCoreDir(c: Checker, dir: unknown, nodes: unknown, file: string): void {
  if (typeof dir !== 'string' || dir === '' || dir.startsWith('~')) return;
  const base = dirname(resolve(file));
  const at = resolve(base, dir);
  const inside = (child: string, parent: string): boolean => {
    const r = relative(parent, child);
    return r === '' || (!r.startsWith(`..${sep}`) && r !== '..' && !r.startsWith(sep));
  };
  for (const [name, node] of entries(nodes)) {
    if (!isRecord(node)) continue;
    for (const [key, what] of [['state_dir', 'state directory'], ['data_dir', 'data directory']] as const) {
      const v = node[key];
      if (typeof v !== 'string' || v === '') continue;
      const other = resolve(base, v);
      if (inside(other, at)) { c.add(['support', 'core_dir'], `${at} is or holds the ${what} of node ${name} (${other}): core files need a directory of their own (tandem core delete removes files there)`); return; }
      if (key === 'data_dir' && inside(at, other)) { c.add(['support', 'core_dir'], `${at} is inside the data directory of node ${name} (${other}), which is replicated: use a directory of its own`); return; }
      if (key === 'state_dir' && inside(at, resolve(other, 'store'))) { c.add(['support', 'core_dir'], `${at} is inside the replicated store of node ${name}: use a directory of its own (the default is <state_dir>/cores)`); return; }
    }
  }
}

/** Every cross-value error of a parsed YAML document (any value: nothing is assumed of its shape). */
export function checkDocument(raw: unknown, file: string): ConfigError[] {
  const c = new Checker(file);
  if (!isRecord(raw)) return c.errors;
  const nodes = readNodes(c, raw.nodes);
  const vips = readVips(c, isRecord(raw.service) ? raw.service.vips : undefined);
  checkNodeAddresses(c, nodes);
  checkVips(c, nodes, vips);
  checkNextHops(c, nodes, vips);
  if (isRecord(raw.cluster)) checkHeartbeatPaths(c, nodes, raw.cluster);
  if (isRecord(raw.api)) checkApiListen(c, raw.api.listen);
  if (isRecord(raw.alerts) && Array.isArray(raw.alerts.webhooks)) {
    raw.alerts.webhooks.forEach((w: unknown, i) => {
      const url = isRecord(w) ? w.url : undefined;
      if (typeof url !== 'string') return;
      let ok = false;
      try { ok = ['http:', 'https:'].includes(new URL(url).protocol); } catch { ok = false; }
      if (!ok) c.add(['alerts', 'webhooks', i, 'url'], `${url} is not an http:// or https:// URL`);
    });
  }
  if (isRecord(raw.support)) checkCoreDir(c, raw.support.core_dir, raw.nodes, file);
  const [first, second] = nodes;
  if (nodes.length === 2 && first !== undefined && second !== undefined) checkComparable(c, first, second);
  return c.errors;
}

function readNodes(c: Checker, raw: unknown): DraftNode[] {
  if (!isRecord(raw)) return [];
  const list = entries(raw);
  if (list.length === 0) c.add(['nodes'], 'no node: name this node (and the other one, for a cluster)');
  if (list.length > 2) {
    c.add(['nodes'], `${list.length} nodes (${list.map(([n]) => n).join(', ')}): a Tandem cluster has one node (standalone) or two`);
  }
  return list.map(([name, value]) => {
    const path = ['nodes', name];
    if (!NODE_NAME.test(name)) {
      c.add(path, `invalid node name "${name}": use 1 to 32 characters a-z, 0-9, "_" or "-", starting with a letter or digit`);
    }
    const interfaces = new Map<string, DraftInterface>();
    for (const [ifname, ifvalue] of entries(isRecord(value) ? value.interfaces : undefined)) {
      interfaces.set(ifname, readInterface(c, [...path, 'interfaces', ifname], ifname, ifvalue));
    }
    return { name, path, interfaces };
  });
}

function readInterface(c: Checker, path: Path, name: string, raw: unknown): DraftInterface {
  if (!INTERFACE_NAME.test(name) || name === '.' || name === '..') {
    c.add(path, `invalid interface name "${name}": Linux interface names have 1 to 15 characters A-Z, a-z, 0-9, "_", "." or "-"`);
  }
  if (!isRecord(raw)) return { name, path, net: null, hops: null };
  let net: Cidr | null = null;
  const address = str(raw.address);
  if (address !== null) {
    const parsed = parseCidr(address);
    if (!parsed.ok) c.add([...path, 'address'], parsed.reason);
    else {
      const bad = networkOrBroadcastReason(parsed.value.value, parsed.value, '');
      if (bad !== null) c.add([...path, 'address'], `${bad}: use a host address`);
      else net = parsed.value;
    }
  }
  return { name, path, net, hops: readHops(c, [...path, 'next_hop'], raw.next_hop) };
}

function readHops(c: Checker, path: Path, raw: unknown): DraftHop[] | null {
  if (raw === undefined || raw === null) return null;
  const hop = (hopPath: Path, address: unknown, weight: unknown): DraftHop => {
    let value: number | null = null;
    const text = str(address);
    if (text !== null) {
      const parsed = parseBareIpv4(text);
      if (parsed.ok) value = parsed.value;
      else c.add(hopPath, parsed.reason);
    }
    const w = weight === undefined || weight === null ? 1
      : typeof weight === 'number' && Number.isInteger(weight) && weight >= 1 ? weight : null;
    return { path: hopPath, value, weight: w };
  };
  if (typeof raw === 'string') return [hop(path, raw, undefined)];
  if (!Array.isArray(raw)) return [];
  return raw.map((item, i) => (isRecord(item)
    ? hop([...path, i, 'address'], item.address, item.weight)
    : { path: [...path, i], value: null, weight: null }));
}

function readVips(c: Checker, raw: unknown): DraftVip[] {
  if (!Array.isArray(raw)) return [];
  const seen = new Map<number, number>();
  return raw.map((item: unknown, index): DraftVip => {
    const path = ['service', 'vips', index];
    if (!isRecord(item)) return { path, index, interface: null, net: null };
    let net: Cidr | null = null;
    const address = str(item.address);
    if (address !== null) {
      const parsed = parseCidr(address);
      const earlier = parsed.ok ? seen.get(parsed.value.value) : undefined;
      if (!parsed.ok) c.add([...path, 'address'], parsed.reason);
      else if (earlier !== undefined) {
        c.add([...path, 'address'], `${parsed.value.address} is already service.vips[${earlier}]: each virtual IP once`);
      } else {
        seen.set(parsed.value.value, index);
        net = parsed.value;
      }
    }
    return { path, index, interface: str(item.interface), net };
  });
}

/** Where an address is used as a node address: "node a's address on ext0". */
function nodeAddressOwner(nodes: readonly DraftNode[], value: number): string | null {
  for (const n of nodes) {
    for (const i of n.interfaces.values()) {
      if (i.net?.value === value) return `the address of node ${n.name} on ${i.name}`;
    }
  }
  return null;
}

function checkNodeAddresses(c: Checker, nodes: readonly DraftNode[]): void {
  const seen = new Map<number, string>();
  for (const n of nodes) {
    for (const i of n.interfaces.values()) {
      if (i.net === null) continue;
      const owner = seen.get(i.net.value);
      if (owner !== undefined) c.add([...i.path, 'address'], `${i.net.address} is also ${owner}: every node address must be unique`);
      else seen.set(i.net.value, `the address of node ${n.name} on ${i.name}`);
    }
  }
}

function checkVips(c: Checker, nodes: readonly DraftNode[], vips: readonly DraftVip[]): void {
  for (const vip of vips) {
    if (vip.interface === null) continue;
    for (const n of nodes) {
      const i = n.interfaces.get(vip.interface);
      if (i === undefined) {
        c.add([...vip.path, 'interface'], `${vip.interface} is not an interface of node ${n.name} (the virtual IP must be placeable on every node)`);
        continue;
      }
      if (vip.net === null || i.net === null) continue;
      const where = `, the subnet of ${i.name} on node ${n.name}`;
      if (!inSubnet(vip.net.value, i.net)) {
        c.add([...vip.path, 'address'], `${vip.net.address} is outside ${subnetText(i.net)}${where}`);
        continue;
      }
      const bad = networkOrBroadcastReason(vip.net.value, i.net, where);
      if (bad !== null) c.add([...vip.path, 'address'], bad);
    }
    if (vip.net !== null) {
      const owner = nodeAddressOwner(nodes, vip.net.value);
      if (owner !== null) c.add([...vip.path, 'address'], `${vip.net.address} is ${owner}: a virtual IP must be an address of its own`);
    }
  }
}

function checkNextHops(c: Checker, nodes: readonly DraftNode[], vips: readonly DraftVip[]): void {
  for (const n of nodes) {
    for (const i of n.interfaces.values()) {
      const seen = new Set<number>();
      for (const hop of i.hops ?? []) {
        if (hop.value === null) continue;
        const text = formatIpv4(hop.value);
        const beyond = 'a next hop is a device beyond the cluster, usually the router';
        if (seen.has(hop.value)) {
          c.add(hop.path, `${text} is listed twice on ${i.name}`);
          continue;
        }
        seen.add(hop.value);
        const owner = nodeAddressOwner(nodes, hop.value);
        if (owner !== null) {
          c.add(hop.path, `${text} is ${owner}: ${beyond}`);
          continue;
        }
        const vip = vips.find((v) => v.net?.value === hop.value);
        if (vip !== undefined) {
          c.add(hop.path, `${text} is a virtual IP (service.vips[${vip.index}]): ${beyond}`);
          continue;
        }
        if (i.net === null) continue;
        const where = `, the subnet of ${i.name} on node ${n.name}`;
        if (!inSubnet(hop.value, i.net)) {
          c.add(hop.path, `${text} is outside ${subnetText(i.net)}${where}`);
          continue;
        }
        const bad = networkOrBroadcastReason(hop.value, i.net, where);
        if (bad !== null) c.add(hop.path, bad);
      }
    }
  }
}

function checkHeartbeatPaths(c: Checker, nodes: readonly DraftNode[], cluster: Record<string, unknown>): void {
  const paths: { path: Path; name: string; role: string }[] = [];
  const haLink = str(cluster.ha_link);
  if (haLink !== null) paths.push({ path: ['cluster', 'ha_link'], name: haLink, role: 'the HA link' });
  if (Array.isArray(cluster.heartbeat)) {
    cluster.heartbeat.forEach((value: unknown, index) => {
      const name = str(value);
      if (name === null) return;
      const path = ['cluster', 'heartbeat', index];
      if (name === haLink) c.add(path, `${name} is already the HA link (cluster.ha_link), which always carries heartbeats`);
      else if (paths.some((p) => p.name === name)) c.add(path, `${name} is listed twice`);
      else paths.push({ path, name, role: 'a heartbeat path' });
    });
  }
  for (const p of paths) {
    let first: { node: DraftNode; net: Cidr } | null = null;
    for (const n of nodes) {
      const i = n.interfaces.get(p.name);
      if (i === undefined) {
        c.add(p.path, `${p.name} is not an interface of node ${n.name} (${p.role} must be defined on every node)`);
        continue;
      }
      if (i.net === null) continue;
      if (first === null) first = { node: n, net: i.net };
      else if (!sameSubnet(first.net, i.net)) {
        c.add([...i.path, 'address'],
          `${i.net.address}/${i.net.prefix} is not in ${subnetText(first.net)}, the subnet of node ${first.node.name} on ${p.name}: ` +
          `${p.role} must join both nodes on one subnet`);
      }
    }
  }
}

/** The comparative next-hop rule compares weighted sums: both nodes must monitor alike. */
function checkComparable(c: Checker, a: DraftNode, b: DraftNode): void {
  const why = 'otherwise the next-hop rule cannot compare the two nodes (it needs next hops on the same interfaces on both)';
  const monitored = (n: DraftNode) => [...n.interfaces.values()].filter((i) => i.hops !== null);
  for (const [x, y] of [[a, b], [b, a]] as const) {
    for (const i of monitored(x)) {
      const other = y.interfaces.get(i.name);
      if (other === undefined) c.add([...y.path, 'interfaces'], `missing ${i.name}: node ${x.name} monitors a next hop on ${i.name}, so node ${y.name} must too: ${why}`);
      else if (other.hops === null) c.add([...other.path, 'next_hop'], `missing: node ${x.name} monitors a next hop on ${i.name}, so node ${y.name} must too: ${why}`);
    }
  }
  for (const i of monitored(a)) {
    const other = b.interfaces.get(i.name);
    if (other?.hops === null || other?.hops === undefined || i.hops === null) continue;
    const total = (hops: readonly DraftHop[]): number | null => {
      let sum = 0;
      for (const h of hops) {
        if (h.weight === null) return null;
        sum += h.weight;
      }
      return hops.length > 0 ? sum : null;
    };
    const ta = total(i.hops);
    const tb = total(other.hops);
    if (ta !== null && tb !== null && ta !== tb) {
      c.add([...other.path, 'next_hop'],
        `total weight ${tb} on ${i.name} differs from node ${a.name}'s ${ta}: ` +
        'the next-hop rule compares weighted sums, so both nodes need the same total weight per interface');
    }
  }
}
