/**
 * A two-node cluster on an in-memory network with a virtual clock. Both nodes run the real core
 * (src/core/ha/node.ts) with the real wire codec and HMAC, and the real sync state machine
 * (src/core/sync/engine.ts); the network, the next-hop routers, the clocks, the faults and the
 * data are simulated, so hours of operation run in seconds and every run is reproducible from
 * its seed.
 *
 * The data model: each node's data is a set of records (write ids) on its simulated disk. The
 * service on the serving primary writes records; a receiving session replicates them to the
 * secondary over the HA link (paths[0]): a resync first (as long as the records that differ take
 * at the resync rate), then every write live, one path delay after it was made. A barrier on the
 * primary is acked once every record written before it is stored on the secondary.
 */
import { hmacSha256 } from '../adapters/crypto/hmac.js';
import type { CoreConfig, NodeSpec } from '../core/config.js';
import { decidingSync, initNode, step, type Capabilities } from '../core/ha/node.js';
import { clusterStatus, describeNode, syncFactsOf, type ClusterStatus, type NodeStatus } from '../core/ha/status.js';
import type { Role } from '../core/ha/report.js';
import type { Effect, Input, NodeState, OperatorAction, Persisted } from '../core/ha/types.js';
import {
  initSyncEngine, stepSync, wantsSession, type SyncDurable, type SyncEffect, type SyncEngine, type SyncInput,
} from '../core/sync/engine.js';
import { DEFAULT_SYNC_RATE_BYTES_PER_SEC } from '../core/sync/ratelimit.js';
import type { Generations, SyncState } from '../core/sync/state.js';
import type { Instant, Millis } from '../core/time.js';
import { TIMING_PROFILES, type TimingProfile, type TimingProfileName } from '../core/timing.js';
import { EventQueue } from './event-queue.js';
import { mulberry32, type Random } from './random.js';

export type NodeName = 'a' | 'b';
export const NODE_NAMES: readonly NodeName[] = ['a', 'b'];

/** Records on each node's disk at the first start. */
export interface InitialData {
  /** Records both nodes hold (the same ids). */
  readonly shared?: number;
  /** Records only node a holds. */
  readonly a?: number;
  /** Records only node b holds. */
  readonly b?: number;
}

export interface SimOptions {
  readonly profile?: TimingProfileName | TimingProfile;
  readonly seed?: number;
  /** Heartbeat paths: the HA link first (it carries the replication too), then redundant ones. */
  readonly paths?: readonly string[];
  /** Interfaces with a monitored next hop (one router per interface, shared by both nodes). */
  readonly interfaces?: readonly string[];
  /** One-way delay of every path, ms. */
  readonly pathDelayMs?: Millis;
  /** Wall-clock offset of each node, ms (clock skew). */
  readonly wallOffset?: Partial<Record<NodeName, Millis>>;
  /**
   * Monotonic-clock offset of each node, ms: each node's `now` reads the virtual time plus this
   * (two machines' monotonic clocks have unrelated origins; the heartbeat clock exchange maps them).
   */
  readonly clockOffset?: Partial<Record<NodeName, Millis>>;
  /** Start node b this much later than node a. */
  readonly startSkewMs?: Millis;
  /** Keep log lines (costly on long runs). */
  readonly keepLogs?: boolean;
  /** Records on the disks at the first start (default: none). */
  readonly data?: InitialData;
  /** Size of one record, bytes (default 64 KiB). */
  readonly recordBytes?: number;
  /** Resync rate, bytes per second (default 10 Mbit/s, as the real default). */
  readonly resyncRateBytesPerSec?: number;
  /** The service writes one record on every serving primary this often (ms); no writer when absent. */
  readonly writeEveryMs?: Millis;
  /** A barrier not acked within this fails (default 5 s). */
  readonly barrierTimeoutMs?: Millis;
}

interface PathState { cut: boolean; lossPct: number; delayMs: Millis }
interface ReachState { up: boolean; lossPct: number }

/** An input waiting in a frozen process: for the HA core or for the sync engine. */
type Queued = { readonly to: 'ha'; readonly input: Input } | { readonly to: 'sync'; readonly input: SyncInput };

interface SimNode {
  readonly name: NodeName;
  state: NodeState | null;
  running: boolean;
  frozenUntil: Millis | null;
  /** Inputs that arrived while frozen: a socket buffer, read on resume. */
  backlog: Queued[];
  persisted: Persisted | null;
  /** The sync state last handed to the HA core. */
  sync: SyncState;
  serving: boolean;
  boots: number;
  startedAt: Millis;
  tickTimer: number;
  /** The operator forced a takeover on this node at some time. */
  forced: boolean;
  /** A forced takeover is asked and the node is not primary yet. */
  forcePending: boolean;
  /** The sync engine (in memory: lost with the process). */
  engine: SyncEngine | null;
  /** The sync engine's state file (survives a crash). */
  syncDisk: SyncDurable | null;
  /** Sync inputs not yet stepped (drained in order by `toEngine`). */
  inbox: SyncInput[];
  engineBusy: boolean;
  /** The node's data: record ids on its disk (survive a crash). */
  data: Set<string>;
}

