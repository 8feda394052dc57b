/**
 * A two-node cluster on an in-memory network with a virtual clock. Both nodes run the real core
 * (src/core/ha/node.ts) with the real wire codec and HMAC; the network, the next-hop routers, the
 * clocks and the faults are simulated, so hours of operation run in seconds and every run is
 * reproducible from its seed.
 */
import { hmacSha256 } from '../adapters/crypto/hmac.js';
import type { CoreConfig, NodeSpec } from '../core/config.js';
import { initNode, step, type Capabilities } from '../core/ha/node.js';
import { describeNode, type NodeStatus } from '../core/ha/status.js';
import type { Role } from '../core/ha/report.js';
import type { Effect, Input, OperatorAction, Persisted } from '../core/ha/types.js';
import type { SyncState } from '../core/sync/state.js';
import type { Instant, Millis } from '../core/time.js';
import { TIMING_PROFILES, type TimingProfile, type TimingProfileName } from '../core/timing.js';
import { EventQueue } from './event-queue.js';
import { mulberry32, type Random } from './random.js';

export type NodeName = 'a' | 'b';
export const NODE_NAMES: readonly NodeName[] = ['a', 'b'];

export interface SimOptions {
  readonly profile?: TimingProfileName | TimingProfile;
  readonly seed?: number;
  /** Heartbeat paths: the HA link first, then redundant ones. */
  readonly paths?: readonly string[];
  /** Interfaces with a monitored next hop (one router per interface, shared by both nodes). */
  readonly interfaces?: readonly string[];
  /** One-way delay of every path, ms. */
  readonly pathDelayMs?: Millis;
  /** Wall-clock offset of each node, ms (clock skew). */
  readonly wallOffset?: Partial<Record<NodeName, Millis>>;
  /** Sync state of each node at start (default UpToDate). */
  readonly sync?: Partial<Record<NodeName, SyncState>>;
  /** Start node b this much later than node a. */
  readonly startSkewMs?: Millis;
  /** Keep log lines (costly on long runs). */
  readonly keepLogs?: boolean;
}

interface PathState { cut: boolean; lossPct: number; delayMs: Millis }
interface ReachState { up: boolean; lossPct: number }

interface SimNode {
  readonly name: NodeName;
  state: ReturnType<typeof initNode>['state'] | null;
  running: boolean;
  frozenUntil: Millis | null;
  /** Inputs that arrived while frozen: a socket buffer, read on resume. */
  backlog: Input[];
  persisted: Persisted | null;
  sync: SyncState;
  serving: boolean;
  boots: number;
  tickTimer: number;
  forced: boolean;
}

export interface ServingChange { readonly at: Millis; readonly node: NodeName; readonly serving: boolean }
export interface LogLine { readonly at: Millis; readonly node: NodeName; readonly level: string; readonly event: string; readonly message: string }

const KEY = new TextEncoder().encode('tandem simulation cluster key, 32+ bytes long');

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

export class Simulation {
  readonly profile: TimingProfile;
  readonly queue = new EventQueue();
  readonly random: Random;
  readonly servingLog: ServingChange[] = [];
  readonly logs: LogLine[] = [];
  readonly alerts: LogLine[] = [];
  readonly paths: readonly string[];
  readonly interfaces: readonly string[];
  private readonly caps: Capabilities = { mac: hmacSha256(KEY) };
  private readonly nodes: Record<NodeName, SimNode>;
  private readonly pathState = new Map<string, PathState>();
  /** Next-hop reachability per node and interface. */
  private readonly reach = new Map<string, ReachState>();
  private readonly pathDelayMs: Millis;
  private readonly wallOffset: Partial<Record<NodeName, Millis>>;
  private readonly keepLogs: boolean;
  private readonly configs: Record<NodeName, CoreConfig>;
  /** Observers called after every processed input (invariant checkers). */
  private readonly observers: ((sim: Simulation) => void)[] = [];

