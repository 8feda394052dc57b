/**
 * The heartbeat wire format: one UDP datagram per heartbeat copy.
 *
 *   offset  size  field
 *        0     4  magic, ASCII "TNDM"
 *        4     1  version (WIRE_VERSION)
 *        5     1  flags (reserved, 0)
 *        6     2  body length, big-endian
 *        8     n  body: UTF-8 JSON of the Heartbeat
 *      8+n    32  HMAC-SHA256 over bytes [0, 8+n)
 *
 * The MAC covers the header too, so the version and length cannot be altered in transit. The
 * receiver checks the MAC before it parses a single byte of the body: unauthenticated input
 * never reaches JSON.parse or the validator.
 */
import type { Generations } from '../sync/state.js';
import { SYNC_STATES } from '../sync/state.js';
import type { FirmwareIdentity, HaMode, Heartbeat, InterfaceReach, PeerReport, PeerRequest, Role } from '../ha/report.js';
import { PEER_REQUEST_KINDS, YIELD_CAUSES } from '../ha/report.js';

export const WIRE_VERSION = 1;
/** Below the usual 1500-byte MTU with room for IP/UDP headers and tunnels: no fragmentation. */
export const MAX_DATAGRAM_BYTES = 1400;

/** Keyed HMAC-SHA256 (32-byte tag), injected by the shell so the core stays free of node:crypto. */
export type Mac = (data: Uint8Array) => Uint8Array;

/** Why a received heartbeat was dropped, across the whole receive pipeline (receive.ts). */
export type RejectReason =
  | 'malformed'
  | 'unsupported-version'
  | 'unauthenticated'
  | 'foreign-cluster'
  | 'not-for-us'
  | 'wrong-path'
  | 'replayed'
  | 'stale';

export const REJECT_REASONS: readonly RejectReason[] = [
  'malformed', 'unsupported-version', 'unauthenticated', 'foreign-cluster', 'not-for-us',
  'wrong-path', 'replayed', 'stale',
];

/** Bounds the validator enforces on decoded (and encoded) heartbeats. */
export const WIRE_LIMITS = {
  /** Cluster, node, path and interface names, in UTF-16 code units. */
  name: 64,
  /** Boot ids, cluster UUIDs, generation ids. */
  id: 128,
  /** Items in any array. */
  list: 64,
} as const;

const MAGIC = [0x54, 0x4e, 0x44, 0x4d]; // "TNDM"
const HEADER_BYTES = 8;
const MAC_BYTES = 32;

export type DecodeResult =
  | { readonly ok: true; readonly heartbeat: Heartbeat }
  | { readonly ok: false; readonly reason: 'malformed' | 'unsupported-version' | 'unauthenticated' };

/**
 * Frames and authenticates a heartbeat. Throws when the heartbeat is not valid or does not fit
 * in one datagram: both are programming errors, better caught at the sender than dropped
 * silently by the receiver.
 */
export function encodeHeartbeat(hb: Heartbeat, mac: Mac): Uint8Array {
  // Encode the validated copy, not `hb` itself: it drops any extra runtime properties and
  // guarantees the peer's validator will accept what we send. A node sends the same report on
  // every path: it is validated once (reports are immutable values).
  const { report, ...envelope } = hb;
  const canonicalReport = validReport(report);
  const canonical = parseEnvelope(envelope, 'heartbeat');
  if (canonical instanceof Invalid) throw new Error(`encodeHeartbeat: ${canonical.message}`);
  const body = ENCODER.encode(JSON.stringify({ ...canonical, report: canonicalReport }));
  const size = HEADER_BYTES + body.length + MAC_BYTES;
  if (size > MAX_DATAGRAM_BYTES) {
    throw new Error(`encodeHeartbeat: datagram of ${size} bytes exceeds MAX_DATAGRAM_BYTES (${MAX_DATAGRAM_BYTES})`);
  }
  const out = new Uint8Array(size);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint8(4, WIRE_VERSION);
  view.setUint8(5, 0);
  view.setUint16(6, body.length, false);
  out.set(body, HEADER_BYTES);
  const tag = mac(out.subarray(0, HEADER_BYTES + body.length));
  if (tag.length !== MAC_BYTES) throw new Error(`encodeHeartbeat: MAC must be ${MAC_BYTES} bytes, got ${tag.length}`);
  out.set(tag, HEADER_BYTES + body.length);
  return out;
}