export interface ServingChange { readonly at: Millis; readonly node: NodeName; readonly serving: boolean }
export interface LogLine { readonly at: Millis; readonly node: NodeName; readonly level: string; readonly event: string; readonly message: string }

/** One record written by the service. */
export interface Write {
  readonly id: string;
  readonly seq: number;
  readonly node: NodeName;
  readonly at: Millis;
  /** The other node was primary too at that moment. */
  readonly dualPrimary: boolean;
}

/** Data moved aside on split-brain recovery (never deleted). */
export interface Preserved {
  readonly node: NodeName;
  readonly at: Millis;
  readonly generation: string;
  readonly records: ReadonlySet<string>;
}

export interface Barrier {
  readonly id: number;
  readonly node: NodeName;
  readonly at: Millis;
  /** Every record written before the barrier had this sequence number or a lower one. */
  readonly seq: number;
  /** The records on the primary when the barrier was asked: all of them are on the secondary once acked. */
  readonly records: readonly string[];
  status: 'pending' | 'acked' | 'failed';
  settledAt: Millis | null;
  reason: string | null;
}

/** The receiving session of a secondary with its primary, as the sync channel carries it. */
interface Session {
  readonly from: NodeName;
  readonly to: NodeName;
  readonly openedAt: Millis;
  phase: 'resync' | 'live';
  /** The resync plan: records to copy and to remove, in order; how many are done. */
  readonly plan: readonly { readonly id: string; readonly remove: boolean }[];
  applied: number;
  /** Transfer time the plan needs (ms), and how much of it has run. */
  readonly workMs: number;
  doneMs: number;
  lastAt: Millis;
  lastProgressAt: Millis;
  /** Live: writes sent and not yet stored on the receiver, oldest first. */
  pending: { readonly id: string; readonly seq: number; readonly dueAt: Millis }[];
  /** Since when the channel has carried nothing (HA link cut, an end frozen), or null. */
  stalledSince: Millis | null;
  /** The primary's generation sent with caught-up (the receiver carries it), or null before. */
  generation: string | null;
}

export interface SessionInfo {
  readonly from: NodeName;
  readonly to: NodeName;
  readonly phase: 'resync' | 'live';
  readonly filesLeft: number;
}

const KEY = new TextEncoder().encode('tandem simulation cluster key, 32+ bytes long');
/** How often a resync reports its progress to the engine, at most. */
const PROGRESS_EVERY_MS = 100;

export function simConfig(self: NodeName, opts: { profile: TimingProfile; paths: readonly string[]; interfaces: readonly string[] }): CoreConfig {
  const spec = (n: NodeName): NodeSpec => ({
    name: n,
    haAddress: n === 'a' ? '203.0.113.1' : '203.0.113.2',
    nextHops: opts.interfaces.map((i, k) => ({ interface: i, address: `198.51.100.${k + 1}`, weight: 1 })),
  });
  return {
    cluster: 'sim',
    self: spec(self),
    peer: spec(self === 'a' ? 'b' : 'a'),
    heartbeatPaths: opts.paths,
    timing: opts.profile,
  };
}

/** How long the secondary may stay apart from a live primary before its copy is outdated. */
export function syncGraceMs(t: TimingProfile): Millis {
  return t.peerDeadAfterMs + 2 * t.heartbeatIntervalMs;
}

const other = (n: NodeName): NodeName => (n === 'a' ? 'b' : 'a');

