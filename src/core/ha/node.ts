import { ipv4Value, type CoreConfig } from '../config.js';
import {
  forgetInFlight, initMonitor, monitorView, reconfigureMonitor, replyMonitor, suspectInterfaces, tickMonitor,
  type JudgementChange,
} from '../nexthop/monitor.js';
import { compareReach, evidenceHolds, type ClockMap } from '../nexthop/rule.js';
import { compareGenerations, INITIAL_GENERATIONS, nextGeneration } from '../sync/generations.js';
import type { Generations, SyncState } from '../sync/state.js';
import type { Instant, Millis } from '../time.js';
import { encodeHeartbeat, REJECT_REASONS, type Mac, type RejectReason } from '../wire/codec.js';
import { receiveHeartbeat } from '../wire/receive.js';
import { EMPTY_REPLAY_GUARD } from '../wire/replay.js';
import { flapGate, INITIAL_FLAP, recordSwitch } from './flap.js';
import type { PeerReport, PeerRequest, PeerRequestKind, YieldCause } from './report.js';
import type {
  AlertEvent, Effect, Input, LeaveKind, LogLevel, NodeState, OperatorAction, Persisted, StartFacts, StepResult,
} from './types.js';

/**
 * The HA brain of one node: a pure state machine. Every input (tick, datagram, probe reply,
 * sync state, configuration, operator action) carries the time; the result is the new state and
 * the effects for the shell to carry out. Nothing here touches a socket, a clock or a file.
 */

/** The capabilities the core needs from outside that are still pure functions. */
export interface Capabilities {
  /** Keyed HMAC-SHA256 of the cluster key (src/adapters/crypto/hmac.ts). */
  readonly mac: Mac;
}

/**
 * How many of our last heartbeat clocks an echo may name: the peer echoes the last one it got,
 * which under loss and delay may be a few periods old; 16 periods is longer than the peer stays
 * alive without hearing us (peerDeadAfterMs is 10 periods in the default profile, 8 in fast).
 */
const SENT_CLOCKS = 16;

const FRESH_PERSISTED: Persisted = {
  mode: null, uuid: null, term: 0, generations: INITIAL_GENERATIONS, generationCounter: 0,
};

export function initNode(config: CoreConfig, facts: StartFacts): StepResult {
  const now = facts.at.now;
  const stored = facts.persisted ?? FRESH_PERSISTED;
  // A configuration naming both nodes pairs a never-run node up on its own (mode `ha`); one
  // naming only this node is a standalone appliance whatever was stored.
  const mode = config.peer === null ? 'standalone' : (stored.mode ?? 'ha');
  const persisted: Persisted = { ...stored, mode };
  const lastHeard = Object.fromEntries(config.heartbeatPaths.map((p) => [p, null]));
  const state: NodeState = {
    config,
    firmware: facts.firmware ?? null,
    bootId: facts.bootId,
    freshUuid: facts.freshUuid,
    persisted,
    role: mode === 'standalone' ? 'standalone' : 'secondary',
    reason: mode === 'standalone' ? 'standalone node' : 'starting: waiting for the peer or the start-up hold',
    roleSince: now,
    serving: false,
    primaryTerm: 0,
    startingUntil: mode === 'ha' ? now + config.timing.startupHoldMs : null,
    sync: facts.sync,
    syncIfPeerLost: facts.sync,
    lastHeard,
    peer: null,
    peerAlive: false,
    pathUp: Object.fromEntries(config.heartbeatPaths.map((p) => [p, false])),
    replay: EMPTY_REPLAY_GUARD,
    seq: 0,
    nextHeartbeatAt: now,
    monitor: initMonitor(config.self.nextHops, now),
    ruleSince: null,
    peerClock: null,
    sentClocks: [],
    clockMap: null,
    peerSuspect: [],
    flap: INITIAL_FLAP,
    yielding: null,
    outgoing: null,
    nextRequestId: 1,
    acked: null,
    forcing: false,
    leaving: null,
    rebootCluster: null,
    graceUntil: null,
    unsharedGeneration: null,
    lastTickAt: now,
    blocked: null,
    counters: { accepted: 0, rejected: zeroCounts(), paths: Object.fromEntries(config.heartbeatPaths.map((p) => [p, { accepted: 0, rejected: 0 }])) },
  };
  const out = new Out(facts.at);
  out.log('info', 'start', `node ${config.self.name} starting in ${mode} mode (timing ${config.timing.name})`);
  if (persisted.mode !== stored.mode) out.persist(persisted);
  return out.finish(decide(state, out));
}

