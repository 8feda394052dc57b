import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hmacSha256 } from '../../adapters/crypto/hmac.js';
import type { Heartbeat } from '../ha/report.js';
import type { Mac } from './codec.js';
import { MAX_DATAGRAM_BYTES, WIRE_LIMITS, WIRE_VERSION, checkAddressing, decodeHeartbeat, encodeHeartbeat } from './codec.js';
import { heartbeatArb, sampleHeartbeat } from './fixtures.test-support.js';

const KEY = new TextEncoder().encode('the shared secret of cluster lab');
const mac = hmacSha256(KEY);
const otherMac = hmacSha256(new TextEncoder().encode('the shared secret of cluster lab!'));

/** A heartbeat with every nullable field set, so that nested objects are covered too. */
const full = sampleHeartbeat({
  report: {
    yieldingTo: 'alpha',
    yieldCause: 'next-hop',
    request: { id: 4, kind: 'takeover', force: true },
    ack: 2,
    nextHops: [
      { interface: 'eth0', score: 2, total: 3, ready: true, suspect: true, answeredAt: 123_000, lostSince: 122_500 },
      { interface: 'eth2', score: 0.5, total: 1.5, ready: false, suspect: false, answeredAt: null, lostSince: null },
    ],
  },
});
const minimal = sampleHeartbeat({ report: { uuid: null, generations: { current: 'g1', history: [] }, nextHops: [] } });

type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/**
 * Frames any body as a version-1 datagram with a valid MAC (or the header fields given), so that
 * tests can reach the checks that come after authentication.
 */
function frame(body: Uint8Array | string, header: { version?: number; flags?: number; length?: number } = {}): Uint8Array {
  const bodyBytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  const out = new Uint8Array(8 + bodyBytes.length + 32);
  out.set(new TextEncoder().encode('TNDM'), 0);
  const view = new DataView(out.buffer);
  view.setUint8(4, header.version ?? WIRE_VERSION);
  view.setUint8(5, header.flags ?? 0);
  view.setUint16(6, header.length ?? bodyBytes.length);
  out.set(bodyBytes, 8);
  out.set(mac(out.subarray(0, 8 + bodyBytes.length)), 8 + bodyBytes.length);
  return out;
}

const frameJson = (value: unknown): Uint8Array => frame(JSON.stringify(value));

function withByte(bytes: Uint8Array, index: number, value: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[index] = value;
  return copy;
}

function decodeReason(bytes: Uint8Array, key: Mac = mac): string {
  const result = decodeHeartbeat(bytes, key);
  return result.ok ? 'accepted' : result.reason;
}

