/**
 * Drives one node's state machine in isolation: node "a" (HA address 203.0.113.1) with peer "b"
 * (203.0.113.2), heartbeat paths ha0 and ext0, next hops on ext0 and int0. Time is simulated:
 * `tick()` advances by the profile's tickMs; the scripted peer sends authentic heartbeats carrying
 * the report the test chooses; the probes the node emits are answered for the addresses marked
 * reachable. Support code for tests, not a test file itself.
 */
import type { CoreConfig, NextHopTarget, NodeSpec } from '../config.js';
import type { Generations, SyncState } from '../sync/state.js';
import type { Instant, Millis } from '../time.js';
import { TIMING_PROFILES, type TimingProfile } from '../timing.js';
import { decodeHeartbeat, encodeHeartbeat, type Mac } from '../wire/codec.js';
import { initNode, step } from './node.js';
import type { Heartbeat, PeerReport } from './report.js';
import { describeNode, type NodeStatus } from './status.js';
import type { AlertEvent, Effect, Input, NodeState, OperatorAction, Persisted } from './types.js';

export const WALL0 = 1_700_000_000_000;
export const UUID = '6f1c2a9e-1b7d-4c3e-9a51-2f0b8d4e7c10';
export const FRESH_UUID = '0a0a0a0a-0000-4000-8000-00000000000a';
export const EXT_HOP = '198.51.100.1';
export const INT_HOP = '10.0.0.1';
export const G1: Generations = { current: 'a:1.1', history: ['genesis'] };

export const NEXT_HOPS: readonly NextHopTarget[] = [
  { interface: 'ext0', address: EXT_HOP, weight: 1 },
  { interface: 'int0', address: INT_HOP, weight: 1 },
];
export const NODE_A: NodeSpec = { name: 'a', haAddress: '203.0.113.1', nextHops: NEXT_HOPS };
export const NODE_B: NodeSpec = { name: 'b', haAddress: '203.0.113.2', nextHops: NEXT_HOPS };

export function clusterConfig(overrides: Partial<CoreConfig> = {}): CoreConfig {
  return { cluster: 'lab', self: NODE_A, peer: NODE_B, heartbeatPaths: ['ha0', 'ext0'], timing: TIMING_PROFILES.default, ...overrides };
}

/** A node of an established cluster: mode ha, the cluster UUID, term 1, one data generation. */
export const ESTABLISHED: Persisted = { mode: 'ha', uuid: UUID, term: 1, generations: G1, generationCounter: 1 };

/** What the scripted peer reports unless told otherwise: an in-sync secondary reaching everything. */
export const PEER_SECONDARY: PeerReport = {
  mode: 'ha', uuid: UUID, role: 'secondary', term: 1, starting: false, sync: 'UpToDate', generations: G1,
  canTakeOver: true,
  nextHops: [{ interface: 'ext0', score: 1, total: 1, ready: true }, { interface: 'int0', score: 1, total: 1, ready: true }],
  yieldingTo: null, yieldCause: null, request: null, ack: null, leaving: false, firmware: null,
};

export interface HarnessOptions {
  readonly mac: Mac;
  readonly config?: CoreConfig;
  readonly persisted?: Persisted | null;
  readonly sync?: SyncState;
  /** The peer's first report; null = the peer is silent. */
  readonly peer?: Partial<PeerReport> | null;
  readonly peerIntervalMs?: Millis;
  /**
   * The scripted peer speaks HA protocol 2: its heartbeats carry its clock (ours + `clockOffset`)
   * and echo our last one, and its report the next-hop evidence (`fresh`: every next hop it
   * reaches answered a probe it sent 10 ms before each heartbeat). Absent: a protocol-1 peer.
   */
  readonly protocol2?: { readonly clockOffset: Millis; readonly fresh: boolean };
}

export interface Emitted {
  readonly at: Millis;
  readonly effect: Effect;
}

export class Harness {
  readonly mac: Mac;
  readonly timing: TimingProfile;
  state: NodeState;
  now: Millis = 0;
  /** Every effect so far, with the time it was emitted (initNode's at 0). */
  readonly emitted: Emitted[] = [];
  /** The effects of the last step. */
  last: readonly Effect[] = [];