export function step(state: NodeState, input: Input, caps: Capabilities): StepResult {
  const out = new Out(input.at);
  // Fix: a freeze is noticed on whatever input comes first after it, not only on a tick. An event
  // loop resumed from poll reads pending I/O (a late echo reply, a sync event) before it runs its
  // timers; judging liveness on such an input took over before the queued heartbeats were read.
  let s = noticeFreeze(state, out);
  const divergedBefore = divergedFromPeer(state);
  switch (input.kind) {
    case 'tick':
      s = onTick(s, out);
      break;
    case 'datagram':
      s = onDatagram(s, input.path, input.bytes, out, caps);
      break;
    case 'probe-reply': {
      const r = replyMonitor(s.monitor, input, s.config.timing);
      s = { ...s, monitor: r.state };
      logJudgements(r.changes, out);
      break;
    }
    case 'sync':
      if (input.state !== s.sync) out.log('info', 'sync', `sync state ${s.sync} → ${input.state}`);
      s = { ...s, sync: input.state, syncIfPeerLost: input.ifPeerLost ?? input.state };
      if (input.adopt !== undefined && input.adopt !== null) s = adoptGenerations(s, input.adopt, out);
      break;
    case 'config':
      s = onConfig(s, input.config, out);
      break;
    case 'operator':
      s = onOperator(s, input.action, out);
      break;
    case 'unreplicated-write':
      s = onUnreplicatedWrite(s, out);
      break;
  }
  s = decide(s, out);
  // Said on the edge, whatever input brought it: the peer found again, or a report naming a
  // generation this node never saw while the peer stayed alive (a partition healed inside this
  // node's freeze grace, so it never judged the peer lost).
  if (!divergedBefore && divergedFromPeer(s)) {
    const theirs = s.peer?.report.generations.current ?? '?';
    out.alert('split-brain', `split brain detected: both nodes wrote data while apart (this node ${s.persisted.generations.current}, peer ${theirs}); no sync until resolved`, 'error');
  }
  s = maybeSendHeartbeat(s, out, caps);
  return out.finish(s);
}

/** Both nodes wrote a generation the other never saw, as far as the live peer's last report says. */
function divergedFromPeer(s: NodeState): boolean {
  const report = s.peerAlive ? s.peer?.report : undefined;
  return report !== undefined && compareGenerations(s.persisted.generations, report.generations) === 'diverged';
}

// ---------------------------------------------------------------------------------------------
// Effects collector

class Out {
  readonly effects: Effect[] = [];
  /** Set when the report changed in a way the peer should learn at once (not at the next period). */
  urgent = false;
  constructor(readonly at: Instant) {}
  get now(): Millis { return this.at.now; }
  log(level: LogLevel, event: string, message: string): void {
    this.effects.push({ kind: 'log', level, event, message });
  }
  alert(event: AlertEvent, message: string, level: LogLevel = 'warn'): void {
    this.log(level, event, message);
    this.effects.push({ kind: 'alert', event, level, message });
  }
  persist(persisted: Persisted): void {
    this.effects.push({ kind: 'persist', persisted });
  }
  push(effect: Effect): void {
    this.effects.push(effect);
  }
  finish(state: NodeState): StepResult {
    // Stopping the node comes last, after the heartbeats that tell the peer we are leaving.
    const last = (e: Effect) => e.kind === 'reboot-node' || e.kind === 'shutdown-node' || e.kind === 'stop-process';
    return { state, effects: [...this.effects.filter((e) => !last(e)), ...this.effects.filter(last)] };
  }
}

function zeroCounts(): Record<RejectReason, number> {
  return Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
}

// ---------------------------------------------------------------------------------------------
// Inputs

function noticeFreeze(s: NodeState, out: Out): NodeState {
  const t = s.config.timing;
  if (out.now - s.lastTickAt <= t.freezeGapMs) return s;
  // We were frozen (SIGSTOP, VM pause, starved CPU): heartbeats that arrived meanwhile are
  // still queued, and probes in flight tell nothing. Judge nothing until they are read.
  out.log('warn', 'freeze', `no tick for ${Math.round(out.now - s.lastTickAt)} ms: this node was frozen; holding judgement for ${t.freezeGraceMs} ms`);
  // lastTickAt moves on too, so that the inputs read next are not taken for another freeze.
  return { ...s, lastTickAt: out.now, graceUntil: out.now + t.freezeGraceMs, monitor: forgetInFlight(s.monitor, out.now, t) };
}

function onTick(state: NodeState, out: Out): NodeState {
  const t = state.config.timing;
  const s = { ...state, lastTickAt: out.now };
  const m = tickMonitor(s.monitor, out.now, t);
  for (const p of m.probes) out.push({ kind: 'probe', ...p });
  logJudgements(m.changes, out);
  return { ...s, monitor: m.state };
}

function logJudgements(changes: readonly JudgementChange[], out: Out): void {
  for (const c of changes) {
    out.log(c.to === 'down' ? 'warn' : 'info', 'next-hop', `next hop ${c.target.address} on ${c.target.interface}: ${c.from} → ${c.to}`);
  }
}