/** Every property path of a JSON value (object keys and array indexes), outermost first. */
function fieldPaths(value: Json, prefix: readonly (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [];
  const entries: [string | number, Json][] = Array.isArray(value)
    ? (value as readonly Json[]).map((item, i) => [i, item])
    : Object.entries(value);
  return entries.flatMap(([key, item]) => [[...prefix, key], ...fieldPaths(item, [...prefix, key])]);
}

/** A deep copy of `value` with the field at `path` replaced (or deleted when `replacement` is undefined). */
function mutate(value: Json, path: readonly (string | number)[], replacement: Json | undefined): Json {
  const copy = JSON.parse(JSON.stringify(value)) as Json;
  let parent = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (replacement === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else Reflect.deleteProperty(parent, last);
  } else {
    parent[last] = replacement;
  }
  return copy;
}

function get(value: Json, path: readonly (string | number)[]): Json {
  return path.reduce<Json>((v, key) => (v as Record<string | number, Json>)[key]!, value);
}

/** A value of another JSON type than `value`, which no field of that type accepts. */
function mistyped(value: Json): Json {
  if (value === null) return true; // every nullable field holds a string, number or object otherwise
  if (Array.isArray(value)) return { 0: 'x' };
  if (typeof value === 'string') return 42;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return ['x'];
}

describe('encodeHeartbeat', () => {
  it('lays out magic, version, flags, big-endian body length, JSON body and HMAC-SHA256', () => {
    const bytes = encodeHeartbeat(full, mac);
    const body = JSON.stringify(full);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'TNDM');
    assert.equal(bytes[4], WIRE_VERSION);
    assert.equal(bytes[5], 0);
    assert.equal((bytes[6]! << 8) | bytes[7]!, body.length);
    assert.equal(new TextDecoder().decode(bytes.subarray(8, 8 + body.length)), body);
    const expected = createHmac('sha256', KEY).update(bytes.subarray(0, 8 + body.length)).digest();
    assert.deepEqual([...bytes.subarray(8 + body.length)], [...expected]);
    assert.equal(bytes.length, 8 + body.length + 32);
  });

  it('throws when the datagram would exceed MAX_DATAGRAM_BYTES', () => {
    const reach = { interface: 'e'.repeat(WIRE_LIMITS.name), score: 1, total: 1, ready: true };
    const big = sampleHeartbeat({ report: { nextHops: Array.from({ length: 20 }, () => reach) } });
    assert.throws(() => encodeHeartbeat(big, mac), /exceeds MAX_DATAGRAM_BYTES \(1400\)/);
  });

  it('throws, naming the field, on a heartbeat the receiver would reject', () => {
    assert.throws(() => encodeHeartbeat(sampleHeartbeat({ seq: 0 }), mac), /heartbeat\.seq: expected an integer ≥ 1/);
    const badHistory = sampleHeartbeat({ report: { generations: { current: 'g2', history: ['g1', ''] } } });
    assert.throws(() => encodeHeartbeat(badHistory, mac), /heartbeat\.report\.generations\.history\[1\]/);
  });

  it('throws when the MAC is not 32 bytes', () => {
    assert.throws(() => encodeHeartbeat(full, () => new Uint8Array(16)), /MAC must be 32 bytes/);
  });

  it('sends only the known fields', () => {
    const extra = { ...full, secret: 'do not leak', report: { ...full.report, debug: [1, 2, 3] } };
    const body = new TextDecoder().decode(encodeHeartbeat(extra, mac));
    assert.ok(!body.includes('secret') && !body.includes('debug'));
  });
});

