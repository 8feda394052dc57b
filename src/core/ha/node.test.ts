import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hmacSha256 } from '../../adapters/crypto/hmac.js';
import { INITIAL_GENERATIONS } from '../sync/generations.js';
import type { Generations } from '../sync/state.js';
import type { Millis } from '../time.js';
import { TIMING_PROFILES } from '../timing.js';
import { encodeHeartbeat, REJECT_REASONS, type RejectReason } from '../wire/codec.js';
import {
  clusterConfig, ESTABLISHED, EXT_HOP, FRESH_UUID, G1, Harness, INT_HOP, NODE_A, UUID, WALL0,
  type HarnessOptions,
} from './harness.test-support.js';
import { step } from './node.js';
import type { PeerReport, Role } from './report.js';
import type { ClusterStatus } from './status.js';
import type { AlertEvent, Effect } from './types.js';

const mac = hmacSha256(new TextEncoder().encode('the shared secret of cluster lab'));
const otherMac = hmacSha256(new TextEncoder().encode('the shared secret of another cluster'));
const T = TIMING_PROFILES.default;

// ---------------------------------------------------------------------------------------------
// Givens: a node brought into a known state by simulated time, never by editing its state.

function node(opts: Omit<HarnessOptions, 'mac'> = {}): Harness {
  return new Harness({ mac, ...opts });
}

function monitorReady(h: Harness): boolean {
  return h.state.monitor.targets.every((t) => t.judged !== 'unknown');
}

/** a primary (it wins the election: lower HA address), b an in-sync secondary; next hops judged. */
function primary(opts: Omit<HarnessOptions, 'mac'> = {}): Harness {
  const h = node(opts);
  h.runUntil((x) => x.state.role === 'primary' && monitorReady(x), 5000);
  h.run(200);
  return h;
}

/** a an in-sync secondary of primary b (term 2); next hops judged. */
function secondary(opts: Omit<HarnessOptions, 'mac'> = {}): Harness {
  const h = node({ peer: { role: 'primary', term: 2 }, ...opts });
  h.runUntil((x) => x.state.peerAlive && monitorReady(x), 5000);
  h.run(200);
  return h;
}

/** Both nodes start for the first time: no UUID, no data, the peer still in its start-up hold. */
function bothStart(opts: Omit<HarnessOptions, 'mac'> = {}): Harness {
  return node({ persisted: null, peer: { uuid: null, term: 0, generations: INITIAL_GENERATIONS, starting: true }, ...opts });
}

/** The peer goes silent on every path; returns when it was last heard. */
function silence(h: Harness): Millis {
  h.peerOn = false;
  assert.ok(h.lastPeerAt !== null);
  return h.lastPeerAt;
}

/** The peer is heard again (same boot), from now on. */
function resume(h: Harness, report: Partial<PeerReport>): void {
  h.peerSays(report);
  h.peerOn = true;
  h.peerNextAt = h.now;
}

/** The next hop stops answering; returns when this node judged it down. */
function loseHop(h: Harness, address: string = EXT_HOP): Millis {
  h.reachable.delete(address);
  return h.runUntil((x) => x.judged(address) === 'down', 5000);
}

/** a, primary, lost the peer and carries on alone: a new data generation. */
function primaryAlone(): Harness {
  const h = primary();
  silence(h);
  h.run(T.peerDeadAfterMs + 2 * T.tickMs);
  assert.equal(h.state.peerAlive, false);
  return h;
}

/** a secondary promoted by b's next-hop handover (recorded by its flap limiter) at `h.promotedAt`. */
function promotedByNextHop(): Harness & { promotedAt: Millis } {
  const h = secondary();
  h.peerSays({ role: 'secondary', yieldingTo: 'a', yieldCause: 'next-hop' });
  h.peerHeartbeat();
  assert.equal(h.state.role, 'primary');
  const promotedAt = h.now;
  h.peerSays({ yieldingTo: null, yieldCause: null, term: h.state.primaryTerm });
  h.run(500);
  return Object.assign(h, { promotedAt });
}

/** b's data after it wrote alone on top of the shared generation G1. */
const DIVERGED: Generations = { current: 'b:2.1', history: [G1.current, 'genesis'] };

// ---------------------------------------------------------------------------------------------
// The table runner: given → when → expected role, service, reason, status and effects.

type EffectKind = Effect['kind'];

interface Expect {
  readonly role?: Role;
  readonly serving?: boolean;
  readonly reason?: RegExp;
  readonly cluster?: ClusterStatus;
  /** describeNode(...).takeover_veto; null = none. */
  readonly veto?: RegExp | null;
  /** Effect kinds emitted (at least once) during `when`. */
  readonly emitted?: readonly EffectKind[];
  readonly notEmitted?: readonly EffectKind[];
  /** Exact number of each listed alert during `when` (0 = none). */
  readonly alerts?: Partial<Record<AlertEvent, number>>;
  /** Each must match some log message during `when`. */
  readonly logs?: readonly RegExp[];
  /** Fields of the report in the last heartbeat this node sent. */
  readonly report?: Partial<PeerReport>;
  /** Further checks; `mark` is where `when` began in h.emitted. */
  readonly check?: (h: Harness, mark: number) => void;
}

interface Row {
  readonly name: string;
  readonly given: () => Harness;
  readonly when: (h: Harness) => void;
  readonly expect: Expect;
}

function verify(h: Harness, mark: number, e: Expect): void {
  const status = h.status();
  const during = h.since(mark).map((x) => x.effect);
  const kinds = new Set(during.map((x) => x.kind));
  if (e.role !== undefined) assert.equal(h.state.role, e.role, `role (reason: ${h.state.reason})`);
  if (e.serving !== undefined) assert.equal(h.state.serving, e.serving, 'serving');
  if (e.reason !== undefined) assert.match(h.state.reason, e.reason);
  if (e.cluster !== undefined) assert.equal(status.cluster.status, e.cluster);
  if (e.veto === null) assert.equal(status.takeover_veto, null);
  else if (e.veto !== undefined) assert.match(status.takeover_veto ?? '(none)', e.veto);
  for (const k of e.emitted ?? []) assert.ok(kinds.has(k), `expected a ${k} effect`);
  for (const k of e.notEmitted ?? []) assert.ok(!kinds.has(k), `expected no ${k} effect`);
  const alerts = h.alertsSince(mark);
  for (const [event, n] of Object.entries(e.alerts ?? {})) {
    assert.equal(alerts.filter((a) => a === event).length, n, `number of ${event} alerts (all: ${alerts.join(', ')})`);
  }
  const logs = during.flatMap((x) => (x.kind === 'log' ? [x.message] : []));
  for (const re of e.logs ?? []) assert.ok(logs.some((m) => re.test(m)), `expected a log matching ${re} in:\n${logs.join('\n')}`);
  if (e.report !== undefined) {
    const report = h.lastReport();
    for (const [key, value] of Object.entries(e.report)) assert.deepEqual(report[key as keyof PeerReport], value, `report.${key}`);
  }
  e.check?.(h, mark);
}

function table(rows: readonly Row[]): void {
  for (const row of rows) {
    it(row.name, () => {
      const h = row.given();
      const mark = h.emitted.length;
      row.when(h);
      verify(h, mark, row.expect);
    });
  }
}

/** Times at which effects of a kind were emitted during `when`. */
function timesOf(h: Harness, mark: number, kind: EffectKind): Millis[] {
  return h.since(mark).filter((x) => x.effect.kind === kind).map((x) => x.at);
}

/** Every effect emitted at the time `kind` was first emitted (all the steps fed at that time). */
function effectsAt(h: Harness, mark: number, kind: EffectKind): readonly Effect[] {
  const first = h.since(mark).find((x) => x.effect.kind === kind);
  assert.ok(first !== undefined, `no ${kind} effect`);
  return h.since(mark).filter((x) => x.at === first.at).map((x) => x.effect);
}

// ---------------------------------------------------------------------------------------------