  /** The scripted peer: sends `peerReport` on `peerPaths` every `peerIntervalMs` while `peerOn`. */
  peerOn: boolean;
  peerPaths: string[];
  peerReport: PeerReport;
  peerIntervalMs: Millis;
  peerBootId = '00000000000000b1';
  peerSeq = 0;
  peerNextAt: Millis = 0;
  /** When the peer's last heartbeat was delivered. */
  lastPeerAt: Millis | null = null;
  /** The last datagram delivered per path (to replay it). */
  readonly lastPeerBytes: Record<string, Uint8Array> = {};
  /** Next-hop addresses that answer the node's probes. */
  readonly reachable = new Set<string>([EXT_HOP, INT_HOP]);
  protocol2: { clockOffset: Millis; fresh: boolean } | null;
  /** The clock of the node's last heartbeat and when it was sent (echoed by a protocol-2 peer). */
  lastNodeClock: { clock: number; at: Millis } | null = null;

  constructor(opts: HarnessOptions) {
    this.mac = opts.mac;
    const config = opts.config ?? clusterConfig();
    this.timing = config.timing;
    const r = initNode(config, {
      at: this.at(), bootId: '00000000000000a1', freshUuid: FRESH_UUID,
      persisted: opts.persisted === undefined ? ESTABLISHED : opts.persisted, sync: opts.sync ?? 'UpToDate',
    });
    this.state = r.state;
    this.record(r.effects);
    this.peerOn = opts.peer !== null;
    this.peerReport = { ...PEER_SECONDARY, ...(opts.peer ?? {}) };
    this.peerPaths = [...config.heartbeatPaths];
    this.peerIntervalMs = opts.peerIntervalMs ?? this.timing.heartbeatIntervalMs;
    this.protocol2 = opts.protocol2 === undefined ? null : { ...opts.protocol2 };
  }

  /** The peer's monotonic clock now (protocol 2). */
  peerClock(now: Millis = this.now): Millis {
    return now + (this.protocol2?.clockOffset ?? 0);
  }

  at(now: Millis = this.now): Instant {
    return { now, wall: WALL0 + now };
  }

  /** Feeds one input at the current time. */
  input(input: Input): readonly Effect[] {
    const r = step(this.state, input, { mac: this.mac });
    this.state = r.state;
    this.record(r.effects);
    return r.effects;
  }

  private record(effects: readonly Effect[]): void {
    this.last = effects;
    for (const effect of effects) {
      this.emitted.push({ at: this.now, effect });
      if (this.protocol2 !== null && effect.kind === 'send') {
        const hb = decodeHeartbeat(effect.bytes, this.mac);
        if (hb.ok && hb.heartbeat.clock !== undefined && hb.heartbeat.clock !== null) this.lastNodeClock = { clock: hb.heartbeat.clock, at: this.now };
      }
    }
  }

  /** One tick: the tick input, replies to the probes it sent, then the peer's heartbeat if due. */
  tick(): void {
    this.now += this.timing.tickMs;
    this.tickOnly();
    this.answerProbes(this.last);
    if (this.peerOn && this.now >= this.peerNextAt) this.peerHeartbeat();
  }

  /** The tick input alone (no probe replies, no heartbeats). */
  tickOnly(): readonly Effect[] {
    return this.input({ kind: 'tick', at: this.at() });
  }

  answerProbes(effects: readonly Effect[]): void {
    for (const e of effects) {
      if (e.kind === 'probe' && this.reachable.has(e.address)) {
        this.input({ kind: 'probe-reply', at: this.at(), interface: e.interface, address: e.address, seq: e.seq });
      }
    }
  }

  /** Ticks for `ms` of simulated time. */
  run(ms: Millis): void {
    this.runTo(this.now + ms);
  }

  runTo(t: Millis): void {
    while (this.now + this.timing.tickMs <= t) this.tick();
  }

  /** Ticks until `done` holds; fails after `maxMs`. Returns the time it first held. */
  runUntil(done: (h: Harness) => boolean, maxMs: Millis = 60_000): Millis {
    const limit = this.now + maxMs;
    while (!done(this)) {
      if (this.now >= limit) throw new Error(`runUntil: condition not met within ${maxMs} ms`);
      this.tick();
    }
    return this.now;
  }

  /** Changes what the peer reports from now on. */
  peerSays(report: Partial<PeerReport>): void {
    this.peerReport = { ...this.peerReport, ...report };
  }