describe('decodeHeartbeat', () => {
  it('round-trips a heartbeat', () => {
    for (const hb of [full, minimal]) {
      assert.deepEqual(decodeHeartbeat(encodeHeartbeat(hb, mac), mac), { ok: true, heartbeat: hb });
    }
  });

  it('accepts a datagram that is a view into a larger buffer', () => {
    const bytes = encodeHeartbeat(full, mac);
    const buffer = new Uint8Array(bytes.length + 10);
    buffer.set(bytes, 5);
    assert.deepEqual(decodeHeartbeat(buffer.subarray(5, 5 + bytes.length), mac), { ok: true, heartbeat: full });
  });

  const good = encodeHeartbeat(full, mac);
  const bodyEnd = good.length - 32;
  const rejects: readonly { name: string; bytes: Uint8Array; reason: string }[] = [
    { name: 'empty datagram', bytes: new Uint8Array(0), reason: 'malformed' },
    { name: 'shorter than header and MAC', bytes: good.subarray(0, 39), reason: 'malformed' },
    { name: 'larger than MAX_DATAGRAM_BYTES', bytes: frame('x'.repeat(MAX_DATAGRAM_BYTES)), reason: 'malformed' },
    { name: 'wrong magic', bytes: withByte(good, 0, 0x74), reason: 'malformed' },
    { name: 'reserved flags set', bytes: frame(JSON.stringify(full), { flags: 1 }), reason: 'malformed' },
    { name: 'body length too short', bytes: frame(JSON.stringify(full), { length: bodyEnd - 9 }), reason: 'malformed' },
    { name: 'body length too long', bytes: frame(JSON.stringify(full), { length: bodyEnd - 7 }), reason: 'malformed' },
    { name: 'authentic invalid UTF-8', bytes: frame(new Uint8Array([0x7b, 0xff, 0x7d])), reason: 'malformed' },
    { name: 'authentic non-JSON', bytes: frame('{"cluster":'), reason: 'malformed' },
    { name: 'authentic JSON that is not a heartbeat', bytes: frameJson({ hello: 'world' }), reason: 'malformed' },
    { name: 'authentic JSON null', bytes: frame('null'), reason: 'malformed' },
    { name: 'authentic JSON array', bytes: frameJson([full]), reason: 'malformed' },
    { name: 'version 2', bytes: frame(JSON.stringify(full), { version: 2 }), reason: 'unsupported-version' },
    { name: 'version 0', bytes: withByte(good, 4, 0), reason: 'unsupported-version' },
    { name: 'signed with another key', bytes: encodeHeartbeat(full, otherMac), reason: 'unauthenticated' },
    { name: 'body altered', bytes: withByte(good, 20, good[20]! ^ 0x01), reason: 'unauthenticated' },
    { name: 'MAC altered', bytes: withByte(good, good.length - 1, good[good.length - 1]! ^ 0x80), reason: 'unauthenticated' },
    { name: 'MAC zeroed', bytes: Uint8Array.from(good).fill(0, bodyEnd), reason: 'unauthenticated' },
  ];
  for (const row of rejects) {
    it(`rejects ${row.name} as ${row.reason}`, () => {
      assert.deepEqual(decodeHeartbeat(row.bytes, mac), { ok: false, reason: row.reason });
    });
  }

  it('checks the MAC before parsing the body', () => {
    // Garbage that would be malformed if parsed is unauthenticated when the MAC is wrong.
    const garbage = frame('not json at all');
    assert.equal(decodeReason(garbage, otherMac), 'unauthenticated');
  });

  it('ignores unknown fields, and leaves them out of the result', () => {
    const extended = {
      ...full,
      future: { anything: [1, 2] },
      report: { ...full.report, hint: 'x', request: { ...full.report.request, priority: 9 } },
    };
    assert.deepEqual(decodeHeartbeat(frameJson(extended), mac), { ok: true, heartbeat: full });
  });

  it('rejects a heartbeat missing any field, or with any field of the wrong type', () => {
    for (const hb of [full, minimal] as unknown as Json[]) {
      for (const path of fieldPaths(hb)) {
        const isArrayItem = typeof path[path.length - 1] === 'number';
        // Deleting an array item leaves a valid (shorter) array: only objects lose required fields.
        // Fields added later: an older sender leaves them out (next tests).
        const addedLater = path.join('.') === 'report.firmware' || ['clock', 'echo'].includes(path.join('.')) ||
          (path[1] === 'nextHops' && ['suspect', 'answeredAt', 'lostSince'].includes(String(path[3])));
        if (!isArrayItem && !addedLater) assert.equal(decodeReason(frameJson(mutate(hb, path, undefined))), 'malformed', `without ${path.join('.')}`);
        const wrong = mistyped(get(hb, path));
        assert.equal(decodeReason(frameJson(mutate(hb, path, wrong))), 'malformed', `${path.join('.')} = ${JSON.stringify(wrong)}`);
      }
    }
  });

  it('reads a heartbeat of HA protocol 1 (no clock exchange, no next-hop evidence) with those fields null', () => {
    const { clock: _c, echo: _e, ...envelope } = full;
    const nextHops = full.report.nextHops.map((r) => ({ interface: r.interface, score: r.score, total: r.total, ready: r.ready }));
    const decoded = decodeHeartbeat(frameJson({ ...envelope, report: { ...full.report, nextHops } }), mac);
    assert.deepEqual(decoded, {
      ok: true,
      heartbeat: {
        ...full, clock: null, echo: null,
        report: { ...full.report, nextHops: nextHops.map((r) => ({ ...r, suspect: null, answeredAt: null, lostSince: null })) },
      },
    });
  });

  it('reads a report without the firmware field (a peer on an older firmware) as firmware null', () => {
    const { firmware: _dropped, ...older } = full.report;
    const decoded = decodeHeartbeat(frameJson({ ...full, report: older }), mac);
    assert.deepEqual(decoded, { ok: true, heartbeat: { ...full, report: { ...full.report, firmware: null } } });
  });

  const invalidValues: readonly { path: (string | number)[]; value: Json }[] = [
    { path: ['cluster'], value: '' },
    { path: ['from'], value: 'n'.repeat(WIRE_LIMITS.name + 1) },
    { path: ['bootId'], value: 'b'.repeat(WIRE_LIMITS.id + 1) },
    { path: ['seq'], value: 0 },
    { path: ['seq'], value: 1.5 },
    { path: ['seq'], value: 2 ** 53 },
    { path: ['sentAt'], value: -1 },
    { path: ['report', 'term'], value: -1 },
    { path: ['report', 'mode'], value: 'cluster' },
    { path: ['report', 'role'], value: 'PRIMARY' },
    { path: ['report', 'sync'], value: 'uptodate' },
    { path: ['report', 'uuid'], value: '' },
    { path: ['report', 'generations', 'history'], value: Array.from({ length: WIRE_LIMITS.list + 1 }, () => 'g') },
    { path: ['report', 'nextHops', 1, 'score'], value: -0.5 },
    { path: ['report', 'request', 'kind'], value: 'halt' },
    { path: ['report', 'yieldCause'], value: 'boredom' },
    { path: ['report', 'request', 'id'], value: -1 },
    { path: ['report', 'ack'], value: 0.5 },
    { path: ['report', 'leaving'], value: null },
    { path: ['report'], value: null },
  ];
  for (const row of invalidValues) {
    it(`rejects ${row.path.join('.')} = ${JSON.stringify(row.value).slice(0, 20)} as malformed`, () => {
      assert.equal(decodeReason(frameJson(mutate(full as unknown as Json, row.path, row.value))), 'malformed');
    });
  }

  it('rejects a number that JSON overflows to Infinity', () => {
    const body = JSON.stringify(full).replace('"score":2', '"score":1e999');
    assert.equal(decodeReason(frame(body)), 'malformed');
  });

  it('reads -0 as 0, so that a decoded heartbeat equals its re-encoding', () => {
    const body = JSON.stringify(full).replace('"term":3', '"term":-0').replace('"score":0.5', '"score":-0');
    const result = decodeHeartbeat(frame(body), mac);
    assert.ok(result.ok);
    assert.ok(Object.is(result.heartbeat.report.term, 0));
    assert.ok(Object.is(result.heartbeat.report.nextHops[1]!.score, 0));
  });

  it('accepts values at their bounds', () => {
    const hb = sampleHeartbeat({
      cluster: 'c'.repeat(WIRE_LIMITS.name),
      bootId: 'b'.repeat(WIRE_LIMITS.id),
      seq: Number.MAX_SAFE_INTEGER,
      sentAt: 0,
      report: { term: 0, ack: 0, generations: { current: 'g', history: Array.from({ length: WIRE_LIMITS.list }, () => 'g') } },
    });
    assert.deepEqual(decodeHeartbeat(encodeHeartbeat(hb, mac), mac), { ok: true, heartbeat: hb });
  });

  it('round-trips any valid heartbeat (property)', () => {
    fc.assert(fc.property(heartbeatArb, (hb) => {
      assert.deepEqual(decodeHeartbeat(encodeHeartbeat(hb, mac), mac), { ok: true, heartbeat: hb });
    }));
  });

  it('rejects a datagram with any single bit flipped (property)', () => {
    fc.assert(fc.property(heartbeatArb, fc.nat(), (hb, n) => {
      const bytes = encodeHeartbeat(hb, mac);
      const bit = n % (bytes.length * 8);
      const flipped = withByte(bytes, bit >> 3, bytes[bit >> 3]! ^ (1 << (bit & 7)));
      assert.equal(decodeHeartbeat(flipped, mac).ok, false);
    }));
  });

  it('rejects arbitrary bytes without throwing (property)', () => {
    const header = fc.tuple(fc.constantFrom(0, 1, 2), fc.constantFrom(0, 1), fc.nat(0xffff)).map(([version, flags, length]) =>
      [0x54, 0x4e, 0x44, 0x4d, version, flags, length >> 8, length & 0xff]);
    const datagrams = fc.oneof(
      fc.uint8Array({ maxLength: 2 * MAX_DATAGRAM_BYTES }),
      fc.tuple(header, fc.uint8Array({ maxLength: MAX_DATAGRAM_BYTES })).map(([h, rest]) => Uint8Array.from([...h, ...rest])),
    );
    fc.assert(fc.property(datagrams, (bytes) => {
      assert.equal(decodeHeartbeat(bytes, mac).ok, false);
    }));
  });

  it('rejects every truncation and extension of a datagram (property)', () => {
    fc.assert(fc.property(heartbeatArb, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 }), (hb, n, tail) => {
      const bytes = encodeHeartbeat(hb, mac);
      assert.equal(decodeHeartbeat(bytes.subarray(0, n % bytes.length), mac).ok, false);
      assert.equal(decodeHeartbeat(Uint8Array.from([...bytes, ...tail]), mac).ok, false);
    }));
  });

  it('never throws on authentic arbitrary bodies, and rejects them as malformed (property)', () => {
    const bodies = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => new TextDecoder().decode(b)),
    ).filter((s) => new TextEncoder().encode(s).length <= MAX_DATAGRAM_BYTES - 40);
    fc.assert(fc.property(bodies, (body) => {
      assert.equal(decodeReason(frame(body)), 'malformed');
    }));
  });

  it('never accepts a valid heartbeat with one field replaced by arbitrary JSON of another type (property)', () => {
    const paths = fieldPaths(full as unknown as Json).filter((p) => typeof p[p.length - 1] !== 'number');
    fc.assert(fc.property(fc.constantFrom(...paths), fc.jsonValue(), (path, value) => {
      const original = get(full as unknown as Json, path);
      fc.pre(typeof value !== typeof original || Array.isArray(value) !== Array.isArray(original));
      fc.pre(!(original === null || value === null)); // null is a valid value of nullable fields
      const bytes = frameJson(mutate(full as unknown as Json, path, value as Json));
      fc.pre(bytes.length <= MAX_DATAGRAM_BYTES);
      assert.equal(decodeReason(bytes), 'malformed');
    }));
  });

  it('rejects a heartbeat signed with any other key as unauthenticated (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (key) => {
      fc.pre(key.length !== KEY.length || key.some((b, i) => b !== KEY[i]));
      assert.equal(decodeReason(encodeHeartbeat(full, hmacSha256(key))), 'unauthenticated');
    }));
  });
});