describe('node: start-up hold and election', () => {
  table([
    {
      name: 'no primary during the start-up hold while the peer is silent',
      given: () => node({ peer: null }),
      when: (h) => { h.runTo(T.startupHoldMs - T.tickMs); },
      expect: { role: 'secondary', serving: false, reason: /starting/, notEmitted: ['acquire-service'],
        check: (h) => { assert.equal(h.status().this_node.starting, true); assert.equal(h.lastReport().starting, true); } },
    },
    {
      name: 'primary once the start-up hold has passed without the peer',
      given: () => node({ peer: null }),
      when: (h) => { h.runTo(T.startupHoldMs); },
      expect: { role: 'primary', serving: true, reason: /start-up hold passed without hearing the peer/, emitted: ['acquire-service'],
        cluster: 'Degraded', alerts: { 'role-change': 1 },
        check: (h, mark) => { assert.deepEqual(timesOf(h, mark, 'acquire-service'), [T.startupHoldMs]); } },
    },
    {
      name: 'a never-run node alone creates the cluster UUID when it takes the role',
      given: () => node({ peer: null, persisted: null }),
      when: (h) => { h.runTo(T.startupHoldMs); },
      expect: { role: 'primary', emitted: ['persist'], logs: [/created cluster UUID/],
        check: (h) => { assert.equal(h.state.persisted.uuid, FRESH_UUID); assert.equal(h.state.persisted.mode, 'ha'); } },
    },
    {
      name: 'a node not UpToDate does not take the role when the hold passes',
      given: () => node({ peer: null, sync: 'Outdated' }),
      when: (h) => { h.runTo(T.startupHoldMs + 2000); },
      expect: { role: 'secondary', serving: false, notEmitted: ['acquire-service'], alerts: { 'takeover-vetoed': 1 },
        veto: /start-up hold passed .*vetoed: data not synchronized \(sync Outdated\)/ },
    },
    {
      name: 'both start: nobody takes the role while the peer is still in its hold',
      given: () => bothStart(),
      when: (h) => { h.run(1000); },
      expect: { role: 'secondary', serving: false, notEmitted: ['acquire-service'],
        // Having heard the peer, this node's own hold is over: the peer can now end its hold too.
        report: { starting: false, role: 'secondary' } },
    },
    {
      name: 'both start: the lower HA address wins as soon as the peer leaves its hold',
      given: () => bothStart(),
      when: (h) => { h.run(500); h.peerSays({ starting: false }); h.run(500); },
      expect: { role: 'primary', serving: true, reason: /this node wins the election/, emitted: ['acquire-service'],
        report: { role: 'primary', uuid: FRESH_UUID },
        check: (h) => { assert.ok(h.now < T.startupHoldMs); assert.equal(h.state.persisted.uuid, FRESH_UUID); } },
    },
    {
      name: 'both start: the higher HA address stays secondary, also after the hold',
      given: () => bothStart({ config: clusterConfig({ self: { ...NODE_A, haAddress: '203.0.113.3' } }) }),
      when: (h) => { h.run(500); h.peerSays({ starting: false }); h.runTo(T.startupHoldMs + 1000); },
      expect: { role: 'secondary', serving: false, reason: /peer wins the election/, notEmitted: ['acquire-service'], veto: null },
    },
    {
      name: 'both start: the node that lost the election adopts the UUID the winner created',
      given: () => bothStart({ config: clusterConfig({ self: { ...NODE_A, haAddress: '203.0.113.3' } }) }),
      when: (h) => { h.run(500); h.peerSays({ starting: false, role: 'primary', term: 1, uuid: UUID }); h.run(500); },
      expect: { role: 'secondary', cluster: 'HA', emitted: ['persist'], logs: [/adopted cluster UUID/], report: { uuid: UUID },
        check: (h) => { assert.equal(h.state.persisted.uuid, UUID); } },
    },
    {
      name: 'election: the node that is not UpToDate loses despite its lower address',
      given: () => node({ sync: 'Syncing' }),
      when: (h) => { h.run(1000); },
      expect: { role: 'secondary', reason: /peer wins the election/, notEmitted: ['acquire-service'], veto: /data not synchronized \(sync Syncing\)/,
        report: { canTakeOver: false } },
    },
    {
      name: 'election: the node whose data generation is ahead wins despite its higher address',
      given: () => node({
        config: clusterConfig({ self: { ...NODE_A, haAddress: '203.0.113.3' } }),
        persisted: { ...ESTABLISHED, generations: { current: 'a:2.2', history: [G1.current, 'genesis'] } },
        peer: { generations: G1, canTakeOver: false },
      }),
      when: (h) => { h.run(1000); },
      expect: { role: 'primary', reason: /wins the election/, emitted: ['acquire-service'] },
    },
    {
      name: 'election: the node whose data generation is behind loses despite its lower address',
      given: () => node({ peer: { generations: { current: 'b:2.1', history: [G1.current, 'genesis'] } } }),
      when: (h) => { h.run(1000); },
      expect: { role: 'secondary', reason: /peer wins the election/, notEmitted: ['acquire-service'], veto: /data behind the peer/ },
    },
  ]);
});

describe('node: peer death and the sync veto', () => {
  table([
    {
      name: 'no takeover while the primary was last heard peerDeadAfterMs ago',
      given: () => secondary(),
      when: (h) => { h.runTo(silence(h) + T.peerDeadAfterMs); },
      expect: { role: 'secondary', serving: false, notEmitted: ['acquire-service'], alerts: { 'peer-lost': 0 } },
    },
    {
      name: 'takeover on the first tick after peerDeadAfterMs',
      given: () => secondary(),
      when: (h) => { h.runTo(silence(h) + T.peerDeadAfterMs + T.tickMs); },
      expect: { role: 'primary', serving: true, reason: /peer unreachable on every heartbeat path/, emitted: ['acquire-service'],
        alerts: { 'peer-lost': 1, 'role-change': 1, 'heartbeat-path-down': 2 }, cluster: 'Degraded',
        check: (h) => {
          // Writes made alone start a new data generation on top of the shared one.
          assert.notEqual(h.state.persisted.generations.current, G1.current);
          assert.equal(h.state.persisted.generations.history[0], G1.current);
          assert.ok(h.state.primaryTerm > 2);
        } },
    },
    {
      name: 'takeover vetoed while not UpToDate: visible, alerted once',
      given: () => secondary({ sync: 'Syncing' }),
      when: (h) => { silence(h); h.run(T.peerDeadAfterMs + 3000); },
      expect: { role: 'secondary', serving: false, notEmitted: ['acquire-service'], alerts: { 'takeover-vetoed': 1, 'peer-lost': 1 },
        veto: /peer unreachable on every heartbeat path — vetoed: data not synchronized \(sync Syncing\)/,
        logs: [/takeover blocked/] },
    },
    {
      name: 'the vetoed takeover happens as soon as sync reports UpToDate',
      given: () => secondary({ sync: 'Syncing' }),
      when: (h) => { silence(h); h.run(T.peerDeadAfterMs + 3000); h.sync('UpToDate'); },
      expect: { role: 'primary', serving: true, veto: null, alerts: { 'takeover-vetoed': 1 },
        check: (h) => { assert.ok(h.last.some((e) => e.kind === 'acquire-service'), 'promoted by the sync input itself'); } },
    },
    {
      name: 'Outdated only because the live primary fell silent (whole if it is lost): promoted at its death, no veto alert',
      given: () => secondary(),
      when: (h) => {
        // The session dropped with the primary's death, a moment before its heartbeats were missed.
        h.input({ kind: 'sync', at: h.at(), state: 'Outdated', ifPeerLost: 'UpToDate' });
        silence(h);
        h.run(T.peerDeadAfterMs + 500);
      },
      expect: { role: 'primary', serving: true, alerts: { 'takeover-vetoed': 0, 'peer-lost': 1 } },
    },
    {
      name: 'Outdated and flagged (missed writes): not promoted when the primary dies',
      given: () => secondary(),
      when: (h) => {
        h.input({ kind: 'sync', at: h.at(), state: 'Outdated', ifPeerLost: 'Outdated' });
        silence(h);
        h.run(T.peerDeadAfterMs + 500);
      },
      expect: { role: 'secondary', serving: false, veto: /sync Outdated/, alerts: { 'takeover-vetoed': 1 } },
    },
    {
      name: 'a sync state that stays not UpToDate does not repeat the alert',
      given: () => secondary({ sync: 'Syncing' }),
      when: (h) => { silence(h); h.run(T.peerDeadAfterMs + 500); h.sync('Outdated'); h.run(1000); },
      expect: { role: 'secondary', veto: /sync Outdated/,
        // The reason changed (Syncing → Outdated): one alert for each.
        alerts: { 'takeover-vetoed': 2 } },
    },
  ]);
});