function onDatagram(state: NodeState, path: string, bytes: Uint8Array, out: Out, caps: Capabilities): NodeState {
  const peer = state.config.peer;
  const onPath = (outcome: 'accepted' | 'rejected'): NodeState['counters']['paths'] => {
    const c = state.counters.paths[path];
    return c === undefined ? state.counters.paths : { ...state.counters.paths, [path]: { ...c, [outcome]: c[outcome] + 1 } };
  };
  const reject = (reason: RejectReason): NodeState => ({
    ...state,
    counters: { ...state.counters, rejected: { ...state.counters.rejected, [reason]: state.counters.rejected[reason] + 1 }, paths: onPath('rejected') },
  });
  if (peer === null || !(path in state.lastHeard)) return reject('not-for-us');
  const r = receiveHeartbeat(state.replay, bytes, {
    mac: caps.mac, cluster: state.config.cluster, self: state.config.self.name, peer: peer.name,
    path, wall: out.at.wall, windowMs: state.config.timing.replayWindowMs,
  });
  if (!r.ok) return reject(r.reason);
  const hb = r.heartbeat;
  const report = hb.report;
  const heard: NodeState = {
    ...clockExchange(state, hb.clock ?? null, hb.echo ?? null, out.now),
    replay: r.guard,
    counters: { ...state.counters, accepted: state.counters.accepted + 1, paths: onPath('accepted') },
    lastHeard: { ...state.lastHeard, [path]: out.now },
  };
  // Copies travel on paths of different delay: an older report arriving late on a slow path
  // proves the path alive but must not replace a newer one (it would undo a handover we saw).
  if (state.peer !== null && state.peer.bootId === hb.bootId && hb.seq < state.peer.seq) return heard;
  const unshared = state.unsharedGeneration;
  let s: NodeState = {
    ...heard,
    peer: { report, at: out.now, bootId: hb.bootId, seq: hb.seq },
    persisted: { ...state.persisted, term: Math.max(state.persisted.term, report.term) },
    // The peer carries this node's generation (a resync adopted it): a later unreplicated write
    // must start a new one.
    unsharedGeneration: unshared !== null && (report.generations.current === unshared || report.generations.history.includes(unshared)) ? null : unshared,
  };
  if (state.peer !== null && state.peer.bootId !== hb.bootId) {
    out.log('info', 'peer-restart', `peer ${peer.name} restarted (boot ${hb.bootId})`);
    s = { ...s, acked: null };
  }
  s = followPeerSuspicion(s, report);
  // Two primaries met and the peer yielded: neighbours may have followed its gratuitous ARP,
  // so announce the addresses again, once.
  if (state.role === 'primary' && state.peer?.report.role === 'primary' && report.role !== 'primary') {
    out.push({ kind: 'announce' });
  }
  // The peer acknowledged our request: it is carried out there.
  if (s.outgoing !== null && report.ack === s.outgoing.id) s = { ...s, outgoing: null };
  s = adoptUuid(s, report, out);
  if (report.request !== null && !(s.acked?.bootId === hb.bootId && report.request.id <= s.acked.id)) {
    s = { ...onPeerRequest(s, report.request, report, out), acked: { bootId: hb.bootId, id: report.request.id } };
    out.urgent = true;
  }
  return s;
}

/**
 * The clock exchange of HA protocol 2. The peer's heartbeat carries its clock at sending and
 * echoes one of ours with how long it held it: the round trip is our time since that echo left
 * minus the hold, and the peer's clock reading happened within that trip before now. Its offset
 * is thus known within ± half the trip (+1 ms for the rounding of clock readings). A heartbeat
 * without these fields (a protocol-1 peer) leaves the map unknown: the hold rule then applies.
 */
function clockExchange(
  s: NodeState, clock: number | null, echo: { readonly clock: number; readonly heldMs: number } | null, now: Millis,
): NodeState {
  if (clock === null) return { ...s, peerClock: null, clockMap: null };
  let clockMap = s.clockMap;
  // Only an echo of a heartbeat this process sent: after a restart the peer may echo a reading
  // of our previous process's clock for one period.
  if (echo !== null && s.sentClocks.includes(echo.clock)) {
    const rtt = now - echo.clock - echo.heldMs;
    if (rtt >= 0 && rtt <= s.config.timing.peerDeadAfterMs) clockMap = { offset: clock - now + rtt / 2, errorMs: rtt / 2 + 1 };
  }
  return { ...s, peerClock: { clock, receivedAt: now }, clockMap };
}

/** The peer bursts an interface: burst ours there too, once per suspicion it reports. */
function followPeerSuspicion(s: NodeState, report: PeerReport): NodeState {
  const suspect = report.nextHops.filter((r) => r.suspect === true).map((r) => r.interface);
  const fresh = suspect.filter((i) => !s.peerSuspect.includes(i));
  if (fresh.length === 0 && suspect.length === s.peerSuspect.length) return s;
  return { ...s, peerSuspect: suspect, monitor: suspectInterfaces(s.monitor, fresh, s.config.timing) };
}

/** First start of a pair: the UUID is created once and adopted by the node that has none. */
function adoptUuid(s: NodeState, report: PeerReport, out: Out): NodeState {
  if (s.persisted.mode !== 'ha' || s.persisted.uuid !== null || report.mode !== 'ha' || report.uuid === null) return s;
  const persisted = { ...s.persisted, uuid: report.uuid };
  out.log('info', 'cluster-uuid', `adopted cluster UUID ${report.uuid} from the peer`);
  out.persist(persisted);
  return { ...s, persisted };
}

function onPeerRequest(s: NodeState, req: PeerRequest, report: PeerReport, out: Out): NodeState {
  const peerName = s.config.peer?.name ?? 'peer';
  out.log('info', 'peer-request', `peer ${peerName} asks: ${req.kind}${req.force ? ' (forced)' : ''}`);
  switch (req.kind) {
    case 'takeover':
      if (s.role !== 'primary') return s;
      if (!report.canTakeOver && !req.force) {
        out.log('warn', 'takeover-refused', `takeover by ${peerName} refused: it cannot take over (sync ${report.sync}); use --force to override`);
        return s;
      }
      return yieldTo(s, 'operator', `operator takeover requested on ${peerName}`, out);
    case 'reboot':
    case 'shutdown':
      return beginLeaving(s, req.kind, out);
    case 'reboot-cluster':
      return s.role === 'primary' ? beginRebootCluster(s, out) : beginLeaving(s, 'reboot', out);
    case 'discard-data':
      return discardOwnData(s, report, out);
  }
}