describe('checkAddressing', () => {
  const expected = { cluster: 'lab', self: 'alpha', peer: 'beta', path: 'eth1' };
  const rows: readonly { name: string; hb: Heartbeat; result: ReturnType<typeof checkAddressing> }[] = [
    { name: 'a heartbeat from the peer to us on this path', hb: sampleHeartbeat(), result: null },
    { name: 'another cluster', hb: sampleHeartbeat({ cluster: 'prod' }), result: 'foreign-cluster' },
    { name: 'another cluster, also misaddressed', hb: sampleHeartbeat({ cluster: 'prod', to: 'gamma', path: 'eth9' }), result: 'foreign-cluster' },
    { name: 'a sender that is not the peer', hb: sampleHeartbeat({ from: 'gamma' }), result: 'not-for-us' },
    { name: 'a heartbeat for another node', hb: sampleHeartbeat({ to: 'gamma' }), result: 'not-for-us' },
    { name: 'our own heartbeat reflected back', hb: sampleHeartbeat({ from: 'alpha', to: 'beta' }), result: 'not-for-us' },
    { name: 'a copy sent on another path', hb: sampleHeartbeat({ path: 'eth2' }), result: 'wrong-path' },
  ];
  for (const row of rows) {
    it(`${row.name} → ${String(row.result)}`, () => {
      assert.equal(checkAddressing(row.hb, expected), row.result);
    });
  }
});