export class Simulation {
  readonly profile: TimingProfile;
  readonly queue = new EventQueue();
  readonly random: Random;
  readonly servingLog: ServingChange[] = [];
  readonly logs: LogLine[] = [];
  readonly alerts: LogLine[] = [];
  readonly paths: readonly string[];
  readonly interfaces: readonly string[];
  /** Every record the service wrote, in order. */
  readonly writes: Write[] = [];
  /** Every barrier asked, in order (settled ones keep their outcome). */
  readonly barriers: Barrier[] = [];
  /** Data set aside on split-brain recovery. */
  readonly preserved: Preserved[] = [];
  /** Every record an acked barrier covers. */
  readonly ackedRecords = new Set<string>();
  /** Acked records a forced takeover promoted a node without: the operator accepted losing them. */
  readonly exemptRecords = new Set<string>();
  readonly recordBytes: number;
  readonly rateBytesPerSec: number;
  private readonly caps: Capabilities = { mac: hmacSha256(KEY) };
  private readonly nodes: Record<NodeName, SimNode>;
  private readonly pathState = new Map<string, PathState>();
  /** Next-hop reachability per node and interface. */
  private readonly reach = new Map<string, ReachState>();
  private readonly pathDelayMs: Millis;
  private readonly wallOffset: Partial<Record<NodeName, Millis>>;
  private readonly clockOffset: Partial<Record<NodeName, Millis>>;
  private readonly keepLogs: boolean;
  private readonly configs: Record<NodeName, CoreConfig>;
  private readonly graceMs: Millis;
  private readonly barrierTimeoutMs: Millis;
  /** Observers called after every processed HA input (invariant checkers). */
  private readonly observers: ((sim: Simulation) => void)[] = [];
  private session: Session | null = null;
  /** No new session before this (the receiver's reconnect delay). */
  private reconnectAt: Millis = 0;
  private writeSeq = 0;
  private writerTimer: number | null = null;
  private driving = false;
  private dirty = false;
  private depth = 0;

  constructor(opts: SimOptions = {}) {
    const p = opts.profile ?? 'default';
    this.profile = typeof p === 'string' ? TIMING_PROFILES[p] : p;
    this.random = mulberry32(opts.seed ?? 1);
    this.paths = opts.paths ?? ['ha0', 'ext0'];
    this.interfaces = opts.interfaces ?? ['ext0', 'int0'];
    this.pathDelayMs = opts.pathDelayMs ?? 0.2;
    this.wallOffset = opts.wallOffset ?? {};
    this.clockOffset = opts.clockOffset ?? {};
    this.keepLogs = opts.keepLogs ?? true;
    this.recordBytes = opts.recordBytes ?? 65_536;
    this.rateBytesPerSec = opts.resyncRateBytesPerSec ?? DEFAULT_SYNC_RATE_BYTES_PER_SEC;
    this.graceMs = syncGraceMs(this.profile);
    this.barrierTimeoutMs = opts.barrierTimeoutMs ?? 5000;
    for (const path of this.paths) this.pathState.set(path, { cut: false, lossPct: 0, delayMs: this.pathDelayMs });
    for (const n of NODE_NAMES) for (const i of this.interfaces) this.reach.set(`${n}/${i}`, { up: true, lossPct: 0 });
    const initial = (name: NodeName): Set<string> => {
      const d = opts.data ?? {};
      const ids = Array.from({ length: d.shared ?? 0 }, (_, k) => `init-${k + 1}`);
      for (let k = 1; k <= (d[name] ?? 0); k++) ids.push(`init-${name}-${k}`);
      return new Set(ids);
    };
    const mk = (name: NodeName): SimNode => ({
      name, state: null, running: false, frozenUntil: null, backlog: [], persisted: null,
      sync: 'UpToDate', serving: false, boots: 0, startedAt: 0, tickTimer: 0, forced: false, forcePending: false,
      engine: null, syncDisk: null, inbox: [], engineBusy: false, data: initial(name),
    });
    this.nodes = { a: mk('a'), b: mk('b') };
    const cfg = { profile: this.profile, paths: this.paths, interfaces: this.interfaces };
    this.configs = { a: simConfig('a', cfg), b: simConfig('b', cfg) };
    this.start('a');
    if ((opts.startSkewMs ?? 0) > 0) this.queue.at(opts.startSkewMs ?? 0, () => { this.start('b'); });
    else this.start('b');
    if (opts.writeEveryMs !== undefined) this.startWriter(opts.writeEveryMs);
  }

  get now(): Millis { return this.queue.now; }

  /** Runs the simulation until virtual time `until`. */
  runUntil(until: Millis): void { this.queue.runUntil(until); }
  runFor(ms: Millis): void { this.queue.runUntil(this.now + ms); }

  observe(fn: (sim: Simulation) => void): void { this.observers.push(fn); }

  // ---- Faults and world changes ---------------------------------------------------------------

