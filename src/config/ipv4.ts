/**
 * Strict IPv4 parsing for the configuration, with reasons an operator understands. Addresses are
 * handled as unsigned 32-bit numbers.
 */

export interface Cidr {
  /** The address as written, without the prefix (canonical dotted form). */
  readonly address: string;
  readonly value: number;
  readonly prefix: number;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const IPV6_REASON = 'IPv6 is not supported: use an IPv4 address';

/** Numeric value of a strict dotted quad (four decimal numbers 0-255, no leading zeros), or null. */
export function ipv4Number(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    // Leading zeros are refused: some tools read them as octal (010 = 8).
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function networkOf(value: number, prefix: number): number {
  return (value & mask(prefix)) >>> 0;
}

export function broadcastOf(value: number, prefix: number): number {
  return (networkOf(value, prefix) | ~mask(prefix)) >>> 0;
}

/** `192.0.2.0/24` for the subnet an address/prefix belongs to. */
export function subnetText(net: Cidr): string {
  return `${formatIpv4(networkOf(net.value, net.prefix))}/${net.prefix}`;
}

export function inSubnet(value: number, net: Cidr): boolean {
  return networkOf(value, net.prefix) === networkOf(net.value, net.prefix);
}

export function sameSubnet(a: Cidr, b: Cidr): boolean {
  return a.prefix === b.prefix && inSubnet(b.value, a);
}

/**
 * Why `value` cannot sit on a segment as a host at all (loopback, multicast…), or null. The
 * same rule applies to node addresses, virtual IPs and next hops.
 */
export function unusableReason(value: number): string | null {
  const first = value >>> 24;
  const text = formatIpv4(value);
  if (first === 0) return `${text} is not a usable address (0.0.0.0/8 means "this network")`;
  if (first === 127) return `${text} is a loopback address, not an address on a network segment`;
  if (first >= 224 && first <= 239) return `${text} is a multicast address`;
  if (first >= 240) return `${text} is a reserved or broadcast address`;
  return null;
}

/**
 * Why `value` is the network or broadcast address of `net`, or null. Subnets of /31 and /32 have
 * neither (RFC 3021).
 */
export function networkOrBroadcastReason(value: number, net: Cidr, where: string): string | null {
  if (net.prefix >= 31) return null;
  const subnet = subnetText(net);
  if (value === networkOf(net.value, net.prefix)) return `${formatIpv4(value)} is the network address of ${subnet}${where}, not a host`;
  if (value === broadcastOf(net.value, net.prefix)) return `${formatIpv4(value)} is the broadcast address of ${subnet}${where}, not a host`;
  return null;
}

/** An address with its prefix length, `a.b.c.d/p` with p from 1 to 32. */
export function parseCidr(raw: string): Parsed<Cidr> {
  const text = raw.trim();
  if (text.includes(':')) return { ok: false, reason: IPV6_REASON };
  const slash = text.indexOf('/');
  if (slash < 0) {
    if (ipv4Number(text) !== null) {
      return { ok: false, reason: `missing the prefix length: write address/prefix, e.g. ${text}/24` };
    }
    return { ok: false, reason: `"${raw}" is not an IPv4 address with a prefix length (expected a.b.c.d/p, e.g. 192.0.2.11/24)` };
  }
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const value = ipv4Number(addressText);
  if (value === null) {
    return { ok: false, reason: `"${raw}" is not an IPv4 address with a prefix length (expected a.b.c.d/p, e.g. 192.0.2.11/24)` };
  }
  if (!/^[0-9]{1,2}$/.test(prefixText) || Number(prefixText) < 1 || Number(prefixText) > 32) {
    return { ok: false, reason: `prefix length "/${prefixText}" is invalid: use a number from 1 to 32` };
  }
  const unusable = unusableReason(value);
  if (unusable !== null) return { ok: false, reason: unusable };
  return { ok: true, value: { address: addressText, value, prefix: Number(prefixText) } };
}

/** A single address without a prefix length (a next hop). */
export function parseBareIpv4(raw: string): Parsed<number> {
  const text = raw.trim();
  if (text.includes(':')) return { ok: false, reason: IPV6_REASON };
  const slash = text.indexOf('/');
  if (slash >= 0 && ipv4Number(text.slice(0, slash)) !== null) {
    return { ok: false, reason: `a next hop is a single address, without a prefix length: write ${text.slice(0, slash)}` };
  }
  const value = ipv4Number(text);
  if (value === null) return { ok: false, reason: `"${raw}" is not an IPv4 address (expected four numbers 0-255, like 192.0.2.1)` };
  const unusable = unusableReason(value);
  if (unusable !== null) return { ok: false, reason: unusable };
  return { ok: true, value };
}
