/**
 * The lab's topology as data: namespaces, interfaces, addresses, bridges. Only documentation
 * address ranges (RFC 5737) are used; nothing in the lab routes anywhere else.
 *
 * ```
 * HA link 203.0.113.0/30: one veth         a ha0 203.0.113.1 ═══ b ha0 203.0.113.2
 * ext 192.0.2.0/24: bridge br-ext in sw     a ext0 .11, b ext0 .12, rext eth0 .1, client eth0 .100
 * int 198.51.100.0/24: bridge br-int in sw  a int0 .11, b int0 .12, rint eth0 .1
 * VIP 192.0.2.10/24: on the primary's ext0 (added by the daemon, not by the lab)
 * ```
 */

export const NODES = ['a', 'b'] as const;
export type NodeName = (typeof NODES)[number];

export const NODE_IFACES = ['ha0', 'ext0', 'int0'] as const;
export type NodeIface = (typeof NODE_IFACES)[number];

export const SEGMENTS = ['ext', 'int'] as const;
export type Segment = (typeof SEGMENTS)[number];

/** Every namespace of a lab, by role; the namespace is `tdm<ID>-<role>`. */
export const ROLES = ['a', 'b', 'rext', 'rint', 'client', 'sw'] as const;
export type Role = (typeof ROLES)[number];

/** The service address (VIP) the cluster config puts on ext0. */
export const VIP = '192.0.2.10';
export const VIP_CIDR = `${VIP}/24`;

export const NODE_ADDRESSES: Readonly<Record<NodeName, Readonly<Record<NodeIface, string>>>> = {
  a: { ha0: '203.0.113.1/30', ext0: '192.0.2.11/24', int0: '198.51.100.11/24' },
  b: { ha0: '203.0.113.2/30', ext0: '192.0.2.12/24', int0: '198.51.100.12/24' },
};

/** Next hop of each segment: the address of its router. */
export const NEXT_HOPS: Readonly<Record<Segment, string>> = { ext: '192.0.2.1', int: '198.51.100.1' };
/** The node interface on each segment. */
export const SEGMENT_IFACE: Readonly<Record<Segment, NodeIface>> = { ext: 'ext0', int: 'int0' };
export const ROUTER_ROLE: Readonly<Record<Segment, Role>> = { ext: 'rext', int: 'rint' };
export const BRIDGES: Readonly<Record<Segment, string>> = { ext: 'br-ext', int: 'br-int' };
export const CLIENT_ADDRESS = '192.0.2.100/24';

/** Routers and the client have one interface each. */
export const HOST_IFACE = 'eth0';

/** One veth from a namespace into a segment's bridge (the other end lives in `sw`). */
export interface Attachment {
  readonly role: Role;
  readonly iface: string;
  readonly address: string;
  /** Name of the bridge port in the `sw` namespace. */
  readonly port: string;
  readonly segment: Segment;
}

export const ATTACHMENTS: readonly Attachment[] = [
  { role: 'a', iface: 'ext0', address: NODE_ADDRESSES.a.ext0, port: 'a-ext', segment: 'ext' },
  { role: 'b', iface: 'ext0', address: NODE_ADDRESSES.b.ext0, port: 'b-ext', segment: 'ext' },
  { role: 'rext', iface: HOST_IFACE, address: `${NEXT_HOPS.ext}/24`, port: 'rext', segment: 'ext' },
  { role: 'client', iface: HOST_IFACE, address: CLIENT_ADDRESS, port: 'client', segment: 'ext' },
  { role: 'a', iface: 'int0', address: NODE_ADDRESSES.a.int0, port: 'a-int', segment: 'int' },
  { role: 'b', iface: 'int0', address: NODE_ADDRESSES.b.int0, port: 'b-int', segment: 'int' },
  { role: 'rint', iface: HOST_IFACE, address: `${NEXT_HOPS.int}/24`, port: 'rint', segment: 'int' },
];

/**
 * Default TTL of the packets each node sends: distinct, so that a ping reply from the VIP
 * shows which node answered (see `Lab.clientPing`).
 */
export const NODE_TTL: Readonly<Record<NodeName, number>> = { a: 65, b: 66 };

/**
 * The sysctls set in each namespace before its interfaces exist (`default` is inherited by
 * new interfaces, `all` applies to existing ones).
 */
export function sysctlsFor(role: Role): Record<string, string> {
  const both = (key: string, value: string): Record<string, string> => ({
    [`net.ipv4.conf.all.${key}`]: value,
    [`net.ipv4.conf.default.${key}`]: value,
  });
  const common: Record<string, string> = {
    // No IPv6 at all: no link-local addresses, no router or neighbour solicitations.
    'net.ipv6.conf.all.disable_ipv6': '1',
    'net.ipv6.conf.default.disable_ipv6': '1',
    // Independent of the host's setting: the lab's routing is trivial, no source checks.
    ...both('rp_filter', '0'),
  };
  switch (role) {
    case 'a':
    case 'b':
      return {
        ...common,
        // Answer ARP only for addresses configured on the interface the request came in on,
        // so the VIP is announced only where it lives (ext0) and only by its owner.
        ...both('arp_ignore', '1'),
        // Use the best local address of the outgoing interface as ARP source, never another
        // interface's address (e.g. never the VIP as the source of an int0 request).
        ...both('arp_announce', '2'),
        'net.ipv4.ip_default_ttl': String(NODE_TTL[role]),
        // Lets an unprivileged ICMP datagram socket (SOCK_DGRAM/IPPROTO_ICMP) ping from the node.
        'net.ipv4.ping_group_range': '0 2147483647',
      };
    case 'client':
    case 'rext':
    case 'rint':
      // Create/update ARP entries from gratuitous ARP, so these neighbours follow a VIP move.
      return { ...common, ...both('arp_accept', '1') };
    case 'sw':
      return common;
  }
}