  cutPath(path: string, cut = true): void {
    this.path(path).cut = cut;
    this.drive();
  }
  setPathLoss(path: string, pct: number): void { this.path(path).lossPct = pct; }
  /** One-way delay of a path from now on (datagrams in flight keep theirs). */
  setPathDelay(path: string, ms: Millis): void { this.path(path).delayMs = ms; }
  cutAllPaths(cut = true): void { for (const p of this.paths) this.cutPath(p, cut); }
  /** The next hop of `iface` becomes unreachable (or reachable again) from `node`. */
  setNextHop(node: NodeName, iface: string, up: boolean): void { this.reachOf(node, iface).up = up; }
  setProbeLoss(node: NodeName, iface: string, pct: number): void { this.reachOf(node, iface).lossPct = pct; }
  operator(node: NodeName, action: OperatorAction): void {
    const n = this.nodes[node];
    if (action.type === 'takeover' && action.force) {
      n.forced = true;
      n.forcePending = true;
    }
    this.deliver(n, { kind: 'operator', at: this.instant(node), action });
    this.drive();
  }
  /** SIGKILL: the process dies with its memory; VIPs stay in the kernel until it restarts; the disk stays. */
  crash(node: NodeName): void {
    const n = this.nodes[node];
    n.running = false;
    n.frozenUntil = null;
    n.state = null;
    n.backlog = [];
    n.engine = null;
    n.inbox = [];
    n.engineBusy = false;
    this.queue.cancel(n.tickTimer);
    this.drive();
  }
  restart(node: NodeName): void {
    this.crash(node);
    this.start(node);
  }
  /** The whole machine pauses for `ms` (SIGSTOP of a VM): nothing runs, datagrams queue up in the socket. */
  freeze(node: NodeName, ms: Millis): void {
    const n = this.nodes[node];
    if (!n.running) return;
    n.frozenUntil = Math.max(n.frozenUntil ?? 0, this.now + ms);
    this.queue.at(this.now + ms, () => { this.thaw(n); });
    this.drive();
  }

  // ---- The service and its data ---------------------------------------------------------------

  /**
   * The service writes one record on `node` (default: the serving primary, the first if two
   * serve); returns its id, or null when that node does not serve (not primary, down, frozen).
   */
  write(node?: NodeName): string | null {
    const n = node === undefined ? this.writable()[0] : this.nodes[node];
    if (n === undefined || !this.canWrite(n)) return null;
    this.writeSeq += 1;
    const id = `w${this.writeSeq}@${n.name}`;
    const peer = this.nodes[other(n.name)];
    const dualPrimary = peer.running && peer.state?.role === 'primary';
    this.writes.push({ id, seq: this.writeSeq, node: n.name, at: this.now, dualPrimary });
    n.data.add(id);
    const s = this.session;
    const live = s?.from === n.name && s.phase === 'live';
    if (live) {
      const dueAt = this.now + this.path(this.haLink).delayMs;
      s.pending.push({ id, seq: this.writeSeq, dueAt });
      this.queue.at(dueAt, () => { this.drive(); });
    }
    // The daemon's rule: a write is replicable while a live session carries it and the receiver
    // is heard (the channel stalls when the HA link is cut or an end is frozen). Otherwise the HA
    // core hears of it at once — the write event comes before any heartbeat due at this moment.
    if (!live || this.stalled()) this.process(n, { kind: 'unreplicated-write', at: this.instant(n.name) });
    return id;
  }

  /** `count` writes at once (a bulk load); returns how many were written. */
  writeMany(count: number, node?: NodeName): number {
    let written = 0;
    for (let k = 0; k < count; k++) if (this.write(node) !== null) written += 1;
    return written;
  }

  /** From now on the service writes one record on every serving primary each `everyMs`. */
  startWriter(everyMs: Millis): void {
    this.stopWriter();
    const tick = (): void => {
      for (const n of this.writable()) this.write(n.name);
      this.writerTimer = this.queue.at(this.now + everyMs, tick);
    };
    this.writerTimer = this.queue.at(this.now + everyMs, tick);
  }

  stopWriter(): void {
    if (this.writerTimer !== null) this.queue.cancel(this.writerTimer);
    this.writerTimer = null;
  }

  /**
   * A durability barrier on `node`: acked once every record written there before it is stored
   * on the secondary (live session), failed when that does not happen within the timeout or
   * the node stops serving. Refused at once (failed) on a node that does not serve.
   */
  barrier(node: NodeName): Barrier {
    const n = this.nodes[node];
    const b: Barrier = {
      id: this.barriers.length + 1, node, at: this.now, seq: this.writeSeq, records: [...n.data],
      status: 'pending', settledAt: null, reason: null,
    };
    this.barriers.push(b);
    if (!this.canWrite(n)) {
      this.settle(b, 'failed', 'not the serving primary');
      return b;
    }
    this.queue.at(this.now + this.barrierTimeoutMs, () => {
      if (b.status === 'pending') this.settle(b, 'failed', `not on the secondary within ${this.barrierTimeoutMs} ms`);
    });
    this.drive();
    return b;
  }

  // ---- Observation ----------------------------------------------------------------------------

