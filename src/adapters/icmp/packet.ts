/**
 * ICMP echo packets for next-hop probes: building a request and checking a reply. Pure functions
 * over bytes; the socket side is `prober.ts` and the native addon in `native/icmp/`.
 *
 * A request is 24 bytes of ICMP: the 8-byte echo header (type 8, code 0, checksum, identifier,
 * sequence) and a 16-byte payload that the peer echoes back unchanged:
 *
 *   0..7   magic "TNDMPROB"
 *   8..11  the prober's random 32-bit token
 *   12..15 the IPv4 address the request was sent to
 *
 * A reply counts only if it is a whole, unfragmented IPv4 datagram carrying exactly that: type 0,
 * code 0, a valid checksum, our identifier, our magic and token, and a source address equal to
 * the address the request went to.
 */

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ECHO_HEADER_BYTES = 8;
export const ECHO_PAYLOAD_BYTES = 16;
export const ECHO_BYTES = ECHO_HEADER_BYTES + ECHO_PAYLOAD_BYTES;
const MAGIC = Buffer.from('TNDMPROB', 'latin1');
const MAGIC_HIGH = MAGIC.readUInt32BE(0);
const MAGIC_LOW = MAGIC.readUInt32BE(4);

/** The Internet checksum (RFC 1071) of `bytes[start, end)`: the ones' complement of the ones' complement sum. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
  if (i < end) sum += (bytes[i] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A dotted IPv4 address ("192.0.2.1", no leading zeros) as a 32-bit number, or undefined if it is not one. */
export function parseIpv4(address: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i < address.length ? address.charCodeAt(i) : 0x2e; // a final '.' ends the last octet
    if (c === 0x2e) {
      if (digits === 0 || octet > 255) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3) return undefined;
    } else {
      return undefined;
    }
  }
  return dots === 4 ? value : undefined;
}

export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 0xff}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/**
 * Writes an echo request into `into` (at least ECHO_BYTES long, reused between sends) and returns
 * the ECHO_BYTES view to send.
 */
export function writeEchoRequest(
  into: Buffer, fields: { identifier: number; token: number; seq: number; destination: number },
): Buffer {
  const packet = into.subarray(0, ECHO_BYTES);
  packet[0] = ICMP_ECHO_REQUEST;
  packet[1] = 0;
  packet.writeUInt16BE(0, 2);
  packet.writeUInt16BE(fields.identifier, 4);
  packet.writeUInt16BE(fields.seq, 6);
  MAGIC.copy(packet, 8);
  packet.writeUInt32BE(fields.token >>> 0, 16);
  packet.writeUInt32BE(fields.destination >>> 0, 20);
  packet.writeUInt16BE(internetChecksum(packet), 2);
  return packet;
}

/**
 * Checks one received IPv4 datagram (IP header first, as a raw socket delivers it), found in
 * `bytes[start, end)`, and returns the replying address and the sequence number if it is an echo
 * reply to one of our requests; undefined for anything else. Allocates nothing until it accepts.
 */
export function parseEchoReply(
  bytes: Buffer, identifier: number, token: number, start = 0, end = bytes.length,
): { address: string; seq: number } | undefined {
  if (start < 0 || end > bytes.length || end - start < 20) return undefined;
  const first = bytes.readUInt8(start);
  if (first >>> 4 !== 4) return undefined;
  const headerBytes = (first & 0x0f) * 4;
  if (headerBytes < 20) return undefined;
  const totalLength = bytes.readUInt16BE(start + 2);
  if (totalLength > end - start || totalLength !== headerBytes + ECHO_BYTES) return undefined;
  // More-fragments flag or a fragment offset: not a whole datagram.
  if ((bytes.readUInt16BE(start + 6) & 0x3fff) !== 0) return undefined;
  if (bytes.readUInt8(start + 9) !== 1) return undefined; // protocol ICMP
  const icmp = start + headerBytes;
  if (bytes.readUInt16BE(icmp) !== ((ICMP_ECHO_REPLY << 8) | 0)) return undefined; // type 0, code 0
  if (bytes.readUInt16BE(icmp + 4) !== identifier) return undefined;
  if (bytes.readUInt32BE(icmp + 8) !== MAGIC_HIGH || bytes.readUInt32BE(icmp + 12) !== MAGIC_LOW) return undefined;
  if (bytes.readUInt32BE(icmp + 16) !== token >>> 0) return undefined;
  const source = bytes.readUInt32BE(start + 12);
  if (bytes.readUInt32BE(icmp + 20) !== source) return undefined;
  if (internetChecksum(bytes, icmp, start + totalLength) !== 0) return undefined;
  return { address: formatIpv4(source), seq: bytes.readUInt16BE(icmp + 6) };
}
