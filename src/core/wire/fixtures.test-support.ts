/**
 * Test fixtures for heartbeats: a valid sample to tweak, and a fast-check arbitrary of valid
 * heartbeats that fit in one datagram. Support code for tests, not a test file itself.
 */
import fc from 'fast-check';
import type { Heartbeat, InterfaceReach, PeerReport, PeerRequest } from '../ha/report.js';
import { PEER_REQUEST_KINDS, YIELD_CAUSES } from '../ha/report.js';
import { SYNC_STATES } from '../sync/state.js';
import { MAX_DATAGRAM_BYTES } from './codec.js';

export type HeartbeatOverrides = Partial<Omit<Heartbeat, 'report'>> & { readonly report?: Partial<PeerReport> };

/** A valid heartbeat from node "beta" to node "alpha" of cluster "lab" on path "eth1". */
export function sampleHeartbeat(overrides: HeartbeatOverrides = {}): Heartbeat {
  const { report, ...fields } = overrides;
  return {
    cluster: 'lab',
    from: 'beta',
    to: 'alpha',
    path: 'eth1',
    bootId: '0123456789abcdef',
    seq: 1,
    sentAt: 1_700_000_000_000,
    clock: 123_456,
    echo: { clock: 98_765, heldMs: 40 },
    report: {
      mode: 'ha',
      uuid: '6f1c2a9e-1b7d-4c3e-9a51-2f0b8d4e7c10',
      role: 'secondary',
      term: 3,
      starting: false,
      sync: 'UpToDate',
      generations: { current: 'g7', history: ['g6', 'g5'] },
      canTakeOver: true,
      nextHops: [{ interface: 'eth0', score: 3, total: 3, ready: true, suspect: false, answeredAt: 123_400, lostSince: null }],
      yieldingTo: null,
      yieldCause: null,
      request: null,
      ack: null,
      leaving: false,
      firmware: { version: '1.0.0', type: 'lts', haMin: 1, haMax: 1 },
      ...report,
    },
    ...fields,
  };
}

// Short strings, including any code point (multi-byte UTF-8, astral, lone surrogates), so that the
// codec's text handling is exercised; the sizes keep most heartbeats within one datagram.
// Plain objects: fast-check otherwise sometimes builds null-prototype records, which are valid
// heartbeats too but never deep-equal the plain objects the decoder returns.
const plain = { noNullPrototype: true } as const;

const shortText = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });

const requestArb: fc.Arbitrary<PeerRequest> = fc.record({
  id: fc.nat(),
  kind: fc.constantFrom(...PEER_REQUEST_KINDS),
  force: fc.boolean(),
}, plain);

const reachArb: fc.Arbitrary<InterfaceReach> = fc.record({
  interface: shortText,
  score: fc.double({ min: 0, max: 1e6, noNaN: true }),
  total: fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e6, noNaN: true })),
  ready: fc.boolean(),
  suspect: fc.option(fc.boolean(), { nil: null }),
  answeredAt: fc.option(fc.integer({ min: -1e9, max: 1e12 }), { nil: null }),
  lostSince: fc.option(fc.integer({ min: -1e9, max: 1e12 }), { nil: null }),
}, plain);

const reportArb: fc.Arbitrary<PeerReport> = fc.record({
  mode: fc.constantFrom('standalone', 'ha'),
  uuid: fc.option(fc.oneof(fc.uuid(), shortText), { nil: null }),
  role: fc.constantFrom('primary', 'secondary', 'standalone'),
  term: fc.maxSafeNat(),
  starting: fc.boolean(),
  sync: fc.constantFrom(...SYNC_STATES),
  generations: fc.record({ current: shortText, history: fc.array(shortText, { maxLength: 4 }) }, plain),
  canTakeOver: fc.boolean(),
  nextHops: fc.array(reachArb, { maxLength: 3 }),
  yieldingTo: fc.option(shortText, { nil: null }),
  yieldCause: fc.option(fc.constantFrom(...YIELD_CAUSES), { nil: null }),
  request: fc.option(requestArb, { nil: null }),
  ack: fc.option(fc.maxSafeNat(), { nil: null }),
  leaving: fc.boolean(),
  firmware: fc.option(fc.record({
    version: shortText,
    type: fc.constantFrom('lts', 'feature', 'factory'),
    haMin: fc.integer({ min: 1, max: 1000 }),
    haMax: fc.integer({ min: 1, max: 1000 }),
  }, plain), { nil: null }),
}, plain);

/** Valid heartbeats whose encoding fits in MAX_DATAGRAM_BYTES. */
export const heartbeatArb: fc.Arbitrary<Heartbeat> = fc
  .record({
    cluster: shortText,
    from: shortText,
    to: shortText,
    path: shortText,
    bootId: fc.oneof(fc.stringMatching(/^[0-9a-f]{16}$/), shortText),
    seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    sentAt: fc.maxSafeNat(),
    clock: fc.option(fc.integer({ min: -1e9, max: 1e12 }), { nil: null }),
    echo: fc.option(fc.record({ clock: fc.integer({ min: -1e9, max: 1e12 }), heldMs: fc.nat() }, plain), { nil: null }),
    report: reportArb,
  }, plain)
  // Header (8) and MAC (32) around the JSON body.
  .filter((hb) => 40 + new TextEncoder().encode(JSON.stringify(hb)).length <= MAX_DATAGRAM_BYTES);