  constructor(opts: SimOptions = {}) {
    const p = opts.profile ?? 'default';
    this.profile = typeof p === 'string' ? TIMING_PROFILES[p] : p;
    this.random = mulberry32(opts.seed ?? 1);
    this.paths = opts.paths ?? ['ha0', 'ext0'];
    this.interfaces = opts.interfaces ?? ['ext0', 'int0'];
    this.pathDelayMs = opts.pathDelayMs ?? 0.2;
    this.wallOffset = opts.wallOffset ?? {};
    this.keepLogs = opts.keepLogs ?? true;
    for (const path of this.paths) this.pathState.set(path, { cut: false, lossPct: 0, delayMs: this.pathDelayMs });
    for (const n of NODE_NAMES) for (const i of this.interfaces) this.reach.set(`${n}/${i}`, { up: true, lossPct: 0 });
    const mk = (name: NodeName): SimNode => ({
      name, state: null, running: false, frozenUntil: null, backlog: [], persisted: null,
      sync: opts.sync?.[name] ?? 'UpToDate', serving: false, boots: 0, tickTimer: 0, forced: false,
    });
    this.nodes = { a: mk('a'), b: mk('b') };
    const cfg = { profile: this.profile, paths: this.paths, interfaces: this.interfaces };
    this.configs = { a: simConfig('a', cfg), b: simConfig('b', cfg) };
    this.start('a');
    if ((opts.startSkewMs ?? 0) > 0) this.queue.at(opts.startSkewMs ?? 0, () => { this.start('b'); });
    else this.start('b');
  }

  get now(): Millis { return this.queue.now; }

  /** Runs the simulation until virtual time `until`. */
  runUntil(until: Millis): void { this.queue.runUntil(until); }
  runFor(ms: Millis): void { this.queue.runUntil(this.now + ms); }

  observe(fn: (sim: Simulation) => void): void { this.observers.push(fn); }

  // ---- Faults and world changes ---------------------------------------------------------------

  cutPath(path: string, cut = true): void { this.path(path).cut = cut; }
  setPathLoss(path: string, pct: number): void { this.path(path).lossPct = pct; }
  /** One-way delay of a path from now on (datagrams in flight keep theirs). */
  setPathDelay(path: string, ms: Millis): void { this.path(path).delayMs = ms; }
  cutAllPaths(cut = true): void { for (const p of this.paths) this.cutPath(p, cut); }
  /** The next hop of `iface` becomes unreachable (or reachable again) from `node`. */
  setNextHop(node: NodeName, iface: string, up: boolean): void { this.reachOf(node, iface).up = up; }
  setProbeLoss(node: NodeName, iface: string, pct: number): void { this.reachOf(node, iface).lossPct = pct; }
  setSync(node: NodeName, sync: SyncState): void {
    const n = this.nodes[node];
    n.sync = sync;
    if (n.running) this.deliver(n, { kind: 'sync', at: this.instant(node), state: sync });
  }
  operator(node: NodeName, action: OperatorAction): void {
    if (action.type === 'takeover' && action.force) this.nodes[node].forced = true;
    this.deliver(this.nodes[node], { kind: 'operator', at: this.instant(node), action });
  }
  /** SIGKILL: the process dies with its memory; VIPs stay in the kernel until it restarts. */
  crash(node: NodeName): void {
    const n = this.nodes[node];
    n.running = false;
    n.state = null;
    n.backlog = [];
    this.queue.cancel(n.tickTimer);
  }
  restart(node: NodeName): void {
    this.crash(node);
    this.start(node);
  }
  /** SIGSTOP for `ms`, then SIGCONT: nothing runs, datagrams queue up in the socket. */
  freeze(node: NodeName, ms: Millis): void {
    const n = this.nodes[node];
    n.frozenUntil = this.now + ms;
    this.queue.at(this.now + ms, () => { this.thaw(n); });
  }

  // ---- Observation ----------------------------------------------------------------------------