describe('node: the next-hop rule with a peer on HA protocol 2 (evidence, no hold)', () => {
  const reach = (ext: number, extExtra: Partial<PeerReport['nextHops'][number]> = {}): PeerReport['nextHops'] => [
    { interface: 'ext0', score: ext, total: 1, ready: true, ...extExtra },
    { interface: 'int0', score: 1, total: 1, ready: true },
  ];
  table([
    {
      name: 'the peer keeps getting answers from the next hop this node lost: the primary yields as soon as it judges it down',
      given: () => primary({ protocol2: { clockOffset: 0, fresh: true } }),
      when: (h) => { loseHop(h); },
      expect: { role: 'secondary', serving: false, reason: /yielding to b: .*next hops \(2 vs 1\) and got answers after this node lost them/,
        report: { yieldingTo: 'b', yieldCause: 'next-hop' },
        check: (h) => {
          assert.notEqual(h.state.clockMap, null, 'the clocks are mapped');
          assert.ok((h.state.clockMap?.errorMs ?? Infinity) <= 1 + T.tickMs, `error bound ${h.state.clockMap?.errorMs}`);
        } },
    },
    {
      name: "the peer's clock runs 5 s ahead (unrelated origins): mapped, the handover is the same",
      given: () => primary({ protocol2: { clockOffset: 5000, fresh: true } }),
      when: (h) => { loseHop(h); },
      expect: { role: 'secondary', reason: /got answers after this node lost them/,
        check: (h) => { assert.ok(Math.abs((h.state.clockMap?.offset ?? 0) - 5000) <= (h.state.clockMap?.errorMs ?? 0)); } },
    },
    {
      name: "a shared router the peer has not noticed yet (its last answer older than this node's loss): no handover, no hold to guess",
      given: () => primary({ protocol2: { clockOffset: -3000, fresh: false } }),
      when: (h) => {
        // Its last answer on ext0 is from a probe sent 50 ms before the router stopped answering us.
        h.peerSays({ nextHops: reach(1, { answeredAt: Math.floor(h.peerClock() - 50) }) });
        loseHop(h);
        h.run(3 * T.nextHopHoldMs);
      },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'], veto: null,
        check: (h) => { assert.equal(h.state.ruleSince, null, 'the hold rule is not used'); } },
    },
    {
      name: 'an answer within the margin of the loss is not evidence',
      given: () => primary({ protocol2: { clockOffset: 0, fresh: false } }),
      when: (h) => {
        h.reachable.delete(EXT_HOP);
        h.runUntil((x) => x.state.monitor.targets.some((t) => t.target.address === EXT_HOP && t.burstLeft > 0), 1000);
        // Just before the judgement: the loss is dated by the miss that completes the run; the
        // peer's answer is that moment plus less than the margin (the clock error is ~0 here).
        const ext = (x: Harness) => x.state.monitor.targets.find((t) => t.target.address === EXT_HOP);
        h.runUntil((x) => (ext(x)?.outcomes.filter((o) => !o).length ?? 0) >= T.probeFall - 1, 2000);
        // The miss that completes the run is the oldest probe still in flight.
        const lastMissSent = ext(h)?.inFlight[0]?.sentAt ?? NaN;
        h.peerSays({ nextHops: reach(1, { answeredAt: Math.floor(lastMissSent + T.evidenceMarginMs - 5) }) });
        h.runUntil((x) => x.judged(EXT_HOP) === 'down', 1000);
        h.run(2000);
      },
      expect: { role: 'primary', notEmitted: ['release-service'] },
    },
    {
      name: 'equal reach with protocol 2 (both lost the same router): nothing happens',
      given: () => primary({ protocol2: { clockOffset: 0, fresh: true } }),
      when: (h) => { h.peerSays({ nextHops: reach(0) }); loseHop(h); h.run(3 * T.nextHopHoldMs); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'] },
    },
    {
      name: 'the peer suspects ext0: this node bursts its own ext0 target (a probe every tick)',
      given: () => primary({ protocol2: { clockOffset: 0, fresh: true } }),
      when: (h) => { h.peerSays({ nextHops: reach(1, { suspect: true }) }); h.peerHeartbeat(); h.run(2 * T.tickMs); },
      expect: { role: 'primary',
        check: (h) => {
          // The regular cadence sends one probe a probe interval; the burst one a tick, until the
          // target answered probeRise of them in a row.
          const sent = h.emitted.filter((e) => e.at > h.now - 2 * T.tickMs && e.effect.kind === 'probe' && e.effect.address === EXT_HOP).length;
          assert.equal(sent, 2, `${sent} probes to ${EXT_HOP} in two ticks`);
        } },
    },
    {
      name: 'the node itself reports its suspicion and the loss start in its heartbeats',
      given: () => primary({ protocol2: { clockOffset: 0, fresh: true } }),
      when: (h) => { h.peerSays({ canTakeOver: false, sync: 'Syncing' }); loseHop(h); h.run(T.heartbeatIntervalMs + T.tickMs); },
      expect: { role: 'primary',
        check: (h) => {
          const ext = h.lastReport().nextHops.find((r) => r.interface === 'ext0');
          assert.ok(ext !== undefined);
          assert.equal(ext.suspect, true);
          assert.equal(ext.score, 0);
          assert.equal(typeof ext.lostSince, 'number');
          assert.equal(typeof h.lastReport().nextHops.find((r) => r.interface === 'int0')?.answeredAt, 'number');
        } },
    },
  ]);
});

describe('node: the next-hop rule on the primary (a peer on HA protocol 1: the hold rule)', () => {
  table([
    {
      name: 'the peer reaches more: no handover before nextHopHoldMs',
      given: () => primary(),
      when: (h) => { const down = loseHop(h); h.runTo(down + T.nextHopHoldMs - T.tickMs); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'],
        check: (h) => { assert.equal(h.state.ruleSince, h.now - T.nextHopHoldMs + T.tickMs); } },
    },
    {
      name: 'the peer reaches more for nextHopHoldMs: the primary yields',
      given: () => primary(),
      when: (h) => { const down = loseHop(h); h.runTo(down + T.nextHopHoldMs); },
      expect: { role: 'secondary', serving: false, reason: /yielding to b: .*next hops \(2 vs 1\)/, emitted: ['release-service'],
        report: { role: 'secondary', yieldingTo: 'b', yieldCause: 'next-hop' },
        check: (h, mark) => {
          assert.deepEqual(timesOf(h, mark, 'release-service'), [h.now]);
          assert.equal(h.status().flap_limiter.switches_in_window, 1);
        } },
    },
    {
      name: 'equal reach (both lost the same router): nothing happens',
      given: () => primary(),
      when: (h) => {
        h.peerSays({ nextHops: [{ interface: 'ext0', score: 0, total: 1, ready: true }, { interface: 'int0', score: 1, total: 1, ready: true }] });
        loseHop(h);
        h.run(3 * T.nextHopHoldMs);
      },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'], veto: null },
    },
    {
      name: "the peer's report is stale (heard less often than peerViewMaxAgeMs): the rule is not evaluated",
      given: () => primary({ peerIntervalMs: 800 }),
      when: (h) => { loseHop(h); h.run(3 * T.nextHopHoldMs); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'],
        check: (h) => { assert.equal(h.status().other_node?.reachable, true); } },
    },
    {
      name: 'the peer says canTakeOver=false: vetoed, visible, alerted once',
      given: () => primary(),
      when: (h) => { h.peerSays({ canTakeOver: false, sync: 'Syncing' }); const down = loseHop(h); h.runTo(down + T.nextHopHoldMs + 2000); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'], alerts: { 'takeover-vetoed': 1 },
        veto: /next hops \(2 vs 1\) — vetoed: the peer cannot take over \(sync Syncing\)/ },
    },
    {
      name: 'the vetoed next-hop handover happens as soon as the peer can take over',
      given: () => primary(),
      when: (h) => {
        h.peerSays({ canTakeOver: false, sync: 'Syncing' });
        const down = loseHop(h);
        h.runTo(down + T.nextHopHoldMs + 2000);
        h.peerSays({ canTakeOver: true, sync: 'UpToDate' });
        h.peerHeartbeat();
      },
      expect: { role: 'secondary', serving: false, reason: /next hop/, veto: null,
        check: (h, mark) => { assert.deepEqual(timesOf(h, mark, 'release-service'), [h.now]); } },
    },
    {
      name: 'reach restored before the hold ends: the hold starts over',
      given: () => primary(),
      when: (h) => {
        const down = loseHop(h);
        h.runTo(down + T.nextHopHoldMs / 2);
        h.reachable.add(EXT_HOP);
        h.runUntil((x) => x.judged(EXT_HOP) === 'up');
        h.run(T.nextHopHoldMs);
      },
      expect: { role: 'primary', notEmitted: ['release-service'], check: (h) => { assert.equal(h.state.ruleSince, null); } },
    },
    {
      name: "the peer's view is not judged yet: the rule waits",
      given: () => primary(),
      when: (h) => {
        h.peerSays({ nextHops: [{ interface: 'ext0', score: 1, total: 1, ready: false }, { interface: 'int0', score: 1, total: 1, ready: true }] });
        loseHop(h);
        h.run(2 * T.nextHopHoldMs);
      },
      expect: { role: 'primary', notEmitted: ['release-service'] },
    },
    {
      name: 'the secondary does not apply the rule itself: it waits for the primary to yield',
      given: () => secondary({ peer: { role: 'primary', term: 2, nextHops: [{ interface: 'ext0', score: 0, total: 1, ready: true }, { interface: 'int0', score: 0, total: 1, ready: true }] } }),
      when: (h) => { h.run(2 * T.nextHopHoldMs); },
      expect: { role: 'secondary', notEmitted: ['acquire-service'] },
    },
  ]);
});