  isServing(node: NodeName): boolean { return this.nodes[node].serving; }
  role(node: NodeName): Role | null { return this.nodes[node].state?.role ?? null; }
  /** The sync state the HA core of `node` holds (the engine's last report). */
  syncOf(node: NodeName): SyncState { return this.nodes[node].sync; }
  /**
   * The sync state the HA core decides on: its `sync`, or what the engine said it would be should
   * the peer be declared dead, once it is (null while the node is down).
   */
  decidingSyncOf(node: NodeName): SyncState | null {
    const s = this.nodes[node].state;
    return s === null ? null : decidingSync(s);
  }
  /** The sync engine of `node` (null while the node is down). */
  engineOf(node: NodeName): SyncEngine | null { return this.nodes[node].engine; }
  /** The sync state file on `node`'s disk. */
  syncDiskOf(node: NodeName): SyncDurable | null { return this.nodes[node].syncDisk; }
  /** The records on `node`'s disk. */
  records(node: NodeName): ReadonlySet<string> { return this.nodes[node].data; }
  generationsOf(node: NodeName): Generations | null { return this.nodes[node].persisted?.generations ?? null; }
  /** The receiving session, if one is open. */
  sessionInfo(): SessionInfo | null {
    const s = this.session;
    return s === null ? null : { from: s.from, to: s.to, phase: s.phase, filesLeft: s.plan.length - s.applied };
  }
  /** Whether the operator forced a takeover on `node` (the sync veto may be skipped). */
  wasForced(node: NodeName): boolean { return this.nodes[node].forced; }
  /** When `node`'s process last started. */
  startedAt(node: NodeName): Millis { return this.nodes[node].startedAt; }
  isRunning(node: NodeName): boolean { return this.nodes[node].running && this.nodes[node].frozenUntil === null; }
  servingNodes(): NodeName[] { return NODE_NAMES.filter((n) => this.nodes[n].serving); }
  status(node: NodeName): NodeStatus | null {
    const s = this.nodes[node].state;
    return s === null ? null : describeNode(s, this.clockOf(node));
  }
  /** The cluster status `node` shows (cheaper than `status`), null while it is down. */
  clusterStatusOf(node: NodeName): ClusterStatus | null {
    const s = this.nodes[node].state;
    return s === null ? null : clusterStatus(s);
  }
  anyPathUp(): boolean { return [...this.pathState.values()].some((p) => !p.cut); }
  isCut(path: string): boolean { return this.path(path).cut; }
  get haLink(): string { return this.paths[0] ?? 'ha0'; }
  /** First time at or after `from` when `node` started serving, or null. */
  servingSince(node: NodeName, from: Millis): Millis | null {
    return this.servingLog.find((c) => c.node === node && c.serving && c.at >= from)?.at ?? null;
  }

  // ---- Internals: nodes -----------------------------------------------------------------------

  private start(name: NodeName): void {
    const n = this.nodes[name];
    n.running = true;
    n.frozenUntil = null;
    n.boots += 1;
    n.startedAt = this.now;
    // The engine first: the HA core starts with its state. Before the first HA step it knows
    // nothing of the peer.
    n.engine = initSyncEngine(n.syncDisk, { role: 'secondary', peerAlive: false, peerRole: null, diverged: false }, this.graceMs, this.now);
    n.sync = n.engine.state;
    const facts = {
      at: this.instant(name),
      bootId: `${name}boot${String(n.boots).padStart(8, '0')}`.slice(0, 16),
      freshUuid: `uuid-of-${name}-${n.boots}`,
      persisted: n.persisted,
      sync: n.sync,
    };
    const r = initNode(this.configs[name], facts);
    n.state = r.state;
    // A restarted daemon finds the VIPs it left behind and removes them unless it is primary.
    if (n.serving && !r.state.serving) this.setServing(n, false);
    this.apply(n, r.effects);
    this.toEngine(n, { kind: 'facts', at: this.now, facts: syncFactsOf(r.state) });
    this.scheduleTick(n);
    this.drive();
  }

  private scheduleTick(n: SimNode): void {
    n.tickTimer = this.queue.at(this.now + this.profile.tickMs, () => {
      if (!n.running) return;
      const frozen = n.frozenUntil !== null;
      if (!frozen) this.process(n, { kind: 'tick', at: this.instant(n.name) });
      this.scheduleTick(n);
      // A frozen machine does nothing, but its peer's channel times out meanwhile.
      if (frozen) this.drive();
    });
  }