function onConfig(s: NodeState, config: CoreConfig, out: Out): NodeState {
  const before = JSON.stringify(s.config.self.nextHops);
  const after = JSON.stringify(config.self.nextHops);
  if (before !== after) out.log('info', 'config', 'next-hop configuration changed: applied live, no reboot needed');
  if (config.timing.name !== s.config.timing.name) out.log('info', 'config', `timing profile ${s.config.timing.name} → ${config.timing.name}`);
  const lastHeard = Object.fromEntries(config.heartbeatPaths.map((p) => [p, s.lastHeard[p] ?? null]));
  const pathUp = Object.fromEntries(config.heartbeatPaths.map((p) => [p, s.pathUp[p] ?? false]));
  const paths = Object.fromEntries(config.heartbeatPaths.map((p) => [p, s.counters.paths[p] ?? { accepted: 0, rejected: 0 }]));
  return { ...s, config, lastHeard, pathUp, counters: { ...s.counters, paths }, monitor: reconfigureMonitor(s.monitor, config.self.nextHops, out.now), ruleSince: null };
}

function onOperator(s: NodeState, action: OperatorAction, out: Out): NodeState {
  out.log('info', 'operator', `operator action: ${describeAction(action)}`);
  switch (action.type) {
    case 'takeover':
      return operatorTakeover(s, action.force, out);
    case 'reboot':
    case 'shutdown':
      return action.target === 'this' ? beginLeaving(s, action.type, out) : request(s, action.type, false, out);
    case 'reboot-cluster':
      if (s.role === 'primary' || !s.peerAlive) return s.role === 'primary' ? beginRebootCluster(s, out) : beginLeaving(s, 'reboot', out);
      return request(s, 'reboot-cluster', false, out);
    case 'convert-to-cluster':
      return convertToCluster(s, action.config, out);
    case 'join-ha':
      return joinHa(s, out);
    case 'resolve-split-brain':
      if (action.keep === 'this') return request(s, 'discard-data', false, out);
      if (s.peer === null) {
        out.log('warn', 'split-brain', 'cannot resolve the split brain: the peer has never been heard');
        return s;
      }
      return discardOwnData(s, s.peer.report, out);
    case 'stop':
      return beginLeaving(s, 'stop', out);
    case 'clear-flap-hold':
      out.log('info', 'flap-hold', 'flap limiter cleared by the operator');
      return { ...s, flap: INITIAL_FLAP };
  }
}

function describeAction(a: OperatorAction): string {
  switch (a.type) {
    case 'takeover': return a.force ? 'takeover --force' : 'takeover';
    case 'reboot': case 'shutdown': return `${a.type} ${a.target} node`;
    case 'resolve-split-brain': return `resolve split brain, keep ${a.keep} node's data`;
    case 'reboot-cluster': case 'convert-to-cluster': case 'join-ha': case 'clear-flap-hold': case 'stop': return a.type;
  }
}

function request(s: NodeState, kind: PeerRequestKind, force: boolean, out: Out): NodeState {
  if (s.config.peer === null) {
    out.log('warn', 'operator', `${kind}: this node has no peer`);
    return s;
  }
  // A request must not wait for a peer that comes back much later and then reboots at once.
  if (!s.peerAlive) {
    out.log('warn', 'operator', `${kind}: the other node is not reachable; nothing was sent`);
    return s;
  }
  out.urgent = true;
  return { ...s, outgoing: { id: s.nextRequestId, kind, force }, nextRequestId: s.nextRequestId + 1 };
}

function operatorTakeover(s: NodeState, force: boolean, out: Out): NodeState {
  if (s.role === 'primary') {
    out.log('info', 'operator', 'takeover: this node is already primary');
    return s;
  }
  if (s.persisted.mode !== 'ha') {
    out.log('warn', 'operator', 'takeover: this node is not in a cluster');
    return s;
  }
  const veto = vetoOf(s);
  if (veto !== null && !force) {
    out.log('warn', 'operator', `takeover refused: ${veto}; use --force to take over anyway (data will be lost)`);
    return s;
  }
  if (veto !== null) out.alert('forced-takeover', `forced takeover despite: ${veto} — data not yet synchronized from the peer will be lost`);
  const peerPrimary = s.peerAlive && s.peer?.report.role === 'primary';
  if (!peerPrimary) return promote({ ...s, startingUntil: null }, `manual takeover${force ? ' (forced)' : ''}`, out);
  // Planned handover: the primary releases the service first, so there is never a moment with two.
  return request({ ...s, forcing: force }, 'takeover', force, out);
}

const LEAVE_EFFECT = { reboot: 'reboot-node', shutdown: 'shutdown-node', stop: 'stop-process' } as const;

function beginLeaving(s: NodeState, kind: LeaveKind, out: Out): NodeState {
  out.log('info', 'leaving', `${kind} of this node requested`);
  out.urgent = true;
  let next: NodeState = { ...s, leaving: { kind, since: out.now, done: false } };
  if (s.role === 'primary' && s.peerAlive && s.peer?.report.canTakeOver === true) {
    next = yieldTo(next, 'leaving', `${kind} of this node: handing the service over first`, out);
  }
  return next;
}

function beginRebootCluster(s: NodeState, out: Out): NodeState {
  if (!s.peerAlive) {
    out.log('warn', 'reboot-cluster', 'reboot cluster: the peer is not reachable; rebooting this node only');
    return beginLeaving(s, 'reboot', out);
  }
  out.log('info', 'reboot-cluster', 'reboot cluster: rebooting the secondary first');
  return request({ ...s, rebootCluster: { since: out.now, peerBootId: s.peer?.bootId ?? null } }, 'reboot', false, out);
}