describe('node: handovers, dual primaries, split brain, flap limiter', () => {
  table([
    {
      name: "the secondary promotes on the primary's report yieldingTo='a'",
      given: () => secondary(),
      when: (h) => { h.peerSays({ role: 'secondary', yieldingTo: 'a', yieldCause: 'next-hop' }); h.peerHeartbeat(); },
      expect: { role: 'primary', serving: true, reason: /handover from the peer \(next-hop\)/, emitted: ['acquire-service'],
        report: { role: 'primary' },
        check: (h, mark) => {
          assert.deepEqual(timesOf(h, mark, 'acquire-service'), [h.now]);
          // A next-hop handover counts for this node's flap limiter too.
          assert.equal(h.status().flap_limiter.switches_in_window, 1);
          // The peer is alive: no new data generation.
          assert.equal(h.state.persisted.generations.current, G1.current);
        } },
    },
    {
      name: 'a handover offered to a node that is not UpToDate is vetoed',
      given: () => secondary({ sync: 'Syncing' }),
      when: (h) => { h.peerSays({ role: 'secondary', yieldingTo: 'a', yieldCause: 'next-hop' }); h.run(500); },
      expect: { role: 'secondary', notEmitted: ['acquire-service'], alerts: { 'takeover-vetoed': 1 }, veto: /handover from the peer.*vetoed/ },
    },
    {
      name: 'dual primary on heal: the peer holds a newer term, this node yields',
      given: () => primaryAlone(),
      when: (h) => { resume(h, { role: 'primary', term: h.state.primaryTerm + 1, generations: h.state.persisted.generations }); h.run(300); },
      expect: { role: 'secondary', serving: false, reason: /newer term/, emitted: ['release-service'], alerts: { 'peer-found': 1 } },
    },
    {
      name: 'dual primary on heal: this node holds the newer term, keeps the role and re-announces',
      given: () => primaryAlone(),
      when: (h) => { resume(h, { role: 'primary', term: h.state.primaryTerm - 1, generations: h.state.persisted.generations }); h.run(300); },
      expect: { role: 'primary', serving: true, emitted: ['announce'], notEmitted: ['release-service'] },
    },
    {
      name: 'dual primary on heal: re-announced on the heal and once more when the peer yields, not on every input meanwhile',
      given: () => primaryAlone(),
      when: (h) => {
        resume(h, { role: 'primary', term: h.state.primaryTerm - 1, generations: h.state.persisted.generations });
        h.run(300);
        h.peerSays({ role: 'secondary', term: h.state.primaryTerm - 1, generations: h.state.persisted.generations });
        h.run(300);
      },
      expect: { role: 'primary', serving: true, check: (h, mark) => { assert.equal(timesOf(h, mark, 'announce').length, 2); } },
    },
    {
      name: 'dual primary on heal with equal terms: the lower HA address keeps the role',
      given: () => primaryAlone(),
      when: (h) => { resume(h, { role: 'primary', term: h.state.primaryTerm, generations: h.state.persisted.generations }); h.run(300); },
      expect: { role: 'primary', serving: true, emitted: ['announce'], notEmitted: ['release-service'] },
    },
    {
      name: 'split brain: both wrote while apart → SplitBrain, alerted once, one primary left',
      given: () => primaryAlone(),
      when: (h) => {
        resume(h, { role: 'primary', term: h.state.primaryTerm + 1, generations: DIVERGED, canTakeOver: false });
        h.run(1000);
      },
      expect: { cluster: 'SplitBrain', role: 'secondary', serving: false, alerts: { 'split-brain': 1 }, logs: [/split brain detected/],
        veto: /split brain/, report: { canTakeOver: false } },
    },
    {
      name: 'a handover the peer does not take within handoverTimeoutMs: the yielding primary takes the role back',
      given: () => primary(),
      when: (h) => {
        const down = loseHop(h);
        h.runTo(down + T.nextHopHoldMs);
        assert.equal(h.state.role, 'secondary');
        // b never promotes (it keeps reporting an ordinary secondary).
        h.run(T.handoverTimeoutMs);
      },
      expect: { role: 'primary', serving: true, alerts: { 'handover-failed': 1 }, emitted: ['release-service', 'acquire-service'],
        check: (h, mark) => {
          const [released] = timesOf(h, mark, 'release-service');
          assert.deepEqual(timesOf(h, mark, 'acquire-service'), [released! + T.handoverTimeoutMs]);
        } },
    },
    {
      name: 'a heartbeat naming a newer generation does not move the secondary\'s own (its data are not there yet)',
      given: () => secondary(),
      when: (h) => { h.peerSays({ generations: { current: 'b:3.1', history: [G1.current, 'genesis'] } }); h.run(200); },
      expect: { role: 'secondary', notEmitted: ['persist'], veto: /data behind the peer/,
        check: (h) => { assert.equal(h.state.persisted.generations.current, G1.current); } },
    },
    {
      name: 'the sync engine reports the resync complete: the secondary adopts the primary\'s generation',
      given: () => secondary({ sync: 'Syncing' }),
      when: (h) => {
        const g = { current: 'b:3.1', history: [G1.current, 'genesis'] };
        h.peerSays({ generations: g });
        h.run(200);
        h.sync('UpToDate', g);
        h.run(200);
      },
      expect: { role: 'secondary', emitted: ['persist'], veto: null, logs: [/generation .* → b:3.1/],
        check: (h) => { assert.equal(h.state.persisted.generations.current, 'b:3.1'); } },
    },
    {
      name: 'split brain on a secondary: no automatic takeover when the primary then dies',
      given: () => primaryAlone(),
      when: (h) => {
        resume(h, { role: 'primary', term: h.state.primaryTerm + 1, generations: DIVERGED, canTakeOver: false });
        h.run(500);
        silence(h);
        h.run(T.peerDeadAfterMs + 500);
      },
      expect: { role: 'secondary', serving: false, veto: /vetoed: split brain/, alerts: { 'takeover-vetoed': 1 } },
    },
    {
      name: 'flap limiter: the minimum dwell blocks a second next-hop switch',
      given: () => promotedByNextHop(),
      when: (h) => { const down = loseHop(h); h.runTo(down + T.nextHopHoldMs + 2000); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'], alerts: { 'flap-hold': 1 }, veto: /minimum dwell of 30 s/ },
    },
    {
      name: 'flap limiter: the switch happens once the dwell has passed',
      given: () => promotedByNextHop(),
      when: (h) => { loseHop(h); h.runTo((h as Harness & { promotedAt: Millis }).promotedAt + T.minDwellMs); },
      expect: { role: 'secondary', serving: false, reason: /next hop/, emitted: ['release-service'],
        check: (h, mark) => {
          assert.deepEqual(timesOf(h, mark, 'release-service'), [(h as Harness & { promotedAt: Millis }).promotedAt + T.minDwellMs]);
          assert.equal(h.status().flap_limiter.switches_in_window, 2);
        } },
    },
  ]);
});

describe('node: operator actions', () => {
  table([
    {
      name: 'takeover on a secondary with a live primary asks the primary in the next heartbeat',
      given: () => secondary(),
      when: (h) => { h.operator({ type: 'takeover', force: false }); },
      expect: { role: 'secondary', notEmitted: ['acquire-service'], report: { request: { id: 1, kind: 'takeover', force: false } },
        check: (h) => { assert.ok(h.last.some((e) => e.kind === 'send'), 'sent at once'); } },
    },
    {
      name: 'takeover: promotes when the primary yields, and the request is cleared by the ack',
      given: () => secondary(),
      when: (h) => {
        h.operator({ type: 'takeover', force: false });
        h.peerSays({ role: 'secondary', yieldingTo: 'a', yieldCause: 'operator', ack: 1 });
        h.peerHeartbeat();
        h.run(200);
      },
      expect: { role: 'primary', serving: true, reason: /handover from the peer \(operator\)/, emitted: ['acquire-service'],
        report: { request: null, role: 'primary' },
        check: (h) => { assert.equal(h.status().flap_limiter.switches_in_window, 0); } },
    },
    {
      name: 'takeover without --force while Syncing is refused',
      given: () => secondary({ sync: 'Syncing' }),
      when: (h) => { h.operator({ type: 'takeover', force: false }); h.run(200); },
      expect: { role: 'secondary', notEmitted: ['acquire-service'], logs: [/takeover refused: data not synchronized/], report: { request: null } },
    },
    {
      name: 'takeover --force while Syncing: forced-takeover alert, then promotes on the handover',
      given: () => secondary({ sync: 'Syncing' }),
      when: (h) => {
        h.operator({ type: 'takeover', force: true });
        assert.deepEqual(h.lastReport().request, { id: 1, kind: 'takeover', force: true });
        h.peerSays({ role: 'secondary', yieldingTo: 'a', yieldCause: 'operator', ack: 1 });
        h.peerHeartbeat();
      },
      expect: { role: 'primary', serving: true, reason: /forced despite: data not synchronized \(sync Syncing\)/, emitted: ['acquire-service'],
        alerts: { 'forced-takeover': 1 } },
    },
    {
      name: 'takeover --force while Syncing with the primary gone promotes at once',
      given: () => secondary({ sync: 'Syncing' }),
      when: (h) => { silence(h); h.run(T.peerDeadAfterMs + 200); h.operator({ type: 'takeover', force: true }); },
      expect: { role: 'primary', serving: true, reason: /manual takeover \(forced\)/, alerts: { 'forced-takeover': 1 },
        check: (h) => { assert.ok(h.last.some((e) => e.kind === 'acquire-service')); } },
    },
    {
      name: 'takeover on the primary changes nothing',
      given: () => primary(),
      when: (h) => { h.operator({ type: 'takeover', force: false }); h.run(200); },
      expect: { role: 'primary', notEmitted: ['release-service'], logs: [/already primary/], report: { request: null } },
    },
    {
      name: 'reboot this on a primary: hands the service over first, does not reboot yet',
      given: () => primary(),
      when: (h) => { h.operator({ type: 'reboot', target: 'this' }); h.run(200); },
      expect: { role: 'secondary', serving: false, emitted: ['release-service'], notEmitted: ['reboot-node'],
        report: { leaving: true, yieldingTo: 'b', yieldCause: 'leaving', canTakeOver: false } },
    },
    {
      name: 'reboot this on a primary: reboots, as the last effect, once the peer is primary',
      given: () => primary(),
      when: (h) => {
        h.operator({ type: 'reboot', target: 'this' });
        h.run(200);
        h.peerSays({ role: 'primary', term: h.state.persisted.term + 1 });
        h.run(1000);
      },
      expect: { emitted: ['release-service', 'reboot-node'], alerts: { 'peer-lost': 0 },
        check: (h, mark) => {
          const [released] = timesOf(h, mark, 'release-service');
          const reboots = timesOf(h, mark, 'reboot-node');
          assert.equal(reboots.length, 1);
          assert.ok(released! < reboots[0]!, 'handed over before rebooting');
          assert.equal(effectsAt(h, mark, 'reboot-node').at(-1)?.kind, 'reboot-node');
          // Nothing is sent once the node is going down.
          assert.ok(h.since(mark).every((x) => x.effect.kind !== 'send' || x.at <= reboots[0]!));
        } },
    },
    {
      name: 'reboot this on a primary whose peer cannot take over: stops anyway, and says so',
      given: () => primary({ peer: { canTakeOver: false, sync: 'Outdated' } }),
      when: (h) => { h.operator({ type: 'reboot', target: 'this' }); },
      expect: { emitted: ['release-service', 'reboot-node'], logs: [/no peer able to take over/],
        check: (h) => { assert.equal(h.last.at(-1)?.kind, 'reboot-node'); } },
    },
    {
      name: 'reboot this on a secondary: tells the peer it is leaving, then reboots',
      given: () => secondary(),
      when: (h) => { h.operator({ type: 'reboot', target: 'this' }); },
      expect: { role: 'secondary', emitted: ['reboot-node'], notEmitted: ['release-service'], report: { leaving: true },
        check: (h) => { assert.equal(h.last.at(-1)?.kind, 'reboot-node'); assert.ok(h.last.some((e) => e.kind === 'send')); } },
    },
    {
      name: 'shutdown this on a secondary emits shutdown-node',
      given: () => secondary(),
      when: (h) => { h.operator({ type: 'shutdown', target: 'this' }); },
      expect: { emitted: ['shutdown-node'], notEmitted: ['reboot-node'] },
    },
    {
      name: 'reboot other sends a request to the peer, nothing changes here',
      given: () => primary(),
      when: (h) => { h.operator({ type: 'reboot', target: 'other' }); h.run(200); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service', 'reboot-node'], report: { request: { id: 1, kind: 'reboot', force: false } } },
    },
    {
      name: 'shutdown other sends a request to the peer',
      given: () => secondary(),
      when: (h) => { h.operator({ type: 'shutdown', target: 'other' }); },
      expect: { role: 'secondary', notEmitted: ['shutdown-node'], report: { request: { id: 1, kind: 'shutdown', force: false } } },
    },
    {
      name: 'request ids restart with the peer: a new boot reusing an id is heard',
      given: () => secondary(),
      when: (h) => {
        // Boot 1 of b asked for a takeover (a no-op on a secondary), id 1: accepted and acked.
        h.peerSays({ request: { id: 1, kind: 'takeover', force: false } });
        h.peerHeartbeat();
        assert.equal(h.lastReport().ack, 1);
        // Boot 2 numbers its requests from 1 again.
        h.peerRestart('00000000000000b2');
        h.peerSays({ request: { id: 1, kind: 'reboot', force: false } });
        h.run(200);
      },
      expect: { emitted: ['reboot-node'], logs: [/peer b restarted/], report: { ack: 1 } },
    },
    {
      name: "a peer's takeover request: the primary hands over (cause operator) and acks",
      given: () => primary(),
      when: (h) => { h.peerSays({ request: { id: 3, kind: 'takeover', force: false } }); h.peerHeartbeat(); },
      expect: { role: 'secondary', serving: false, emitted: ['release-service'], logs: [/peer b asks: takeover/],
        report: { ack: 3, yieldingTo: 'b', yieldCause: 'operator' },
        check: (h) => { assert.equal(h.status().flap_limiter.switches_in_window, 0); } },
    },
    {
      name: "a peer's takeover request while it cannot take over is refused (but acked)",
      given: () => primary({ peer: { canTakeOver: false, sync: 'Syncing' } }),
      when: (h) => { h.peerSays({ request: { id: 3, kind: 'takeover', force: false } }); h.peerHeartbeat(); h.run(200); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'], logs: [/takeover by b refused/], report: { ack: 3, yieldingTo: null } },
    },
    {
      name: "a peer's forced takeover request is honoured although it cannot take over",
      given: () => primary({ peer: { canTakeOver: false, sync: 'Syncing' } }),
      when: (h) => { h.peerSays({ request: { id: 3, kind: 'takeover', force: true } }); h.peerHeartbeat(); },
      expect: { role: 'secondary', emitted: ['release-service'], report: { ack: 3, yieldingTo: 'b' } },
    },
    {
      name: 'a peer request is carried out once, however often it is repeated',
      given: () => primary(),
      when: (h) => {
        h.peerSays({ request: { id: 3, kind: 'takeover', force: false } });
        h.peerHeartbeat();
        h.peerSays({ role: 'primary', term: h.state.persisted.term + 1 });
        h.run(500);
        // b, primary now, still carries the request (the ack is on its way): a must not act again.
        h.peerSays({ role: 'secondary', yieldingTo: 'a', yieldCause: 'operator', request: null });
        h.peerHeartbeat();
      },
      expect: { role: 'primary', check: (h, mark) => { assert.equal(h.since(mark).filter((x) => x.effect.kind === 'log' && /peer b asks/.test(x.effect.message)).length, 1); } },
    },
    {
      name: "the peer's discard-data request (split brain resolved there, keeping its data): preserve, resync, ack",
      given: () => {
        const h = primaryAlone();
        resume(h, { role: 'primary', term: h.state.primaryTerm + 1, generations: DIVERGED, canTakeOver: false });
        h.run(500);
        return h;
      },
      when: (h) => { h.peerSays({ request: { id: 1, kind: 'discard-data', force: false } }); h.peerHeartbeat(); h.run(100); },
      expect: { role: 'secondary', cluster: 'HA', emitted: ['preserve-diverged-data', 'full-resync'], alerts: { 'split-brain-resolved': 1 },
        report: { ack: 1 } },
    },
    {
      name: 'a peer request to reboot this node is carried out and acked',
      given: () => secondary(),
      when: (h) => { h.peerSays({ request: { id: 4, kind: 'reboot', force: false } }); h.peerHeartbeat(); },
      expect: { emitted: ['reboot-node'], report: { ack: 4, leaving: true } },
    },
    {
      name: 'reboot-cluster on a primary: the secondary reboots first, the primary stays',
      given: () => primary(),
      when: (h) => { h.operator({ type: 'reboot-cluster' }); h.run(200); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service', 'reboot-node'],
        report: { request: { id: 1, kind: 'reboot', force: false } }, check: (h) => { assert.notEqual(h.state.rebootCluster, null); } },
    },
    {
      name: 'reboot-cluster: while the secondary reboots, the primary keeps the service',
      given: () => primary(),
      when: (h) => { rebootClusterUntil(h, 'peer-away'); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service', 'reboot-node'], alerts: { 'peer-lost': 1 },
        report: { request: null } },
    },
    {
      name: 'reboot-cluster: the secondary back with a new boot but not in sync yet: no handover',
      given: () => primary(),
      when: (h) => { rebootClusterUntil(h, 'peer-booting'); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service', 'reboot-node'] },
    },
    {
      name: 'reboot-cluster: the secondary back and in sync: the primary hands over',
      given: () => primary(),
      when: (h) => { rebootClusterUntil(h, 'peer-ready'); },
      expect: { role: 'secondary', serving: false, emitted: ['release-service'], notEmitted: ['reboot-node'],
        report: { yieldingTo: 'b', leaving: true } },
    },
    {
      name: 'reboot-cluster: the former primary reboots once the peer has taken over',
      given: () => primary(),
      when: (h) => { rebootClusterUntil(h, 'peer-primary'); },
      expect: { emitted: ['reboot-node'], alerts: { 'reboot-cluster-aborted': 0, 'handover-failed': 0 },
        check: (h, mark) => { assert.equal(effectsAt(h, mark, 'reboot-node').at(-1)?.kind, 'reboot-node'); } },
    },
    {
      name: 'reboot-cluster: the secondary does not come back in time: aborted, the primary stays untouched',
      given: () => primary({ config: clusterConfig({ timing: { ...T, rebootClusterTimeoutMs: 5000 } }) }),
      when: (h) => {
        rebootClusterUntil(h, 'peer-away');
        h.run(2500);
        // Back after the timeout, and in sync: no handover any more.
        h.peerRestart('00000000000000b2');
        h.peerSays({ ack: null, leaving: false, generations: h.state.persisted.generations });
        h.run(1000);
      },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service', 'reboot-node'], alerts: { 'reboot-cluster-aborted': 1 },
        check: (h) => { assert.equal(h.state.rebootCluster, null); } },
    },
    {
      name: 'reboot-cluster on a primary whose peer is down reboots this node only, and says so',
      given: () => primaryAlone(),
      when: (h) => { h.operator({ type: 'reboot-cluster' }); },
      expect: { emitted: ['release-service', 'reboot-node'], logs: [/the peer is not reachable; rebooting this node only/],
        check: (h) => { assert.equal(h.last.at(-1)?.kind, 'reboot-node'); assert.equal(h.state.rebootCluster, null); } },
    },
    {
      name: 'reboot-cluster on a secondary asks the primary to orchestrate it',
      given: () => secondary(),
      when: (h) => { h.operator({ type: 'reboot-cluster' }); },
      expect: { role: 'secondary', notEmitted: ['reboot-node'], report: { request: { id: 1, kind: 'reboot-cluster', force: false } } },
    },
    {
      name: 'convert-to-cluster: the standalone node keeps serving, now as primary of a new cluster',
      given: () => node({ config: clusterConfig({ peer: null }), persisted: null, peer: null }),
      when: (h) => { h.run(500); h.operator({ type: 'convert-to-cluster', config: clusterConfig() }); h.run(200); },
      expect: { role: 'primary', serving: true, reason: /converted to a cluster/, notEmitted: ['release-service'], cluster: 'Degraded',
        emitted: ['persist', 'send'], report: { mode: 'ha', uuid: FRESH_UUID, role: 'primary' },
        check: (h) => { assert.equal(h.state.persisted.mode, 'ha'); assert.equal(h.state.persisted.uuid, FRESH_UUID); } },
    },
    {
      name: 'join-ha: a Half node adopts the cluster UUID and becomes its secondary with a full resync',
      given: () => halfNode(),
      when: (h) => { h.operator({ type: 'join-ha' }); h.run(2000); },
      expect: { role: 'secondary', serving: false, cluster: 'HA', emitted: ['full-resync', 'persist'], notEmitted: ['acquire-service'],
        report: { mode: 'ha', uuid: UUID },
        check: (h) => {
          assert.deepEqual(h.state.persisted, { ...h.state.persisted, mode: 'ha', uuid: UUID, generations: INITIAL_GENERATIONS });
          assert.equal(h.status().sync.state, 'Outdated');
        } },
    },
    {
      name: 'resolve-split-brain keep=other: this node sets its diverged data aside and resyncs',
      given: () => splitBrainKeptPrimary(),
      when: (h) => { h.operator({ type: 'resolve-split-brain', keep: 'other' }); },
      expect: { role: 'secondary', serving: false, emitted: ['preserve-diverged-data', 'full-resync', 'release-service'],
        alerts: { 'split-brain-resolved': 1 }, cluster: 'HA',
        check: (h, mark) => {
          const effects = h.since(mark).map((x) => x.effect);
          const preserve = effects.findIndex((e) => e.kind === 'preserve-diverged-data');
          const resync = effects.findIndex((e) => e.kind === 'full-resync');
          assert.ok(preserve < resync, 'preserved before the resync');
          const p = effects[preserve];
          assert.ok(p?.kind === 'preserve-diverged-data' && p.generation.startsWith('a:'), 'preserves this node\'s generation');
          assert.deepEqual(h.state.persisted.generations, INITIAL_GENERATIONS);
        } },
    },
    {
      name: 'resolve-split-brain keep=this asks the peer to discard its data',
      given: () => splitBrainKeptPrimary(),
      when: (h) => { h.operator({ type: 'resolve-split-brain', keep: 'this' }); },
      expect: { role: 'primary', notEmitted: ['preserve-diverged-data', 'full-resync', 'release-service'],
        report: { request: { id: 1, kind: 'discard-data', force: false } } },
    },
    {
      name: 'resolve-split-brain without a split brain changes nothing',
      given: () => secondary(),
      when: (h) => { h.operator({ type: 'resolve-split-brain', keep: 'other' }); },
      expect: { role: 'secondary', notEmitted: ['preserve-diverged-data', 'full-resync', 'persist'], logs: [/no split brain to resolve/] },
    },
    {
      name: 'clear-flap-hold resets the flap limiter',
      given: () => promotedByNextHop(),
      when: (h) => { h.operator({ type: 'clear-flap-hold' }); },
      expect: { role: 'primary', logs: [/flap limiter cleared/], check: (h) => { assert.equal(h.status().flap_limiter.switches_in_window, 0); } },
    },
  ]);
});

/** Reboot Cluster from primary a, driven up to a phase of the scripted secondary. */
function rebootClusterUntil(h: Harness, phase: 'peer-away' | 'peer-booting' | 'peer-ready' | 'peer-primary'): void {
  h.operator({ type: 'reboot-cluster' });
  // b accepts (acks), says it is leaving, and goes down.
  h.peerSays({ ack: 1, leaving: true });
  h.peerHeartbeat();
  silence(h);
  h.run(3000);
  if (phase === 'peer-away') return;
  // b's new process: in its start-up hold, resynchronizing.
  h.peerRestart('00000000000000b2');
  h.peerSays({ ack: null, leaving: false, starting: true, sync: 'Syncing', canTakeOver: false });
  h.run(500);
  if (phase === 'peer-booting') return;
  h.peerSays({ starting: false, sync: 'UpToDate', canTakeOver: true, generations: h.state.persisted.generations });
  h.run(200);
  if (phase === 'peer-ready') return;
  h.peerSays({ role: 'primary', term: h.state.persisted.term + 1 });
  h.run(500);
}

/** a runs standalone (persisted mode standalone) while its configuration names b, which is a cluster primary. */
function halfNode(): Harness {
  const h = node({
    persisted: { ...ESTABLISHED, mode: 'standalone', uuid: null, generations: { current: 'a:9.1', history: ['genesis'] } },
    peer: { role: 'primary', term: 2 },
  });
  h.run(500);
  return h;
}

/** a primary alone, b back as a secondary whose data diverged (split brain), a keeping the role. */
function splitBrainKeptPrimary(): Harness {
  const h = primaryAlone();
  resume(h, { role: 'secondary', term: h.state.primaryTerm, generations: DIVERGED, canTakeOver: false, sync: 'Diverged' });
  h.run(500);
  assert.equal(clusterOf(h), 'SplitBrain');
  assert.equal(h.state.role, 'primary');
  return h;
}

function clusterOf(h: Harness): ClusterStatus {
  return h.status().cluster.status;
}

describe('node: configuration applied live', () => {
  const changed = [{ interface: 'ext0', address: '198.51.100.7', weight: 1 }, { interface: 'int0', address: INT_HOP, weight: 1 }];
  table([
    {
      name: 'a changed next hop is applied live: logged, no role change, the new target probed',
      given: () => primary(),
      when: (h) => {
        h.input({ kind: 'config', at: h.at(), config: clusterConfig({ self: { ...NODE_A, nextHops: changed } }) });
        h.run(200);
      },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service', 'acquire-service', 'reboot-node'],
        logs: [/next-hop configuration changed: applied live, no reboot needed/],
        check: (h, mark) => {
          const hops = h.status().next_hops;
          assert.deepEqual(hops.map((n) => n.this_node.targets.map((t) => `${t.address}:${t.state}`)), [['198.51.100.7:unknown'], [`${INT_HOP}:up`]]);
          assert.ok(h.since(mark).some((x) => x.effect.kind === 'probe' && x.effect.address === '198.51.100.7'));
          assert.ok(!h.since(mark).some((x) => x.effect.kind === 'probe' && x.effect.address === EXT_HOP));
        } },
    },
    {
      name: 'an unchanged configuration is applied silently',
      given: () => primary(),
      when: (h) => { h.input({ kind: 'config', at: h.at(), config: clusterConfig() }); },
      expect: { role: 'primary', notEmitted: ['log', 'release-service'],
        check: (h) => { assert.ok(h.state.monitor.targets.every((t) => t.judged === 'up')); } },
    },
  ]);
});

describe('node: rejected datagrams are counted and change nothing else', () => {
  const rows: readonly { reason: RejectReason; path?: string; bytes: (h: Harness) => Uint8Array }[] = [
    { reason: 'malformed', bytes: () => new Uint8Array(80).fill(7) },
    { reason: 'unsupported-version', bytes: (h) => h.peerDatagram('ha0').fill(2, 4, 5) },
    { reason: 'unauthenticated', bytes: (h) => encodeHeartbeat({
      cluster: 'lab', from: 'b', to: 'a', path: 'ha0', bootId: h.peerBootId, seq: h.peerSeq + 1, sentAt: WALL0 + h.now, report: h.peerReport,
    }, otherMac) },
    { reason: 'foreign-cluster', bytes: (h) => h.peerDatagram('ha0', { cluster: 'prod' }) },
    { reason: 'not-for-us', bytes: (h) => h.peerDatagram('ha0', { to: 'c' }) },
    { reason: 'not-for-us', path: 'eth9', bytes: (h) => h.peerDatagram('eth9') },
    { reason: 'wrong-path', path: 'ext0', bytes: (h) => h.peerDatagram('ha0') },
    { reason: 'replayed', bytes: (h) => h.lastPeerBytes.ha0! },
    { reason: 'stale', bytes: (h) => h.peerDatagram('ha0', { sentAt: WALL0 + h.now - T.replayWindowMs - 1 }) },
  ];

  it('has a row for every reject reason', () => {
    assert.deepEqual([...new Set(rows.map((r) => r.reason))].sort(), [...REJECT_REASONS].sort());
  });

  for (const row of rows) {
    for (const given of [{ name: 'secondary', make: secondary }, { name: 'primary', make: primary }]) {
      it(`${row.reason}${row.path ? ` (on ${row.path})` : ''}, on a ${given.name}`, () => {
        const h = given.make();
        const before = h.state;
        const r = step(before, { kind: 'datagram', at: h.at(), path: row.path ?? 'ha0', bytes: row.bytes(h) }, { mac });
        assert.deepEqual(r.effects, []);
        assert.deepEqual({ ...r.state, counters: before.counters }, before);
        const expected = { ...before.counters.rejected, [row.reason]: before.counters.rejected[row.reason] + 1 };
        // Counted on the path it came in on, when that is a heartbeat path of ours.
        const path = row.path ?? 'ha0';
        const on = before.counters.paths[path];
        const paths = on === undefined ? before.counters.paths : { ...before.counters.paths, [path]: { ...on, rejected: on.rejected + 1 } };
        assert.deepEqual(r.state.counters, { accepted: before.counters.accepted, rejected: expected, paths });
        h.state = r.state;
        assert.equal(h.status().heartbeats.rejected[row.reason], 1);
      });
    }
  }

  it('a stream of rejected datagrams does not keep a dead peer alive', () => {
    const h = secondary();
    const last = silence(h);
    const garbage = h.peerDatagram('ha0', {}, -T.replayWindowMs * 2);
    while (h.now < last + T.peerDeadAfterMs + T.tickMs) {
      h.tick();
      h.deliver('ha0', garbage);
    }
    assert.equal(h.state.role, 'primary');
    assert.ok(h.status().heartbeats.rejected.stale > 0);
  });
});

describe('node: cluster status', () => {
  table([
    {
      name: 'Standalone: the configuration names no peer',
      given: () => node({ config: clusterConfig({ peer: null }), persisted: null, peer: null }),
      when: (h) => { h.run(1000); },
      expect: { role: 'standalone', serving: true, cluster: 'Standalone', veto: null, notEmitted: ['send'],
        check: (h) => {
          assert.ok(h.emitted.some((x) => x.at === 0 && x.effect.kind === 'acquire-service'), 'serves from the start');
          assert.equal(h.status().other_node, null);
        } },
    },
    {
      name: 'Degraded: the peer is not reachable',
      given: () => primary(),
      when: (h) => { silence(h); h.run(T.peerDeadAfterMs + 100); },
      expect: { role: 'primary', cluster: 'Degraded', check: (h) => { assert.equal(h.status().other_node?.reachable, false); } },
    },
    {
      name: 'HA: both nodes in the cluster (primary)',
      given: () => primary(),
      when: () => undefined,
      expect: { role: 'primary', cluster: 'HA', veto: null, report: { uuid: UUID, canTakeOver: true } },
    },
    {
      name: 'HA: both nodes in the cluster (secondary)',
      given: () => secondary(),
      when: () => undefined,
      expect: { role: 'secondary', cluster: 'HA', veto: null, reason: /is primary/,
        check: (h) => { assert.equal(h.status().other_node?.role, 'primary'); } },
    },
    {
      name: 'Half: the peer reports mode standalone',
      given: () => node({ peer: { mode: 'standalone', role: 'standalone', uuid: null, canTakeOver: false } }),
      when: (h) => { h.run(1000); },
      expect: { cluster: 'Half' },
    },
    {
      name: 'Half: this node is standalone, the peer serves a cluster (this node releases the service)',
      given: () => halfNode(),
      when: () => undefined,
      expect: { role: 'standalone', serving: false, cluster: 'Half', reason: /run Join HA/,
        check: (h) => { assert.ok(h.emitted.some((x) => x.effect.kind === 'release-service')); } },
    },
    {
      name: 'Broken: the nodes hold different cluster UUIDs',
      given: () => node({ peer: { uuid: '99999999-9999-4999-8999-999999999999' } }),
      when: (h) => { h.run(1000); },
      expect: { cluster: 'Broken', alerts: { 'cluster-broken': 1 }, veto: /cluster Broken/, notEmitted: ['acquire-service'] },
    },
    {
      name: 'SplitBrain: diverged data generations',
      given: () => splitBrainKeptPrimary(),
      when: () => undefined,
      expect: { cluster: 'SplitBrain', role: 'primary',
        check: (h) => { assert.equal(h.status().sync.peer_generation, 'b:2.1'); } },
    },
  ]);
});

describe('node: freeze', () => {
  table([
    {
      name: 'frozen longer than peerDeadAfterMs while the peer lives: queued heartbeats are read, no takeover',
      given: () => secondary(),
      when: (h) => { h.freeze(T.peerDeadAfterMs + 500); h.run(1000); },
      expect: { role: 'secondary', serving: false, notEmitted: ['acquire-service'], logs: [/this node was frozen/],
        alerts: { 'peer-lost': 0, 'heartbeat-path-down': 0, 'role-change': 0 } },
    },
    {
      name: 'frozen, and the queued heartbeats are read before the resume tick: no takeover, no path alert',
      given: () => secondary(),
      when: (h) => { h.freeze(T.peerDeadAfterMs + 500, 'datagrams'); h.run(1000); },
      expect: { role: 'secondary', serving: false, notEmitted: ['acquire-service'], logs: [/this node was frozen/],
        alerts: { 'peer-lost': 0, 'heartbeat-path-down': 0, 'heartbeat-path-up': 0, 'role-change': 0 } },
    },
    {
      name: 'frozen, and a late probe reply is the first input on resume: no takeover before the heartbeats are read',
      given: () => secondary(),
      when: (h) => { h.freeze(T.peerDeadAfterMs + 500, 'probe-reply'); h.run(1000); },
      expect: { role: 'secondary', serving: false, notEmitted: ['acquire-service'], logs: [/this node was frozen/],
        alerts: { 'peer-lost': 0, 'heartbeat-path-down': 0, 'role-change': 0 } },
    },
    {
      name: 'frozen while the peer died: no takeover on the resume tick',
      given: () => secondary(),
      when: (h) => { silence(h); h.freeze(T.peerDeadAfterMs + 500); },
      expect: { role: 'secondary', notEmitted: ['acquire-service'], alerts: { 'peer-lost': 0 } },
    },
    {
      name: 'frozen while the peer died: takeover once the grace has passed',
      given: () => secondary(),
      when: (h) => { silence(h); h.freeze(T.peerDeadAfterMs + 500); h.run(T.freezeGraceMs); },
      expect: { role: 'primary', serving: true, alerts: { 'peer-lost': 1 },
        check: (h, mark) => { assert.deepEqual(timesOf(h, mark, 'acquire-service'), [h.now]); } },
    },
    {
      name: 'a primary frozen while its peer lives: no next-hop judgement from forgotten probes',
      given: () => primary(),
      when: (h) => { h.freeze(T.peerDeadAfterMs + 500); h.run(1000); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'], alerts: { 'peer-lost': 0 },
        check: (h, mark) => {
          // The probes in flight during the freeze are forgotten, not counted as misses.
          assert.ok(!h.since(mark).some((x) => x.effect.kind === 'log' && / → down/.test(x.effect.message)));
          assert.ok(h.state.monitor.targets.every((t) => t.judged === 'up'));
        } },
    },
  ]);
});

describe('node: redundant heartbeat paths', () => {
  table([
    {
      name: 'both paths up: ok',
      given: () => secondary(),
      when: () => undefined,
      expect: { check: (h) => { assert.equal(h.status().cluster.redundant_heartbeat, 'ok'); } },
    },
    {
      name: 'the redundant path stops: degraded, no takeover',
      given: () => secondary(),
      when: (h) => { h.peerPaths = ['ha0']; h.run(T.peerDeadAfterMs + 200); },
      expect: { role: 'secondary', notEmitted: ['acquire-service'], alerts: { 'heartbeat-path-down': 1, 'peer-lost': 0 }, cluster: 'HA',
        check: (h) => {
          assert.equal(h.status().cluster.redundant_heartbeat, 'degraded');
          const paths = h.status().heartbeat_paths;
          assert.deepEqual(paths.map(({ path, ha_link, up }) => ({ path, ha_link, up })), [{ path: 'ha0', ha_link: true, up: true }, { path: 'ext0', ha_link: false, up: false }]);
          // Counted per path: the stopped path's count stands still, the HA link's goes on.
          const [ha0, ext0] = paths;
          assert.ok(ha0 !== undefined && ext0 !== undefined && ha0.accepted > ext0.accepted, JSON.stringify(paths));
          assert.equal(ha0.accepted + ext0.accepted, h.status().heartbeats.accepted);
        } },
    },
    {
      name: 'the HA link stops, the redundant path carries on: degraded, no takeover',
      given: () => secondary(),
      when: (h) => { h.peerPaths = ['ext0']; h.run(T.peerDeadAfterMs + 200); },
      expect: { role: 'secondary', notEmitted: ['acquire-service'], alerts: { 'heartbeat-path-down': 1, 'peer-lost': 0 },
        check: (h) => {
          assert.equal(h.status().cluster.redundant_heartbeat, 'degraded');
          assert.deepEqual(h.status().heartbeat_paths.map((p) => p.up), [false, true]);
        } },
    },
    {
      name: 'the path comes back: ok again',
      given: () => secondary(),
      when: (h) => { h.peerPaths = ['ha0']; h.run(T.peerDeadAfterMs + 200); h.peerPaths = ['ha0', 'ext0']; h.run(200); },
      expect: { alerts: { 'heartbeat-path-down': 1, 'heartbeat-path-up': 1 },
        check: (h) => { assert.equal(h.status().cluster.redundant_heartbeat, 'ok'); } },
    },
    {
      name: 'a primary whose redundant path stops keeps the role',
      given: () => primary(),
      when: (h) => { h.peerPaths = ['ha0']; h.run(T.peerDeadAfterMs + 200); },
      expect: { role: 'primary', serving: true, notEmitted: ['release-service'],
        check: (h) => { assert.equal(h.status().cluster.redundant_heartbeat, 'degraded'); } },
    },
  ]);
});

describe("node: DRBD's rule, a new generation at the first write that cannot be replicated", () => {
  const write = (h: Harness): readonly Effect[] => h.input({ kind: 'unreplicated-write', at: h.at() });
  const persists = (effects: readonly Effect[]): number => effects.filter((e) => e.kind === 'persist').length;

  it('a primary starts one generation on top of the shared one, persisted and sent at once; further writes stay in it', () => {
    const h = primary();
    const shared = h.state.persisted.generations.current;
    const first = write(h);
    const g = h.state.persisted.generations;
    assert.notEqual(g.current, shared);
    assert.equal(g.history[0], shared);
    assert.equal(persists(first), 1);
    assert.ok(first.some((e) => e.kind === 'send'), 'the peer is told at once');
    assert.ok(first.some((e) => e.kind === 'log' && /a write could not be replicated: new data generation/.test(e.message)));
    const second = write(h);
    assert.equal(h.state.persisted.generations.current, g.current);
    assert.equal(persists(second), 0);
  });

  it('once the peer carries that generation (it caught up), the next unreplicated write starts another', () => {
    const h = primary();
    write(h);
    const g = h.state.persisted.generations;
    h.peerSays({ generations: g });
    h.peerHeartbeat();
    write(h);
    assert.notEqual(h.state.persisted.generations.current, g.current);
    assert.equal(h.state.persisted.generations.history[0], g.current);
  });

  it('a primary that lost its peer already writes a generation of its own: no second one', () => {
    const h = primaryAlone();
    const g = h.state.persisted.generations.current;
    assert.equal(persists(write(h)), 0);
    assert.equal(h.state.persisted.generations.current, g);
  });

  it('a secondary starts nothing', () => {
    const h = secondary();
    const g = h.state.persisted.generations.current;
    assert.equal(persists(write(h)), 0);
    assert.equal(h.state.persisted.generations.current, g);
  });

  it('resumed from a freeze inside its grace, a write, then the replacement heard: SplitBrain, alerted once, this node yields', () => {
    const h = primary();
    silence(h);
    // Frozen past the dead interval: the peer took over meanwhile, with a generation of its own.
    h.now += 3 * T.peerDeadAfterMs;
    write(h);
    assert.ok(h.state.graceUntil !== null && h.now < h.state.graceUntil, 'inside the freeze grace');
    assert.equal(h.state.role, 'primary');
    const mark = h.emitted.length;
    resume(h, { role: 'primary', term: h.state.primaryTerm + 1, generations: DIVERGED, canTakeOver: false });
    h.run(T.freezeGraceMs / 2);
    assert.equal(h.status().cluster.status, 'SplitBrain');
    assert.equal(h.state.role, 'secondary');
    const alerts = h.emitted.slice(mark).filter((e) => e.effect.kind === 'alert' && e.effect.event === 'split-brain');
    assert.equal(alerts.length, 1);
    // Without the write, the same resume yields without a split brain (the frozen-node rule).
    const quiet = primary();
    silence(quiet);
    quiet.now += 3 * T.peerDeadAfterMs;
    quiet.tickOnly();
    resume(quiet, { role: 'primary', term: quiet.state.primaryTerm + 1, generations: { current: 'b:3.2', history: [quiet.state.persisted.generations.current] } });
    quiet.run(T.freezeGraceMs / 2);
    assert.equal(quiet.status().cluster.status, 'HA');
    assert.equal(quiet.state.role, 'secondary');
  });
});