  private thaw(n: SimNode): void {
    if (n.frozenUntil === null || this.now < n.frozenUntil) return;
    n.frozenUntil = null;
    // The timer fires first after a resume (it is overdue), then the sockets are read.
    this.process(n, { kind: 'tick', at: this.instant(n.name) });
    const backlog = n.backlog;
    n.backlog = [];
    for (const q of backlog) {
      if (q.to === 'ha') this.process(n, { ...q.input, at: this.instant(n.name) });
      else this.toEngine(n, { ...q.input, at: this.now });
    }
    this.drive();
  }

  private deliver(n: SimNode, input: Input): void {
    if (!n.running) return;
    if (n.frozenUntil !== null) {
      n.backlog.push({ to: 'ha', input });
      return;
    }
    this.process(n, input);
  }

  /** One HA step, its effects, the observers, then the new facts to the sync engine. */
  private process(n: SimNode, input: Input): void {
    if (n.state === null) return;
    this.depth += 1;
    const r = step(n.state, input, this.caps);
    n.state = r.state;
    this.apply(n, r.effects);
    if (n.forcePending && r.state.role === 'primary') {
      n.forcePending = false;
      // The operator promoted a copy that may miss acked records: losing them was accepted.
      for (const id of this.ackedRecords) if (!n.data.has(id)) this.exemptRecords.add(id);
    }
    for (const o of this.observers) o(this);
    this.toEngine(n, { kind: 'facts', at: this.now, facts: syncFactsOf(r.state) });
    this.depth -= 1;
    this.dirty = true;
    if (this.depth === 0) this.drive();
  }

  /** Steps the sync engine with `input` and whatever the steps queue behind it, in order. */
  private toEngine(n: SimNode, input: SyncInput): void {
    if (!n.running) return;
    if (n.frozenUntil !== null) {
      n.backlog.push({ to: 'sync', input });
      return;
    }
    n.inbox.push(input);
    if (n.engineBusy) return;
    n.engineBusy = true;
    for (let next = n.inbox.shift(); next !== undefined && n.engine !== null; next = n.inbox.shift()) {
      const r = stepSync(n.engine, next);
      n.engine = r.engine;
      this.applySync(n, r.effects);
    }
    n.engineBusy = false;
  }