/** Parses a datagram. Never throws (except if `mac` itself does), whatever the bytes. */
export function decodeHeartbeat(bytes: Uint8Array, mac: Mac): DecodeResult {
  // Too short to hold a header and a MAC, or larger than we ever send.
  if (bytes.length < HEADER_BYTES + MAC_BYTES || bytes.length > MAX_DATAGRAM_BYTES) return reject('malformed');
  if (!MAGIC.every((byte, i) => bytes[i] === byte)) return reject('malformed');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(4) !== WIRE_VERSION) return reject('unsupported-version');
  // Reserved flags must be zero in version 1: a sender setting them speaks something else.
  if (view.getUint8(5) !== 0) return reject('malformed');
  const bodyLength = view.getUint16(6, false);
  if (HEADER_BYTES + bodyLength + MAC_BYTES !== bytes.length) return reject('malformed');

  const signed = bytes.subarray(0, HEADER_BYTES + bodyLength);
  const tag = bytes.subarray(HEADER_BYTES + bodyLength);
  if (!equalConstantTime(mac(signed), tag)) return reject('unauthenticated');

  let json: unknown;
  try {
    // fatal: invalid UTF-8 is an error, not silently replaced.
    json = JSON.parse(DECODER.decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + bodyLength)));
  } catch {
    return reject('malformed');
  }
  const heartbeat = parseHeartbeat(json, 'heartbeat');
  if (heartbeat instanceof Invalid) return reject('malformed');
  return { ok: true, heartbeat };
}

/**
 * Checks that an authentic heartbeat is meant for this node, from its peer, on this path. The
 * path check stops a copy captured on one path from being replayed on another to fake that
 * path's liveness.
 */
export function checkAddressing(
  hb: Heartbeat,
  expected: { readonly cluster: string; readonly self: string; readonly peer: string; readonly path: string },
): 'foreign-cluster' | 'not-for-us' | 'wrong-path' | null {
  if (hb.cluster !== expected.cluster) return 'foreign-cluster';
  if (hb.from !== expected.peer || hb.to !== expected.self) return 'not-for-us';
  if (hb.path !== expected.path) return 'wrong-path';
  return null;
}

function reject(reason: 'malformed' | 'unsupported-version' | 'unauthenticated'): DecodeResult {
  return { ok: false, reason };
}

/** Compares every byte whatever the first difference, so timing does not leak a valid prefix. */
function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

// ---------------------------------------------------------------------------------------------
// Validation. Each parser takes untrusted JSON and returns a fresh canonical value holding only
// the known fields (unknown fields are dropped: forward compatibility within a version), or an
// Invalid naming the first bad field (used in the encoder's error; the decoder says 'malformed').

class Invalid {
  constructor(readonly message: string) {}
}

type Parser<T> = (value: unknown, path: string) => T | Invalid;

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(maxLength: number): Parser<string> {
  return (value, path) =>
    typeof value === 'string' && value.length >= 1 && value.length <= maxLength
      ? value
      : new Invalid(`${path}: expected a string of 1..${maxLength} characters`);
}

const name = text(WIRE_LIMITS.name);
const id = text(WIRE_LIMITS.id);

/** A safe integer ≥ min; -0 becomes 0 so that a decoded value always equals its re-encoding. */
function integer(min: number): Parser<number> {
  return (value, path) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= min
      ? (value === 0 ? 0 : value)
      : new Invalid(`${path}: expected an integer ≥ ${min}`);
}

const count = integer(0);

/** A finite number ≥ 0 (reach scores are sums of weights, which need not be integers). */
const amount: Parser<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? (value === 0 ? 0 : value)
    : new Invalid(`${path}: expected a finite number ≥ 0`);

const flag: Parser<boolean> = (value, path) =>
  typeof value === 'boolean' ? value : new Invalid(`${path}: expected a boolean`);

function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return (value, path) => {
    const found = values.find((v) => v === value);
    return found ?? new Invalid(`${path}: expected one of ${values.join(', ')}`);
  };
}

/**
 * The members of a string union, from a record keyed by all of them: the compiler then rejects
 * a missing or extra member, so the wire enum cannot drift from the type.
 */
function members<T extends string>(all: Record<T, true>): readonly T[] {
  return Object.keys(all) as T[];
}

function nullable<T>(parser: Parser<T>): Parser<T | null> {
  return (value, path) => (value === null ? null : parser(value, path));
}