function convertToCluster(s: NodeState, config: CoreConfig, out: Out): NodeState {
  if (s.persisted.mode === 'ha') {
    out.log('warn', 'operator', 'convert to cluster: this node is already in a cluster');
    return s;
  }
  if (config.peer === null) {
    out.log('warn', 'operator', 'convert to cluster: the configuration must name the other node');
    return s;
  }
  const persisted: Persisted = { ...s.persisted, mode: 'ha', uuid: s.persisted.uuid ?? s.freshUuid };
  out.persist(persisted);
  out.log('info', 'cluster-uuid', `converted to a cluster: UUID ${persisted.uuid ?? ''}`);
  const next = onConfig({ ...s, persisted }, config, out);
  // The node that was serving keeps serving, now as the cluster's primary.
  return s.serving ? promote(next, 'converted to a cluster while serving', out) : { ...next, role: 'secondary' };
}

function joinHa(s: NodeState, out: Out): NodeState {
  const report = s.peerAlive ? s.peer?.report : undefined;
  if (s.persisted.mode === 'ha') {
    out.log('warn', 'operator', 'join HA: this node is already in a cluster');
    return s;
  }
  if (report?.mode !== 'ha' || report.uuid === null) {
    out.log('warn', 'operator', 'join HA: no clustered peer is reachable');
    return s;
  }
  // The joining node's data is replaced by the cluster's: it starts behind everything.
  const persisted: Persisted = { ...s.persisted, mode: 'ha', uuid: report.uuid, generations: INITIAL_GENERATIONS };
  out.persist(persisted);
  out.log('info', 'cluster-uuid', `joined cluster ${report.uuid} as secondary`);
  out.push({ kind: 'full-resync' });
  const next = setRole({ ...s, persisted, sync: 'Outdated', syncIfPeerLost: 'Outdated' }, 'secondary', 'joined the cluster', out);
  return next;
}

function discardOwnData(s: NodeState, report: PeerReport, out: Out): NodeState {
  if (compareGenerations(s.persisted.generations, report.generations) !== 'diverged') {
    out.log('info', 'split-brain', 'no split brain to resolve: the data have not diverged');
    return s;
  }
  out.push({ kind: 'preserve-diverged-data', generation: s.persisted.generations.current });
  out.push({ kind: 'full-resync' });
  const persisted: Persisted = { ...s.persisted, generations: INITIAL_GENERATIONS };
  out.persist(persisted);
  out.alert('split-brain-resolved', `split brain resolved: this node's diverged data (generation ${s.persisted.generations.current}) set aside; resynchronizing from the peer`, 'info');
  let next: NodeState = { ...s, persisted, sync: 'Outdated', syncIfPeerLost: 'Outdated' };
  if (next.role === 'primary') next = setRole(next, 'secondary', 'split brain resolved in favour of the peer', out);
  return next;
}

// ---------------------------------------------------------------------------------------------
// Decisions

/** The sync state promotion decisions read: what the engine said it is once the peer is lost. */
export function decidingSync(s: NodeState): SyncState {
  return s.peerAlive ? s.sync : s.syncIfPeerLost;
}

/** Why this node may not be promoted automatically right now, or null. */
export function vetoOf(s: NodeState): string | null {
  if (s.persisted.mode !== 'ha') return 'not in a cluster';
  if (s.leaving !== null) return `this node is leaving (${s.leaving.kind})`;
  const sync = decidingSync(s);
  if (sync !== 'UpToDate') return `data not synchronized (sync ${sync})`;
  const peer = s.peer?.report;
  if (peer !== undefined) {
    if (peer.uuid !== null && s.persisted.uuid !== null && peer.uuid !== s.persisted.uuid) {
      return 'cluster Broken: the nodes hold different cluster UUIDs';
    }
    const rel = compareGenerations(s.persisted.generations, peer.generations);
    if (rel === 'diverged') return 'split brain: data diverged from the peer; resolve it first';
    if (rel === 'behind') return 'data behind the peer (generation outdated)';
  }
  return null;
}

function decide(state: NodeState, out: Out): NodeState {
  let s = updateLiveness(state, out);
  if (s.persisted.mode !== 'ha') return decideStandalone(s, out);
  s = finishLeaving(s, out);
  if (s.leaving?.done === true) return s;
  s = progressRebootCluster(s, out);
  const report = s.peerAlive ? (s.peer?.report ?? null) : null;
  if (s.startingUntil !== null) {
    if (report === null && out.now < s.startingUntil) return s;
    const peerName = s.config.peer?.name ?? 'peer';
    s = { ...s, startingUntil: null, reason: report?.role === 'primary' ? `${peerName} is primary` : 'start-up: election' };
    if (report === null) return demand(s, 'start-up hold passed without hearing the peer', out);
  }
  if (s.role === 'primary') return decidePrimary(s, report, out);
  return decideSecondary(s, report, out);
}

function decideStandalone(s: NodeState, out: Out): NodeState {
  const report = s.peerAlive ? s.peer?.report : undefined;
  // Same configuration, same VIPs: never answer for them while a clustered peer serves them.
  if (report?.role === 'primary') {
    if (s.serving) {
      out.log('warn', 'half', 'the peer is the primary of a cluster: releasing the service; run Join HA on this node');
      return { ...setService(s, false, out), reason: 'Half: peer is primary; run Join HA' };
    }
    return s;
  }
  return s.serving ? s : { ...setService(s, true, out), role: 'standalone', reason: 'standalone node' };
}