  /** A datagram of the peer for `path`, with the next sequence number, sent now (or at `now`). */
  peerDatagram(path: string, overrides: Partial<Heartbeat> = {}, now: Millis = this.now): Uint8Array {
    this.peerSeq += 1;
    const v2 = this.protocol2;
    let report = this.peerReport;
    let exchange: Partial<Heartbeat> = {};
    if (v2 !== null) {
      const echo = this.lastNodeClock === null ? null : { clock: this.lastNodeClock.clock, heldMs: now - this.lastNodeClock.at };
      exchange = { clock: Math.floor(this.peerClock(now)), echo };
      report = {
        ...report,
        nextHops: report.nextHops.map((r) => ({
          suspect: false, lostSince: null, ...r,
          answeredAt: v2.fresh ? (r.score > 0 ? Math.floor(this.peerClock(now) - 10) : null) : (r.answeredAt ?? null),
        })),
      };
    }
    return encodeHeartbeat({
      cluster: 'lab', from: 'b', to: 'a', path, bootId: this.peerBootId, seq: this.peerSeq,
      sentAt: Math.floor(WALL0 + now), ...exchange, report, ...overrides,
    }, this.mac);
  }

  deliver(path: string, bytes: Uint8Array): readonly Effect[] {
    return this.input({ kind: 'datagram', at: this.at(), path, bytes });
  }

  /** The peer's heartbeat, now, on every path it sends on. */
  peerHeartbeat(): void {
    for (const path of this.peerPaths) {
      const bytes = this.peerDatagram(path);
      this.lastPeerBytes[path] = bytes;
      this.deliver(path, bytes);
    }
    this.lastPeerAt = this.now;
    this.peerNextAt = this.now + this.peerIntervalMs;
  }

  /** The peer process restarts: a new boot id, sequence numbers from 1. */
  peerRestart(bootId: string): void {
    this.peerBootId = bootId;
    this.peerSeq = 0;
    this.peerOn = true;
    this.peerNextAt = this.now;
  }

  /**
   * This process is frozen for `ms`: no input at all. The heartbeats the peer sends meanwhile
   * queue up. On resume the node gets, in the order `first` says, its tick and the queued
   * datagrams (an event loop resumed from poll reads pending I/O before it runs its timers);
   * `probe-reply` = a late echo reply is read first, then the datagrams, then the tick.
   */
  freeze(ms: Millis, first: 'tick' | 'datagrams' | 'probe-reply' = 'tick'): void {
    const resumeAt = this.now + ms;
    const queued: { path: string; bytes: Uint8Array }[] = [];
    if (this.peerOn) {
      for (let t = this.peerNextAt; t < resumeAt; t += this.peerIntervalMs) {
        for (const path of this.peerPaths) queued.push({ path, bytes: this.peerDatagram(path, {}, t) });
        this.peerNextAt = t + this.peerIntervalMs;
      }
    }
    this.now = resumeAt;
    if (first === 'probe-reply') {
      const probe = this.emitted.filter((x) => x.effect.kind === 'probe').at(-1)?.effect;
      if (probe?.kind !== 'probe') throw new Error('freeze: no probe was sent yet');
      this.input({ kind: 'probe-reply', at: this.at(), interface: probe.interface, address: probe.address, seq: probe.seq });
    }
    if (first === 'tick') this.tickOnly();
    for (const q of queued) this.deliver(q.path, q.bytes);
    if (first !== 'tick') this.tickOnly();
    if (queued.length > 0) this.lastPeerAt = this.now;
  }

  operator(action: OperatorAction): readonly Effect[] {
    return this.input({ kind: 'operator', at: this.at(), action });
  }

  sync(state: SyncState, adopt: Generations | null = null): readonly Effect[] {
    return this.input({ kind: 'sync', at: this.at(), state, adopt });
  }

  status(): NodeStatus {
    return describeNode(this.state, this.now);
  }

  /** Effects emitted since `mark` (a length of `emitted`). */
  since(mark: number): Emitted[] {
    return this.emitted.slice(mark);
  }

  /** The heartbeats this node sent since `mark`, decoded. */
  sentSince(mark = 0): Heartbeat[] {
    const out: Heartbeat[] = [];
    for (const { effect } of this.since(mark)) {
      if (effect.kind !== 'send') continue;
      const decoded = decodeHeartbeat(effect.bytes, this.mac);
      if (!decoded.ok) throw new Error(`the node sent an invalid heartbeat: ${decoded.reason}`);
      out.push(decoded.heartbeat);
    }
    return out;
  }

  /** The report of the last heartbeat this node sent. */
  lastReport(): PeerReport {
    const sent = this.sentSince();
    const last = sent.at(-1);
    if (last === undefined) throw new Error('the node has sent no heartbeat');
    return last.report;
  }

  alertsSince(mark: number): AlertEvent[] {
    const out: AlertEvent[] = [];
    for (const { effect } of this.since(mark)) if (effect.kind === 'alert') out.push(effect.event);
    return out;
  }

  judged(address: string): string | undefined {
    return this.state.monitor.targets.find((t) => t.target.address === address)?.judged;
  }
}