function list<T>(item: Parser<T>): Parser<readonly T[]> {
  return (value, path) => {
    if (!Array.isArray(value) || value.length > WIRE_LIMITS.list) {
      return new Invalid(`${path}: expected an array of at most ${WIRE_LIMITS.list} items`);
    }
    const out: T[] = [];
    for (const [i, element] of (value as readonly unknown[]).entries()) {
      const parsed = item(element, `${path}[${i}]`);
      if (parsed instanceof Invalid) return parsed;
      out.push(parsed);
    }
    return out;
  };
}

/** Parsers of fields added after version 1 shipped: a sender that predates them leaves them out. */
const absentIsNull = new WeakSet<Parser<unknown>>();

/** A field added later: missing reads as null (a peer on an older firmware does not send it). */
function added<T>(parser: Parser<T>): Parser<T | null> {
  const p = nullable(parser);
  absentIsNull.add(p);
  return p;
}

/** An object with exactly the fields of T, all required; the mapped type forces one parser each. */
function record<T extends object>(shape: { readonly [K in keyof T]-?: Parser<T[K]> }): Parser<T> {
  const keys = Object.keys(shape) as (keyof T & string)[];
  return (value, path) => {
    if (!isObject(value)) return new Invalid(`${path}: expected an object`);
    const out: Partial<Record<keyof T, unknown>> = {};
    for (const key of keys) {
      // Own properties only: "constructor" or "toString" must not be found on the prototype.
      if (!Object.hasOwn(value, key)) {
        if (absentIsNull.has(shape[key])) { out[key] = null; continue; }
        return new Invalid(`${path}.${key}: missing`);
      }
      const parsed = shape[key](value[key], `${path}.${key}`);
      if (parsed instanceof Invalid) return parsed;
      out[key] = parsed;
    }
    return out as T;
  };
}

const parseRequest = record<PeerRequest>({
  id: count,
  kind: oneOf(PEER_REQUEST_KINDS),
  force: flag,
});

/** Any finite number: monotonic clock readings of the peer (their origin is the peer's). */
const instant: Parser<number> = (value, path) =>
  typeof value === 'number' && Number.isFinite(value) ? (value === 0 ? 0 : value) : new Invalid(`${path}: expected a finite number`);

const parseReach = record<InterfaceReach>({
  interface: name,
  score: amount,
  total: amount,
  ready: flag,
  suspect: added(flag),
  answeredAt: added(instant),
  lostSince: added(instant),
});

const parseEcho = record<NonNullable<Heartbeat['echo']>>({
  clock: instant,
  heldMs: amount,
});

const parseGenerations = record<Generations>({
  current: id,
  history: list(id),
});

const parseFirmware = record<FirmwareIdentity>({
  version: name,
  type: oneOf(members<FirmwareIdentity['type']>({ lts: true, feature: true, factory: true })),
  haMin: integer(1),
  haMax: integer(1),
});

const parseReport = record<PeerReport>({
  mode: oneOf(members<HaMode>({ standalone: true, ha: true })),
  uuid: nullable(id),
  role: oneOf(members<Role>({ primary: true, secondary: true, standalone: true })),
  term: count,
  starting: flag,
  sync: oneOf(SYNC_STATES),
  generations: parseGenerations,
  canTakeOver: flag,
  nextHops: list(parseReach),
  yieldingTo: nullable(name),
  yieldCause: nullable(oneOf(YIELD_CAUSES)),
  request: nullable(parseRequest),
  ack: nullable(count),
  leaving: flag,
  firmware: added(parseFirmware),
});

const ENVELOPE = {
  cluster: name,
  from: name,
  to: name,
  path: name,
  bootId: id,
  seq: integer(1),
  sentAt: count,
  clock: added(instant),
  echo: added(parseEcho),
} as const;

const parseHeartbeat = record<Heartbeat>({ ...ENVELOPE, report: parseReport });
const parseEnvelope = record<Omit<Heartbeat, 'report'>>(ENVELOPE);

/** Reports already validated for sending, with their canonical copy. */
const validated = new WeakMap<PeerReport, PeerReport>();

function validReport(report: PeerReport): PeerReport {
  const known = validated.get(report);
  if (known !== undefined) return known;
  const canonical = parseReport(report, 'heartbeat.report');
  if (canonical instanceof Invalid) throw new Error(`encodeHeartbeat: ${canonical.message}`);
  validated.set(report, canonical);
  return canonical;
}

const ENCODER = new TextEncoder();
// fatal: invalid UTF-8 is an error, not silently replaced.
const DECODER = new TextDecoder('utf-8', { fatal: true });