/** The first node to take the primary role in a new cluster creates its UUID (persisted by the caller). */
function ensureUuid(s: NodeState, out: Out): NodeState {
  if (s.persisted.uuid !== null) return s;
  out.log('info', 'cluster-uuid', `created cluster UUID ${s.freshUuid}`);
  return { ...s, persisted: { ...s.persisted, uuid: s.freshUuid } };
}

function decidePrimary(s: NodeState, report: PeerReport | null, out: Out): NodeState {
  if (report === null) return { ...s, ruleSince: null, blocked: null };
  const peerName = s.config.peer?.name ?? 'peer';
  if (report.role === 'primary') {
    // Two primaries meet (a partition healed, or a frozen node resumed): the newer term keeps
    // the role, as the most recent takeover is what the rest of the network has followed.
    const peerWins = report.term > s.primaryTerm ||
      (report.term === s.primaryTerm && ipv4Value(s.config.peer?.haAddress ?? '') < ipv4Value(s.config.self.haAddress));
    const why = report.term > s.primaryTerm ? `a newer term (${report.term} > ${s.primaryTerm})` : 'the same term and the lower HA address';
    if (peerWins) return setRole(s, 'secondary', `${peerName} is primary with ${why}`, out);
    return s;
  }
  return evaluateNextHopRule(s, report, out);
}

/** The peer speaks HA protocol 2: its clock is mapped and its report carries next-hop evidence. */
function evidenceMap(s: NodeState, report: PeerReport): ClockMap | null {
  if (s.clockMap === null || !report.nextHops.every((r) => typeof r.suspect === 'boolean')) return null;
  return s.clockMap;
}

function evaluateNextHopRule(s: NodeState, report: PeerReport, out: Out): NodeState {
  const t = s.config.timing;
  const fresh = s.peer !== null && out.now - s.peer.at <= t.peerViewMaxAgeMs;
  const mine = monitorView(s.monitor);
  const verdict = compareReach(mine, fresh ? report.nextHops : null);
  if (verdict.kind !== 'peer-better') return { ...s, ruleSince: null, blocked: clearBlocked(s, out) };
  const map = evidenceMap(s, report);
  let next: NodeState;
  let demanded: string;
  if (map !== null) {
    // Evidence rule: no hold. A loss the peer does not contradict with fresh answers (a shared
    // router that died) changes nothing, however far apart the two nodes noticed it.
    const evidence = evidenceHolds(mine, report.nextHops, map, t.evidenceMarginMs);
    if (!evidence.holds) return { ...s, ruleSince: null, blocked: clearBlocked(s, out) };
    next = { ...s, ruleSince: null };
    demanded = `forced takeover: the peer reaches more next hops (${verdict.theirs} vs ${verdict.mine}) and got answers after this node lost them`;
  } else {
    // Hold rule, for a protocol-1 peer: the comparison must hold for nextHopHoldMs.
    const since = s.ruleSince ?? out.now;
    next = { ...s, ruleSince: since };
    if (out.now - since < t.nextHopHoldMs) return next;
    demanded = `forced takeover: the peer reaches more next hops (${verdict.theirs} vs ${verdict.mine})`;
  }
  if (!report.canTakeOver) return block(next, `${demanded} — vetoed: the peer cannot take over (sync ${report.sync})`, 'takeover-vetoed', out);
  const gate = flapGate(s.flap, out.now, t);
  if (!gate.allowed) return block(next, `${demanded} — ${gate.reason}`, 'flap-hold', out);
  const rec = recordSwitch(s.flap, out.now, t);
  if (rec.nowHeld) out.alert('flap-hold', `flap limiter: ${t.flapMaxSwitches} next-hop switches within ${t.flapWindowMs / 1000} s; further switches held for ${t.flapHoldMs / 1000} s`);
  return yieldTo({ ...next, flap: rec.state, ruleSince: null, blocked: null }, 'next-hop', demanded, out);
}

function decideSecondary(s: NodeState, report: PeerReport | null, out: Out): NodeState {
  const t = s.config.timing;
  const selfName = s.config.self.name;
  if (s.yielding !== null) {
    if (report?.role === 'primary') return { ...s, yielding: null };
    if (out.now - s.yielding.since < t.handoverTimeoutMs) return s;
    out.alert('handover-failed', `the peer did not take the service within ${t.handoverTimeoutMs} ms; the election decides again`);
    s = { ...s, yielding: null };
  }
  // Fix: a node that never heard its peer keeps the start-up wording. A vetoed start-up promotion
  // used to be demanded again on the next tick as "peer unreachable", a different reason: the
  // status flipped and the takeover-vetoed alert was raised twice for one blocked takeover.
  if (report === null) {
    return demand(s, s.peer === null ? 'start-up hold passed without hearing the peer' : 'peer unreachable on every heartbeat path', out);
  }
  if (report.yieldingTo === selfName && report.role !== 'primary') {
    let next = s;
    if (report.yieldCause === 'next-hop') next = { ...next, flap: recordSwitch(next.flap, out.now, t).state };
    return demand(next, `handover from the peer (${report.yieldCause ?? 'planned'})`, out);
  }
  if (report.role === 'primary') return followPrimary(s, out);
  if (report.starting || report.yieldingTo !== null) return { ...s, blocked: clearBlocked(s, out) };
  if (!winsElection(s, report)) return { ...s, blocked: clearBlocked(s, out), reason: 'peer wins the election' };
  return demand(s, 'no primary: this node wins the election', out);
}

function followPrimary(s: NodeState, out: Out): NodeState {
  return { ...s, blocked: clearBlocked(s, out) };
}