  isServing(node: NodeName): boolean { return this.nodes[node].serving; }
  role(node: NodeName): Role | null { return this.nodes[node].state?.role ?? null; }
  syncOf(node: NodeName): SyncState { return this.nodes[node].sync; }
  /** Whether the operator forced a takeover on `node` (the sync veto may be skipped). */
  wasForced(node: NodeName): boolean { return this.nodes[node].forced; }
  isRunning(node: NodeName): boolean { return this.nodes[node].running && this.nodes[node].frozenUntil === null; }
  servingNodes(): NodeName[] { return NODE_NAMES.filter((n) => this.nodes[n].serving); }
  status(node: NodeName): NodeStatus | null {
    const s = this.nodes[node].state;
    return s === null ? null : describeNode(s, this.now);
  }
  anyPathUp(): boolean { return [...this.pathState.values()].some((p) => !p.cut); }
  /** First time at or after `from` when `node` started serving, or null. */
  servingSince(node: NodeName, from: Millis): Millis | null {
    return this.servingLog.find((c) => c.node === node && c.serving && c.at >= from)?.at ?? null;
  }

  // ---- Internals ------------------------------------------------------------------------------

  private start(name: NodeName): void {
    const n = this.nodes[name];
    n.running = true;
    n.frozenUntil = null;
    n.boots += 1;
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
    this.scheduleTick(n);
  }

  private scheduleTick(n: SimNode): void {
    n.tickTimer = this.queue.at(this.now + this.profile.tickMs, () => {
      if (!n.running) return;
      if (n.frozenUntil === null) this.process(n, { kind: 'tick', at: this.instant(n.name) });
      this.scheduleTick(n);
    });
  }

  private thaw(n: SimNode): void {
    if (n.frozenUntil === null || this.now < n.frozenUntil) return;
    n.frozenUntil = null;
    // The timer fires first after a resume (it is overdue), then the socket is read.
    this.process(n, { kind: 'tick', at: this.instant(n.name) });
    const backlog = n.backlog;
    n.backlog = [];
    for (const input of backlog) this.process(n, { ...input, at: this.instant(n.name) });
  }

  private deliver(n: SimNode, input: Input): void {
    if (!n.running) return;
    if (n.frozenUntil !== null) {
      n.backlog.push(input);
      return;
    }
    this.process(n, input);
  }

  private process(n: SimNode, input: Input): void {
    if (n.state === null) return;
    const r = step(n.state, input, this.caps);
    n.state = r.state;
    this.apply(n, r.effects);
    for (const o of this.observers) o(this);
  }

  private apply(n: SimNode, effects: readonly Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'send': this.send(n.name, e.path, e.bytes); break;
        case 'probe': this.probe(n.name, e.interface, e.address, e.seq); break;
        case 'acquire-service': this.setServing(n, true); break;
        case 'release-service': this.setServing(n, false); break;
        case 'persist': n.persisted = e.persisted; break;
        case 'log':
          if (this.keepLogs) this.logs.push({ at: this.now, node: n.name, level: e.level, event: e.event, message: e.message });
          break;
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
          // The simulated sync engine: a full resync takes a second.
          n.sync = 'Syncing';
          this.queue.at(this.now + 1000, () => { this.setSync(n.name, 'UpToDate'); });
          break;
        case 'announce': case 'preserve-diverged-data':
          break;
      }
    }
  }

  private setServing(n: SimNode, serving: boolean): void {
    if (n.serving === serving) return;
    n.serving = serving;
    this.servingLog.push({ at: this.now, node: n.name, serving });
  }

  private send(from: NodeName, path: string, bytes: Uint8Array): void {
    const p = this.path(path);
    if (p.cut || this.random() * 100 < p.lossPct) return;
    const to = this.nodes[from === 'a' ? 'b' : 'a'];
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
    return { now: this.now, wall: 1_800_000_000_000 + this.now + (this.wallOffset[node] ?? 0) };
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