  private applySync(n: SimNode, effects: readonly SyncEffect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'persist': n.syncDisk = e.durable; break;
        case 'log': this.log(n.name, e.level, e.event, e.message); break;
        case 'report':
          // Handed to the HA core at once, as the next input (the engine is not re-entered: the
          // facts that step produces wait in the inbox).
          n.sync = e.state;
          this.process(n, { kind: 'sync', at: this.instant(n.name), state: e.state, ifPeerLost: e.ifPeerLost, adopt: e.adopt });
          break;
      }
    }
  }

  private apply(n: SimNode, effects: readonly Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'send': this.send(n.name, e.path, e.bytes); break;
        case 'probe': this.probe(n.name, e.interface, e.address, e.seq); break;
        case 'acquire-service': this.setServing(n, true); break;
        case 'release-service': this.setServing(n, false); break;
        case 'persist': n.persisted = e.persisted; break;
        case 'log': this.log(n.name, e.level, e.event, e.message); break;
        case 'alert':
          this.alerts.push({ at: this.now, node: n.name, level: 'alert', event: e.event, message: e.message });
          break;
        case 'reboot-node':
          this.crash(n.name);
          this.queue.at(this.now + 2000, () => { this.start(n.name); });
          break;
        case 'shutdown-node': case 'stop-process':
          this.crash(n.name);
          break;
        case 'full-resync':
          // Stepped after this HA step, before its facts (the engine is not re-entered mid-step).
          n.inbox.push({ kind: 'resync-required', at: this.now });
          break;
        case 'preserve-diverged-data':
          this.preserved.push({ node: n.name, at: this.now, generation: e.generation, records: n.data });
          n.data = new Set();
          this.log(n.name, 'warn', 'sync', `diverged data of generation ${e.generation} moved aside`);
          break;
        case 'announce':
          break;
      }
    }
  }

  private setServing(n: SimNode, serving: boolean): void {
    if (n.serving === serving) return;
    n.serving = serving;
    this.servingLog.push({ at: this.now, node: n.name, serving });
  }

  private canWrite(n: SimNode): boolean {
    return n.running && n.frozenUntil === null && n.state?.role === 'primary' && n.serving;
  }

  private writable(): SimNode[] {
    return NODE_NAMES.map((x) => this.nodes[x]).filter((n) => this.canWrite(n));
  }

  private log(node: NodeName, level: string, event: string, message: string): void {
    if (this.keepLogs) this.logs.push({ at: this.now, node, level, event, message });
  }

  // ---- Internals: replication -----------------------------------------------------------------

  /** Brings the replication up to date with the world; runs until nothing it does changes a node. */
  private drive(): void {
    if (this.driving) return;
    this.driving = true;
    try {
      this.dirty = false;
      for (let k = 0; k < 8; k++) {
        this.driveOnce();
        if (!this.takeDirty()) break;
      }
    } finally {
      this.driving = false;
    }
  }

  /** Whether a node was stepped since the last call (then the replication looks again). */
  private takeDirty(): boolean {
    const dirty = this.dirty;
    this.dirty = false;
    return dirty;
  }

  private driveOnce(): void {
    if (this.session !== null) this.driveSession(this.session);
    if (this.session === null) this.maybeOpen();
    this.settleBarriers();
  }

  private maybeOpen(): void {
    if (this.now < this.reconnectAt || this.isCut(this.haLink)) return;
    for (const to of NODE_NAMES) {
      const r = this.nodes[to];
      const p = this.nodes[other(to)];
      // The receiver connects again only once it knows its last session closed (a close still
      // travelling, or waiting in a frozen process's socket, must not hit the new session).
      if (!this.isRunning(to) || r.engine === null || !wantsSession(r.engine) || r.engine.session !== 'closed') continue;
      if (!this.isRunning(p.name) || p.state?.role !== 'primary') continue;
      this.open(p, r);
      return;
    }
  }

  private open(p: SimNode, r: SimNode): void {
    // The receiver sends its manifest, the primary plans what differs.
    const plan = [
      ...[...r.data].filter((id) => !p.data.has(id)).map((id) => ({ id, remove: true })),
      ...[...p.data].filter((id) => !r.data.has(id)).map((id) => ({ id, remove: false })),
    ];
    const bytes = plan.length * this.recordBytes;
    const s: Session = {
      from: p.name, to: r.name, openedAt: this.now, phase: 'resync', plan, applied: 0,
      workMs: (bytes / this.rateBytesPerSec) * 1000, doneMs: 0, lastAt: this.now, lastProgressAt: this.now,
      pending: [], stalledSince: null, generation: null,
    };
    this.session = s;
    this.log(r.name, 'info', 'sync', `replication session with ${p.name} open: ${plan.length} records differ (${bytes} bytes)`);
    this.toEngine(r, { kind: 'session-open', at: this.now });
    this.toEngine(r, { kind: 'resync-planned', at: this.now, bytes, files: plan.length });
  }

  private driveSession(s: Session): void {
    const p = this.nodes[s.from];
    const r = this.nodes[s.to];
    const delay = this.path(this.haLink).delayMs;
    if (!r.running) {
      this.closeSession('the receiver is down', null);
      return;
    }
    if (!p.running) {
      // The kernel of the crashed primary resets the connection: the receiver learns it one path delay later.
      this.closeSession(`connection reset by ${p.name}`, delay);
      return;
    }
    if (p.state?.role !== 'primary') {
      this.closeSession(`${p.name} is no longer primary`, delay);
      return;
    }
    if (r.frozenUntil === null && r.engine !== null && !wantsSession(r.engine)) {
      this.closeSession('no longer wanted', 0);
      return;
    }
    if (this.stalled()) {
      s.stalledSince ??= this.now;
      s.lastAt = this.now;
      // The channel's idle timeout, as the real one: the peer's dead interval.
      if (this.now - s.stalledSince >= this.profile.peerDeadAfterMs) this.closeSession('idle timeout', 0);
      return;
    }
    s.stalledSince = null;
    if (s.phase === 'resync') this.advanceResync(s, p, r, delay);
    else this.advanceLive(s, p, r);
  }

  /** The session's channel carries nothing now: the HA link is cut, or an end is frozen. */
  private stalled(): boolean {
    const s = this.session;
    if (s === null) return false;
    return this.isCut(this.haLink) || this.nodes[s.from].frozenUntil !== null || this.nodes[s.to].frozenUntil !== null;
  }

  private advanceResync(s: Session, p: SimNode, r: SimNode, delay: Millis): void {
    s.doneMs += this.now - s.lastAt;
    s.lastAt = this.now;
    const fraction = s.workMs <= 0 ? 1 : Math.min(1, s.doneMs / s.workMs);
    const target = Math.floor(fraction * s.plan.length);
    const before = s.applied;
    for (; s.applied < target; s.applied++) {
      const item = s.plan[s.applied];
      if (item === undefined) break;
      if (item.remove) r.data.delete(item.id);
      else if (p.data.has(item.id)) r.data.add(item.id);
    }
    if (s.applied > before && s.applied < s.plan.length && this.now - s.lastProgressAt >= PROGRESS_EVERY_MS) {
      s.lastProgressAt = this.now;
      this.toEngine(r, { kind: 'resync-progress', at: this.now, bytesDone: s.applied * this.recordBytes, filesDone: s.applied });
    }
    if (s.doneMs < s.workMs + delay) return;
    // The resync copies the primary's state at its end (writes made meanwhile included); from
    // now on every write is replicated live.
    r.data = new Set(p.data);
    s.phase = 'live';
    const g = p.state?.persisted.generations;
    if (g === undefined) return;
    this.toEngine(r, { kind: 'resync-progress', at: this.now, bytesDone: s.plan.length * this.recordBytes, filesDone: s.plan.length });
    s.generation = g.current;
    this.toEngine(r, { kind: 'caught-up', at: this.now, generations: g });
  }

  private advanceLive(s: Session, p: SimNode, r: SimNode): void {
    s.lastAt = this.now;
    while (s.pending[0] !== undefined && s.pending[0].dueAt <= this.now) {
      r.data.add(s.pending[0].id);
      s.pending.shift();
    }
    // The primary started a new generation while the session stayed live (it judged the peer
    // lost on heartbeats, the channel survived): its writes from now on may never reach this
    // copy, so the copy may not carry that generation on the strength of this session — the
    // session ends, as the real source ends it, and a new one (a resync) adopts it if the peer
    // is still there.
    if (s.generation !== null && p.state !== null && p.state.persisted.generations.current !== s.generation) {
      this.closeSession('the primary started a new data generation', 0);
    }
  }

  /** Ends the session; the receiver's engine learns it after `notifyAfter` ms (null: it is down). */
  private closeSession(reason: string, notifyAfter: Millis | null): void {
    const s = this.session;
    if (s === null) return;
    this.session = null;
    this.reconnectAt = this.now + this.profile.heartbeatIntervalMs;
    this.dirty = true;
    if (notifyAfter === null) return;
    const r = this.nodes[s.to];
    const boots = r.boots;
    const notify = (): void => {
      if (r.boots === boots) this.toEngine(r, { kind: 'session-closed', at: this.now, reason });
    };
    if (notifyAfter <= 0) notify();
    else this.queue.at(this.now + notifyAfter, () => { notify(); this.drive(); });
  }

  private settleBarriers(): void {
    const s = this.session;
    for (const b of this.barriers) {
      if (b.status !== 'pending') continue;
      const n = this.nodes[b.node];
      if (!this.canWrite(n) && n.frozenUntil === null) {
        this.settle(b, 'failed', `${b.node} stopped serving`);
        continue;
      }
      if (s?.from !== b.node || s.phase !== 'live' || s.stalledSince !== null) continue;
      if (s.pending[0] !== undefined && s.pending[0].seq <= b.seq) continue;
      const receiver = this.nodes[s.to].data;
      const missing = b.records.find((id) => !receiver.has(id));
      if (missing !== undefined) throw new Error(`simulation bug: barrier ${b.id} would ack while ${missing} is not on ${s.to}`);
      this.settle(b, 'acked', null);
      for (const id of b.records) this.ackedRecords.add(id);
    }
  }

  private settle(b: Barrier, status: 'acked' | 'failed', reason: string | null): void {
    b.status = status;
    b.settledAt = this.now;
    b.reason = reason;
  }

  // ---- Internals: network ---------------------------------------------------------------------

  private send(from: NodeName, path: string, bytes: Uint8Array): void {
    const p = this.path(path);
    if (p.cut || this.random() * 100 < p.lossPct) return;
    const to = this.nodes[other(from)];
    this.queue.at(this.now + p.delayMs, () => {
      this.deliver(to, { kind: 'datagram', at: this.instant(to.name), path, bytes });
    });
  }

  private probe(from: NodeName, iface: string, address: string, seq: number): void {
    const r = this.reachOf(from, iface);
    if (!r.up || this.random() * 100 < r.lossPct) return;
    const n = this.nodes[from];
    this.queue.at(this.now + 0.5, () => {
      this.deliver(n, { kind: 'probe-reply', at: this.instant(from), interface: iface, address, seq });
    });
  }

  private instant(node: NodeName): Instant {
    return { now: this.clockOf(node), wall: 1_800_000_000_000 + this.now + (this.wallOffset[node] ?? 0) };
  }

  /** `node`'s monotonic clock (the virtual time plus its offset). */
  clockOf(node: NodeName): Millis {
    return this.now + (this.clockOffset[node] ?? 0);
  }

  private path(path: string): PathState {
    const p = this.pathState.get(path);
    if (p === undefined) throw new Error(`no path ${path}`);
    return p;
  }

  private reachOf(node: NodeName, iface: string): ReachState {
    const r = this.reach.get(`${node}/${iface}`);
    if (r === undefined) throw new Error(`no interface ${iface}`);
    return r;
  }
}