/**
 * A secondary whose resync just completed holds the primary's data of `g`: it carries that
 * generation from now on. Only the sync engine knows the data arrived, so only it says so —
 * a heartbeat naming a newer generation never moves this node's own.
 */
function adoptGenerations(s: NodeState, g: Generations, out: Out): NodeState {
  if (s.persisted.generations.current === g.current) return s;
  const persisted: Persisted = { ...s.persisted, generations: g };
  out.persist(persisted);
  out.log('info', 'generation', `data now equal the primary's: generation ${s.persisted.generations.current} → ${g.current}`);
  return { ...s, persisted };
}

/** Both nodes compute this from the same facts, so exactly one wins. */
function winsElection(s: NodeState, report: PeerReport): boolean {
  const meEligible = vetoOf(s) === null;
  if (meEligible !== report.canTakeOver) return meEligible;
  const rel = compareGenerations(s.persisted.generations, report.generations);
  if (rel === 'ahead') return true;
  if (rel === 'behind') return false;
  return ipv4Value(s.config.self.haAddress) < ipv4Value(s.config.peer?.haAddress ?? '255.255.255.255');
}

/** A promotion is demanded: carry it out unless vetoed (then say so, once). */
function demand(s: NodeState, why: string, out: Out): NodeState {
  const veto = vetoOf(s);
  if (veto !== null && !s.forcing) return block(s, `${why} — vetoed: ${veto}`, 'takeover-vetoed', out);
  return promote(s, s.forcing && veto !== null ? `${why} (forced despite: ${veto})` : why, out);
}

function block(s: NodeState, why: string, event: AlertEvent, out: Out): NodeState {
  if (s.blocked !== why) out.alert(event, `takeover blocked: ${why}`);
  return { ...s, blocked: why };
}

function clearBlocked(s: NodeState, out: Out): null {
  if (s.blocked !== null) out.log('info', 'veto-cleared', `no longer blocked: ${s.blocked}`);
  return null;
}

function promote(state: NodeState, why: string, out: Out): NodeState {
  const term = Math.max(state.persisted.term, state.peer?.report.term ?? 0) + 1;
  let next: NodeState = { ...state, persisted: { ...state.persisted, term } };
  // Writes from now on cannot reach the peer: they form a new data generation.
  if (!state.peerAlive) next = withUnsharedGeneration(next);
  const s: NodeState = ensureUuid(
    { ...next, primaryTerm: term, forcing: false, blocked: null, yielding: null, ruleSince: null }, out);
  out.persist(s.persisted);
  return setRole(s, 'primary', why, out);
}

function yieldTo(s: NodeState, cause: YieldCause, why: string, out: Out): NodeState {
  const to = s.config.peer?.name ?? '';
  const next = setRole(s, 'secondary', `yielding to ${to}: ${why}`, out);
  return { ...next, yielding: { to, cause, since: out.now } };
}

function setRole(s: NodeState, role: NodeState['role'], why: string, out: Out): NodeState {
  if (s.role !== role) {
    out.alert('role-change', `role ${s.role} → ${role}: ${why}`, 'info');
    out.urgent = true;
  }
  const next: NodeState = { ...s, role, reason: why, roleSince: s.role === role ? s.roleSince : out.now };
  return setService(next, role === 'primary', out);
}

function setService(s: NodeState, serving: boolean, out: Out): NodeState {
  if (s.serving === serving) return s;
  out.push({ kind: serving ? 'acquire-service' : 'release-service' });
  return { ...s, serving };
}

/** Starts a generation the peer does not hold (not persisted here: the caller persists it). */
function withUnsharedGeneration(s: NodeState): NodeState {
  const p = s.persisted;
  const generationCounter = p.generationCounter + 1;
  const generations = nextGeneration(p.generations, `${s.config.self.name}:${p.term}.${generationCounter}`);
  return { ...s, persisted: { ...p, generationCounter, generations }, unsharedGeneration: generations.current };
}

function startUnsharedGeneration(s: NodeState, out: Out): NodeState {
  const next = withUnsharedGeneration(s);
  out.persist(next.persisted);
  return next;
}

/**
 * Whether an unreplicated write would start a new generation now: a primary of a cluster whose
 * current generation the peer may hold. The shell asks before stepping the core with every write.
 */
export function unreplicatedWriteMatters(s: NodeState): boolean {
  return s.role === 'primary' && s.persisted.mode === 'ha' && s.unsharedGeneration !== s.persisted.generations.current;
}

/**
 * DRBD's rule: a primary starts a new generation at the first write it cannot replicate, unless
 * its current generation is already one the peer does not hold. The generation is persisted in
 * this step — before anything replicates the write later — and told to the peer at once.
 */
function onUnreplicatedWrite(s: NodeState, out: Out): NodeState {
  if (!unreplicatedWriteMatters(s)) return s;
  const next = startUnsharedGeneration(s, out);
  out.log('info', 'generation', `a write could not be replicated: new data generation ${s.persisted.generations.current} → ${next.persisted.generations.current}`);
  out.urgent = true;
  return next;
}

/** Judges every path and the peer; acts on the edges (path down/up, peer lost/found). */
function updateLiveness(s: NodeState, out: Out): NodeState {
  if (s.graceUntil !== null) {
    if (out.now < s.graceUntil) return s;
    s = { ...s, graceUntil: null };
  }
  const t = s.config.timing;
  // Runs on every input: allocate only when a path changed state.
  let pathUp: Record<string, boolean> | null = null;
  for (const path of s.config.heartbeatPaths) {
    const at = s.lastHeard[path] ?? null;
    const up = at !== null && out.now - at <= t.peerDeadAfterMs;
    if (up === s.pathUp[path]) continue;
    pathUp ??= { ...s.pathUp };
    pathUp[path] = up;
    if (s.peerAlive || up) {
      out.alert(up ? 'heartbeat-path-up' : 'heartbeat-path-down', `heartbeat path ${path} ${up ? 'up' : 'down'}`, up ? 'info' : 'warn');
    }
  }
  if (pathUp === null) return s;
  const alive = Object.values(pathUp).some(Boolean);
  let next: NodeState = { ...s, pathUp };
  if (alive === s.peerAlive) return next;
  next = { ...next, peerAlive: alive };
  const peerName = s.config.peer?.name ?? 'peer';
  if (!alive) {
    const leaving = s.peer?.report.leaving === true;
    out.alert('peer-lost', leaving ? `peer ${peerName} left (reboot/shutdown)` : `peer ${peerName} unreachable on every heartbeat path`);
    if (s.role === 'primary') next = startUnsharedGeneration(next, out);
    return next;
  }
  out.alert('peer-found', `peer ${peerName} reachable`, 'info');
  const report = s.peer?.report;
  if (report !== undefined) {
    if (report.uuid !== null && s.persisted.uuid !== null && report.uuid !== s.persisted.uuid) {
      out.alert('cluster-broken', `cluster Broken: this node holds UUID ${s.persisted.uuid}, the peer ${report.uuid}; the operator must resolve it`);
    }
  }
  // Neighbours may have followed the other side during the partition: re-announce at once.
  if (s.role === 'primary') out.push({ kind: 'announce' });
  return next;
}

function finishLeaving(s: NodeState, out: Out): NodeState {
  const l = s.leaving;
  if (l === null || l.done) return s;
  const handedOver = s.role !== 'primary' &&
    (s.yielding === null || (s.peerAlive && s.peer?.report.role === 'primary') ||
      out.now - s.yielding.since >= s.config.timing.handoverTimeoutMs);
  if (s.role === 'primary' && s.yielding === null) {
    // Nobody can take the service: stop anyway, as the operator asked, and say what it costs.
    out.log('warn', 'leaving', `${l.kind}: no peer able to take over; the service stops with this node`);
  } else if (!handedOver) {
    return s;
  }
  out.push({ kind: LEAVE_EFFECT[l.kind] });
  const next: NodeState = { ...setService(s, false, out), leaving: { ...l, done: true } };
  return next;
}

function progressRebootCluster(s: NodeState, out: Out): NodeState {
  const rc = s.rebootCluster;
  if (rc === null) return s;
  if (out.now - rc.since > s.config.timing.rebootClusterTimeoutMs) {
    out.alert('reboot-cluster-aborted', 'reboot cluster: the secondary did not come back in time; this node stays primary, untouched');
    return { ...s, rebootCluster: null };
  }
  const back = s.peerAlive && s.peer !== null && s.peer.bootId !== rc.peerBootId &&
    s.peer.report.role === 'secondary' && !s.peer.report.starting && s.peer.report.canTakeOver;
  if (!back) return s;
  out.log('info', 'reboot-cluster', 'reboot cluster: the secondary is back and in sync; handing over and rebooting this node');
  return beginLeaving({ ...s, rebootCluster: null }, 'reboot', out);
}

// ---------------------------------------------------------------------------------------------
// Heartbeats

export function reportOf(s: NodeState): PeerReport {
  return {
    mode: s.persisted.mode ?? 'ha',
    uuid: s.persisted.uuid,
    role: s.role,
    term: s.role === 'primary' ? s.primaryTerm : s.persisted.term,
    starting: s.startingUntil !== null,
    sync: s.sync,
    generations: s.persisted.generations,
    canTakeOver: vetoOf(s) === null,
    nextHops: monitorView(s.monitor),
    yieldingTo: s.yielding?.to ?? null,
    yieldCause: s.yielding?.cause ?? null,
    request: s.outgoing,
    ack: s.acked?.id ?? null,
    leaving: s.leaving !== null,
    firmware: s.firmware,
  };
}

function maybeSendHeartbeat(s: NodeState, out: Out, caps: Capabilities): NodeState {
  const peer = s.config.peer;
  if (peer === null || (s.leaving?.done === true && !out.urgent)) return s;
  if (!out.urgent && out.now < s.nextHeartbeatAt) return s;
  const report = reportOf(s);
  const clock = Math.floor(out.now);
  // Rounded down: the peer's round trip comes out longer, never shorter, than it was.
  const echo = s.peerClock === null ? null : { clock: s.peerClock.clock, heldMs: Math.floor(out.now - s.peerClock.receivedAt) };
  let seq = s.seq;
  for (const path of s.config.heartbeatPaths) {
    seq += 1;
    const bytes = encodeHeartbeat({
      cluster: s.config.cluster, from: s.config.self.name, to: peer.name, path,
      bootId: s.bootId, seq, sentAt: Math.floor(out.at.wall), clock, echo, report,
    }, caps.mac);
    out.push({ kind: 'send', path, bytes });
  }
  const sentClocks = s.sentClocks.at(-1) === clock ? s.sentClocks : [...s.sentClocks, clock].slice(-SENT_CLOCKS);
  return { ...s, seq, sentClocks, nextHeartbeatAt: out.now + s.config.timing.heartbeatIntervalMs };
}
